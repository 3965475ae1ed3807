package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kindling-dev/kindling/internal/build"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
)

// Local is the local side of a sync: the tree every container must hold under --dest, and where its
// content comes from.
type Local interface {
	// Update returns the tree after the given paths changed; an empty path means anything may have.
	Update(ctx context.Context, changed []string) (plan.Tree, transport.Source, error)
}

// Dir is a local source directory synced as it is, minus excludes.
type Dir struct {
	Src      string
	Excluded plan.Excluded
	// HashFile, when set, is the hash cache (plan.LoadHashCache) that each full scan loads and saves
	// again: the first scan of a session, and one after a failed update. It hashes only the files whose
	// stat key changed since the cache was saved; rescans of changed paths read those paths and skip it.
	HashFile string
	tree     plan.Tree
	// first is the first scan when StartScan began it; firstErr is its outcome once first is closed.
	first    chan struct{}
	firstErr error
}

// StartScan begins the first scan in the background, so that it overlaps reaching the cluster; the first
// Update waits for it.
func (d *Dir) StartScan() {
	d.first = make(chan struct{})
	go func() {
		defer close(d.first)
		d.firstErr = d.scan()
	}()
}

// scan reads the whole tree.
func (d *Dir) scan() error {
	var hashes *plan.HashCache
	if d.HashFile != "" {
		hashes = plan.LoadHashCache(d.HashFile)
	}
	tree, err := plan.ScanCached(d.Src, d.Excluded, hashes)
	if err == nil && hashes != nil {
		hashes.Save() // a cache that cannot be written only costs the next session time
	}
	d.tree = tree
	return err
}

func (d *Dir) Update(_ context.Context, changed []string) (plan.Tree, transport.Source, error) {
	var err error
	switch {
	case d.first != nil:
		<-d.first
		d.first, err = nil, d.firstErr
	case d.tree == nil:
		err = d.scan()
	default:
		d.tree, err = plan.Rescan(d.tree, d.Src, changed, d.Excluded)
	}
	if err != nil {
		d.tree = nil
		return nil, nil, fmt.Errorf("read --src %s: %v", d.Src, err)
	}
	return d.tree, transport.DirSource(d.Src), nil
}

// Artifact is a compiled app: the tree is the one built executable, rebuilt when a source file the
// build uses changes. A failed build keeps the previous artifact, so the running app stays untouched.
type Artifact struct {
	Spec     build.Spec
	Builder  build.Builder
	Language string
	// Name is the executable's file name in the container.
	Name string
	// Out receives the build's output.
	Out  io.Writer
	tree plan.Tree
	path string
}

func (a *Artifact) Update(ctx context.Context, changed []string) (plan.Tree, transport.Source, error) {
	if a.tree != nil && !a.affected(changed) {
		return a.tree, a.source(), nil
	}
	path, err := a.Builder.Build(ctx, a.Spec, a.Out)
	if err != nil {
		if a.tree == nil {
			return nil, nil, err
		}
		return a.tree, a.source(), err
	}
	entries, err := plan.Scan(filepath.Dir(path), func(rel string, _ bool) bool { return rel != filepath.Base(path) })
	if err != nil {
		return nil, nil, err
	}
	e, ok := entries[filepath.Base(path)]
	if !ok {
		return nil, nil, fmt.Errorf("the build did not produce %s", path)
	}
	e.Exec = true
	a.tree, a.path = plan.Tree{a.Name: e}, path
	return a.tree, a.source(), nil
}

func (a *Artifact) affected(changed []string) bool {
	for _, c := range changed {
		if c == "" || build.UsesFile(a.Language, c) {
			return true
		}
	}
	return false
}

func (a *Artifact) source() transport.Source { return artifactSource{a.path} }

// artifactSource serves the built file under whatever name the container gives it.
type artifactSource struct{ path string }

func (s artifactSource) Open(string) (io.ReadCloser, error) { return os.Open(s.path) }
