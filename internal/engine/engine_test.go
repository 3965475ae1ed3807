package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/internal/watch"
)

// memContainer is a container whose tree lives in memory; it counts what was sent to it.
type memContainer struct {
	name string
	mu   sync.Mutex
	tree plan.Tree
	// applies counts Apply calls; manifests counts Manifest calls.
	applies, manifests int
	writes             []string
	fail               error
	reloads            int
	// stuck, when set, holds every Apply until it is closed (or the Apply's context ends).
	stuck chan struct{}
}

func (c *memContainer) Target() string { return c.name }
func (c *memContainer) Exec(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
	return errors.New("not used")
}

type memTransport struct{ c *memContainer }

func (t memTransport) Manifest(context.Context, string) (plan.Tree, error) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.c.manifests++
	return t.c.tree.Clone(), nil
}

func (t memTransport) Apply(ctx context.Context, _ string, p plan.Plan, _ transport.Source) (transport.Stats, error) {
	c := t.c
	c.mu.Lock()
	stuck := c.stuck
	c.mu.Unlock()
	if stuck != nil {
		select {
		case <-stuck:
		case <-ctx.Done():
			return transport.Stats{}, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applies++
	if c.fail != nil {
		return transport.Stats{}, c.fail
	}
	for _, d := range p.Deletes {
		for q := range c.tree {
			if q == d || strings.HasPrefix(q, d+"/") {
				delete(c.tree, q)
			}
		}
	}
	for _, d := range p.Mkdirs {
		c.tree[d] = plan.Entry{Kind: plan.Dir}
	}
	for _, w := range append(p.Writes, p.Symlinks...) {
		c.tree[w.Path] = w.Entry
		c.writes = append(c.writes, w.Path)
	}
	return transport.Stats{Written: len(p.Writes), Deleted: len(p.Deletes), Bytes: p.Bytes()}, nil
}

type fakeTargets struct {
	mu         sync.Mutex
	containers []*memContainer
	changed    chan struct{}
}

func (f *fakeTargets) Changed() <-chan struct{} { return f.changed }

func (f *fakeTargets) Current(context.Context) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, c := range f.containers {
		out = append(out, Container{ID: c.name, Exec: c})
	}
	return out, nil
}

func (f *fakeTargets) set(cs ...*memContainer) {
	f.mu.Lock()
	f.containers = cs
	f.mu.Unlock()
	f.changed <- struct{}{}
}

type countingReloader struct{}

func (countingReloader) Reload(_ context.Context, e transport.Execer) (string, error) {
	c := e.(*memContainer)
	c.mu.Lock()
	c.reloads++
	c.mu.Unlock()
	return "restarted", nil
}

func newSession(t *testing.T, src string, targets *fakeTargets, out io.Writer) *Session {
	t.Helper()
	return New(Config{
		Local:        &Dir{Src: src, Excluded: func(rel string, _ bool) bool { return rel == "node_modules" }},
		Dest:         "/app",
		Targets:      targets,
		NewTransport: func(e transport.Execer) transport.Transport { return memTransport{e.(*memContainer)} },
		Reloader:     countingReloader{},
		Out:          out,
		Clock:        clock.NewFake(time.Unix(0, 0)),
	})
}

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func localTree(t *testing.T, src string) plan.Tree {
	t.Helper()
	tree, err := plan.Scan(src, func(rel string, _ bool) bool { return rel == "node_modules" })
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestOnceSyncsEveryContainerAndReloadsIt(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	writeFile(t, src, "node_modules/x.js", "ignored")
	a := &memContainer{name: "a", tree: plan.Tree{"stale.txt": {Kind: plan.File, Hash: "x"}}}
	b := &memContainer{name: "b", tree: plan.Tree{}}
	var out bytes.Buffer
	s := newSession(t, src, &fakeTargets{containers: []*memContainer{a, b}, changed: make(chan struct{})}, &out)
	if err := s.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*memContainer{a, b} {
		if d := plan.FirstDifference(c.tree, localTree(t, src)); d != "" {
			t.Errorf("%s: %s", c.name, d)
		}
		if c.reloads != 1 {
			t.Errorf("%s reloaded %d times, want 1", c.name, c.reloads)
		}
	}
	if !strings.Contains(out.String(), "2/2 pods") {
		t.Errorf("summary line missing: %q", out.String())
	}
}

func TestFirstContactAppliesAnEmptyPlanOnlyWhereDestHoldsNothing(t *testing.T) {
	once := func(src string, c *memContainer) {
		t.Helper()
		s := newSession(t, src, &fakeTargets{containers: []*memContainer{c}, changed: make(chan struct{})}, io.Discard)
		if err := s.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.reloads != 1 || c.manifests != 1 {
			t.Errorf("%s: %d reloads, %d manifests; want 1 and 1", c.name, c.reloads, c.manifests)
		}
	}
	// Nothing to sync into an empty --dest (or none): the empty plan creates it and proves it writable.
	fresh := &memContainer{name: "fresh", tree: plan.Tree{}}
	once(t.TempDir(), fresh)
	if fresh.applies != 1 {
		t.Errorf("empty --dest: %d applies, want 1", fresh.applies)
	}
	// A --dest that holds the tree already: its manifest proved it writable, nothing is sent.
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	synced := &memContainer{name: "synced", tree: localTree(t, src)}
	once(src, synced)
	if synced.applies != 0 {
		t.Errorf("--dest already synced: %d applies, want 0", synced.applies)
	}
}

func TestWatchSendsOnlyTheChangeAndSyncsNewContainersFully(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	writeFile(t, src, "lib/util.py", "u1")
	a := &memContainer{name: "a", tree: plan.Tree{}}
	targets := &fakeTargets{containers: []*memContainer{a}, changed: make(chan struct{})}
	var out bytes.Buffer
	s := newSession(t, src, targets, &out)
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	batches <- watch.Batch{} // taken only after the initial sync

	writeFile(t, src, "app.py", "v2")
	batches <- watch.Batch{Paths: []string{"app.py"}, First: time.Unix(0, 0).Add(-300 * time.Millisecond)}
	b := &memContainer{name: "b", tree: plan.Tree{}}
	targets.set(a, b)
	batches <- watch.Batch{Rescan: true} // a no-op flush: proves the previous events were handled
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := a.writes; len(got) != 3 || got[2] != "app.py" {
		t.Errorf("container a got writes %q, want the initial two files then only app.py", got)
	}
	if a.manifests != 1 {
		t.Errorf("container a's manifest was read %d times, want once", a.manifests)
	}
	for _, c := range []*memContainer{a, b} {
		if d := plan.FirstDifference(c.tree, localTree(t, src)); d != "" {
			t.Errorf("%s: %s", c.name, d)
		}
	}
	if !strings.Contains(out.String(), "restarted; save-to-serving 300ms") {
		t.Errorf("the line after a save does not give the save-to-serving time:\n%s", out.String())
	}
	if a.reloads != 2 || b.reloads != 1 {
		t.Errorf("reloads a=%d b=%d, want 2 and 1", a.reloads, b.reloads)
	}
}

func TestContainerThatWentAwayIsDroppedWithoutFailing(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	gone := &memContainer{name: "gone", tree: plan.Tree{}, fail: errors.New("pod not found")}
	live := &memContainer{name: "live", tree: plan.Tree{}}
	targets := &fakeTargets{containers: []*memContainer{gone, live}, changed: make(chan struct{}, 1)}
	var out bytes.Buffer
	s := newSession(t, src, targets, &out)
	targets.mu.Lock()
	targets.containers = []*memContainer{live} // the pod disappears while its sync runs
	targets.mu.Unlock()
	if err := s.refreshTargetsThenFlushWith(gone, live); err != nil {
		t.Fatalf("a vanished pod failed the session: %v", err)
	}
	if !strings.Contains(out.String(), "gone went away") {
		t.Errorf("no note about the vanished pod: %q", out.String())
	}
}

func TestFailureOfALiveContainerIsReportedAndRetriedFromItsManifest(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	c := &memContainer{name: "c", tree: plan.Tree{}, fail: errors.New("disk full")}
	targets := &fakeTargets{containers: []*memContainer{c}, changed: make(chan struct{})}
	s := newSession(t, src, targets, io.Discard)
	if err := s.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the container's failure", err)
	}
	c.fail = nil
	if err := s.flush(context.Background(), time.Time{}, "retry"); err != nil {
		t.Fatal(err)
	}
	if c.manifests != 2 {
		t.Errorf("manifest read %d times, want 2 (a failed apply makes the remote tree unknown)", c.manifests)
	}
	if d := plan.FirstDifference(c.tree, localTree(t, src)); d != "" {
		t.Error(d)
	}
}

// refreshTargetsThenFlushWith registers the given containers as the session's, then flushes.
func (s *Session) refreshTargetsThenFlushWith(cs ...*memContainer) error {
	if err := s.update(context.Background(), []string{""}); err != nil {
		return err
	}
	for _, c := range cs {
		s.containers[c.name] = &containerState{Container: Container{ID: c.name, Exec: c}, transport: memTransport{c}}
	}
	return s.flush(context.Background(), time.Time{}, "test")
}
