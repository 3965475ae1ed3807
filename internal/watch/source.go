package watch

import (
	"fmt"
	"os"
	"path/filepath"
)

// Source is a stream of changed paths under a directory tree, as Watcher (file system events) and Poller
// (successive walks) give it, so that the caller picks one by flag and wires either the same way.
type Source interface {
	// Changes delivers slash-separated paths relative to the root, RescanAll when every path may have
	// changed; it is closed by Close.
	Changes() <-chan string
	// Errors delivers problems met while watching; it is closed by Close.
	Errors() <-chan error
	// Close stops watching and closes both channels.
	Close() error
}

var (
	_ Source = (*Watcher)(nil)
	_ Source = (*Poller)(nil)
)

// RealDir is root as a Source watches it: absolute, without symlinks (so that the paths it reports share
// its prefix), and a directory.
func RealDir(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("cannot watch %s: %w", root, err)
	}
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		return "", fmt.Errorf("cannot watch %s: not a directory", root)
	}
	return abs, nil
}

// outlet is where a Source delivers, until done is closed: Watcher and Poller embed it.
type outlet struct {
	changes chan string
	errors  chan error
	done    chan struct{}
}

func newOutlet() outlet {
	// A buffer lets bursts (a checkout, a build) flow while the consumer merges them.
	return outlet{changes: make(chan string, 1024), errors: make(chan error, 1), done: make(chan struct{})}
}

// Changes delivers the slash-separated paths, relative to the root, of files and directories that were
// created, written, removed, renamed or had their permissions changed, and RescanAll when events were
// lost. A removed or renamed directory is reported by its own path only: rescan its subtree. The same
// path may be reported more than once.
func (o *outlet) Changes() <-chan string { return o.changes }

// Errors delivers problems met while watching, such as the inotify watch limit being reached for a new
// directory or the root itself being removed.
func (o *outlet) Errors() <-chan error { return o.errors }

// send delivers rel unless the source is closing; it reports whether it did.
func (o *outlet) send(rel string) bool {
	select {
	case o.changes <- rel:
		return true
	case <-o.done:
		return false
	}
}

// sendError delivers err unless the source is closing; it reports whether it did.
func (o *outlet) sendError(err error) bool {
	select {
	case o.errors <- err:
		return true
	case <-o.done:
		return false
	}
}
