// Package cachefile writes the files of kindling's caches (the hashes of files it saw, on this machine
// and in containers): whole, never half-written, and forgotten when no session used them for a week.
package cachefile

import (
	"os"
	"path/filepath"
	"time"
)

// MaxAge is how long a cache file nobody wrote keeps.
const MaxAge = 7 * 24 * time.Hour

// Replace makes data the content of path, atomically, and removes the other files of its directory not
// written for MaxAge (caches of directories and containers not seen since).
func Replace(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	prune(dir)
	return nil
}

func prune(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > MaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
