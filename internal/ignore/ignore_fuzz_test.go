package ignore

import (
	"path"
	"strings"
	"testing"
)

// FuzzExcluded: for any rules (one per line, as in .kindlingignore; those New rejects are dropped) and any
// path, Excluded never panics and agrees with go-git's own matching applied level by level (goGitMatcher),
// a directory it excludes excludes everything in it, its verdicts do not depend on what was asked before
// (the directory cache), Why agrees with it, and every directory Prunable names is excluded whole.
func FuzzExcluded(f *testing.F) {
	f.Add("", "a", "b", true)
	f.Add("*.pyc\n!keep.pyc", "src/keep.pyc", "x", false)
	f.Add("dist/\n!dist/", "web/dist", "index.js", true)
	f.Add("/build\n!build/keep", "build", "keep", true)
	f.Add("a/**/b\n**/c", "a/x/y/b", "c", true)
	f.Add(`\!bang`+"\n"+`a\ `+"\n[a-c]", "!bang/a ", "b", false)
	f.Add("node_modules\n!**/node_modules/", "web/node_modules", "left-pad", true)
	f.Add("日本/\n*.日本", "x/日本", "y.日本", false)
	f.Fuzz(func(t *testing.T, rules, rel, child string, isDir bool) {
		var patterns []string
		for _, p := range strings.Split(rules, "\n") {
			if strings.TrimSpace(p) == "" || strings.HasPrefix(p, "#") || validate(p) != nil {
				continue
			}
			patterns = append(patterns, p)
		}
		// Excluded's callers pass a path relative to the source directory: slash-separated, clean, without
		// a leading "/" or "./", never leaving the directory.
		rel = strings.TrimPrefix(path.Clean("/"+rel), "/")
		if rel == "" || strings.ContainsRune(child, '/') || child == "" || child == "." || child == ".." {
			return
		}
		m, fresh := &Matcher{}, &Matcher{}
		for _, p := range patterns {
			m.add(p, SourceFlag)
			fresh.add(p, SourceFlag)
		}
		want := newGoGitMatcher(patterns)
		got := m.Excluded(rel, isDir)
		if w := want.excluded(rel, isDir); got != w {
			t.Fatalf("Excluded(%q, isDir=%v) = %v, go-git level by level says %v (rules %q)", rel, isDir, got, w, patterns)
		}
		// The child first on a fresh matcher: the verdict must not depend on the order of the questions.
		inside := rel + "/" + child
		for _, childIsDir := range []bool{true, false} {
			c := fresh.Excluded(inside, childIsDir)
			if c != want.excluded(inside, childIsDir) {
				t.Fatalf("Excluded(%q, isDir=%v) = %v, go-git says otherwise (rules %q)", inside, childIsDir, c, patterns)
			}
			if isDir && got && !c {
				t.Fatalf("%q is excluded but %q in it is not (rules %q)", rel, inside, patterns)
			}
		}
		if why := m.Why(rel, isDir); why.Excluded != got || why.Excluded && why.Rule == "" {
			t.Fatalf("Why(%q, isDir=%v) = %+v, but Excluded says %v (rules %q)", rel, isDir, why, got, patterns)
		}
		if fresh.Excluded(rel, isDir) != got {
			t.Fatalf("Excluded(%q) changed after a question about a path inside it (rules %q)", rel, patterns)
		}
		names, paths := m.Prunable()
		// A pruned name is excluded as a directory wherever it is, and so is all that is in it.
		var pruned []string
		for _, n := range names {
			pruned = append(pruned, n, rel+"/"+n)
		}
		for _, dir := range append(pruned, paths...) {
			if !want.excluded(dir, true) || !want.excluded(dir+"/"+child, true) || !want.excluded(dir+"/"+child, false) {
				t.Fatalf("Prunable names %q, but it or %q in it is not excluded (rules %q)", dir, child, patterns)
			}
		}
	})
}
