package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/watch"
)

// The `r` key reloads every app without a change; a save that changed nothing says so with -v; the
// reports carry the facts of each line.
func TestRestartNowVerboseAndReports(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	a := &memContainer{name: "pod/a/app", tree: plan.Tree{}}
	targets := &fakeTargets{containers: []*memContainer{a}, changed: make(chan struct{})}
	var out bytes.Buffer
	s := newSession(t, src, targets, &out)
	restartNow := make(chan struct{})
	var reports []Report
	s.cfg.RestartNow, s.cfg.Verbose, s.cfg.Report = restartNow, true, func(r Report) { reports = append(reports, r) }
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	batches <- watch.Batch{} // taken only after the initial sync
	restartNow <- struct{}{}
	batches <- watch.Batch{Paths: []string{"app.py"}} // saved again with the same content
	batches <- watch.Batch{}                          // proves the previous batch was handled
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a.reloads != 2 {
		t.Errorf("reloads %d, want 2: the first sync's and the key's", a.reloads)
	}
	for _, want := range []string{"0 written, 0 deleted (0 B) → 1/1 pods in 0s [restart]; restarted", "kindling: app.py: no content change, nothing to sync"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	if len(reports) != 2 || reports[0].Written != 1 || reports[1].Reload != "restarted" || reports[1].Targets[0] != "pod/a/app" {
		t.Errorf("reports %+v", reports)
	}

	// Without a reloader, the key says why nothing happens.
	out.Reset()
	s = newSession(t, src, targets, &out)
	s.cfg.Reloader, s.cfg.RestartNow = nil, restartNow
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- s.Watch(ctx, batches) }()
	batches <- watch.Batch{}
	restartNow <- struct{}{}
	batches <- watch.Batch{}
	cancel()
	<-done
	if !strings.Contains(out.String(), "nothing to restart") {
		t.Errorf("got:\n%s", out.String())
	}
}

// A session that starts before any pod runs (a rollout under way) labels its first sync of one the
// initial sync, as a session that found a pod at once does.
func TestFirstSyncOfALatePodIsTheInitialSync(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.py", "v1")
	targets := &fakeTargets{changed: make(chan struct{})}
	var out bytes.Buffer
	s := newSession(t, src, targets, &out)
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	batches <- watch.Batch{}
	targets.set(&memContainer{name: "pod/a/app", tree: plan.Tree{}})
	writeFile(t, src, "app.py", "v2")
	batches <- watch.Batch{Paths: []string{"app.py"}}
	batches <- watch.Batch{}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "1/1 pods in 0s [initial sync]; restarted") || strings.Contains(lines[2], "initial") {
		t.Errorf("output:\n%s", out.String())
	}
}
