package transport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// countingMv is an mv that logs each run to $log before running the real one.
func countingMv(t *testing.T, dir, log string) {
	t.Helper()
	real, err := exec.LookPath("mv")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\necho mv >>'%s'\nexec '%s' \"$@\"\n", log, real)
	if err := os.Remove(filepath.Join(dir, "mv")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mv"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// A save that touches files in many directories is committed by one process, not one mv per directory:
// a process costs 5–10 ms in a busy container, and a save's 50 files may be in 50 directories (issue 17).
// Where perl is missing or leaves entries behind, mv moves them.
func TestCommitIsOneProcessForManyDirectories(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl is not installed")
	}
	const dirs = 50
	tree := map[string]node{}
	for i := range dirs {
		tree[fmt.Sprintf("d%d/sub/f.txt", i)] = file("v1")
		tree[fmt.Sprintf("d%d/keep.txt", i)] = file("kept")
	}
	for _, c := range []struct {
		name   string
		perl   string // what perl is in the container: "" for none
		wantMv func(int) bool
	}{
		{"perl", perl, func(n int) bool { return n == 0 }},
		{"no perl", "", func(n int) bool { return n == dirs+1 }}, // the save's directories, and the new one
		{"perl renames nothing", "/bin/true", func(n int) bool { return n == dirs+1 }},
		{"perl fails", "/bin/false", func(n int) bool { return n == dirs+1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := gnuPath(t)
			log := filepath.Join(t.TempDir(), "mv.log")
			countingMv(t, path, log)
			if c.perl != "" {
				if err := os.Symlink(c.perl, filepath.Join(path, "perl")); err != nil {
					t.Fatal(err)
				}
			}
			src, dest := t.TempDir(), t.TempDir()
			for _, session := range []bool{false, true} {
				sh := newShell(t, container{name: c.name, path: path, session: session})
				build(t, src, tree)
				syncTree(t, sh, src, dest)
				for i := range dirs {
					tree[fmt.Sprintf("d%d/sub/f.txt", i)] = file(fmt.Sprintf("v2 %v", session))
				}
				tree["new/dir/f.txt"] = file("new")
				build(t, src, tree)
				os.Remove(log)
				p, _ := syncTree(t, sh, src, dest)
				if len(p.Writes) != dirs+1 {
					t.Fatalf("the save wrote %d files, want %d", len(p.Writes), dirs+1)
				}
				b, _ := os.ReadFile(log)
				if n := strings.Count(string(b), "mv"); !c.wantMv(n) {
					t.Errorf("session %v: the commit ran mv %d times", session, n)
				}
				delete(tree, "new/dir/f.txt")
			}
		})
	}
}
