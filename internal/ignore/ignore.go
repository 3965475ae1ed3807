// Package ignore decides which paths under the source directory kindling leaves out of a sync and does
// not watch.
//
// The rules, lowest priority first, are:
//
//  1. the defaults (Defaults: .git, node_modules, build outputs, editor and OS litter);
//  2. the --exclude values, in the order given;
//  3. the lines of an optional .kindlingignore file at the root of the source directory.
//
// Every rule is a .gitignore line: a pattern without a slash matches a name at any depth, a leading "/"
// anchors it to the source root, a trailing "/" matches directories only, "**" matches any number of
// directories, "!" re-includes what an earlier rule excluded (so "--exclude '!dist/'" syncs dist again),
// and in .kindlingignore blank lines and lines starting with "#" are skipped. As in git, a path inside an
// excluded directory stays excluded whatever later rules say about the path itself.
//
// Glob matching is done by go-git's gitignore package. That package lets a rule that matches a directory
// also decide every path beneath it (so "!dist/" would re-include dist/node_modules); Matcher instead
// applies each rule only at the level it names, which is what git does.
package ignore

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// FileName is the optional ignore file read from the root of the source directory.
const FileName = ".kindlingignore"

// Defaults are the patterns excluded from every sync.
var Defaults = []string{
	".git", "node_modules", "__pycache__", ".venv", "vendor", "target", ".next", "dist", "build",
	"*.pyc", "*.o", "*.exe", "*.log", ".DS_Store",
}

// Matcher answers whether a path under the source directory is excluded. It is safe for concurrent use.
type Matcher struct {
	patterns []string
	// sources says where each pattern comes from, for Why: "default", "--exclude" or ".kindlingignore:LINE".
	sources []string
	rules   []rule
	// dirs caches the verdict per directory (string → bool): every path asks about all of its ancestors,
	// and a tree has far fewer directories than files. The verdict depends on the path only, so entries
	// never go stale.
	dirs sync.Map
}

type rule struct {
	pattern gitignore.Pattern
	// anchored rules (with a slash before the end) match the whole path from the root; the others match
	// the last name only.
	anchored bool
	// keyName is a test that every path the rule matches passes with its key name: the first name for an
	// anchored rule, the last otherwise. It costs a string comparison, and nearly every path fails it for
	// nearly every rule, which spares them go-git's glob matching, the bulk of the cost of a path.
	keyName nameTest
}

// nameTest is a necessary condition on a name.
type nameTest struct {
	kind nameTestKind
	text string
}

type nameTestKind int

const (
	anyName nameTestKind = iota
	nameIs
	nameEndsWith
)

func (t nameTest) passes(name string) bool {
	switch t.kind {
	case nameIs:
		return name == t.text
	case nameEndsWith:
		return strings.HasSuffix(name, t.text)
	}
	return true
}

// keyNameTest reads the test from the pattern body b. go-git compares names with filepath.Match, for which
// a glob without metacharacters matches only itself and a leading "*" only names ending with the rest.
func keyNameTest(b string, anchored bool) nameTest {
	b = strings.TrimSuffix(b, "/")
	if anchored {
		// go-git skips the empty segments a leading "/" leaves, then matches the next one against the
		// first name.
		first, _, _ := strings.Cut(strings.TrimLeft(b, "/"), "/")
		if isLiteral(first) {
			return nameTest{nameIs, first}
		}
		return nameTest{kind: anyName}
	}
	if isLiteral(b) {
		return nameTest{nameIs, b}
	}
	if suffix, ok := strings.CutPrefix(b, "*"); ok && isLiteral(suffix) {
		return nameTest{nameEndsWith, suffix}
	}
	return nameTest{kind: anyName}
}

func isLiteral(glob string) bool { return !strings.ContainsAny(glob, `*?[\`) }

// New builds the matcher for the source directory src from the defaults, the --exclude values extra and
// src/.kindlingignore if it exists.
func New(src string, extra []string) (*Matcher, error) {
	m := &Matcher{}
	for _, p := range Defaults {
		m.add(p, SourceDefault)
	}
	for _, p := range extra {
		if err := validate(p); err != nil {
			return nil, fmt.Errorf("--exclude %q: %w", p, err)
		}
		m.add(p, SourceFlag)
	}
	if err := m.addFile(filepath.Join(src, FileName)); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Matcher) addFile(name string) error {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read ignore file %s: %w (fix its permissions or remove it)", name, err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		p := scanner.Text()
		if strings.TrimSpace(p) == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if err := validate(p); err != nil {
			return fmt.Errorf("%s:%d: pattern %q: %w", name, line, p, err)
		}
		m.add(p, FileName+":"+strconv.Itoa(line))
	}
	if err := scanner.Err(); err != nil {
		return fmt.Errorf("cannot read ignore file %s: %w (fix or remove it)", name, err)
	}
	return nil
}

func (m *Matcher) add(p, source string) {
	m.patterns = append(m.patterns, p)
	m.sources = append(m.sources, source)
	b := body(p)
	anchored := strings.Contains(strings.TrimSuffix(b, "/"), "/")
	m.rules = append(m.rules, rule{
		pattern:  gitignore.ParsePattern(p, nil),
		anchored: anchored,
		keyName:  keyNameTest(b, anchored),
	})
}

// body is the pattern without its "!" and trailing spaces, as go-git reads it.
func body(p string) string {
	p = strings.TrimPrefix(p, "!")
	if !strings.HasSuffix(p, `\ `) {
		p = strings.TrimRight(p, " ")
	}
	return p
}

// validate rejects patterns that go-git would silently never match.
func validate(p string) error {
	b := body(p)
	if strings.Trim(b, "/") == "" {
		return errors.New("empty pattern; remove it")
	}
	anchored := strings.Contains(strings.TrimSuffix(b, "/"), "/")
	for _, seg := range strings.Split(strings.Trim(b, "/"), "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("bad glob %q; escape a literal [ or \\ with a backslash", seg)
		}
		if anchored && seg != "**" && strings.Contains(seg, "**") {
			return fmt.Errorf("%q: ** must be a whole path segment, as in a/**/b", seg)
		}
	}
	return nil
}

// Patterns returns every rule in priority order (lowest first), for --dry-run and messages.
func (m *Matcher) Patterns() []string { return append([]string(nil), m.patterns...) }

// Prunable returns directories that are excluded, with everything in them, wherever a tree holds them,
// so that a listing of another copy of the tree (the container's) may skip them unread: names, for a
// directory of that name at any depth, and paths, slash-separated from the root. They come from literal
// rules: a name (node_modules, .git, ...) unless a later "!" rule could re-include a directory of that
// name, and an anchored path (/build, web/dist) that Excluded excludes as a directory. Excluded stays
// the final word on every path; this is only what it is sure to exclude whole.
func (m *Matcher) Prunable() (names, paths []string) {
	seen := map[string]bool{}
	for i, r := range m.rules {
		if strings.HasPrefix(m.patterns[i], "!") {
			continue
		}
		if !r.anchored {
			name := r.keyName.text
			if r.keyName.kind == nameIs && name != "." && name != ".." && !seen[name] && !m.mayReinclude(i, name) {
				seen[name] = true
				names = append(names, name)
			}
			continue
		}
		rel := strings.Trim(body(m.patterns[i]), "/")
		if !isLiteral(rel) || seen["/"+rel] {
			continue
		}
		clean := true
		for _, seg := range strings.Split(rel, "/") {
			clean = clean && seg != "" && seg != "." && seg != ".."
		}
		if clean && m.Excluded(rel, true) {
			seen["/"+rel] = true
			paths = append(paths, rel)
		}
	}
	return names, paths
}

// mayReinclude reports whether a "!" rule after rule i might re-include a directory named name: an
// unanchored one that matches the name, or an anchored one unless its last name is a literal other than
// name (one that only ever decides a path whose last name it matches).
func (m *Matcher) mayReinclude(i int, name string) bool {
	for j := i + 1; j < len(m.rules); j++ {
		if !strings.HasPrefix(m.patterns[j], "!") {
			continue
		}
		r := m.rules[j]
		if !r.anchored {
			if r.pattern.Match([]string{name}, true) != gitignore.NoMatch {
				return true
			}
			continue
		}
		// (Every trailing slash goes: go-git reads "0//" as the directory 0.)
		b := strings.TrimRight(body(m.patterns[j]), "/")
		last := b[strings.LastIndexByte(b, '/')+1:]
		if !isLiteral(last) || last == "" || last == name {
			return true
		}
	}
	return false
}

// Excluded reports whether rel, a slash-separated path relative to the source directory (no leading "./"),
// is left out. isDir tells whether rel is a directory, which matters for rules ending in "/".
func (m *Matcher) Excluded(rel string, isDir bool) bool {
	if rel == "" || rel == "." {
		return false
	}
	if isDir {
		if v, ok := m.dirs.Load(rel); ok {
			return v.(bool)
		}
	}
	excluded := m.Excluded(path.Dir(rel), true)
	if !excluded {
		res, _ := m.decide(rel, isDir)
		excluded = res == gitignore.Exclude
	}
	if isDir {
		m.dirs.Store(rel, excluded)
	}
	return excluded
}

// decide returns the verdict of the last rule that names path itself, and that rule's index (-1 for
// none), ignoring rules that only match one of its ancestors (those were decided when the ancestor was).
func (m *Matcher) decide(rel string, isDir bool) (gitignore.MatchResult, int) {
	first, _, _ := strings.Cut(rel, "/")
	last := rel[strings.LastIndexByte(rel, '/')+1:]
	// Split only for a rule whose key name test passes: Split allocates, and most paths pass none.
	var names []string
	for i := len(m.rules) - 1; i >= 0; i-- {
		r := &m.rules[i]
		key := last
		if r.anchored {
			key = first
		}
		if !r.keyName.passes(key) {
			continue
		}
		if names == nil {
			names = strings.Split(rel, "/")
		}
		if res := r.matchItself(names, isDir); res != gitignore.NoMatch {
			return res, i
		}
	}
	return gitignore.NoMatch, -1
}

func (r rule) matchItself(names []string, isDir bool) gitignore.MatchResult {
	if !r.anchored {
		return r.pattern.Match(names[len(names)-1:], isDir)
	}
	// go-git also matches a path when the rule matches one of its ancestors; a rule that already matches
	// the parent was decided at the parent's level.
	if r.pattern.Match(names[:len(names)-1], true) != gitignore.NoMatch {
		return gitignore.NoMatch
	}
	return r.pattern.Match(names, isDir)
}
