package ignore

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Where a rule comes from, as Reason.Source says it; a .kindlingignore rule is FileName+":"+its line.
const (
	SourceDefault = "default"
	SourceFlag    = "--exclude"
)

// Reason is why a path is left out of the sync or not, in the user's terms: the rule as they wrote it and
// where they wrote it, so that "why was my change not synced" has an answer they can act on.
type Reason struct {
	Excluded bool
	// Rule is the pattern that decided, as written ("*.pyc", "!dist/"). It is "" when no rule names the
	// path or any directory above it: nothing excludes it.
	Rule string
	// Source is where Rule comes from: SourceDefault, SourceFlag or ".kindlingignore:LINE".
	Source string
	// Path is what Rule matched: rel itself, or the directory above it that the rule excluded with
	// everything in it (or re-included with "!").
	Path string
}

// Why says which rule decides rel, and whether rel is excluded; Excluded(rel, isDir) is always
// Why(rel, isDir).Excluded. It is for messages, not for the hot path: it caches nothing.
func (m *Matcher) Why(rel string, isDir bool) Reason {
	if rel == "" || rel == "." {
		return Reason{}
	}
	// From the top down, as git decides: the first excluded directory decides everything beneath it,
	// whatever later rules say; short of that, the deepest rule that matched says why rel is synced.
	var why Reason
	for i := 0; i <= len(rel); i++ {
		if i < len(rel) && rel[i] != '/' {
			continue
		}
		p := rel[:i]
		res, r := m.decide(p, i < len(rel) || isDir)
		switch res {
		case gitignore.Exclude:
			return Reason{Excluded: true, Rule: m.patterns[r], Source: m.sources[r], Path: p}
		case gitignore.Include:
			why = Reason{Rule: m.patterns[r], Source: m.sources[r], Path: p}
		}
	}
	return why
}

// PatternFor is a rule that excludes exactly rel (a directory with everything in it when isDir), for a
// message that tells the user what to add: "data/big.bin", "/big.bin" (a name alone would match at any
// depth), "/data/". Glob characters in names are escaped, so the rule never matches more than rel.
func PatternFor(rel string, isDir bool) string {
	var b strings.Builder
	if !strings.Contains(rel, "/") {
		b.WriteByte('/')
	}
	for i := 0; i < len(rel); i++ {
		c := rel[i]
		switch {
		case c == '*' || c == '?' || c == '[' || c == '\\':
			b.WriteByte('\\')
		case b.Len() == 0 && (c == '!' || c == '#'):
			b.WriteByte('\\') // else a negation, or a comment in .kindlingignore
		case c == ' ' && i == len(rel)-1:
			b.WriteByte('\\') // a trailing space is dropped unless escaped, as in git
		}
		b.WriteByte(c)
	}
	if isDir {
		b.WriteByte('/')
	}
	return b.String()
}
