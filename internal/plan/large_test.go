package plan

import (
	"fmt"
	"reflect"
	"testing"
)

func TestOversized(t *testing.T) {
	f := func(size int64) Entry { return Entry{Kind: File, Size: size, Hash: "h"} }
	many := func(dir string, n int) Tree {
		t := Tree{}
		for i := range n {
			t[fmt.Sprintf("%s/f%05d", dir, i)] = f(10)
		}
		return t
	}
	tests := []struct {
		name string
		tree Tree
		want Weight
	}{
		{name: "empty", tree: Tree{}, want: Weight{}},
		{
			name: "small files only",
			tree: Tree{"a": f(LargeFile), "d": {Kind: Dir}, "d/b": f(1), "l": {Kind: Symlink, Hash: "a"}},
			want: Weight{Files: 2},
		},
		{
			name: "biggest first, five at most, ties by path",
			tree: Tree{
				"a": f(11 << 20), "b": f(50 << 20), "c": f(12 << 20), "d/e": f(12 << 20),
				"f": f(20 << 20), "g": f(LargeFile + 1), "h": f(3),
				// Not a file: sizes of others do not count.
				"u": {Kind: Unreadable, Size: 1 << 40},
			},
			want: Weight{
				Largest: []Item{
					{"b", f(50 << 20)}, {"f", f(20 << 20)}, {"c", f(12 << 20)}, {"d/e", f(12 << 20)}, {"a", f(11 << 20)},
				},
				LargeFiles: 6, LargeBytes: (11+50+12+12+20+10)<<20 + 1,
				Files: 7,
			},
		},
		{
			name: "a directory of large files",
			tree: Tree{
				"data/a.bin": f(11 << 20), "data/b.bin": f(11 << 20), "data/c.bin": f(11 << 20),
				"x/a.mp4": f(11 << 20), "x/b.mp4": f(11 << 20), "top.iso": f(11 << 20),
			},
			want: Weight{
				Largest: []Item{
					{"data/a.bin", f(11 << 20)}, {"data/b.bin", f(11 << 20)}, {"data/c.bin", f(11 << 20)},
					{"top.iso", f(11 << 20)}, {"x/a.mp4", f(11 << 20)},
				},
				LargeFiles: 6, LargeBytes: 6 * 11 << 20, LargeDirs: []string{"data"}, Files: 6,
			},
		},
		{
			name: "exactly ManyFiles is not many",
			tree: many("src", ManyFiles),
			want: Weight{Files: ManyFiles},
		},
		{
			name: "many files, mostly in one deep directory",
			tree: func() Tree {
				t := many("web/fixtures/gen", ManyFiles)
				for p, e := range many("src", 500) {
					t[p] = e
				}
				t["web/index.js"] = f(1)
				return t
			}(),
			want: Weight{Files: ManyFiles + 501, Many: true, Crowded: "web/fixtures/gen", CrowdedFiles: ManyFiles},
		},
		{
			name: "many files, spread out",
			tree: func() Tree {
				t := Tree{}
				for i := range 4 {
					for p, e := range many(fmt.Sprintf("d%d", i), ManyFiles/3) {
						t[p] = e
					}
				}
				return t
			}(),
			want: Weight{Files: 4 * (ManyFiles / 3), Many: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Oversized(tt.tree)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Oversized =\n%+v\nwant\n%+v", got, tt.want)
			}
			if got.Heavy() != (tt.want.LargeFiles > 0 || tt.want.Many) {
				t.Errorf("Heavy = %v", got.Heavy())
			}
		})
	}
}
