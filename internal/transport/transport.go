// Package transport moves a plan into a container. Everything it does goes through Execer, the one seam
// to the cluster: the real implementation is a client-go exec (package kube), which Session turns into
// one long-lived shell per container; tests use a fake that runs the same commands on the local machine
// (LocalExecer) or records them (RecordingExecer).
//
// Shell is the Transport: constant POSIX sh scripts that work with GNU or BusyBox tools, file names only
// ever passed as arguments or inside a stream. Manifest is a listing and then descriptions (stat, and
// sha256 for the files the hash cache does not know); Apply is one command carrying a tar stream into a
// staging directory inside dest, renamed into place.
package transport

import (
	"context"
	"io"

	"github.com/kindling-dev/kindling/internal/plan"
)

// Execer runs a command in one container. argv is passed to the container as an array: it is never parsed
// by a shell on the way, so file names travel safely as arguments.
type Execer interface {
	// Target names the container in messages, e.g. "pod/web-7d4f/app".
	Target() string
	// Exec returns when the command exits, without waiting for the rest of stdin. A non-zero exit is an
	// error with an ExitCode() int method or a message ending in "exit status N"; a command that does
	// not exist is an error wrapping exec.ErrNotFound or saying "executable file not found".
	Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// Source opens local files named by plan paths.
type Source interface {
	Open(rel string) (io.ReadCloser, error)
}

// Stats says what one Apply sent.
type Stats struct {
	Written, Deleted int
	Bytes            int64 // bytes on the wire
}

// Transport reads and updates the tree under a destination directory in one container.
type Transport interface {
	// Manifest returns the tree under dest as the container holds it; an absent dest is an empty tree. A
	// dest that exists but cannot be written is an error wrapping ErrNotWritable.
	Manifest(ctx context.Context, dest string) (plan.Tree, error)
	// Apply carries out p under dest, creating dest if needed. No file is visible half-written.
	Apply(ctx context.Context, dest string, p plan.Plan, src Source) (Stats, error)
}
