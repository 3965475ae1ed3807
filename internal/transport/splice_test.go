package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// bigText is about n bytes of numbered lines.
func bigText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%07d the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.String()
}

// editLine changes the line numbered i of text, making it longer: everything after it shifts.
func editLine(text string, i int) string {
	line := fmt.Sprintf("%07d the quick", i)
	return strings.Replace(text, line, line+" (edited)", 1)
}

// A one-line change of a large file kindling sent before goes as that line and its surroundings (GNU,
// BusyBox, through a session), and the container's file is exactly the local one; the next change is
// spliced from the version the container got from the last.
func TestSplicedEdit(t *testing.T) {
	text := bigText(2 << 20)
	for _, c := range []container{
		{name: "gnu"},
		{name: "busybox", path: busyboxPath(t, nil)},
		{name: "gnu-session", session: true},
		{name: "busybox-session", path: busyboxPath(t, nil), session: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sh := newShell(t, c, KeepCopies(t.TempDir()))
			src, dest := t.TempDir(), t.TempDir()
			build(t, src, map[string]node{"big.txt": file(text), "small.txt": file("x")})
			if _, stats := syncTree(t, sh, src, dest); stats.Bytes < int64(len(text)) {
				t.Fatalf("the first sync sent %d bytes, less than the file", stats.Bytes)
			}
			for i, line := range []int{20_000, 100, 40_000} {
				text = editLine(text, line)
				put(t, filepath.Join(src, "big.txt"), file(text))
				_, stats := syncTree(t, sh, src, dest)
				if stats.Bytes > 8<<10 || stats.Written != 1 {
					t.Errorf("edit %d: %d bytes sent for %d files; want one file in under 8 KiB", i, stats.Bytes, stats.Written)
				}
			}
		})
	}
}

// When the container's file is not the version kindling kept (the app rewrote it, or it is something
// else by now: a FIFO that would block a reader, a directory link), the files go whole, and the container
// ends up with the local tree all the same. Nothing is read through a link.
func TestSpliceOverAnUnexpectedFile(t *testing.T) {
	text := bigText(1 << 20)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"rewritten by the app", func(t *testing.T, path string) {
			put(t, path, file(strings.ToUpper(text)))
		}},
		{"shorter", func(t *testing.T, path string) {
			put(t, path, file(text[:1000]))
		}},
		{"a FIFO", func(t *testing.T, path string) {
			os.Remove(path)
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symlink to a copy", func(t *testing.T, path string) {
			copy := filepath.Join(t.TempDir(), "copy")
			put(t, copy, file(text))
			os.Remove(path)
			if err := os.Symlink(copy, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := newShell(t, container{name: "gnu"}, KeepCopies(t.TempDir()))
			src, dest := t.TempDir(), t.TempDir()
			build(t, src, map[string]node{"big.txt": file(text)})
			syncTree(t, sh, src, dest)
			// What the engine knows the container holds, from the last sync; the app then changes it.
			known := scan(t, src)
			tc.change(t, filepath.Join(dest, "big.txt"))
			edited := editLine(text, 5_000)
			put(t, filepath.Join(src, "big.txt"), file(edited))
			p := plan.Diff(scan(t, src), known)
			stats, err := sh.Apply(context.Background(), dest, p, DirSource(src))
			if err != nil {
				t.Fatal(err)
			}
			if stats.Bytes < int64(len(edited)) {
				t.Errorf("%d bytes sent: the file should have gone whole", stats.Bytes)
			}
			got, err := os.ReadFile(filepath.Join(dest, "big.txt"))
			if err != nil || string(got) != edited {
				t.Errorf("the container's file is not the local one (%d bytes, %v)", len(got), err)
			}
			if s := leftovers(t, dest); len(s) > 0 {
				t.Errorf("staging directories left behind: %v", s)
			}
		})
	}
}

// A container without tail (or head, or sha256sum) cannot rebuild a splice: files go whole there.
func TestSpliceNeedsTheTools(t *testing.T) {
	sh := newShell(t, container{name: "busybox-no-tail", path: busyboxPath(t, []string{"tail"})}, KeepCopies(t.TempDir()))
	text := bigText(1 << 20)
	src, dest := t.TempDir(), t.TempDir()
	build(t, src, map[string]node{"big.txt": file(text)})
	syncTree(t, sh, src, dest)
	put(t, filepath.Join(src, "big.txt"), file(editLine(text, 10)))
	if _, stats := syncTree(t, sh, src, dest); stats.Bytes < int64(len(text)) {
		t.Errorf("%d bytes sent without tail in the container, want the whole file", stats.Bytes)
	}
}
