package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/internal/watch"
)

// scriptedLocal returns the trees (or errors) it is given, one per Update.
type scriptedLocal struct {
	mu    sync.Mutex
	steps []localStep
}

type localStep struct {
	tree plan.Tree
	err  error
}

func (l *scriptedLocal) Update(context.Context, []string) (plan.Tree, transport.Source, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	step := l.steps[0]
	if len(l.steps) > 1 {
		l.steps = l.steps[1:]
	}
	return step.tree, nil, step.err
}

// lockedBuffer is an io.Writer safe to read while a session writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func file(content string) plan.Entry {
	return plan.Entry{Kind: plan.File, Size: int64(len(content)), Hash: content}
}

// A first scan (or build) that fails leaves the local side unknown: neither the retry timer nor a pod
// event may then flush, which would diff nothing against the container and delete all it holds.
func TestWatchNeverSyncsBeforeTheLocalSideIsKnown(t *testing.T) {
	held := plan.Tree{"app.py": file("v0"), "lib": {Kind: plan.Dir}, "lib/util.py": file("u0")}
	c := &memContainer{name: "c", tree: held.Clone()}
	targets := &fakeTargets{containers: []*memContainer{c}, changed: make(chan struct{})}
	fake := clock.NewFake(time.Unix(0, 0))
	local := &scriptedLocal{steps: []localStep{
		{err: errors.New("read --src /src: permission denied")},
		{tree: plan.Tree{"app.py": file("v1"), "lib": {Kind: plan.Dir}, "lib/util.py": file("u0")}},
	}}
	out := &lockedBuffer{}
	s := New(Config{Local: local, Dest: "/app", Targets: targets, Out: out, Clock: fake, Reloader: countingReloader{},
		NewTransport: func(e transport.Execer) transport.Transport { return memTransport{e.(*memContainer)} }})
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()

	targets.set(c) // a pod event
	for range 3 {
		fake.Advance(retryAfter) // any retry timer
	}
	targets.set(c)
	c.mu.Lock()
	if d := plan.FirstDifference(c.tree, held); d != "" || c.applies != 0 {
		t.Fatalf("with the local side unknown the container was changed (%d applies): %s", c.applies, d)
	}
	c.mu.Unlock()

	batches <- watch.Batch{Paths: []string{"app.py"}} // the next change reads the local side again
	batches <- watch.Batch{}                          // taken once the previous batch is handled
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.tree["app.py"] != file("v1") || c.tree["lib/util.py"] != file("u0") {
		t.Errorf("after the local side was read, the container holds %v", c.tree)
	}
	if got := strings.Count(out.String(), "permission denied"); got != 1 {
		t.Errorf("the failure was reported %d times, want once:\n%s", got, out)
	}
}

// An unreadable local file is skipped with a warning that names it; its copy in the container stays,
// the rest syncs, and when it becomes readable it is synced.
func TestUnreadableLocalPathIsLeftAloneAndWarnedOnce(t *testing.T) {
	denied := plan.Entry{Kind: plan.Unreadable, Hash: "permission denied"}
	c := &memContainer{name: "c", tree: plan.Tree{"secret.txt": file("old"), "locked": {Kind: plan.Dir}, "locked/x": file("x"), "stale": file("s")}}
	local := &scriptedLocal{steps: []localStep{
		{tree: plan.Tree{"secret.txt": denied, "locked": denied, "app.py": file("v1")}},
		{tree: plan.Tree{"secret.txt": denied, "locked": denied, "app.py": file("v2")}},
		{tree: plan.Tree{"secret.txt": file("new"), "locked": denied, "app.py": file("v2")}},
	}}
	out := &lockedBuffer{}
	s := New(Config{Local: local, Dest: "/app", Out: out, Clock: clock.NewFake(time.Unix(0, 0)),
		Targets:      &fakeTargets{containers: []*memContainer{c}, changed: make(chan struct{})},
		NewTransport: func(e transport.Execer) transport.Transport { return memTransport{e.(*memContainer)} }})
	if err := s.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := plan.Tree{"secret.txt": file("old"), "locked": {Kind: plan.Dir}, "locked/x": file("x"), "app.py": file("v1")}
	if d := plan.FirstDifference(c.tree, want); d != "" {
		t.Fatalf("first sync: %s", d)
	}
	for range 2 {
		if err := s.update(context.Background(), []string{"app.py"}); err != nil {
			t.Fatal(err)
		}
		if err := s.flush(context.Background(), time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	want["app.py"], want["secret.txt"] = file("v2"), file("new")
	if d := plan.FirstDifference(c.tree, want); d != "" {
		t.Fatalf("after the file became readable: %s", d)
	}
	if c.manifests != 1 {
		t.Errorf("%d manifests; the tree the container holds should stay known", c.manifests)
	}
	for _, name := range []string{"secret.txt", "locked"} {
		if n := strings.Count(out.String(), "cannot read "+name+" (permission denied)"); n != 1 {
			t.Errorf("%s warned %d times, want once:\n%s", name, n, out)
		}
	}
}

// A container that does not answer is dropped from the flush when its deadline passes, named, and
// retried; the others are synced.
func TestHungContainerMissesItsDeadlineAndTheOthersSync(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	hung := &memContainer{name: "hung", tree: plan.Tree{}, stuck: make(chan struct{})}
	live := &memContainer{name: "live", tree: plan.Tree{}}
	s := newSession(t, src, &fakeTargets{containers: []*memContainer{hung, live}, changed: make(chan struct{})}, io.Discard)
	s.cfg.Timeout = 20 * time.Millisecond
	err := s.Once(context.Background())
	if err == nil || !strings.Contains(err.Error(), "hung did not finish writing files within") {
		t.Fatalf("err = %v, want the hung container named", err)
	}
	if d := plan.FirstDifference(live.tree, localTree(t, src)); d != "" {
		t.Errorf("live: %s", d)
	}
	close(hung.stuck)
	if err := s.flush(context.Background(), time.Time{}, "retry"); err != nil {
		t.Fatal(err)
	}
	if d := plan.FirstDifference(hung.tree, localTree(t, src)); d != "" {
		t.Errorf("hung, once it answers: %s", d)
	}
}

// In a watching session a container far slower than the others is left behind: the others keep getting
// each change at their own speed, and it is caught up when it answers.
func TestSlowContainerIsLeftBehindAndCaughtUp(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	slow := &memContainer{name: "slow", tree: plan.Tree{}}
	fast := &memContainer{name: "fast", tree: plan.Tree{}}
	targets := &fakeTargets{containers: []*memContainer{slow, fast}, changed: make(chan struct{})}
	out := &lockedBuffer{}
	s := newSession(t, src, targets, out)
	fake := s.cfg.Clock.(*clock.Fake)
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	batches <- watch.Batch{} // the initial sync is done

	slow.mu.Lock()
	slow.stuck = make(chan struct{})
	slow.mu.Unlock()
	writeFile(t, src, "app.py", "v2")
	batches <- watch.Batch{Paths: []string{"app.py"}}
	for fake.Pending() == 0 { // the flush waits for the slow one, for a while
		time.Sleep(time.Millisecond)
	}
	fake.Advance(straggleAfter(0))
	writeFile(t, src, "app.py", "v3")
	batches <- watch.Batch{Paths: []string{"app.py"}}
	batches <- watch.Batch{} // the v3 flush is done
	fast.mu.Lock()
	if fast.tree["app.py"].Hash != localTree(t, src)["app.py"].Hash {
		t.Errorf("the fast container did not get v3 while the slow one hung")
	}
	fast.mu.Unlock()
	if !strings.Contains(out.String(), "slow is slow") {
		t.Errorf("the slow container was not reported:\n%s", out)
	}
	close(slow.stuck)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "[caught up]"); {
		if time.Now().After(deadline) {
			t.Fatalf("not caught up:\n%s", out)
		}
		time.Sleep(time.Millisecond)
	}
	batches <- watch.Batch{}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := plan.FirstDifference(slow.tree, localTree(t, src)); d != "" {
		t.Errorf("slow, once caught up: %s", d)
	}
}

// failingReloader fails every reload the same way, as an app that crashes at start does.
type failingReloader struct{}

func (failingReloader) Reload(context.Context, transport.Execer) (string, error) {
	return "", errors.New("the app exited with status 1")
}

// The same failure of retries is said once, but every save that fails is said: a silent save would pass
// for a working one.
func TestEverySaveThatFailsIsReported(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	c := &memContainer{name: "c", tree: plan.Tree{}}
	out := &lockedBuffer{}
	targets := &fakeTargets{containers: []*memContainer{c}, changed: make(chan struct{})}
	s := newSession(t, src, targets, out)
	s.cfg.Reloader = failingReloader{}
	fake := s.cfg.Clock.(*clock.Fake)
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	targets.set(c) // (pod events are taken once the previous one is handled: they pace the test)
	for range 3 {  // retries of the initial sync's failure
		fake.Advance(retryAfter)
		targets.set(c)
	}
	for i := range 3 { // three saves that crash the app again
		writeFile(t, src, "app.py", fmt.Sprint("v", i+2))
		batches <- watch.Batch{Paths: []string{"app.py"}}
		targets.set(c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "exited with status 1"); n != 4 {
		t.Errorf("the failure was said %d times, want 4 (the initial sync once, then each save):\n%s", n, out)
	}
}

// While the cluster cannot be reached, every flush fails, retries and saves alike: that is said once.
func TestAnUnreachableClusterIsSaidOnce(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	a := &memContainer{name: "a", tree: plan.Tree{}}
	b := &memContainer{name: "b", tree: plan.Tree{}}
	targets := &fakeTargets{containers: []*memContainer{a, b}, changed: make(chan struct{})}
	out := &lockedBuffer{}
	s := newSession(t, src, targets, out)
	fake := s.cfg.Clock.(*clock.Fake)
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	targets.set(a, b)
	down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []*memContainer{a, b} {
		c.mu.Lock()
		c.fail = fmt.Errorf("exec in %s: %w", c.name, down)
		c.mu.Unlock()
	}
	for i := range 3 {
		writeFile(t, src, "app.py", fmt.Sprint("v", i+2))
		batches <- watch.Batch{Paths: []string{"app.py"}}
		fake.Advance(retryAfter)
		targets.set(a, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 || !strings.Contains(out.String(), "the cluster is unreachable (connection refused); retrying") {
		t.Errorf("want the initial sync, the watching line and one line about the cluster:\n%s", out)
	}
}

// Replicas that fail alike (the same crash in each) are reported once, naming them all.
func TestReplicasFailingAlikeAreReportedOnce(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	a := &memContainer{name: "pod/a/app", tree: plan.Tree{}}
	b := &memContainer{name: "pod/b/app", tree: plan.Tree{}}
	s := newSession(t, src, &fakeTargets{containers: []*memContainer{a, b}, changed: make(chan struct{})}, io.Discard)
	s.cfg.Reloader = failingReloader{}
	err := s.Once(context.Background())
	if err == nil || err.Error() != "pod/a/app, pod/b/app: files synced, but the app did not reload: the app exited with status 1" {
		t.Fatalf("err = %v", err)
	}
}
