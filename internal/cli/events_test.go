package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/engine"
)

// The event stream is a stable interface (docs/events.md): these lines are what a script reads.
func TestEventsArePinned(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := newReporter(&stdout, &stderr, runOptions{output: "json"})
	r.now = func() time.Time { return time.Date(2026, 12, 6, 23, 8, 36, 123456789, time.UTC) }
	e := r.entry("orders", true)
	e.started(startedEvent{Namespace: "shop", Container: "app", Src: "./services/orders", Dest: "/app", Runtime: "Python", Strategy: "wrapper", Reason: "python3 is pid 1"})
	e.engineReport(engine.Report{Kind: engine.Synced, Written: 2, Deleted: 1, Bytes: 4096, Targets: []string{"pod/orders-1/app", "pod/orders-2/app"},
		Duration: 41 * time.Millisecond, Reload: "restarted, serving after 95ms", SaveToServing: 180 * time.Millisecond})
	e.engineReport(engine.Report{Kind: engine.Synced, Targets: []string{"pod/orders-1/app"}, Duration: 3 * time.Millisecond})
	e.engineReport(engine.Report{Kind: engine.Failed, Message: "pod/orders-1/app: the app exited", Targets: []string{"pod/orders-1/app"}, Retrying: true})
	e.failed("deployment \"orders\" not found", false, nil)
	e.stopped(true)
	e.out.Write([]byte("kindling: a line for people\n"))
	want := `{"time":"2026-12-06T23:08:36.123Z","event":"started","deployment":"orders","namespace":"shop","container":"app","src":"./services/orders","dest":"/app","runtime":"Python","strategy":"wrapper","reason":"python3 is pid 1"}
{"time":"2026-12-06T23:08:36.123Z","event":"synced","deployment":"orders","written":2,"deleted":1,"bytes":4096,"pods":["orders-1","orders-2"],"duration_ms":41,"reload":"restarted, serving after 95ms","save_to_serving_ms":180}
{"time":"2026-12-06T23:08:36.123Z","event":"synced","deployment":"orders","written":0,"deleted":0,"bytes":0,"pods":["orders-1"],"duration_ms":3}
{"time":"2026-12-06T23:08:36.123Z","event":"error","deployment":"orders","message":"pod/orders-1/app: the app exited","retrying":true,"pod":"orders-1"}
{"time":"2026-12-06T23:08:36.123Z","event":"error","deployment":"orders","message":"deployment \"orders\" not found","retrying":false}
{"time":"2026-12-06T23:08:36.123Z","event":"stopped","deployment":"orders","restored":true}
`
	if stdout.String() != want {
		t.Errorf("events:\n%s\nwant:\n%s", stdout.String(), want)
	}
	if stderr.String() != "[orders] kindling: a line for people\n" {
		t.Errorf("human lines go to stderr with the entry's name: %q", stderr.String())
	}
}

func TestTextOutputHasNoEventsAndWholeLines(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := newReporter(&stdout, &stderr, runOptions{output: "text"})
	a, b := r.entry("a", true), r.entry("b", true)
	a.out.Write([]byte("kindling: half"))
	b.out.Write([]byte("kindling: other\n"))
	a.out.Write([]byte(" and rest\n"))
	a.stopped(true)
	if got := stdout.String(); got != "[b] kindling: other\n[a] kindling: half and rest\n" || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", got, stderr.String())
	}
	if strings.Contains(stdout.String(), "{") {
		t.Error("an event in text mode")
	}
}
