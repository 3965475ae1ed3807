// Package transport moves a plan into a container. Everything it does goes through Execer, the one seam
// to the cluster: the real implementation is a client-go exec (package kube), tests use a fake that runs
// the same commands on the local machine or records them.
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
	// Manifest returns the tree under dest as the container holds it; an absent dest is an empty tree.
	Manifest(ctx context.Context, dest string) (plan.Tree, error)
	// Apply carries out p under dest, creating dest if needed. No file is visible half-written.
	Apply(ctx context.Context, dest string, p plan.Plan, src Source) (Stats, error)
}
