package plan

import "sort"

// Thresholds of a tree worth a warning: a sync of it is slow, and it is usually something the app does
// not need in the container (a dataset, a build output, a video) that an exclude would leave out.
const (
	LargeFile = 10 << 20 // bytes
	ManyFiles = 20_000
	// shownLarge is how many of the largest files a warning names.
	shownLarge = 5
	// crowdedDir is how many large files in one directory make it the thing to exclude.
	crowdedDir = 3
)

// Weight is what makes a tree heavy to sync, as Oversized finds it.
type Weight struct {
	// Largest are the files over LargeFile, biggest first (by path on a tie), at most five.
	Largest []Item
	// LargeFiles and LargeBytes count all the files over LargeFile.
	LargeFiles int
	LargeBytes int64
	// LargeDirs are the directories holding three or more files over LargeFile each, most first: one
	// rule for the directory drops them all.
	LargeDirs []string
	// Files is the number of regular files in the tree; Many is Files > ManyFiles.
	Files int
	Many  bool
	// Crowded, when Many, is the deepest directory holding at least half of the files ("" when no
	// directory does): where the files come from, and what an exclude might drop.
	Crowded      string
	CrowdedFiles int
}

// Heavy reports whether the tree is worth a warning.
func (w Weight) Heavy() bool { return w.LargeFiles > 0 || w.Many }

// Oversized weighs t: its files over LargeFile and whether it holds more than ManyFiles files.
func Oversized(t Tree) Weight {
	var w Weight
	var large []Item
	for p, e := range t {
		if e.Kind != File {
			continue
		}
		w.Files++
		if e.Size > LargeFile {
			large = append(large, Item{p, e})
			w.LargeBytes += e.Size
		}
	}
	w.LargeFiles = len(large)
	sort.Slice(large, func(i, j int) bool {
		if large[i].Size != large[j].Size {
			return large[i].Size > large[j].Size
		}
		return large[i].Path < large[j].Path
	})
	w.Largest = large[:min(len(large), shownLarge)]
	w.LargeDirs = crowdedDirs(large)
	w.Many = w.Files > ManyFiles
	if w.Many {
		w.Crowded, w.CrowdedFiles = crowded(t, w.Files)
	}
	return w
}

// crowdedDirs are the parent directories of three or more of the large files, most first.
func crowdedDirs(large []Item) []string {
	count := map[string]int{}
	for _, it := range large {
		if d := parent(it.Path); d != "" {
			count[d]++
		}
	}
	var dirs []string
	for d, n := range count {
		if n >= crowdedDir {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(i, j int) bool {
		if count[dirs[i]] != count[dirs[j]] {
			return count[dirs[i]] > count[dirs[j]]
		}
		return dirs[i] < dirs[j]
	})
	return dirs
}

// crowded is the deepest directory holding at least half of the tree's files, found by going down into
// the fullest subdirectory while it holds that many.
func crowded(t Tree, files int) (string, int) {
	count := map[string]int{} // directory → files at any depth under it
	for p, e := range t {
		if e.Kind != File {
			continue
		}
		for d := parent(p); d != ""; d = parent(d) {
			count[d]++
		}
	}
	best, bestN := "", 0
	for {
		next, nextN := "", 0
		for d, n := range count {
			if parent(d) != best || n*2 < files {
				continue
			}
			// Two halves exactly: the first by name, so the answer does not depend on map order.
			if n > nextN || n == nextN && d < next {
				next, nextN = d, n
			}
		}
		if next == "" {
			return best, bestN
		}
		best, bestN = next, nextN
	}
}
