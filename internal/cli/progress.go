package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/kindling-dev/kindling/internal/engine"
	"github.com/kindling-dev/kindling/internal/transport"
)

// A transfer is shown only when it is big enough to take a while: a save is not worth a bar.
const (
	progressMinFiles = 1000
	progressMinBytes = 20 << 20
	// lineEvery is the pace of the plain lines written when the output is not a terminal (a CI log).
	lineEvery = 2 * time.Second
	// barEvery is the pace at which the terminal's bar is redrawn.
	barEvery = 200 * time.Millisecond
)

// progress shows how far a big transfer into the containers is: a bar on a terminal, a plain line every
// two seconds otherwise. The transports report into it through Meter (one per container), from their
// streaming goroutines, with atomic adds only; one goroutine of its own draws, so a slow terminal never
// slows a transfer.
//
// With several containers the one least far along is shown (its own counts, rate and ETA), not a sum:
// the counts then match the user's tree (10,000 files, not 30,000 for three pods), and the sync is over
// when the slowest is, so its ETA is the honest one.
type progress struct {
	w    io.Writer
	tty  bool
	now  func() time.Time
	auto bool // a goroutine draws; tests call draw themselves

	mu       sync.Mutex
	active   map[*progressStream]bool
	stop     chan struct{} // closes the drawing goroutine; nil while none runs
	bar      *progressbar.ProgressBar
	barOf    *progressStream // the stream bar shows, at barGen
	barGen   int64
	barShown bool
	lastLine time.Time
	// own is the stream of Start/Add/Done on progress itself.
	own *progressStream
}

// progressStream is one container's transfers, a transport.Meter.
type progressStream struct {
	p           *progress
	files       atomic.Int64
	bytes       atomic.Int64
	totalFiles  int64 // set by Start, read under p.mu
	totalBytes  int64
	started     time.Time
	gen         int64 // counts Starts, so that a bar is made anew for a transfer started over
	initialDone bool  // a transfer went through whole: the next ones are plain syncs
}

var _ transport.Meter = (*progressStream)(nil)

func newProgress(w io.Writer, isTerminal bool) *progress {
	p := &progress{w: w, tty: isTerminal, now: time.Now, auto: true, active: map[*progressStream]bool{}}
	p.own = &progressStream{p: p}
	return p
}

// Meter is the transport.Meter of one container (transport.Progress(p.Meter())): a container new to
// the session, or restarted (its files gone), gets a new one, so its first transfer says "initial sync".
func (p *progress) Meter() transport.Meter { return &progressStream{p: p} }

// Start, Add and Done follow a single transfer, for a caller that has no transport to hand Meter to.
func (p *progress) Start(totalFiles, totalBytes int64) { p.own.Start(totalFiles, totalBytes) }
func (p *progress) Add(files, bytes int64)             { p.own.Add(files, bytes) }
func (p *progress) Done()                              { p.own.Done() }

// Start begins a transfer of the given size; a transfer too small to be worth showing is not tracked.
func (s *progressStream) Start(totalFiles, totalBytes int64) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	s.gen++
	s.files.Store(0)
	s.bytes.Store(0)
	s.totalFiles, s.totalBytes, s.started = totalFiles, totalBytes, p.now()
	if totalFiles < progressMinFiles && totalBytes < progressMinBytes {
		delete(p.active, s)
		return
	}
	p.active[s] = true
	if p.auto && p.stop == nil {
		p.stop = make(chan struct{})
		go p.run(p.stop)
	}
}

// Add is called per block and per file while a transfer streams: two atomic adds.
func (s *progressStream) Add(files, bytes int64) {
	if files != 0 {
		s.files.Add(files)
	}
	if bytes != 0 {
		s.bytes.Add(bytes)
	}
}

// Done ends the transfer; when no transfer is left, the bar is taken off the screen, so the sync's own
// line is printed on a clean line.
func (s *progressStream) Done() {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.gen > 0 && s.files.Load() >= s.totalFiles {
		// A failed first transfer is retried from the start: that is still the initial sync.
		s.initialDone = true
	}
	if !p.active[s] {
		return
	}
	delete(p.active, s)
	if len(p.active) == 0 {
		if p.stop != nil {
			close(p.stop)
			p.stop = nil
		}
		p.clearBar()
		p.lastLine = time.Time{}
	}
}

func (p *progress) run(stop <-chan struct{}) {
	every := lineEvery
	if p.tty {
		every = barEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			p.draw()
		}
	}
}

// snapshot is what is shown of the slowest active transfer.
type snapshot struct {
	s                                    *progressStream
	files, bytes, totalFiles, totalBytes int64
	elapsed                              time.Duration
	streams                              int
}

// slowest picks the active transfer least far along; p.mu is held.
func (p *progress) slowest() (snapshot, bool) {
	var best snapshot
	bestFrac := 2.0
	for s := range p.active {
		snap := snapshot{s: s, files: s.files.Load(), bytes: s.bytes.Load(), totalFiles: s.totalFiles, totalBytes: s.totalBytes}
		frac := fraction(snap.bytes, snap.totalBytes)
		if snap.totalBytes == 0 {
			frac = fraction(snap.files, snap.totalFiles)
		}
		// Ties (equal trees into identical pods) go to the earlier start, so the display does not flicker.
		if frac < bestFrac || frac == bestFrac && s.started.Before(best.s.started) {
			best, bestFrac = snap, frac
		}
	}
	if best.s == nil {
		return snapshot{}, false
	}
	best.elapsed = p.now().Sub(best.s.started)
	best.streams = len(p.active)
	return best, true
}

func fraction(done, total int64) float64 {
	if total <= 0 {
		return 1
	}
	return min(1, float64(done)/float64(total))
}

// draw shows the slowest transfer once: the bar on a terminal, else a line if lineEvery has passed.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	snap, ok := p.slowest()
	if !ok {
		return
	}
	if !p.tty {
		now := p.now()
		if p.lastLine.IsZero() {
			// The first line after lineEvery too: a transfer that ends sooner needs none.
			p.lastLine = snap.s.started
		}
		if now.Sub(p.lastLine) < lineEvery {
			return
		}
		p.lastLine = now
		fmt.Fprintln(p.w, progressLine(snap))
		return
	}
	if p.bar == nil || p.barOf != snap.s || p.barGen != snap.s.gen {
		// Another transfer, or this one started over: a bar of its own, whose rate starts from zero.
		p.clearBar()
		p.bar = newBar(p.w, snap.totalBytes, barLabel(snap))
		p.barOf, p.barGen = snap.s, snap.s.gen
	} else {
		p.bar.Describe(barLabel(snap))
	}
	p.bar.Set64(min(snap.bytes, snap.totalBytes))
	p.barShown = true
}

// clearBar takes the bar off the screen; p.mu is held.
func (p *progress) clearBar() {
	if p.bar != nil && p.barShown {
		p.bar.Clear()
	}
	p.bar, p.barOf, p.barShown = nil, nil, false
}

// Writer is w for the other lines of the session while a bar may be drawn: each write first takes the bar
// off the line, and the next tick draws it again below, so a warning is never glued to the bar. Without a
// terminal it only keeps lines from interleaving with the progress lines.
func (p *progress) Writer() io.Writer { return progressWriter{p} }

type progressWriter struct{ p *progress }

func (pw progressWriter) Write(b []byte) (int, error) {
	p := pw.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && p.barShown {
		// The same bar draws again at the next tick, on the line after this text: its rate and ETA
		// go on.
		p.bar.Clear()
	}
	return p.w.Write(b)
}

func newBar(w io.Writer, totalBytes int64, label string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max(totalBytes, 1),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(25),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionUseIECUnits(true), // MiB: the sync line's MB are 2^20 bytes too
	)
}

func label(snap snapshot) string {
	if snap.s.initialDone {
		return "sync"
	}
	return "initial sync"
}

func slowestOf(snap snapshot) string {
	if snap.streams > 1 {
		return fmt.Sprintf(" (slowest of %d pods)", snap.streams)
	}
	return ""
}

// barLabel is the text before the bar; the library draws bytes, rate and ETA after it.
func barLabel(snap snapshot) string {
	return fmt.Sprintf("kindling: %s %s/%s files%s", label(snap), thousands(snap.files), thousands(snap.totalFiles), slowestOf(snap))
}

// progressLine is the plain line, e.g.
//
//	kindling: initial sync 4,210/10,000 files, 41.0/98.2 MB, 12.3 MB/s, ETA 5s
func progressLine(snap snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kindling: %s %s/%s files, %s", label(snap), thousands(snap.files), thousands(snap.totalFiles),
		bytePair(min(snap.bytes, snap.totalBytes), snap.totalBytes))
	secs := snap.elapsed.Seconds()
	if secs > 0 && snap.bytes > 0 {
		rate := float64(snap.bytes) / secs
		fmt.Fprintf(&b, ", %s/s", engine.HumanBytes(int64(rate)))
		left := time.Duration(float64(max(0, snap.totalBytes-snap.bytes)) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", ETA %s", left.Round(time.Second))
	}
	b.WriteString(slowestOf(snap))
	return b.String()
}

// bytePair is "41.0/98.2 MB": both in the total's unit.
func bytePair(done, total int64) string {
	unit, div := "B", 1.0
	switch {
	case total >= 1<<30:
		unit, div = "GB", 1<<30
	case total >= 1<<20:
		unit, div = "MB", 1<<20
	case total >= 1<<10:
		unit, div = "KB", 1<<10
	}
	if unit == "B" {
		return fmt.Sprintf("%d/%d B", done, total)
	}
	return fmt.Sprintf("%.1f/%.1f %s", float64(done)/div, float64(total)/div, unit)
}
