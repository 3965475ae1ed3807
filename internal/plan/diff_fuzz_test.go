package plan

import (
	"slices"
	"strings"
	"testing"
)

// fuzzTree builds a consistent tree (every entry's parent is a directory in it) from fuzz bytes, three per
// entry: which directory it goes in, its name and what it is. Names come from a small pool so that two
// trees built from different bytes share paths, and the kinds cover every change of kind.
func fuzzTree(b []byte, unreadable bool) Tree {
	// Up to 300 entries: enough for every shape, and the checks (quadratic in places) stay fast.
	b = b[:min(len(b), 900)]
	names := []string{"a", "b", "c d", "é", "x.py", "a.b", "-n"}
	t := Tree{}
	dirs := []string{""}
	for ; len(b) >= 3; b = b[3:] {
		d := dirs[int(b[0])%len(dirs)]
		p := names[int(b[1])%len(names)]
		if d != "" {
			p = d + "/" + p
		}
		if _, taken := t[p]; taken {
			continue
		}
		hash := string(rune('0' + b[2]>>4%4))
		switch b[2] % 8 {
		case 0, 1:
			t[p] = Entry{Kind: Dir}
			dirs = append(dirs, p)
		case 2:
			t[p] = Entry{Kind: Symlink, Hash: names[int(b[2]>>3)%len(names)]}
		case 3:
			if unreadable {
				t[p] = Entry{Kind: Unreadable, Hash: "permission denied"}
				continue
			}
			fallthrough
		default:
			t[p] = Entry{Kind: File, Hash: hash, Size: int64(len(hash)), Exec: b[2]&0x40 != 0}
		}
	}
	return t
}

// FuzzDiff: for any two trees, the plan only deletes what the remote tree has, only writes and links what
// the local tree has (as it has it), touches nothing at or under a local unreadable path, creates every
// directory before what goes in it, and once applied leaves the remote tree equal to AfterApply, with
// nothing left to do.
func FuzzDiff(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 0, 0, 1, 1, 4, 1, 2, 5}, []byte{0, 0, 4, 0, 1, 0, 2, 3, 2})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 1, 3}, []byte{0, 0, 0, 1, 0, 0, 2, 1, 0, 3, 2, 4})
	f.Add([]byte{0, 2, 3, 0, 0, 0, 1, 4, 4}, []byte{0, 2, 0, 1, 1, 4, 0, 0, 2})
	f.Add([]byte("local tree with several entries"), []byte("remote tree, another one"))
	f.Fuzz(func(t *testing.T, l, r []byte) {
		local, remote := fuzzTree(l, true), fuzzTree(r, false)
		p := Diff(local, remote)
		unknown := unreadableSet(local)

		for i, d := range p.Deletes {
			if _, ok := remote[d]; !ok {
				t.Fatalf("deletes %q, which the remote tree does not have", d)
			}
			if deletedAncestor(d, unknown) {
				t.Fatalf("deletes %q, at or under a local unreadable path", d)
			}
			for _, e := range p.Deletes[:i] {
				if isUnder(d, e) {
					t.Fatalf("deletes %q inside %q, which it deletes already", d, e)
				}
			}
		}
		for _, it := range slices.Concat(p.Writes, p.Symlinks) {
			if e, ok := local[it.Path]; !ok || e != it.Entry {
				t.Fatalf("writes %q as %+v; the local tree has %+v (%v)", it.Path, it.Entry, e, ok)
			}
			if deletedAncestor(it.Path, unknown) {
				t.Fatalf("writes %q, at or under a local unreadable path", it.Path)
			}
		}
		made := map[string]bool{}
		after := apply(remote, Plan{Deletes: p.Deletes})
		for _, d := range p.Mkdirs {
			if local[d].Kind != Dir {
				t.Fatalf("makes directory %q; the local tree has %+v", d, local[d])
			}
			if q := parent(d); q != "" && !made[q] && after[q].Kind != Dir {
				t.Fatalf("makes %q before its parent %q exists", d, q)
			}
			made[d] = true
		}
		for _, it := range slices.Concat(p.Writes, p.Symlinks) {
			if q := parent(it.Path); q != "" && !made[q] && after[q].Kind != Dir {
				t.Fatalf("writes %q, whose parent %q does not exist then", it.Path, q)
			}
		}

		got := apply(remote, p)
		if d := FirstDifference(AfterApply(local, remote), got); d != "" {
			t.Fatalf("after the plan the remote tree is not AfterApply: %s\nplan %+v", d, p)
		}
		if again := Diff(local, got); !again.Empty() {
			t.Fatalf("a second plan is not empty: %+v", again)
		}
		for path := range got {
			if strings.HasPrefix(path, "/") || strings.Contains(path, "//") {
				t.Fatalf("path %q is not relative and clean", path)
			}
		}
	})
}
