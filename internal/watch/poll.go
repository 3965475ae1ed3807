package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Poller reports changes under a directory tree by comparing successive walks of it, for the file systems
// where no events arrive (NFS, SMB/CIFS, WSL2's /mnt/c, Docker Desktop and Vagrant shares). It reports
// what the Watcher would, from the stat of each entry alone (type, permissions, size, modification time;
// contents are never read), so it costs one walk of the tree per interval and reports a change up to an
// interval after it happened. It never reports RescanAll: each walk sees the whole tree.
// Its Errors are said once each (a root removed, a walk failing as a network file system goes away),
// and polling goes on until Close.
type Poller struct {
	root     string
	excluded func(rel string, isDir bool) bool
	interval time.Duration
	// last is the latest successful walk; only the poll goroutine touches it once NewPoller returns.
	last snapshot
	// failing is the last walk's error message, so that a lasting failure is said once.
	failing string

	outlet
	exited chan struct{}

	closeOnce sync.Once
}

// entry is what a walk keeps of a path.
type entry struct {
	mode  fs.FileMode
	size  int64
	mtime int64 // Unix nanoseconds
	// excluded is the excluded callback's answer, kept so that it is asked again only when the path
	// appears or changes (as the Watcher asks it on an event), not for every path on every walk.
	excluded bool
	// racy: the file's modification time is in whole seconds and close to the walk, so a write later in
	// the same second may leave its size and time as they are: it is reported again on the next walk.
	racy bool
}

type snapshot map[string]entry

// racyWindow covers the coarsest timestamps kindling expects (FAT and some SMB servers: 2 s).
const racyWindow = 2 * time.Second

var (
	errPollerClosed = errors.New("poller closed")
	errRootGone     = errors.New("root gone")
)

// NewPoller walks root, then walks it again every interval (counted from the end of a walk, so that a slow
// network file system is not walked back to back) and reports the differences. excluded receives
// slash-separated paths relative to root; an excluded directory is not walked. Changes made before
// NewPoller returns are not reported: start the poller before the initial scan.
func NewPoller(root string, excluded func(rel string, isDir bool) bool, interval time.Duration) (*Poller, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("the poll interval must be positive, not %s", interval)
	}
	abs, err := RealDir(root)
	if err != nil {
		return nil, err
	}
	p := &Poller{
		root:     abs,
		excluded: excluded,
		interval: interval,
		outlet:   newOutlet(),
		exited:   make(chan struct{}),
	}
	p.last, err = p.walk(nil, time.Now())
	if err != nil {
		return nil, fmt.Errorf("cannot watch %s: %w (fix its permissions or exclude it with --exclude)", root, err)
	}
	go p.run()
	return p, nil
}

// Close stops polling and closes Changes and Errors.
func (p *Poller) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		<-p.exited
	})
	return nil
}

func (p *Poller) run() {
	defer close(p.exited)
	defer close(p.errors)
	defer close(p.changes)
	timer := time.NewTimer(p.interval)
	defer timer.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-timer.C:
		}
		if !p.poll() {
			return
		}
		timer.Reset(p.interval)
	}
}

// poll walks the tree once and reports what changed since the last walk; it returns false when the poller
// is closing.
func (p *Poller) poll() bool {
	now, err := p.walk(p.last, time.Now())
	switch {
	case errors.Is(err, errPollerClosed):
		return false
	case errors.Is(err, errRootGone):
		err = fmt.Errorf("the watched directory %s was removed or moved; start kindling sync again", p.root)
	case err != nil:
		err = fmt.Errorf("cannot poll %s: %w; changes are seen again once it can be read (retried every %s)", p.root, err, p.interval)
	}
	if err != nil {
		// The last walk is kept: a share that is briefly away must not look as if everything was deleted.
		if msg := err.Error(); msg != p.failing {
			p.failing = msg
			return p.sendError(err)
		}
		return true
	}
	p.failing = ""
	for _, rel := range changed(p.last, now) {
		if !p.send(rel) {
			return false
		}
	}
	p.last = now
	return true
}

// walk reads the stat of every path under the root that is not excluded. prev, the walk before, spares
// asking excluded again about the paths that did not change.
func (p *Poller) walk(prev snapshot, start time.Time) (snapshot, error) {
	racyAfter := start.Add(-racyWindow).UnixNano()
	now := make(snapshot, len(prev))
	err := filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		select {
		case <-p.done:
			return errPollerClosed
		default:
		}
		if path == p.root {
			if err == nil && !d.IsDir() || err != nil && vanished(err) {
				return errRootGone
			}
			return err
		}
		if err != nil {
			if vanished(err) || errors.Is(err, fs.ErrPermission) {
				// Gone since its parent was read, or a directory this user cannot read: the scan finds
				// it unreadable and the engine says so, as with the Watcher.
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if vanished(err) {
				return nil
			}
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(path, p.root), string(filepath.Separator)))
		e := entry{mode: info.Mode(), size: info.Size(), mtime: info.ModTime().UnixNano()}
		isDir := d.IsDir()
		if old, ok := prev[rel]; ok && !differ(old, e) {
			e.excluded = old.excluded
		} else {
			e.excluded = p.excluded(rel, isDir)
		}
		e.racy = e.mode.IsRegular() && e.mtime%int64(time.Second) == 0 && e.mtime >= racyAfter
		now[rel] = e
		if isDir && e.excluded {
			return fs.SkipDir
		}
		return nil
	})
	return now, err
}

// differ tells whether a path changed between two walks as the Watcher would have seen it: a directory
// by its type or permissions only (its size and time change with every entry added or removed, which are
// reported themselves), anything else by its size and modification time too.
func differ(old, now entry) bool {
	if old.mode != now.mode {
		return true
	}
	return !now.mode.IsDir() && (old.size != now.size || old.mtime != now.mtime)
}

// changed lists, sorted, the paths to report between two walks: the paths that appeared or changed, and
// the ones that disappeared, except those below a directory that disappeared or stopped being one (that
// directory is reported instead, as the Watcher does).
func changed(before, after snapshot) []string {
	var out []string
	for rel, e := range after {
		if e.excluded {
			continue
		}
		old, ok := before[rel]
		if !ok || old.excluded || differ(old, e) || old.racy {
			out = append(out, rel)
		}
	}
	for rel, old := range before {
		if _, ok := after[rel]; ok || old.excluded {
			continue
		}
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			if parent, ok := after[rel[:i]]; !ok || !parent.mode.IsDir() {
				continue
			}
		}
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}
