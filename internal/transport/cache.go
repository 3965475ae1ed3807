package transport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kindling-dev/kindling/internal/cachefile"
)

// Cache keeps, in dir on this machine, the sha256 of every file a Manifest or Apply saw in a container,
// with the file's stat key: size, mode, inode, and modification and change times to the nanosecond. A
// later Manifest of the same container and dest (kindling started again) hashes only the files whose key
// changed, instead of reading every file in the container. A key only matches a file that nothing wrote
// since: writing a file changes its change time, which no program can set, and the kernel gives a write
// that follows a stat of the file a change time of its own. dir is created when needed; "" keeps no cache.
func Cache(dir string) Option {
	return func(s *Shell) { s.cacheDir = dir }
}

// cachedFile is what a cache remembers about one file.
type cachedFile struct{ key, hash string }

// hashCache is the cache file of one container and dest. Its records are NUL-terminated fields:
// "w", path, key, hash (the file's hash) or "d", path, "", "" (path and everything under it are gone).
// A Manifest rewrites the file; an Apply appends to it.
type hashCache struct{ path string }

// cache returns the cache of dest in this Shell's container, or nil when there is none.
func (s *Shell) cache(dest string) *hashCache {
	if s.cacheDir == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(s.exec.Target() + "\x00" + dest))
	return &hashCache{path: filepath.Join(s.cacheDir, hex.EncodeToString(sum[:16]))}
}

// load returns the files the cache knows, or nil if it has none (or cannot be read: a cache is only ever
// a shortcut).
func (c *hashCache) load() map[string]cachedFile {
	text, err := readText(c.path)
	if err != nil {
		return nil
	}
	// Every record is four fields, each ended by a NUL: anything else is a cache cut short.
	fields := strings.Count(text, "\x00")
	if fields%4 != 0 || text != "" && text[len(text)-1] != 0 {
		return nil
	}
	files := make(map[string]cachedFile, fields/4)
	// Records apply in order. Walking them from the last, the first write met of a path is the one that
	// counts, and it counts unless a deletion met before it removed the path or a directory above it.
	var deleted map[string]bool
	for rest := text; rest != ""; {
		var rec [4]string
		for i := len(rec) - 1; i >= 0; i-- {
			rest, rec[i] = cutLastField(rest)
		}
		switch kind, path := rec[0], rec[1]; kind {
		case "w":
			if _, rewritten := files[path]; !rewritten && !removed(deleted, path) {
				files[path] = cachedFile{key: rec[2], hash: rec[3]}
			}
		case "d":
			if deleted == nil {
				deleted = map[string]bool{}
			}
			deleted[path] = true
		default:
			return nil
		}
	}
	return files
}

// readText reads a file into one string, so that the strings cut out of it share its memory instead of
// each needing its own.
func readText(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var text strings.Builder
	if info, err := f.Stat(); err == nil {
		text.Grow(int(info.Size()))
	}
	_, err = io.Copy(&text, f)
	return text.String(), err
}

// cutLastField splits off the last field of s, which ends with the NUL that ends that field.
func cutLastField(s string) (rest, field string) {
	s = s[:len(s)-1]
	start := strings.LastIndexByte(s, 0) + 1
	return s[:start], s[start:]
}

// removed reports whether p or a directory above it is among the deleted paths.
func removed(deleted map[string]bool, p string) bool {
	if len(deleted) == 0 {
		return false
	}
	for {
		if deleted[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// save replaces the cache with files.
func (c *hashCache) save(files map[string]cachedFile) {
	var b bytes.Buffer
	for p, f := range files {
		writeRecord(&b, "w", p, f.key, f.hash)
	}
	cachefile.Replace(c.path, b.Bytes())
}

// The listing a container last gave of dest (listStatScript's output as it came, gzip'd or not) is kept
// beside the hashes with its fingerprint, the sha256 of the uncompressed listing: a Manifest that finds
// the fingerprint unchanged in the container reads this copy instead of the whole listing again. An
// Apply drops it before it changes the tree, and may keep a new one afterwards.
func (c *hashCache) listingPath() string { return c.path + ".listing" }

// hasListing reports whether a listing is kept.
func (c *hashCache) hasListing() bool {
	_, err := os.Stat(c.listingPath())
	return err == nil
}

// listing returns the kept listing and its fingerprint, or "" and nil.
func (c *hashCache) listing() (fingerprint string, raw []byte) {
	b, err := os.ReadFile(c.listingPath())
	sum, raw, ok := bytes.Cut(b, []byte{'\n'})
	if err != nil || !ok || len(sum) != sha256.Size*2 {
		return "", nil
	}
	return string(sum), raw
}

// keepListing keeps raw, whose uncompressed content has the given fingerprint.
func (c *hashCache) keepListing(fingerprint string, raw []byte) {
	cachefile.Replace(c.listingPath(), append([]byte(fingerprint+"\n"), raw...))
}

// dropListing forgets the kept listing.
func (c *hashCache) dropListing() { os.Remove(c.listingPath()) }

// update records what an Apply wrote and deleted.
func (c *hashCache) update(written map[string]cachedFile, deleted []string) {
	var b bytes.Buffer
	for _, p := range deleted {
		writeRecord(&b, "d", p, "", "")
	}
	for p, f := range written {
		writeRecord(&b, "w", p, f.key, f.hash)
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.Write(b.Bytes())
	f.Close()
}

func writeRecord(b *bytes.Buffer, fields ...string) {
	for _, f := range fields {
		b.WriteString(f)
		b.WriteByte(0)
	}
}
