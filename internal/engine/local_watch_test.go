package engine

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/treegen"
	"github.com/kindling-dev/kindling/internal/watch"
)

// TestWatchedDirTracksRandomOperations drives the local half of a watching session (watcher, debouncer,
// Dir.Update) with seeded random operations, some while an update is "syncing", and requires the tree it
// ends with to be what a fresh scan reads: a path it missed would never be synced or deleted.
func TestWatchedDirTracksRandomOperations(t *testing.T) {
	if s := os.Getenv("KINDLING_SEED"); s != "" {
		var seed int64
		fmt.Sscan(s, &seed)
		checkWatchedDir(t, seed)
		return
	}
	// Seeds that found a defect once, then fresh ones. 1796602859851476864: a directory moved into one
	// made just before was watched under both names, and forgetting the old one dropped its watch.
	seeds := []int64{1796602859851476864, 1796602859851476864, 1796602859851476864}
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	for i := range rounds {
		seeds = append(seeds, time.Now().UnixNano()+int64(i))
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkWatchedDir(t, seed) })
	}
}

func checkWatchedDir(t *testing.T, seed int64) {
	r := rand.New(rand.NewSource(seed))
	src := t.TempDir()
	none := func(string, bool) bool { return false }
	w, err := watch.New(src, none)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		closed := make(chan error)
		go func() { closed <- w.Close() }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("the watcher's Close did not return within 5s")
		}
	}()
	go func() {
		for range w.Errors() {
		}
	}()
	tee := make(chan string)
	var seenMu sync.Mutex
	var seen []string
	go func() {
		defer close(tee)
		for p := range w.Changes() {
			seenMu.Lock()
			seen = append(seen, p)
			seenMu.Unlock()
			tee <- p
		}
	}()
	deb := watch.NewDebouncer(clock.Real{}, 10*time.Millisecond, watch.MaxWait(10*time.Millisecond), tee)
	defer deb.Stop()
	d := &Dir{Src: src, Excluded: none}
	if _, _, err := d.Update(context.Background(), []string{""}); err != nil {
		t.Fatal(err)
	}
	// The consumer publishes each tree it reaches; the test waits (within a generous bound, for a loaded
	// machine) for the published tree to be the one on disk. A lost event never gets there.
	var mu sync.Mutex
	var latest plan.Tree
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for b := range deb.Batches() {
			paths := b.Paths
			if b.Rescan {
				paths = []string{""}
			}
			tree, _, err := d.Update(context.Background(), paths)
			if err != nil {
				t.Errorf("update %q: %v", paths, err)
				return
			}
			mu.Lock()
			latest = tree
			mu.Unlock()
			time.Sleep(time.Duration(len(paths)%3) * 10 * time.Millisecond) // a sync
		}
	}()
	defer func() { deb.Stop(); <-consumed }()

	var log []string
	for i := range 300 {
		log = append(log, treegen.Step(r, src, i))
		if r.Intn(20) == 0 { // let an update start, then keep changing files while it runs
			time.Sleep(time.Duration(5+r.Intn(30)) * time.Millisecond)
		}
	}
	want, err := plan.Scan(src, none)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		got := latest
		mu.Unlock()
		diffs = treeDiffs(got, want)
		if len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(diffs) > 0 {
		seenMu.Lock()
		t.Errorf("seed %d: the watched tree differs from a scan after 10s:\n%v\noperations:\n%v\nseen:%q", seed, diffs, log, seen)
		seenMu.Unlock()
	}
}

// treeDiffs lists how got differs from want, path by path.
func treeDiffs(got, want plan.Tree) []string {
	var diffs []string
	for p, e := range want {
		if g, ok := got[p]; !ok || g != e {
			diffs = append(diffs, fmt.Sprintf("%q: watched %v, on disk %v", p, g.Kind, e.Kind))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: watched %v, not on disk", p, g.Kind))
		}
	}
	return diffs
}
