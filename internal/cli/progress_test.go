package cli

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProgress is a progress drawn by the test, on a clock of its own.
func fakeProgress(tty bool) (*progress, *strings.Builder, *time.Time) {
	var out strings.Builder
	p := newProgress(&out, tty)
	p.auto = false
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	return p, &out, &now
}

func TestProgressLinesWithoutATerminal(t *testing.T) {
	p, out, now := fakeProgress(false)
	m := p.Meter()
	m.Start(10_000, 98<<20+205<<10) // 98.2 MB
	step := func(d time.Duration, files, bytes int64) {
		*now = now.Add(d)
		m.Add(files, bytes)
		p.draw()
	}
	step(time.Second, 1000, 12<<20) // too early for a line
	step(time.Second, 1000, 8<<20)  // 2 s: 20 MB at 10 MB/s, 78.2 MB left
	step(time.Second, 2210, 21<<20) // 3 s: not 2 s since the last line
	step(time.Second, 0, 0)         // 4 s: 41 MB at 10.25 MB/s
	m.Done()
	*now = now.Add(10 * time.Second)
	p.draw() // nothing left to show
	want := "kindling: initial sync 2,000/10,000 files, 20.0/98.2 MB, 10.0 MB/s, ETA 8s\n" +
		"kindling: initial sync 4,210/10,000 files, 41.0/98.2 MB, 10.2 MB/s, ETA 6s\n"
	if out.String() != want {
		t.Errorf("lines:\n%s\nwant\n%s", out.String(), want)
	}
}

func TestProgressIgnoresSmallTransfers(t *testing.T) {
	for _, tty := range []bool{false, true} {
		p, out, now := fakeProgress(tty)
		m := p.Meter()
		m.Start(progressMinFiles-1, progressMinBytes-1)
		m.Add(progressMinFiles-1, progressMinBytes-1)
		*now = now.Add(time.Minute)
		p.draw()
		m.Done()
		if out.Len() != 0 {
			t.Errorf("tty %v: a save drew %q", tty, out.String())
		}
	}
}

func TestProgressShowsTheSlowestContainer(t *testing.T) {
	p, out, now := fakeProgress(false)
	fast, slow := p.Meter(), p.Meter()
	fast.Start(2000, 0)
	slow.Start(2000, 0)
	fast.Add(1500, 0)
	slow.Add(500, 0)
	*now = now.Add(lineEvery)
	p.draw()
	fast.Done()
	// The slow one again, on its own now, and then its second transfer (a container's later sync).
	*now = now.Add(lineEvery)
	p.draw()
	slow.Done() // failed: its retry is still the initial sync
	slow.Start(2000, 0)
	*now = now.Add(lineEvery)
	p.draw()
	slow.Add(2000, 0)
	slow.Done()
	slow.Start(3000, 0)
	*now = now.Add(lineEvery)
	p.draw()
	slow.Done()
	want := "kindling: initial sync 500/2,000 files, 0/0 B (slowest of 2 pods)\n" +
		"kindling: initial sync 500/2,000 files, 0/0 B\n" +
		"kindling: initial sync 0/2,000 files, 0/0 B\n" +
		"kindling: sync 0/3,000 files, 0/0 B\n"
	if out.String() != want {
		t.Errorf("lines:\n%s\nwant\n%s", out.String(), want)
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	p, out, now := fakeProgress(true)
	m := p.Meter()
	m.Start(5000, 50<<20)
	m.Add(1234, 10<<20)
	*now = now.Add(time.Second)
	p.draw()
	drawn := out.String()
	t.Logf("bar: %q", drawn)
	for _, want := range []string{"kindling: initial sync 1,234/5,000 files", "20%", "10/50 MiB"} {
		if !strings.Contains(drawn, want) {
			t.Errorf("bar %q lacks %q", drawn, want)
		}
	}
	if strings.Contains(drawn, "\n") {
		t.Errorf("the bar %q takes more than its line", drawn)
	}
	// Another line of the session takes the bar off first.
	out.Reset()
	p.Writer().Write([]byte("kindling: a warning\n"))
	if got := out.String(); !strings.HasPrefix(got, "\r ") || !strings.HasSuffix(got, "\rkindling: a warning\n") {
		t.Errorf("a line written under the bar came out as %q", got)
	}
	out.Reset()
	m.Add(3766, 40<<20)
	p.draw()
	m.Done()
	if got := out.String(); !strings.HasSuffix(got, "\r") || strings.Contains(got, "\n") {
		t.Errorf("the end of the transfer left %q: want the bar cleared off its line", got)
	}
}

// TestProgressConcurrent runs the real drawing goroutine against containers streaming in parallel, for
// the race detector.
func TestProgressConcurrent(t *testing.T) {
	var out syncBuilder
	p := newProgress(&out, true)
	var wg sync.WaitGroup
	for range 3 {
		m := p.Meter()
		m.Start(2000, 64<<20)
		wg.Go(func() {
			for i := range 2000 {
				m.Add(0, 32<<10)
				m.Add(1, 0)
				if i%100 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			time.Sleep(3 * barEvery / 2)
			m.Done()
		})
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil || len(p.active) != 0 {
		t.Errorf("after every Done: drawing goroutine %v, %d transfers active", p.stop != nil, len(p.active))
	}
	if !strings.Contains(out.String(), "(slowest of 3 pods)") {
		t.Errorf("never drawn with three pods: %q", out.String())
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
