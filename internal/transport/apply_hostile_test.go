package transport

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// snapshot describes every path under root but those under skip (relative): kind, mode, and content or
// symlink target. Symlinks are not followed.
func snapshot(t *testing.T, root, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == skip {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileRoot makes a fake filesystem root: root/outside (the files a write or delete must never reach)
// and root/dest, which holds real directories and the symlinks an app might have made since kindling
// read its tree: to the fake root (an absolute path, standing for "/"), to "..", to an absolute
// directory outside, and one a directory deeper, to "../../outside".
func hostileRoot(t *testing.T) (root, dest string) {
	root = t.TempDir()
	dest = filepath.Join(root, "dest")
	build(t, filepath.Join(root, "outside"), map[string]node{"canary": file("keep me"), "sub/canary": file("keep me too")})
	build(t, dest, map[string]node{
		"root": symlink(root), "up": symlink(".."), "abs": symlink(filepath.Join(root, "outside")),
		"sub/link": symlink("../../outside"), "real/old": file("old"),
		"f": symlink(filepath.Join(root, "outside", "canary")),
	})
	return root, dest
}

// TestApplyNeverLandsOutsideDest runs plans made before the app turned directories of dest into
// symlinks that lead out of it: each is refused, naming the path, and nothing outside dest, nor in it,
// changes. Then a sync from a local tree with real directories at those names replaces the symlinks.
func TestApplyNeverLandsOutsideDest(t *testing.T) {
	f := func(content string) plan.Entry {
		return plan.Entry{Kind: plan.File, Size: int64(len(content)), Hash: sha(content)}
	}
	pwned := f("pwned")
	manyDeletes := []string{"abs/canary"} // the first of several commands: more than one command line
	for i := range 4000 {
		manyDeletes = append(manyDeletes, fmt.Sprintf("nothing/%04d-%s", i, strings.Repeat("x", 20)))
	}
	cases := []struct {
		name    string
		p       plan.Plan
		refused string // the path the error names
	}{
		{"write through a link to /", plan.Plan{Writes: []plan.Item{{Path: "root/outside/canary", Entry: pwned}}}, "root"},
		{"write through a link to ..", plan.Plan{Writes: []plan.Item{{Path: "up/outside/canary", Entry: pwned}}}, "up"},
		{"write through an absolute link", plan.Plan{Writes: []plan.Item{{Path: "abs/canary", Entry: pwned}}}, "abs"},
		{"delete through a link", plan.Plan{Deletes: []string{"abs/canary", "abs/sub"}}, "abs"},
		{"delete through a link in many commands", plan.Plan{Deletes: manyDeletes}, "abs"},
		{"new directory through a link", plan.Plan{Mkdirs: []string{"abs/new"}, Writes: []plan.Item{{Path: "abs/new/f", Entry: pwned}}}, "abs"},
		{"symlink through a link", plan.Plan{Symlinks: []plan.Item{{Path: "abs/evil", Entry: plan.Entry{Kind: plan.Symlink, Hash: "/"}}}}, "abs"},
		{"through a link a directory down", plan.Plan{Writes: []plan.Item{{Path: "sub/link/canary", Entry: pwned}}, Deletes: []string{"sub/link/sub"}}, "sub/link"},
		{"a write in place next to a refused one", plan.Plan{Writes: []plan.Item{{Path: "real/new", Entry: pwned}, {Path: "up/outside/canary", Entry: pwned}}}, "up"},
	}
	for _, c := range withSessions(t, containers(t)) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			src := t.TempDir()
			build(t, src, map[string]node{
				"root/outside/canary": file("pwned"), "up/outside/canary": file("pwned"), "abs/canary": file("pwned"),
				"abs/new/f": file("pwned"), "sub/link/canary": file("pwned"), "real/new": file("pwned"), "f": file("pwned"),
			})
			for _, tc := range cases {
				root, dest := hostileRoot(t)
				outside, inside := snapshot(t, root, "dest"), snapshot(t, dest, "")
				_, err := newShell(t, c).Apply(ctx, dest, tc.p, DirSource(src))
				if err == nil || !strings.Contains(err.Error(), tc.refused+" is a symbolic link") {
					t.Errorf("%s: got %v, want a refusal naming %s", tc.name, err, tc.refused)
				}
				if d := diffSnapshots(outside, snapshot(t, root, "dest")); d != "" {
					t.Fatalf("%s: outside dest: %s", tc.name, d)
				}
				if d := diffSnapshots(inside, snapshot(t, dest, "")); d != "" {
					t.Errorf("%s: a refused apply changed dest: %s", tc.name, d)
				}
			}

			// A file in place of a symlink to a file outside replaces the symlink: the file outside is
			// not written.
			root, dest := hostileRoot(t)
			outside := snapshot(t, root, "dest")
			if _, err := newShell(t, c).Apply(ctx, dest, plan.Plan{Writes: []plan.Item{{Path: "f", Entry: pwned}, {Path: "real/new", Entry: pwned}}}, DirSource(src)); err != nil {
				t.Fatal(err)
			}
			if d := diffSnapshots(outside, snapshot(t, root, "dest")); d != "" {
				t.Fatalf("a file written in place of a symlink: outside dest: %s", d)
			}
			if b, err := os.ReadFile(filepath.Join(dest, "f")); err != nil || string(b) != "pwned" {
				t.Fatalf("f: %q, %v", b, err)
			}

			// A sync from a tree with real directories at the symlinks' names replaces them.
			root, dest = hostileRoot(t)
			outside = snapshot(t, root, "dest")
			syncTree(t, newShell(t, c), src, dest)
			if d := diffSnapshots(outside, snapshot(t, root, "dest")); d != "" {
				t.Fatalf("sync: outside dest: %s", d)
			}
		})
	}
}

// diffSnapshots names the first path whose description differs, "" when none does.
func diffSnapshots(want, got map[string]string) string {
	if maps.Equal(want, got) {
		return ""
	}
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			return fmt.Sprintf("%s: was %q, now %q", p, w, g)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			return fmt.Sprintf("%s: new, %q", p, g)
		}
	}
	return ""
}
