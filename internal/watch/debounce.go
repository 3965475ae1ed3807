package watch

import (
	"slices"
	"sync"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
)

// Batch is a set of changes to sync together.
type Batch struct {
	// Paths are the changed paths, deduplicated and sorted. Empty when Rescan is set.
	Paths []string
	// Rescan means events were lost: the whole tree must be scanned again.
	Rescan bool
	// First is when the batch's first change was seen: a save, for the save-to-serving time.
	First time.Time
}

// MaxWait is how long a steady stream of changes may hold back a batch, for a quiet period of quiet: a few
// quiet periods, so that a burst (a build, a checkout) arrives whole, but at least 2s, so that a short
// quiet period does not split a burst into many syncs and restarts.
func MaxWait(quiet time.Duration) time.Duration { return max(4*quiet, 2*time.Second) }

// Debouncer groups the paths of a Watcher into batches. A batch is ready once no path arrived for the
// quiet period, or once maxWait passed since its first path. A ready batch that the consumer has not
// taken yet (because it is still syncing the previous one) keeps absorbing new paths, so each batch holds
// exactly the changes since the consumer took the previous one.
type Debouncer struct {
	clk            clock.Clock
	quiet, maxWait time.Duration
	in             <-chan string
	out            chan Batch
	stop           chan struct{}
	stopOnce       sync.Once
	exited         chan struct{}
}

// NewDebouncer reads paths (RescanAll included) from in until in is closed or Stop is called.
func NewDebouncer(clk clock.Clock, quiet, maxWait time.Duration, in <-chan string) *Debouncer {
	d := &Debouncer{
		clk:     clk,
		quiet:   quiet,
		maxWait: maxWait,
		in:      in,
		out:     make(chan Batch),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	go d.run()
	return d
}

// Batches delivers ready batches. When in is closed, what is pending is delivered at once and Batches is
// closed; Stop closes it without delivering.
func (d *Debouncer) Batches() <-chan Batch { return d.out }

// Stop ends the debouncer, dropping what is pending, and waits until Batches is closed.
func (d *Debouncer) Stop() {
	d.stopOnce.Do(func() { close(d.stop) })
	<-d.exited
}

// pending is the batch being collected.
type pending struct {
	paths       map[string]struct{}
	rescan      bool
	first, last time.Time
}

func (p *pending) empty() bool { return len(p.paths) == 0 && !p.rescan }

// add records path and reports whether the batch changed.
func (p *pending) add(path string, now time.Time) bool {
	if p.empty() {
		p.first = now
	}
	p.last = now
	switch {
	case p.rescan:
		return false
	case path == RescanAll:
		// A rescan covers every path; dropping them also bounds memory during an event storm.
		p.rescan, p.paths = true, nil
		return true
	}
	if _, ok := p.paths[path]; ok {
		return false
	}
	if p.paths == nil {
		p.paths = map[string]struct{}{}
	}
	p.paths[path] = struct{}{}
	return true
}

func (p *pending) batch() Batch {
	paths := make([]string, 0, len(p.paths))
	for path := range p.paths {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return Batch{Paths: paths, Rescan: p.rescan, First: p.first}
}

// run owns all the state: timers only wake it up, they never touch the batch themselves.
func (d *Debouncer) run() {
	defer close(d.exited)
	defer close(d.out)
	var (
		in    = d.in
		next  pending
		timer clock.Timer // armed while a batch is collecting and not yet ready
		ready bool
		offer Batch // next as a Batch, rebuilt when it changed
		stale bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var fire <-chan time.Time
		if timer != nil {
			fire = timer.C()
		}
		var out chan<- Batch
		// Offer a changed batch only once the paths already queued on in are merged: rebuilding it for each
		// of them would cost O(n log n) per path during a burst.
		if ready && (!stale || len(in) == 0) {
			if stale {
				offer, stale = next.batch(), false
			}
			out = d.out
		}
		select {
		case path, ok := <-in:
			if !ok {
				if next.empty() {
					return
				}
				in, ready = nil, true
				if timer != nil {
					timer.Stop()
					timer = nil
				}
				break
			}
			now := d.clk.Now()
			if next.add(path, now) {
				stale = true
			}
			if !ready && timer == nil {
				timer = d.clk.NewTimer(d.deadline(next).Sub(now))
			}
		case <-fire:
			// The timer was armed for the earliest deadline then known; paths since may have pushed the
			// quiet deadline later.
			if wait := d.deadline(next).Sub(d.clk.Now()); wait > 0 {
				timer = d.clk.NewTimer(wait)
			} else {
				timer, ready = nil, true
			}
		case out <- offer:
			if in == nil {
				return
			}
			next, ready = pending{}, false
		case <-d.stop:
			return
		}
	}
}

// deadline is when the batch p becomes ready.
func (d *Debouncer) deadline(p pending) time.Time {
	quietEnd := p.last.Add(d.quiet)
	if maxEnd := p.first.Add(d.maxWait); maxEnd.Before(quietEnd) {
		return maxEnd
	}
	return quietEnd
}
