// Package plan is the pure core of the sync engine: it describes a file tree (local or remote) as a map of
// entries and computes the smallest set of operations that turns one tree into another. It does no I/O
// except Scan, which reads the local tree.
package plan

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Kind is the type of a tree entry.
type Kind uint8

const (
	File Kind = iota + 1
	Dir
	Symlink
	// Unreadable is a local path that exists but could not be read (a file or directory the user has no
	// permission for). Its content is unknown, so a sync neither writes it nor deletes anything at or
	// under it in the container: what the container holds there stays as it is.
	Unreadable
)

func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case Unreadable:
		return "unreadable"
	}
	return "unknown"
}

// Entry is what the sync needs to know about one path. Two entries are equal exactly when the remote copy
// needs no update.
type Entry struct {
	Kind Kind
	// Exec is the executable bit of a file; other permission bits are not synced.
	Exec bool
	// Size is the size of a file in bytes.
	Size int64
	// Hash is the hex SHA-256 of a file's content, the target of a symlink, or why an Unreadable path
	// could not be read.
	Hash string
}

// Mode is the permission the entry gets in the container.
func (e Entry) Mode() fs.FileMode {
	switch {
	case e.Kind == Dir:
		return 0o755
	case e.Kind == Symlink:
		return 0o777
	case e.Exec:
		return 0o755
	}
	return 0o644
}

// Tree maps slash-separated paths relative to the sync root ("a/b.txt", never "./a" or "/a") to entries.
// A Tree is treated as immutable once built: derive a new one with Clone.
type Tree map[string]Entry

// Clone returns a copy of t that can be changed independently.
func (t Tree) Clone() Tree {
	c := make(Tree, len(t))
	for p, e := range t {
		c[p] = e
	}
	return c
}

// Paths returns the paths of t in lexical order.
func (t Tree) Paths() []string {
	ps := make([]string, 0, len(t))
	for p := range t {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// Unreadable returns the paths of t's Unreadable entries in lexical order, with why each could not be read.
func (t Tree) Unreadable() []Item {
	var items []Item
	for p, e := range t {
		if e.Kind == Unreadable {
			items = append(items, Item{p, e})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	return items
}

// FirstDifference describes the first path (in lexical order) where a and b differ, or "" if they are
// equal. It is meant for test failures and diagnostics.
func FirstDifference(a, b Tree) string {
	all := make(map[string]bool, len(a)+len(b))
	for p := range a {
		all[p] = true
	}
	for p := range b {
		all[p] = true
	}
	ps := make([]string, 0, len(all))
	for p := range all {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	for _, p := range ps {
		ea, inA := a[p]
		eb, inB := b[p]
		switch {
		case !inA:
			return "only in second: " + p
		case !inB:
			return "only in first: " + p
		case ea != eb:
			return "differs: " + p + " (" + describe(ea) + " vs " + describe(eb) + ")"
		}
	}
	return ""
}

func describe(e Entry) string {
	s := e.Kind.String()
	if e.Kind == File {
		s += " " + e.Hash[:min(12, len(e.Hash))]
		if e.Exec {
			s += " +x"
		}
	}
	if e.Kind == Symlink {
		s += " -> " + e.Hash
	}
	return s
}

// isUnder reports whether p is dir or inside it.
func isUnder(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// parent returns the parent directory of p, "" for a top-level path.
func parent(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}
