package transport

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

// noTarContainer is hostileContainer without tar: Apply fills its staging directory with sh and dd.
func noTarContainer(t *testing.T, shell, fakeDD string) string {
	t.Helper()
	dir := hostileContainer(t, shell, fakeDD)
	if err := os.Remove(filepath.Join(dir, "tar")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pattern is n bytes that differ from one offset to the next, so that content shifted by a short read
// cannot pass for the original.
func pattern(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return string(b)
}

// TestFillNeverLandsWhatDdReadShort syncs, into containers without tar whose dd accepts
// iflag=fullblock but ignores it and reads short, files of many blocks, of a block and a bit, and small
// ones: the apply fails, and dest is as it was (no file, no delete, no staging directory). Without the
// size check the fill succeeded and committed truncated and shifted files.
func TestFillNeverLandsWhatDdReadShort(t *testing.T) {
	for _, shell := range []string{"dash", "busybox", "dash-without-stat"} {
		for _, session := range []bool{false, true} {
			name := shell
			if session {
				name += "-session"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				shell, noStat := strings.CutSuffix(shell, "-without-stat")
				path := noTarContainer(t, shell, ddReadsShort)
				if noStat { // the sizes are checked with wc
					os.Remove(filepath.Join(path, "stat"))
				}
				c := container{name: name, path: path, session: session}
				src, dest := t.TempDir(), t.TempDir()
				build(t, src, map[string]node{
					"big": file(pattern(200_000)), "block": file(pattern(65536 + 7)), "small": file("small"),
					"new/x": execFile(pattern(3000)),
				})
				build(t, dest, map[string]node{"old": file("old"), "small": file("before")})
				before := snapshot(t, dest, "")
				sh := newShell(t, c)
				p := plan.Diff(scan(t, src), scan(t, dest))
				if len(p.Deletes) != 1 || len(p.Writes) != 4 {
					t.Fatalf("plan: %+v", p)
				}
				_, err := sh.Apply(ctx, dest, p, DirSource(src))
				if err == nil {
					t.Fatal("the apply succeeded with a dd that reads short")
				}
				// On a Session the shell's own hand-over of the input notices first and ends the session.
				if !session && !strings.Contains(err.Error(), "dd read short") {
					t.Errorf("err = %v, want it to say that dd read short", err)
				}
				if d := diffSnapshots(before, snapshot(t, dest, "")); d != "" {
					t.Errorf("a failed fill changed dest: %s", d)
				}
			})
		}
	}
}

// TestFillWithoutFullblockIsRefusedUpFront: a container without tar whose dd rejects iflag=fullblock
// gets one line naming it and the fix, from the probe's answer, before any command that could change
// anything runs. Before, every apply failed with dd's own error after the fill had started.
func TestFillWithoutFullblockIsRefusedUpFront(t *testing.T) {
	for _, shell := range []string{"dash", "busybox"} {
		for _, session := range []bool{false, true} {
			name := shell
			if session {
				name += "-session"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				var e Execer = &LocalExecer{Name: "pod/old/app", Path: noTarContainer(t, shell, ddRejectsFullblock)}
				if session {
					s := NewSession(e)
					t.Cleanup(func() { s.Close() })
					e = s
				}
				counted := &countingExecer{Execer: e, ops: map[Op]int{}}
				sh := NewShell(counted)
				src, dest := t.TempDir(), t.TempDir()
				build(t, src, map[string]node{"a": file("new"), "d/b": file("b")})
				build(t, dest, map[string]node{"old": file("old")})
				before := snapshot(t, dest, "")
				p := plan.Diff(scan(t, src), plan.Tree{"old": {Kind: plan.File, Size: 3, Hash: sha("old")}})
				_, err := sh.Apply(ctx, dest, p, DirSource(src))
				want := "pod/old/app has no tar and its dd cannot read exact blocks (iflag=fullblock): " +
					"add tar (or GNU coreutils / a newer BusyBox) to the image"
				if err == nil || err.Error() != want {
					t.Errorf("err = %v\nwant  %s", err, want)
				}
				for op, n := range counted.ops {
					if op != OpProbe {
						t.Errorf("%d %s commands ran, want only the probe", n, op)
					}
				}
				if d := diffSnapshots(before, snapshot(t, dest, "")); d != "" {
					t.Errorf("dest changed: %s", d)
				}
			})
		}
	}
}

// TestFillChecksSizesWithWcWithoutStat: where the container has no stat, wc checks the sizes, and a
// fill with a dd that reads whole blocks lands every file exactly.
func TestFillChecksSizesWithWcWithoutStat(t *testing.T) {
	path := noTarContainer(t, "dash", "")
	if err := os.Remove(filepath.Join(path, "stat")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(path, "wc")); err != nil {
		t.Fatalf("the test container has no wc: %v", err)
	}
	src, dest := t.TempDir(), t.TempDir()
	tree := map[string]node{"big": file(pattern(200_000)), "block": file(pattern(65536)), "empty": file(""), "d/x": execFile(pattern(70_000))}
	build(t, src, tree)
	local := scan(t, src)
	sh := NewShell(&LocalExecer{Name: "pod/nostat/app", Path: path})
	if _, err := sh.Apply(context.Background(), dest, plan.Diff(local, nil), DirSource(src)); err != nil {
		t.Fatal(err)
	}
	if d := plan.FirstDifference(local, scan(t, dest)); d != "" {
		t.Fatalf("dest vs src: %s", d)
	}
}
