package transport

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DirSource reads plan paths from the local directory root.
func DirSource(root string) Source { return dirSource(root) }

type dirSource string

// Open opens a regular file, refusing anything that is not one (a symlink that replaced the file since
// the plan was made is never followed out of root). The returned *os.File lets Apply check its size and
// send its modification time.
func (root dirSource) Open(rel string) (io.ReadCloser, error) {
	p := filepath.Join(string(root), filepath.FromSlash(rel))
	before, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is no longer a regular file: %w", rel, ErrSourceChanged)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, fmt.Errorf("%s was replaced while opening it: %w", rel, ErrSourceChanged)
	}
	return f, nil
}
