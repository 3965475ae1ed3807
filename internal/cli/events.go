package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/kindling-dev/kindling/internal/engine"
)

// reporter is where a run says what happens: lines for people, and with --output json one event per
// line for machines (an editor, a script), on stdout while the lines go to stderr. The events are a
// stable interface, documented in docs/events.md and pinned by tests.
type reporter struct {
	human io.Writer
	// progress shows big transfers on the human output; lines written meanwhile clear it first.
	progress *progress
	json     *json.Encoder // nil in text mode
	verbose  bool
	now      func() time.Time
	// mu keeps each line and event whole when several entries report at once.
	mu sync.Mutex
}

func newReporter(stdout, stderr io.Writer, o runOptions) *reporter {
	r := &reporter{human: stdout, verbose: o.verbose, now: time.Now}
	if o.output == "json" {
		r.human, r.json = stderr, json.NewEncoder(stdout)
		r.json.SetEscapeHTML(false)
	}
	r.progress = newProgress(r.human, isTerminal(r.human))
	r.human = r.progress.Writer()
	return r
}

// isTerminal tells whether w is a terminal (a bar can be redrawn there; elsewhere progress is lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// entry is the reporter of one entry of the run. With several entries each human line starts with the
// entry's Deployment, so that interleaved lines stay readable.
func (r *reporter) entry(deployment string, prefixed bool) *entryReporter {
	e := &entryReporter{r: r, deployment: deployment}
	e.out = &lineWriter{r: r}
	if prefixed {
		e.out.prefix = "[" + deployment + "] "
	}
	return e
}

type entryReporter struct {
	r          *reporter
	deployment string
	out        *lineWriter
}

// header is what every event has.
type header struct {
	Time       string `json:"time"`
	Event      string `json:"event"`
	Deployment string `json:"deployment"`
}

type startedEvent struct {
	header
	Namespace string `json:"namespace"`
	Container string `json:"container"`
	Src       string `json:"src"`
	Dest      string `json:"dest"`
	Runtime   string `json:"runtime"`
	Strategy  string `json:"strategy"`
	Reason    string `json:"reason"`
}

type syncedEvent struct {
	header
	Written         int      `json:"written"`
	Deleted         int      `json:"deleted"`
	Bytes           int64    `json:"bytes"`
	Pods            []string `json:"pods"`
	DurationMS      int64    `json:"duration_ms"`
	Reload          string   `json:"reload,omitempty"`
	SaveToServingMS *int64   `json:"save_to_serving_ms,omitempty"`
}

type errorEvent struct {
	header
	Message  string `json:"message"`
	Retrying bool   `json:"retrying"`
	Pod      string `json:"pod,omitempty"`
}

type stoppedEvent struct {
	header
	Restored bool `json:"restored"`
}

func (e *entryReporter) header(event string) header {
	return header{Time: e.r.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), Event: event, Deployment: e.deployment}
}

func (e *entryReporter) emit(v any) {
	if e.r.json == nil {
		return
	}
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	_ = e.r.json.Encode(v) // a closed stdout is the reader's choice; the sync goes on
}

// started is said once the entry knows what it syncs and how the app picks changes up.
func (e *entryReporter) started(s startedEvent) {
	s.header = e.header("started")
	e.emit(s)
}

// engineReport turns the engine's reports into events.
func (e *entryReporter) engineReport(rep engine.Report) {
	switch rep.Kind {
	case engine.Synced:
		ev := syncedEvent{header: e.header("synced"), Written: rep.Written, Deleted: rep.Deleted, Bytes: rep.Bytes,
			Pods: podNames(rep.Targets), DurationMS: rep.Duration.Milliseconds(), Reload: rep.Reload}
		if rep.SaveToServing > 0 {
			ms := rep.SaveToServing.Milliseconds()
			ev.SaveToServingMS = &ms
		}
		e.emit(ev)
	case engine.Failed:
		e.failed(rep.Message, rep.Retrying, rep.Targets)
	}
}

// failed reports an error; a failure of one pod names it.
func (e *entryReporter) failed(message string, retrying bool, targets []string) {
	ev := errorEvent{header: e.header("error"), Message: message, Retrying: retrying}
	if pods := podNames(targets); len(pods) == 1 {
		ev.Pod = pods[0]
	}
	e.emit(ev)
}

func (e *entryReporter) stopped(restored bool) {
	e.emit(stoppedEvent{header: e.header("stopped"), Restored: restored})
}

// podNames turns exec targets ("pod/NAME/CONTAINER") into pod names.
func podNames(targets []string) []string {
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		t = strings.TrimPrefix(t, "pod/")
		if i := strings.LastIndexByte(t, '/'); i >= 0 {
			t = t[:i]
		}
		names = append(names, t)
	}
	return names
}

// lineWriter writes whole lines to the reporter's human output, each with the entry's prefix.
type lineWriter struct {
	r      *reporter
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.buf[:i+1]
		w.r.mu.Lock()
		if w.prefix != "" {
			_, _ = io.WriteString(w.r.human, w.prefix)
		}
		_, _ = w.r.human.Write(line)
		w.r.mu.Unlock()
		w.buf = w.buf[i+1:]
	}
}
