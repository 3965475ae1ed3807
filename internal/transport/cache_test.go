package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// TestManifestCache: a Manifest that reuses the hashes of an earlier one returns exactly what a full
// one does, hashing only the files changed behind its back, however they changed.
func TestManifestCache(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dest string)
		hashed int // files hashed again
	}{
		{"nothing", func(*testing.T, string) {}, 0},
		{"rewritten in place, same size, at once", func(t *testing.T, dest string) {
			f, err := os.OpenFile(filepath.Join(dest, "d/b"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("BB")
			f.Close()
		}, 1},
		{"replaced by the same content", func(t *testing.T, dest string) {
			os.Remove(filepath.Join(dest, "a"))
			writeFile(t, filepath.Join(dest, "a"), "a", 0o644)
		}, 1},
		{"made executable", func(t *testing.T, dest string) { os.Chmod(filepath.Join(dest, "a"), 0o755) }, 1},
		{"deleted and added", func(t *testing.T, dest string) {
			os.RemoveAll(filepath.Join(dest, "d"))
			writeFile(t, filepath.Join(dest, "new"), "new", 0o644)
		}, 1},
	}
	for _, c := range []container{{name: "gnu"}, {name: "busybox", path: busyboxPath(t, nil)}} {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				src, dest := t.TempDir(), t.TempDir()
				build(t, src, map[string]node{"a": file("a"), "d/b": execFile("bb"), "d/c": file("")})
				counter := &countingExecer{Execer: &LocalExecer{Name: "pod/x/c", Path: c.path}, ops: map[Op]int{}}
				sh := NewShell(counter, Cache(t.TempDir()))
				syncTree(t, sh, src, dest)
				tt.change(t, dest)
				hashed := counter.describedFiles(t)
				got, err := sh.Manifest(ctx, dest)
				if err != nil {
					t.Fatal(err)
				}
				if d := plan.FirstDifference(scan(t, dest), got); d != "" {
					t.Errorf("manifest with the cache vs the directory: %s", d)
				}
				if n := hashed(); n != tt.hashed {
					t.Errorf("hashed %d files again, want %d", n, tt.hashed)
				}
			})
		}
	}
}

// describedFiles counts, from now on, the paths given to describe commands.
func (c *countingExecer) describedFiles(t *testing.T) func() int {
	n := 0
	c.onStdin = func(op Op, stdin []byte) {
		if op == OpHash {
			for _, b := range stdin {
				if b == 0 {
					n++
				}
			}
		}
	}
	return func() int { return n }
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestCacheRecords(t *testing.T) {
	c := &hashCache{path: filepath.Join(t.TempDir(), "cache")}
	if c.load() != nil {
		t.Fatal("a missing cache loads as something")
	}
	c.save(map[string]cachedFile{"a": {"k1", "h1"}, "d/x": {"k2", "h2"}, "d/y": {"k3", "h3"}})
	c.update(map[string]cachedFile{"d/x": {"k4", "h4"}}, []string{"d"})
	c.update(map[string]cachedFile{"e": {"k5", "h5"}}, []string{"a"})
	want := map[string]cachedFile{"d/x": {"k4", "h4"}, "e": {"k5", "h5"}}
	if got := c.load(); !reflect.DeepEqual(got, want) {
		t.Fatalf("load = %v, want %v", got, want)
	}
	os.WriteFile(c.path, []byte("w\x00a\x00"), 0o600)
	if got := c.load(); got != nil {
		t.Fatalf("a truncated cache loads as %v", got)
	}
}

// TestApplyFillsCache: after an initial sync, the next Manifest (kindling started again) hashes nothing.
func TestApplyFillsCache(t *testing.T) {
	for _, c := range []container{{name: "gnu"}, {name: "busybox", path: busyboxPath(t, nil)}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			src, dest := t.TempDir(), t.TempDir()
			tree := map[string]node{}
			for i := range cachedApply + 10 {
				tree[fmt.Sprintf("d%d/f%d", i%7, i)] = file(fmt.Sprint(i))
			}
			build(t, src, tree)
			counter := &countingExecer{Execer: &LocalExecer{Name: "pod/x/c", Path: c.path}, ops: map[Op]int{}}
			cache := Cache(t.TempDir())
			local := scan(t, src)
			if _, err := NewShell(counter, cache).Apply(ctx, dest, plan.Diff(local, nil), DirSource(src)); err != nil {
				t.Fatal(err)
			}
			hashed := counter.describedFiles(t)
			got, err := NewShell(counter, cache).Manifest(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if d := plan.FirstDifference(local, got); d != "" {
				t.Errorf("manifest after the initial sync: %s", d)
			}
			if n := hashed(); n != 0 || counter.ops[OpHash] != 0 {
				t.Errorf("hashed %d files in %d commands, want none", n, counter.ops[OpHash])
			}
		})
	}
}

// listingSpy records what the container answered to each stat listing.
type listingSpy struct {
	Execer
	answers []string
}

func (l *listingSpy) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) < 3 || argv[2] != listStatScript {
		return l.Execer.Exec(ctx, argv, stdin, stdout, stderr)
	}
	var answer bytes.Buffer
	err := l.Execer.Exec(ctx, argv, stdin, io.MultiWriter(stdout, &answer), stderr)
	l.answers = append(l.answers, answer.String())
	return err
}

// unchanged reports whether the last listing was answered by the fingerprint alone.
func (l *listingSpy) unchanged() bool {
	return len(l.answers) > 0 && l.answers[len(l.answers)-1] == listingUnchanged+"\x00"
}

// TestManifestFingerprint: with GNU find, a Manifest of a tree that did not change since the last
// listing (a Manifest's, or the one an initial sync records) gets only a fingerprint from the container
// and returns exactly the tree; any change, or an Apply, makes it list the tree again.
func TestManifestFingerprint(t *testing.T) {
	ctx := context.Background()
	src, dest := t.TempDir(), t.TempDir()
	tree := map[string]node{"link": symlink("d/f000")}
	for i := range cachedApply + 20 {
		tree[fmt.Sprintf("d/f%03d", i)] = file(fmt.Sprint(i))
	}
	build(t, src, tree)
	spy := &listingSpy{Execer: &LocalExecer{Name: "pod/x/c"}}
	counter := &countingExecer{Execer: spy, ops: map[Op]int{}}
	sh := NewShell(counter, Cache(t.TempDir()))
	manifest := func(wantUnchanged bool, wantHashed int) {
		t.Helper()
		hashed := counter.describedFiles(t)
		got, err := sh.Manifest(ctx, dest)
		if err != nil {
			t.Fatal(err)
		}
		if d := plan.FirstDifference(scan(t, dest), got); d != "" {
			t.Errorf("manifest vs the directory: %s", d)
		}
		if spy.unchanged() != wantUnchanged || hashed() != wantHashed {
			t.Errorf("answered by the fingerprint: %v, files hashed: %d; want %v, %d", spy.unchanged(), hashed(), wantUnchanged, wantHashed)
		}
	}
	syncTree(t, sh, src, dest) // its last Manifest follows an Apply that recorded a listing
	if !spy.unchanged() {
		t.Fatal("the Manifest after an initial sync listed the whole tree again")
	}
	manifest(true, 0)
	writeFile(t, filepath.Join(dest, "d/f007"), "changed", 0o644)
	manifest(false, 1)
	manifest(true, 0)
	// A small Apply (a save) drops the kept listing without recording one.
	writeFile(t, filepath.Join(src, "d/f001"), "saved", 0o644)
	syncTree(t, sh, src, dest)
	if spy.unchanged() {
		t.Fatal("the Manifest after a small Apply was answered by a fingerprint from before it")
	}
	manifest(true, 0)
}
