package ignore

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// goGitMatcher is Matcher without its shortcuts: every rule asks go-git about every path, as Matcher first
// did. Matcher must decide exactly as it does.
type goGitMatcher struct {
	patterns []gitignore.Pattern
	anchored []bool
}

func newGoGitMatcher(patterns []string) *goGitMatcher {
	g := &goGitMatcher{}
	for _, p := range patterns {
		g.patterns = append(g.patterns, gitignore.ParsePattern(p, nil))
		g.anchored = append(g.anchored, strings.Contains(strings.TrimSuffix(body(p), "/"), "/"))
	}
	return g
}

func (g *goGitMatcher) excluded(rel string, isDir bool) bool {
	if rel == "" || rel == "." {
		return false
	}
	if g.excluded(path.Dir(rel), true) {
		return true
	}
	names := strings.Split(rel, "/")
	for i := len(g.patterns) - 1; i >= 0; i-- {
		p := g.patterns[i]
		res := gitignore.NoMatch
		switch {
		case !g.anchored[i]:
			res = p.Match(names[len(names)-1:], isDir)
		case p.Match(names[:len(names)-1], true) == gitignore.NoMatch:
			res = p.Match(names, isDir)
		}
		if res != gitignore.NoMatch {
			return res == gitignore.Exclude
		}
	}
	return false
}

// The pools overlap so that generated rules often match generated paths, including through globs that
// look like literals to a careless shortcut (escapes, classes, "*" in names).
var (
	patternSegments = []string{
		"a", "b", "ab", "a.pyc", "node_modules", "my notes", "日本", "a ",
		"*", "**", "a**", "*.pyc", "*b", "*.日本", "a*", "*a*", "?", "a?", "?.pyc",
		"[ab]", "[!a]*", "[a-c]", "*[b]", `\*`, `a\[1\]`, `\#x`, `\!bang`, `*\.pyc`, `a\ `, "[",
	}
	pathNames = []string{
		"a", "b", "ab", "ba", "abc", "c", "a.pyc", "b.pyc", "pyc", ".pyc", "node_modules", "my notes",
		"日本", "x.日本", "*", "a*", "a[1]", "#x", "!bang", "a ", "a.b",
	}
)

func randomPattern(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(4) == 0 {
		b.WriteString("!")
	}
	if r.IntN(4) == 0 {
		b.WriteString("/")
	}
	for i := range 1 + r.IntN(3) {
		if i > 0 {
			b.WriteString("/")
		}
		b.WriteString(patternSegments[r.IntN(len(patternSegments))])
	}
	if r.IntN(4) == 0 {
		b.WriteString("/")
	}
	if r.IntN(8) == 0 {
		b.WriteString("  ")
	}
	return b.String()
}

func randomPath(r *rand.Rand) string {
	names := make([]string, 1+r.IntN(4))
	for i := range names {
		names[i] = pathNames[r.IntN(len(pathNames))]
	}
	return strings.Join(names, "/")
}

func TestExcludedAgreesWithGoGit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var patterns []string
		if r.IntN(2) == 0 {
			patterns = append(patterns, Defaults...)
		}
		for range 1 + r.IntN(6) {
			patterns = append(patterns, randomPattern(r))
		}
		m := &Matcher{}
		for _, p := range patterns {
			m.add(p, SourceFlag)
		}
		want := newGoGitMatcher(patterns)
		for range 50 {
			rel, isDir := randomPath(r), r.IntN(2) == 0
			if got, want := m.Excluded(rel, isDir), want.excluded(rel, isDir); got != want {
				t.Fatalf("Excluded(%q, isDir=%v) = %v, go-git says %v (patterns %q)", rel, isDir, got, want, patterns)
			}
		}
	}
}

// TestPrunableIsExcludedWhole: every directory Prunable names, at any depth, is excluded, and so is
// everything in it, for random rules (negations included) and the defaults.
func TestPrunableIsExcludedWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pruned := 0
	for range 3000 {
		var patterns []string
		if r.IntN(2) == 0 {
			patterns = append(patterns, Defaults...)
		}
		for range 1 + r.IntN(6) {
			patterns = append(patterns, randomPattern(r))
		}
		m := &Matcher{}
		for _, p := range patterns {
			m.add(p, SourceFlag)
		}
		names, paths := m.Prunable()
		want := newGoGitMatcher(patterns)
		check := func(dir string) {
			pruned++
			for _, rel := range []string{dir, dir + "/" + randomPath(r), dir + "/" + randomPath(r)} {
				for _, isDir := range []bool{true, false} {
					if (rel != dir || isDir) && !want.excluded(rel, isDir) {
						t.Fatalf("%q (isDir=%v) is in pruned directory %q but not excluded (patterns %q)", rel, isDir, dir, patterns)
					}
				}
			}
		}
		for _, p := range paths {
			check(p)
		}
		for _, n := range names {
			check(n)
			for range 20 {
				check(randomPath(r) + "/" + n)
			}
		}
	}
	if pruned == 0 {
		t.Fatal("no directory was ever pruned: the test tests nothing")
	}
}

func TestPrunable(t *testing.T) {
	tests := []struct {
		extra        []string
		names, paths []string
	}{
		{nil, []string{".git", "node_modules", "__pycache__", ".venv", "vendor", "target", ".next", "dist", "build", ".DS_Store"}, nil},
		{[]string{"!dist/", "fixtures/", "/web/cache", "/tmp*", "a/**/b"}, []string{".git", "node_modules", "__pycache__", ".venv", "vendor", "target", ".next", "build", ".DS_Store", "fixtures"}, []string{"web/cache"}},
		{[]string{"!**/node_modules"}, []string{".git", "__pycache__", ".venv", "vendor", "target", ".next", "dist", "build", ".DS_Store"}, nil},
		{[]string{"!web/node_modules/keep"}, []string{".git", "node_modules", "__pycache__", ".venv", "vendor", "target", ".next", "dist", "build", ".DS_Store"}, nil},
		{[]string{"/web/cache", "!web/"}, []string{".git", "node_modules", "__pycache__", ".venv", "vendor", "target", ".next", "dist", "build", ".DS_Store"}, []string{"web/cache"}},
		{[]string{"/web/cache", "!/web/cache"}, []string{".git", "node_modules", "__pycache__", ".venv", "vendor", "target", ".next", "dist", "build", ".DS_Store"}, nil},
	}
	for _, tt := range tests {
		m, err := New(t.TempDir(), tt.extra)
		if err != nil {
			t.Fatal(err)
		}
		names, paths := m.Prunable()
		if strings.Join(names, ",") != strings.Join(tt.names, ",") || strings.Join(paths, ",") != strings.Join(tt.paths, ",") {
			t.Errorf("--exclude %q: Prunable() = %q, %q; want %q, %q", tt.extra, names, paths, tt.names, tt.paths)
		}
	}
}
