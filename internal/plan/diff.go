package plan

import "sort"

// Item is one path to create or update, with the entry it must end up as.
type Item struct {
	Path string
	Entry
}

// Plan is what turns a remote tree into the local one. Applying it means: Deletes first, then Mkdirs
// (parents before children), then Writes and Symlinks.
type Plan struct {
	// Deletes are paths to remove recursively; a deleted directory's children are not listed.
	Deletes []string
	Mkdirs  []string
	Writes  []Item
	// Symlinks are links to (re)create; Entry.Hash is the target.
	Symlinks []Item
	// Replaces maps a write over a remote file to the hash of the content it replaces: what the container
	// holds there now, from which a large file's change can be sent as a splice (see Splice).
	Replaces map[string]string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Deletes) == 0 && len(p.Mkdirs) == 0 && len(p.Writes) == 0 && len(p.Symlinks) == 0
}

// Changed lists the paths the plan writes, links or deletes (what a hook may care about).
func (p Plan) Changed() []string {
	paths := make([]string, 0, len(p.Writes)+len(p.Symlinks)+len(p.Deletes))
	for _, w := range p.Writes {
		paths = append(paths, w.Path)
	}
	for _, l := range p.Symlinks {
		paths = append(paths, l.Path)
	}
	return append(paths, p.Deletes...)
}

// Bytes is the total size of the files the plan writes.
func (p Plan) Bytes() int64 {
	var n int64
	for _, w := range p.Writes {
		n += w.Size
	}
	return n
}

// Diff computes the plan that turns remote into local. It deletes a remote path only when local positively
// lacks it: nothing at or under a local Unreadable path is deleted or written.
func Diff(local, remote Tree) Plan {
	var p Plan
	deleted := map[string]bool{}
	unknown := unreadableSet(local)
	for _, r := range remote.Paths() {
		if deletedAncestor(r, deleted) || deletedAncestor(r, unknown) {
			continue
		}
		l, ok := local[r]
		// An entry that changes kind is removed first: a file cannot be renamed over a directory.
		if !ok || l.Kind != remote[r].Kind {
			p.Deletes = append(p.Deletes, r)
			deleted[r] = true
		}
	}
	for _, l := range local.Paths() {
		le := local[l]
		re, ok := remote[l]
		if ok && !deletedAncestor(l, deleted) && re == le {
			continue
		}
		if ok && le.Kind == Dir && re.Kind == Dir && !deletedAncestor(l, deleted) {
			continue
		}
		switch le.Kind {
		case Unreadable:
			// its remote copy, if any, is left alone (see above)
		case Dir:
			p.Mkdirs = append(p.Mkdirs, l)
		case File:
			p.Writes = append(p.Writes, Item{l, le})
			if ok && re.Kind == File && !deletedAncestor(l, deleted) {
				if p.Replaces == nil {
					p.Replaces = map[string]string{}
				}
				p.Replaces[l] = re.Hash
			}
		case Symlink:
			p.Symlinks = append(p.Symlinks, Item{l, le})
		}
	}
	sort.Strings(p.Mkdirs) // a parent sorts before its children
	return p
}

// AfterApply is the tree a container holds once Diff(local, remote) has been applied to it: local, except
// that at and under local's Unreadable paths it still holds what remote had there.
func AfterApply(local, remote Tree) Tree {
	unknown := unreadableSet(local)
	if len(unknown) == 0 {
		return local
	}
	t := make(Tree, len(local))
	for p, e := range local {
		if e.Kind != Unreadable {
			t[p] = e
		}
	}
	for p, e := range remote {
		if deletedAncestor(p, unknown) {
			t[p] = e
		}
	}
	return t
}

// unreadableSet is the set of t's Unreadable paths, nil when there are none.
func unreadableSet(t Tree) map[string]bool {
	var set map[string]bool
	for p, e := range t {
		if e.Kind == Unreadable {
			if set == nil {
				set = map[string]bool{}
			}
			set[p] = true
		}
	}
	return set
}

// deletedAncestor reports whether p or one of its ancestors is in deleted.
func deletedAncestor(p string, deleted map[string]bool) bool {
	if len(deleted) == 0 {
		return false
	}
	for q := p; q != ""; q = parent(q) {
		if deleted[q] {
			return true
		}
	}
	return false
}
