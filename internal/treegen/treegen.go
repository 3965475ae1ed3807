// Package treegen changes a directory tree at random, the way a developer's editor, git and build tools
// do (files created, rewritten, removed, renamed, directories made, executable bits flipped), for tests
// that require kindling to end with the tree as it is, whatever happened on the way.
package treegen

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
)

// Names are the path elements the operations use: few, so that operations collide (a file where a
// directory was, a rename onto an existing path), with a space, non-ASCII and a leading dash in them.
var Names = []string{"a", "b", "c d", "é", "x.py", "node_modules", "y.log", "-dash"}

// Step applies one random operation under root and describes it. step numbers file contents.
func Step(r *rand.Rand, root string, step int) string {
	p := filepath.Join(root, randomPath(r))
	rel, _ := filepath.Rel(root, p)
	switch r.Intn(7) {
	case 0, 1, 2: // create or overwrite a file, replacing whatever is in the way
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("content %d %d\n", step, r.Int())), 0o644); err != nil {
			_ = os.RemoveAll(p)
			_ = os.WriteFile(p, []byte("replaced\n"), 0o644)
		}
		return "write " + rel
	case 3:
		if e := existing(r, root); e != "" {
			_ = os.RemoveAll(filepath.Join(root, e))
			return "rm -r " + e
		}
	case 4:
		if e := existing(r, root); e != "" {
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			err := os.Rename(filepath.Join(root, e), p)
			return fmt.Sprintf("mv %s %s (%v)", e, rel, err)
		}
	case 5:
		_ = os.MkdirAll(p, 0o755)
		return "mkdir -p " + rel
	case 6:
		if e := existing(r, root); e != "" {
			if info, err := os.Lstat(filepath.Join(root, e)); err == nil && info.Mode().IsRegular() {
				_ = os.Chmod(filepath.Join(root, e), info.Mode().Perm()^0o111)
				return "chmod " + e
			}
		}
	}
	return "nothing"
}

func randomPath(r *rand.Rand) string {
	parts := make([]string, 1+r.Intn(3))
	for i := range parts {
		parts[i] = Names[r.Intn(len(Names))]
	}
	return filepath.Join(parts...)
}

// existing picks a path under root (relative), "" when the tree is empty.
func existing(r *rand.Rand, root string) string {
	var all []string
	_ = filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			all = append(all, rel)
		}
		return nil
	})
	if len(all) == 0 {
		return ""
	}
	return all[r.Intn(len(all))]
}

// NormalizeModes makes every file 0644 or 0755 (by its owner's executable bit), the permissions kindling
// syncs, so that a tree can be compared with a container's copy.
func NormalizeModes(root string) {
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			if info.Mode().Perm()&0o100 != 0 {
				_ = os.Chmod(p, 0o755)
			} else {
				_ = os.Chmod(p, 0o644)
			}
		}
		return nil
	})
}
