package watch

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
)

const (
	quiet   = 500 * time.Millisecond
	maxWait = 2 * time.Second
)

// debounceTest drives a Debouncer with a fake clock inside a synctest bubble, where synctest.Wait
// returns once the debouncer goroutine has handled everything sent to it and is blocked again.
type debounceTest struct {
	t   *testing.T
	clk *clock.Fake
	in  chan string
	d   *Debouncer
}

func runDebounceTest(t *testing.T, body func(dt *debounceTest)) {
	synctest.Test(t, func(t *testing.T) {
		// Buffered like the Watcher's output, so that bursts are merged before a batch is offered.
		dt := &debounceTest{t: t, clk: clock.NewFake(time.Unix(0, 0)), in: make(chan string, 64)}
		dt.d = NewDebouncer(dt.clk, quiet, maxWait, dt.in)
		defer dt.d.Stop()
		body(dt)
	})
}

func (dt *debounceTest) send(paths ...string) {
	for _, p := range paths {
		dt.in <- p
	}
	synctest.Wait()
}

func (dt *debounceTest) advance(d time.Duration) {
	dt.clk.Advance(d)
	synctest.Wait()
}

// take returns the batch on offer, if any, without waiting.
func (dt *debounceTest) take() (Batch, bool) {
	select {
	case b, ok := <-dt.d.Batches():
		return b, ok
	default:
		return Batch{}, false
	}
}

func (dt *debounceTest) wantNone() {
	dt.t.Helper()
	if b, ok := dt.take(); ok {
		dt.t.Fatalf("batch %+v delivered early", b)
	}
}

func (dt *debounceTest) want(want Batch) {
	dt.t.Helper()
	got, ok := dt.take()
	if !ok {
		dt.t.Fatalf("no batch ready, want %+v", want)
	}
	if !slices.Equal(got.Paths, want.Paths) || got.Rescan != want.Rescan {
		dt.t.Fatalf("batch %+v, want %+v", got, want)
	}
}

func paths(p ...string) Batch { return Batch{Paths: p} }

func TestDebouncer(t *testing.T) {
	tests := []struct {
		name string
		run  func(dt *debounceTest)
	}{
		{"ready after the quiet period", func(dt *debounceTest) {
			dt.send("a")
			dt.advance(quiet - time.Millisecond)
			dt.wantNone()
			dt.advance(time.Millisecond)
			dt.want(paths("a"))
		}},
		{"each path restarts the quiet period", func(dt *debounceTest) {
			dt.send("a")
			dt.advance(quiet / 2)
			dt.send("b")
			dt.advance(quiet / 2)
			dt.wantNone()
			dt.advance(quiet / 2)
			dt.want(paths("a", "b"))
		}},
		{"deduplicated and sorted", func(dt *debounceTest) {
			dt.send("src/b.js", "a.js", "src/b.js", "src/a.js", "a.js")
			dt.advance(quiet)
			dt.want(paths("a.js", "src/a.js", "src/b.js"))
		}},
		{"steady stream flushes at maxWait", func(dt *debounceTest) {
			step := quiet / 2
			var sent []string
			for i := 0; time.Duration(i)*step < maxWait; i++ {
				p := string(rune('a' + i))
				dt.send(p)
				sent = append(sent, p)
				dt.wantNone()
				dt.advance(step)
			}
			dt.want(paths(sent...))
			// The stream goes on: the next batch starts with the next path.
			dt.send("z")
			dt.advance(quiet)
			dt.want(paths("z"))
		}},
		{"merge while the consumer is busy", func(dt *debounceTest) {
			dt.send("a", "b")
			dt.advance(quiet)
			// Ready but not taken: the consumer is syncing.
			dt.send("c", "a")
			dt.advance(10 * maxWait)
			dt.send("d")
			dt.want(paths("a", "b", "c", "d"))
			dt.wantNone()
			// Only paths that arrived after the take make the next batch.
			dt.send("b")
			dt.advance(quiet)
			dt.want(paths("b"))
		}},
		{"rescan covers the paths", func(dt *debounceTest) {
			dt.send("a", RescanAll, "b")
			dt.advance(quiet)
			dt.want(Batch{Rescan: true})
			dt.send("c")
			dt.advance(quiet)
			dt.want(paths("c"))
		}},
		{"idle without timers", func(dt *debounceTest) {
			if n := dt.clk.Pending(); n != 0 {
				dt.t.Errorf("%d timers pending before any path", n)
			}
			dt.send("a")
			dt.advance(quiet)
			dt.want(paths("a"))
			if n := dt.clk.Pending(); n != 0 {
				dt.t.Errorf("%d timers pending after the batch was taken", n)
			}
		}},
		{"closing in delivers what is pending", func(dt *debounceTest) {
			dt.send("a")
			close(dt.in)
			synctest.Wait()
			dt.want(paths("a"))
			synctest.Wait()
			if _, ok := <-dt.d.Batches(); ok {
				dt.t.Fatal("Batches not closed after in was closed")
			}
		}},
		{"stop drops what is pending", func(dt *debounceTest) {
			dt.send("a")
			dt.d.Stop()
			if b, ok := <-dt.d.Batches(); ok {
				dt.t.Fatalf("batch %+v after Stop", b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runDebounceTest(t, tt.run) })
	}
}

func TestMaxWait(t *testing.T) {
	tests := []struct{ quiet, want time.Duration }{
		{0, 2 * time.Second},
		{100 * time.Millisecond, 2 * time.Second},
		{500 * time.Millisecond, 2 * time.Second},
		{time.Second, 4 * time.Second},
	}
	for _, tt := range tests {
		if got := MaxWait(tt.quiet); got != tt.want {
			t.Errorf("MaxWait(%s) = %s, want %s", tt.quiet, got, tt.want)
		}
	}
}
