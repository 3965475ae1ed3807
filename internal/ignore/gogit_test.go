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
			m.add(p)
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
