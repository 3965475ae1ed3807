package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// Excluded tells whether a path (slash-separated, relative to the root) is left out of the sync.
type Excluded func(rel string, isDir bool) bool

// Scan reads the tree under root, leaving out excluded paths and everything inside excluded directories.
// Symlinks are recorded as links, never followed.
func Scan(root string, excluded Excluded) (Tree, error) {
	return ScanCached(root, excluded, nil)
}

// ScanCached is Scan taking the hashes of unchanged files from cache (nil: none), and recording in it
// those it read.
func ScanCached(root string, excluded Excluded, cache *HashCache) (Tree, error) {
	expectedFiles := 0
	if cache != nil {
		expectedFiles = len(cache.known) // as many as last time
	}
	f, err := walk(root, "", excluded, expectedFiles)
	if err != nil {
		return nil, err
	}
	t := make(Tree, len(f.complete)+len(f.files))
	if err := f.addTo(t, cache); err != nil {
		return nil, err
	}
	return t, nil
}

// Rescan returns prev updated for the given changed paths: each one is read again from disk together with
// everything under it (a path that no longer exists is removed with its subtree). The watcher reports
// paths; this keeps a watch-mode flush proportional to the change rather than to the tree. An empty path
// stands for the root: the whole tree is read again.
func Rescan(prev Tree, root string, changed []string, excluded Excluded) (Tree, error) {
	for _, c := range changed {
		if c == "" {
			return Scan(root, excluded)
		}
	}
	t := prev.Clone()
	roots := map[string]bool{}
	for _, c := range changed {
		roots[c] = true
	}
	for p := range t {
		for q := p; q != ""; q = parent(q) {
			if roots[q] {
				delete(t, p)
				break
			}
		}
	}
	for _, c := range changed {
		if err := addWithAncestors(t, root, c, excluded); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// addWithAncestors adds rel (and its subtree) if it exists and no ancestor is excluded, adding any
// ancestor directory the tree does not know yet.
func addWithAncestors(t Tree, root, rel string, excluded Excluded) error {
	var missing []string
	for q := parent(rel); q != ""; q = parent(q) {
		if excluded(q, true) {
			return nil
		}
		if e, ok := t[q]; ok {
			if e.Kind != Dir {
				return nil // the parent became a file or link since the event
			}
			break
		}
		missing = append(missing, q)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		info, err := os.Lstat(filepath.Join(root, filepath.FromSlash(missing[i])))
		if vanished(err) {
			return nil
		}
		if err != nil {
			t[missing[i]] = unreadable(err)
			return nil
		}
		if !info.IsDir() {
			return nil
		}
		t[missing[i]] = Entry{Kind: Dir}
	}
	return scanInto(t, root, rel, excluded)
}

// scanInto adds rel (the root itself when rel is "") and everything below it to t.
func scanInto(t Tree, root, rel string, excluded Excluded) error {
	f, err := walk(root, rel, excluded, 0)
	if err != nil {
		return err
	}
	return f.addTo(t, nil)
}

// found is what a walk saw: directories and symlinks, complete, and regular files, still to be hashed.
type found struct {
	complete []pathEntry
	files    []foundFile
}

// foundFile is a regular file, by the path the walk opened it with and by its path relative to the root.
type foundFile struct{ path, rel string }

type pathEntry struct {
	rel   string
	entry Entry
}

// walk lists rel (the root itself when rel is "") and everything below it; expectedFiles is a guess of how
// many regular files it finds. A path below the root that cannot be read is found Unreadable; only the
// root itself failing is an error.
func walk(root, rel string, excluded Excluded, expectedFiles int) (found, error) {
	start := filepath.Join(root, filepath.FromSlash(rel))
	f := found{files: make([]foundFile, 0, expectedFiles)}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		r, _ := filepath.Rel(root, p)
		r = filepath.ToSlash(r)
		if err != nil {
			switch {
			case vanished(err):
				return nil // deleted while we walked: the watcher reports it again
			case r == ".":
				return err
			}
			// A directory that cannot be listed is reported a second time, after it was found: this
			// later entry replaces it.
			f.complete = append(f.complete, pathEntry{r, unreadable(err)})
			return nil
		}
		if r == "." {
			return nil
		}
		isDir := d.IsDir()
		if excluded(r, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case isDir:
			f.complete = append(f.complete, pathEntry{r, Entry{Kind: Dir}})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				f.complete = append(f.complete, pathEntry{r, unreadable(err)})
				return nil
			}
			f.complete = append(f.complete, pathEntry{r, Entry{Kind: Symlink, Hash: target}})
		case d.Type().IsRegular():
			f.files = append(f.files, foundFile{p, r})
		}
		// Sockets, devices and pipes are not synced.
		return nil
	})
	return f, err
}

// addTo adds what was found to t, hashing the files unless cache knows them.
func (f found) addTo(t Tree, cache *HashCache) error {
	for _, c := range f.complete {
		t[c.rel] = c.entry
	}
	entries := hashFiles(f.files, cache)
	for i, file := range f.files {
		if entries[i].Kind != 0 {
			t[file.rel] = entries[i]
		}
	}
	return nil
}

// hashFiles reads and hashes files in parallel, unless cache knows them; an entry is left zero when its
// file vanished meanwhile, and is Unreadable when it could not be read.
func hashFiles(files []foundFile, cache *HashCache) []Entry {
	entries := make([]Entry, len(files))
	var next atomic.Int64 // the index of the next file to take
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var h hasher
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				e, err := h.entry(files[i], cache)
				switch {
				case err == nil:
					entries[i] = e
				case !vanished(err):
					entries[i] = unreadable(err)
				}
			}
		})
	}
	wg.Wait()
	return entries
}

// unreadable is the entry of a path that could not be read for err.
func unreadable(err error) Entry {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return Entry{Kind: Unreadable, Hash: err.Error()}
}

// hasher hashes files one after another with the same buffer and digest: a tree has many small files,
// and allocating for each costs more than hashing it. They are made for the first file read: with a
// warm hash cache, a scan may read none.
type hasher struct {
	digest hash.Hash
	buf    []byte
	sum    []byte
}

// entry returns the entry of file: from cache when it knows the file as it is, else hashed (and then
// remembered in cache).
func (h *hasher) entry(file foundFile, cache *HashCache) (Entry, error) {
	if cache != nil {
		if key, ok := lstatKey(file.path); ok {
			if e, ok := cache.lookup(file.rel, key); ok {
				return e, nil
			}
		}
	}
	f, err := openFile(file.path)
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Entry{}, err
	}
	if h.digest == nil {
		*h = hasher{digest: sha256.New(), buf: make([]byte, 64<<10), sum: make([]byte, 0, sha256.Size)}
	}
	h.digest.Reset()
	n, err := io.CopyBuffer(h.digest, onlyReader{f}, h.buf)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Kind: File, Exec: info.Mode()&0o100 != 0, Size: n, Hash: hex.EncodeToString(h.digest.Sum(h.sum[:0]))}
	if cache != nil && n == info.Size() {
		cache.remember(file.rel, info, e.Hash)
	}
	return e, nil
}

// openFile opens p for reading like os.Open, but leaves it blocking and out of the runtime's poller, which
// a regular file gains nothing from: that saves a third of the system calls of hashing a small file.
func openFile(p string) (*os.File, error) {
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// onlyReader hides a file's WriterTo, so that io.CopyBuffer uses the buffer it is given.
type onlyReader struct{ io.Reader }

// vanished reports whether err means the path is no longer there, including when a directory on the way
// was replaced by a file.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
