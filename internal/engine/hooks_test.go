package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/internal/watch"
)

// recordingHooks records what each run was given; run number failOn fails.
type recordingHooks struct {
	runs   [][]string
	failOn int
}

func (h *recordingHooks) Run(_ context.Context, _ transport.Execer, changed []string, local plan.Tree) (string, error) {
	h.runs = append(h.runs, changed)
	if len(h.runs) == h.failOn {
		return "", errors.New("`npm ci` (package.json changed) failed: exit status 1: ERESOLVE")
	}
	return "ran npm ci", nil
}

// A failed install keeps the old app (no reload), is said once, is not retried on a timer, and is run
// again, with the paths it owes, by the next change.
func TestHooksRunBeforeTheReloadAndAFailureWaitsForTheNextChange(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src, "app.js", "v1")
	a := &memContainer{name: "pod/a/app", tree: plan.Tree{}}
	targets := &fakeTargets{containers: []*memContainer{a}, changed: make(chan struct{})}
	var out bytes.Buffer
	s := newSession(t, src, targets, &out)
	h := &recordingHooks{failOn: 2}
	s.cfg.Hooks = h
	batches := make(chan watch.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, batches) }()
	batches <- watch.Batch{}

	writeFile(t, src, "package.json", "{}")
	batches <- watch.Batch{Paths: []string{"package.json"}}
	writeFile(t, src, "app.js", "v2")
	batches <- watch.Batch{Paths: []string{"app.js"}}
	batches <- watch.Batch{}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"app.js"}, {"package.json"}, {"package.json", "app.js"}}
	if len(h.runs) != len(want) || strings.Join(h.runs[1], ",") != "package.json" || strings.Join(h.runs[2], ",") != "package.json,app.js" {
		t.Errorf("hook runs %q, want %q", h.runs, want)
	}
	if a.reloads != 2 {
		t.Errorf("%d reloads, want 2: the first sync's and the last change's, none after the failed install", a.reloads)
	}
	text := out.String()
	if strings.Count(text, "ERESOLVE") != 1 || !strings.Contains(text, "files synced, but `npm ci` (package.json changed) failed") ||
		strings.Contains(text, "retrying") || !strings.Contains(text, "; ran npm ci; restarted") {
		t.Errorf("output:\n%s", text)
	}
}
