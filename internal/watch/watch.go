// Package watch turns file system notifications under the source directory into a stream of changed paths
// (Watcher) and groups that stream into batches for the sync engine (Debouncer).
//
// The Watcher is recursive: it watches every directory that is not excluded, adds watches for directories
// as they appear and reports everything already inside them, so a file created right after its directory
// (mkdir -p a/b && touch a/b/f) is never lost. It reports paths, not operations: the engine reads the
// current state of each reported path when it flushes, so an extra path costs a stat and a missing one
// costs a stale container. When the kernel drops events (queue overflow) it reports RescanAll instead.
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/fsnotify/fsnotify"
)

// RescanAll is delivered on Changes when events were lost (the kernel's queue overflowed): every path may
// have changed and the whole tree must be scanned again.
const RescanAll = ""

// Watcher reports changes under a directory tree. Changes and Errors must both be drained until they are
// closed, which Close does.
type Watcher struct {
	root     string
	excluded func(rel string, isDir bool) bool
	fs       *fsnotify.Watcher
	// add is fs.Add; tests replace it to reach the watch limit.
	add func(path string) error
	// dirs are the watched directories (relative to root; "" is root), each with what it was when
	// watched, to know it again under another name; only the event goroutine touches it once New returns.
	dirs map[string]os.FileInfo

	outlet
	// fsErrors and overflowed are fsnotify's errors, passed on by drainErrors.
	fsErrors   chan error
	overflowed chan struct{}
	exited     chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// New watches root and every directory below it that excluded does not reject. excluded receives
// slash-separated paths relative to root. Changes made before New returns are not reported: start the
// watcher before the initial scan.
func New(root string, excluded func(rel string, isDir bool) bool) (*Watcher, error) {
	abs, err := RealDir(root)
	if err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		if errors.Is(err, syscall.EMFILE) {
			return nil, instanceLimitError()
		}
		return nil, fmt.Errorf("cannot start a file watcher: %w", err)
	}
	w := &Watcher{
		root:       abs,
		excluded:   excluded,
		fs:         fsw,
		add:        fsw.Add,
		dirs:       map[string]os.FileInfo{},
		outlet:     newOutlet(),
		fsErrors:   make(chan error, 16),
		overflowed: make(chan struct{}, 1),
		exited:     make(chan struct{}),
	}
	if err := w.watchTree("", nil); err != nil {
		fsw.Close()
		return nil, err
	}
	go w.drainErrors()
	go w.run()
	return w, nil
}

// Close stops watching and closes Changes and Errors.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.done)
		w.closeErr = w.fs.Close()
		<-w.exited
	})
	return w.closeErr
}

func (w *Watcher) run() {
	defer close(w.exited)
	defer close(w.errors)
	defer close(w.changes)
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if err := w.handle(ev); err != nil {
				w.sendError(err)
			}
		case <-w.overflowed:
			if err := w.resync(); err != nil {
				w.sendError(err)
			}
		case err := <-w.fsErrors:
			w.sendError(err)
		}
	}
}

// drainErrors passes fsnotify's errors on to the event loop. It runs on its own because fsnotify sends
// some of them while holding the lock that Add and Remove take: were the event loop, which calls those,
// the one receiving them, both would wait for each other forever (a watcher gone silent after a
// directory was moved, and a Close that never returns). It ends when Close closes fsnotify's channels.
func (w *Watcher) drainErrors() {
	for err := range w.fs.Errors {
		if errors.Is(err, fsnotify.ErrEventOverflow) {
			select {
			case w.overflowed <- struct{}{}:
			default: // one rescan pending covers every overflow before it
			}
			continue
		}
		select {
		case w.fsErrors <- err:
		default: // the queue is full of errors still to be said; more of them add nothing
		}
	}
}

func (w *Watcher) handle(ev fsnotify.Event) error {
	if ev.Name == w.root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			return fmt.Errorf("the watched directory %s was removed or moved; start kindling sync again", w.root)
		}
		return nil
	}
	rel, ok := strings.CutPrefix(ev.Name, w.root+string(filepath.Separator))
	if !ok {
		return nil
	}
	rel = filepath.ToSlash(rel)
	_, isDir := w.dirs[rel]
	if isDir && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		w.unwatchTree(rel)
		w.send(rel)
		return nil
	}
	if ev.Has(fsnotify.Create) {
		info, err := os.Lstat(ev.Name)
		isDir = err == nil && info.IsDir()
	}
	if w.excluded(rel, isDir) {
		return nil
	}
	if !w.send(rel) || !isDir || !ev.Has(fsnotify.Create) {
		return nil
	}
	return w.watchTree(rel, w.send)
}

// watchTree watches top and the directories below it that are not excluded. report, if not nil, receives
// every path found below top; it returns false to stop early. Watching each directory before reading it
// means that an entry created meanwhile is either read or announced by an event.
func (w *Watcher) watchTree(top string, report func(rel string) bool) error {
	var limitErr error
	unwatched := 0
	err := filepath.WalkDir(filepath.Join(w.root, top), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			switch {
			case vanished(err):
				return nil // its removal is reported by its parent's watch
			case errors.Is(err, fs.ErrPermission) && p != w.root:
				// A directory this user cannot read is skipped: the scan finds it unreadable and the
				// engine says so; its change of permissions is an event of its parent's.
				return nil
			}
			return fmt.Errorf("cannot watch %s: %w (fix its permissions or exclude it with --exclude)", p, err)
		}
		isDir := d.IsDir()
		if !isDir && report == nil {
			return nil // files are not watched one by one
		}
		rel := filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(p, w.root), string(filepath.Separator)))
		if rel != top {
			if w.excluded(rel, isDir) {
				if isDir {
					return fs.SkipDir
				}
				return nil
			}
			if report != nil && !report(rel) {
				return fs.SkipAll
			}
		}
		if !isDir {
			return nil
		}
		if limitErr != nil {
			unwatched++ // only counted, for the error message
			return nil
		}
		switch err := w.add(p); {
		case err == nil:
			w.dirs[rel], _ = d.Info()
		case errors.Is(err, syscall.ENOSPC):
			limitErr = err
			unwatched++
		case errors.Is(err, syscall.EMFILE):
			// macOS's kqueue holds a descriptor per watched file and directory (docs/platforms.md).
			return fmt.Errorf("cannot watch %s: the open-file limit is reached (%v); raise it with `ulimit -n 65536` (up to `ulimit -Hn`; on macOS also kern.maxfilesperproc), exclude large directories with --exclude, or use --poll 1s", p, err)
		case vanished(err), errors.Is(err, fs.ErrPermission) && p != w.root:
			return fs.SkipDir
		case errors.Is(err, fsnotify.ErrClosed):
			return fs.SkipAll
		default:
			return fmt.Errorf("cannot watch %s: %w", p, err)
		}
		return nil
	})
	if limitErr != nil {
		return watchLimitError(w.root, len(w.dirs)+unwatched)
	}
	return err
}

func watchLimitError(root string, dirs int) error {
	return fmt.Errorf("cannot watch the %d directories under %s: the inotify watch limit "+
		"(fs.inotify.max_user_watches=%s, shared by all of this user's programs) is reached; raise it with "+
		"`sudo sysctl fs.inotify.max_user_watches=524288` or exclude large directories with --exclude",
		dirs, root, readLimit("max_user_watches"))
}

func instanceLimitError() error {
	return fmt.Errorf("cannot start a file watcher: the inotify instance limit (fs.inotify.max_user_instances=%s) "+
		"is reached; stop other file-watching programs or raise it with `sudo sysctl fs.inotify.max_user_instances=1024`",
		readLimit("max_user_instances"))
}

// unwatchTree forgets the directory rel and everything below it after it was removed or moved away.
// The kernel drops the watch of a removed directory by itself, but a directory moved elsewhere keeps its
// watches, which would go on reporting events under the old path.
func (w *Watcher) unwatchTree(rel string) {
	gone := map[string]os.FileInfo{}
	for dir, info := range w.dirs {
		if dir == rel || strings.HasPrefix(dir, rel+"/") {
			delete(w.dirs, dir)
			gone[dir] = info
		}
	}
	w.forget(gone)
}

// forget removes the watches of directories no longer watched under these names. The kernel keeps one
// watch per directory, whatever its name: a directory moved within the tree and already watched under
// its new name (its new parent was walked before the move's event came) shares that watch, and
// removing the old name removes it too. Such a directory is watched again and reported, so that what
// changed in it meanwhile is read.
func (w *Watcher) forget(gone map[string]os.FileInfo) {
	for dir := range gone {
		// Errors only say that the kernel already dropped the watch.
		_ = w.fs.Remove(filepath.Join(w.root, dir))
	}
	for dir, info := range w.dirs {
		for _, old := range gone {
			if info != nil && old != nil && os.SameFile(info, old) {
				_ = w.add(filepath.Join(w.root, dir))
				w.send(dir)
				break
			}
		}
	}
}

// resync recovers from lost events: lost directory creations mean missing watches, lost removals mean
// stale ones, so it rebuilds the watch set from the tree and then asks for a full rescan.
func (w *Watcher) resync() error {
	stale := w.dirs
	w.dirs = map[string]os.FileInfo{}
	err := w.watchTree("", nil)
	gone := map[string]os.FileInfo{}
	for dir, info := range stale {
		if _, ok := w.dirs[dir]; !ok {
			gone[dir] = info
		}
	}
	w.forget(gone)
	w.send(RescanAll)
	return err
}

// vanished tells whether err means the path disappeared or was replaced by a file, which a later event
// reports.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// readLimit reads an inotify limit from /proc for error messages.
func readLimit(name string) string {
	b, err := os.ReadFile("/proc/sys/fs/inotify/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
