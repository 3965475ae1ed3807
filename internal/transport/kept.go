package transport

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kindling-dev/kindling/internal/cachefile"
)

// Sizes of the files whose changes go as splices (see Shell.splices). Below spliceFrom a whole file costs
// less than the container's work of rebuilding one (three processes and a sha256 of the result): 256 KiB
// is 100 ms at 20 Mbit/s, the splice a few milliseconds. Above spliceUpTo kindling would hold too much
// in memory (the kept copy and the new version, whole).
const (
	spliceFrom = 256 << 10
	spliceUpTo = 64 << 20
	// keptMax is how much the kept copies may take on disk; the least recently used go first.
	keptMax = 512 << 20
)

// keptCopies is a directory of this machine holding, under their sha256, copies of the large files
// kindling sent: the content a container holds, which the next change of the file is spliced from
// without reading anything back from the container. A copy is only ever a guess of what the container
// holds: the container checks the sha256 of what it rebuilds, and a wrong guess costs one whole file.
type keptCopies string

// KeepCopies keeps copies of the large files a Shell sends in dir (in the user's cache directory), so
// that a change in one place of a large file sends only that place. "" keeps none.
func KeepCopies(dir string) Option {
	return func(s *Shell) { s.kept = keptCopies(dir) }
}

func (k keptCopies) path(hash string) string { return filepath.Join(string(k), hash) }

// read returns the content kept under hash, nil when there is none. Reading marks it as used.
func (k keptCopies) read(hash string) []byte {
	if !k.has(hash) {
		return nil
	}
	b, _ := os.ReadFile(k.path(hash))
	return b
}

// has reports whether a copy is kept under hash, and marks it as used.
func (k keptCopies) has(hash string) bool {
	now := time.Now()
	return k != "" && isHash(hash) && os.Chtimes(k.path(hash), now, now) == nil
}

// keep stores content, whose sha256 is hash. It is a cache: a failure only means a whole file next time.
func (k keptCopies) keep(hash string, content []byte) {
	k.store(func(w io.Writer) (string, error) {
		_, err := w.Write(content)
		return hash, err
	})
}

// keepFile stores a copy of the local file rel of src, under the sha256 of what was read: the file may
// have changed since it was sent, and then the copy is of that other content, which is harmless.
func (k keptCopies) keepFile(src Source, rel string) {
	k.store(func(w io.Writer) (string, error) {
		f, err := src.Open(rel)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(f, spliceUpTo)); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	})
}

// store writes a copy through a temporary file and renames it to the hash that write returns, then
// makes room.
func (k keptCopies) store(write func(io.Writer) (string, error)) {
	if k == "" || os.MkdirAll(string(k), 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(string(k), ".tmp-*")
	if err != nil {
		return
	}
	hash, err := write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || !isHash(hash) || os.Rename(tmp.Name(), k.path(hash)) != nil {
		os.Remove(tmp.Name())
		return
	}
	k.prune(keptMax)
}

// prune removes the least recently used copies beyond max bytes, those not used for cachefile.MaxAge,
// and any a kindling left when it died while writing one.
func (k keptCopies) prune(max int64) {
	entries, err := os.ReadDir(string(k))
	if err != nil {
		return
	}
	type copy struct {
		name string
		size int64
		used time.Time
	}
	var copies []copy
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if !isHash(e.Name()) && time.Since(info.ModTime()) > time.Hour || time.Since(info.ModTime()) > cachefile.MaxAge {
			os.Remove(k.path(e.Name()))
			continue
		}
		if !isHash(e.Name()) {
			continue
		}
		copies = append(copies, copy{e.Name(), info.Size(), info.ModTime()})
		total += info.Size()
	}
	sort.Slice(copies, func(i, j int) bool { return copies[i].used.Before(copies[j].used) })
	for _, c := range copies {
		if total <= max {
			break
		}
		if os.Remove(k.path(c.name)) == nil {
			total -= c.size
		}
	}
}

// isHash reports whether s is a hex sha256, the only names the directory holds copies under.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
