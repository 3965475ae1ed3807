package engine

import (
	"context"
	"fmt"
	"math/rand"
	"os"
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
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	for i := range rounds {
		seed := time.Now().UnixNano() + int64(i)
		if s := os.Getenv("KINDLING_SEED"); s != "" {
			fmt.Sscan(s, &seed)
			rounds = 1
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkWatchedDir(t, seed) })
		if os.Getenv("KINDLING_SEED") != "" {
			break
		}
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
	deb := watch.NewDebouncer(clock.Real{}, 10*time.Millisecond, watch.MaxWait(10*time.Millisecond), w.Changes())
	defer deb.Stop()
	d := &Dir{Src: src, Excluded: none}
	if _, _, err := d.Update(context.Background(), []string{""}); err != nil {
		t.Fatal(err)
	}
	updated := make(chan plan.Tree, 1)
	go func() {
		var last plan.Tree
		defer func() { updated <- last }()
		for {
			select {
			case b, ok := <-deb.Batches():
				if !ok {
					return
				}
				paths := b.Paths
				if b.Rescan {
					paths = []string{""}
				}
				tree, _, err := d.Update(context.Background(), paths)
				if err != nil {
					t.Errorf("update %q: %v", paths, err)
					last = nil
					return
				}
				last = tree
				time.Sleep(time.Duration(len(paths)%3) * 10 * time.Millisecond) // a sync
			case <-time.After(300 * time.Millisecond): // quiet: every event is in
				return
			}
		}
	}()

	var log []string
	for i := range 300 {
		log = append(log, treegen.Step(r, src, i))
		if r.Intn(20) == 0 { // let an update start, then keep changing files while it runs
			time.Sleep(time.Duration(5+r.Intn(30)) * time.Millisecond)
		}
	}
	got := <-updated
	want, err := plan.Scan(src, none)
	if err != nil {
		t.Fatal(err)
	}
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
	if len(diffs) > 0 {
		t.Errorf("seed %d: the watched tree differs from a scan:\n%v\noperations:\n%v", seed, diffs, log)
	}
}
