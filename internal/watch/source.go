package watch

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
