package plan

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func file(hash string) Entry { return Entry{Kind: File, Hash: hash, Size: int64(len(hash))} }

var dir = Entry{Kind: Dir}

func TestDiff(t *testing.T) {
	tests := []struct {
		name          string
		local, remote Tree
		want          Plan
	}{
		{"equal trees", Tree{"a": file("1")}, Tree{"a": file("1")}, Plan{}},
		{"new file in new dir", Tree{"d": dir, "d/f": file("1")}, Tree{},
			Plan{Mkdirs: []string{"d"}, Writes: []Item{{"d/f", file("1")}}}},
		{"changed content", Tree{"a": file("2")}, Tree{"a": file("1")}, Plan{Writes: []Item{{"a", file("2")}}, Replaces: map[string]string{"a": "1"}}},
		{"exec bit only", Tree{"a": {Kind: File, Hash: "1", Exec: true}}, Tree{"a": file("1")},
			Plan{Writes: []Item{{"a", Entry{Kind: File, Hash: "1", Exec: true}}}, Replaces: map[string]string{"a": "1"}}},
		{"deleted dir subsumes children", Tree{}, Tree{"d": dir, "d/e": dir, "d/e/f": file("1")},
			Plan{Deletes: []string{"d"}}},
		{"file becomes dir", Tree{"x": dir, "x/f": file("1")}, Tree{"x": file("1")},
			Plan{Deletes: []string{"x"}, Mkdirs: []string{"x"}, Writes: []Item{{"x/f", file("1")}}}},
		{"dir becomes symlink", Tree{"x": {Kind: Symlink, Hash: "t"}}, Tree{"x": dir, "x/f": file("1")},
			Plan{Deletes: []string{"x"}, Symlinks: []Item{{"x", Entry{Kind: Symlink, Hash: "t"}}}}},
		{"symlink retargeted", Tree{"l": {Kind: Symlink, Hash: "b"}}, Tree{"l": {Kind: Symlink, Hash: "a"}},
			Plan{Symlinks: []Item{{"l", Entry{Kind: Symlink, Hash: "b"}}}}},
		{"rename is delete plus write", Tree{"new name": file("1")}, Tree{"old": file("1")},
			Plan{Deletes: []string{"old"}, Writes: []Item{{"new name", file("1")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.local, tt.remote)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// apply is a model of what a transport does with a plan.
func apply(remote Tree, p Plan) Tree {
	t := remote.Clone()
	for _, d := range p.Deletes {
		for q := range t {
			if isUnder(q, d) {
				delete(t, q)
			}
		}
	}
	for _, d := range p.Mkdirs {
		t[d] = dir
	}
	for _, w := range append(p.Writes, p.Symlinks...) {
		t[w.Path] = w.Entry
	}
	return t
}

// randomTree builds a consistent tree (every entry's parent is a directory) from a seeded source.
func randomTree(r *rand.Rand) Tree {
	names := []string{"a", "b", "c d", "é", "x.py"}
	t := Tree{}
	var dirs = []string{""}
	for i := 0; i < r.Intn(30); i++ {
		d := dirs[r.Intn(len(dirs))]
		p := names[r.Intn(len(names))]
		if d != "" {
			p = d + "/" + p
		}
		if _, taken := t[p]; taken {
			continue
		}
		switch r.Intn(4) {
		case 0:
			t[p] = dir
			dirs = append(dirs, p)
		case 1:
			t[p] = Entry{Kind: Symlink, Hash: names[r.Intn(len(names))]}
		default:
			t[p] = Entry{Kind: File, Hash: fmt.Sprint(r.Intn(3)), Exec: r.Intn(4) == 0}
		}
	}
	return t
}

func TestDiffConvergesOnRandomTrees(t *testing.T) {
	for seed := int64(0); seed < 2000; seed++ {
		r := rand.New(rand.NewSource(seed))
		local, remote := randomTree(r), randomTree(r)
		p := Diff(local, remote)
		if d := FirstDifference(apply(remote, p), local); d != "" {
			t.Fatalf("seed %d: applying the plan leaves a difference: %s\nplan: %+v", seed, d, p)
		}
		if again := Diff(local, apply(remote, p)); !again.Empty() {
			t.Fatalf("seed %d: second diff is not empty: %+v", seed, again)
		}
	}
}

func write(t *testing.T, root, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func noExcludes(string, bool) bool { return false }

func TestScanAndRescan(t *testing.T) {
	root := t.TempDir()
	write(t, root, "app.py", "print(1)", 0o644)
	write(t, root, "bin/run", "#!/bin/sh", 0o755)
	write(t, root, "node_modules/x/index.js", "x", 0o644)
	write(t, root, "empty", "", 0o644)
	if err := os.Symlink("../app.py", filepath.Join(root, "bin/link")); err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string, isDir bool) bool { return rel == "node_modules" }
	tree, err := Scan(root, excluded)
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{"app.py", "bin", "bin/link", "bin/run", "empty"}
	if got := tree.Paths(); !reflect.DeepEqual(got, wantPaths) {
		t.Fatalf("paths = %q, want %q", got, wantPaths)
	}
	if !tree["bin/run"].Exec || tree["app.py"].Exec {
		t.Errorf("exec bits wrong: %+v", tree)
	}
	if tree["bin/link"] != (Entry{Kind: Symlink, Hash: "../app.py"}) {
		t.Errorf("symlink entry = %+v", tree["bin/link"])
	}

	write(t, root, "new/deep/file.txt", "hi", 0o644)
	if err := os.RemoveAll(filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	write(t, root, "app.py", "print(2)", 0o644)
	updated, err := Rescan(tree, root, []string{"new/deep/file.txt", "bin", "app.py"}, excluded)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Scan(root, excluded)
	if err != nil {
		t.Fatal(err)
	}
	if d := FirstDifference(updated, full); d != "" {
		t.Fatalf("rescan differs from a full scan: %s", d)
	}
	if _, ok := tree["new"]; ok {
		t.Fatal("Rescan changed the previous tree")
	}
}

func TestRescanWhenADirectoryBecameAFile(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a b/inner.txt", "x", 0o644)
	tree, err := Scan(root, noExcludes)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "a b")); err != nil {
		t.Fatal(err)
	}
	write(t, root, "a b", "now a file", 0o644)
	got, err := Rescan(tree, root, []string{"a b", "a b/inner.txt"}, noExcludes)
	if err != nil {
		t.Fatal(err)
	}
	if got["a b"].Kind != File || len(got) != 1 {
		t.Fatalf("tree = %+v, want only the file", got)
	}
}
