package plan

import (
	"bytes"
	"encoding/gob"
	"io/fs"
	"os"

	"github.com/kindling-dev/kindling/internal/cachefile"
	"sync"
	"time"
)

// HashCache remembers, in a file on this machine, the hash of every file a scan read, with the file's
// stat key: size, mode, inode, and modification and change times. The first scan of a kindling started
// again reads only the files whose key changed, instead of hashing the whole tree.
//
// A change time cannot be set by any program, but the kernel stamps files with a clock that only
// advances every few milliseconds, so a file written twice in one tick keeps its key. Entries for files
// changed shortly before the cache was saved are therefore not trusted (as git does with its index).
type HashCache struct {
	path    string
	savedAt time.Time
	known   map[string]cachedHash

	mu   sync.Mutex
	seen map[string]cachedHash
	read bool // a file was read since LoadHashCache: the saved cache is not up to date
}

type cachedHash struct {
	Key  statKey
	Hash string
}

// untrustedWindow is how long before the cache was saved a change must have been for its entry to count.
const untrustedWindow = 2 * time.Second

// LoadHashCache reads the cache at path; a missing or unreadable file is an empty cache, since a cache
// is only ever a shortcut.
func LoadHashCache(path string) *HashCache {
	c := &HashCache{path: path, seen: map[string]cachedHash{}}
	f, err := os.Open(path)
	if err != nil {
		return c
	}
	defer f.Close()
	var saved savedHashes
	if gob.NewDecoder(f).Decode(&saved) == nil {
		c.savedAt, c.known = time.Unix(0, saved.SavedAt), saved.Files
	}
	return c
}

type savedHashes struct {
	SavedAt int64
	Files   map[string]cachedHash
}

// Save writes what the scans since LoadHashCache saw, replacing the file, unless it holds that already.
func (c *HashCache) Save() error {
	c.mu.Lock()
	if !c.read && len(c.seen) == len(c.known) {
		c.mu.Unlock()
		return nil
	}
	saved := savedHashes{SavedAt: time.Now().UnixNano(), Files: c.seen}
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(saved)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return cachefile.Replace(c.path, b.Bytes())
}

// lookup returns the entry of the file rel whose stat is info, when the cache knows its hash.
func (c *HashCache) lookup(rel string, info fs.FileInfo) (Entry, bool) {
	key, ok := keyOf(info)
	if !ok {
		return Entry{}, false
	}
	cached, ok := c.known[rel]
	if !ok || cached.Key != key || !time.Unix(0, key.Change).Before(c.savedAt.Add(-untrustedWindow)) {
		return Entry{}, false
	}
	c.mu.Lock()
	c.seen[rel] = cached
	c.mu.Unlock()
	return Entry{Kind: File, Exec: info.Mode()&0o100 != 0, Size: info.Size(), Hash: cached.Hash}, true
}

// remember records the hash of the file rel, just read, whose stat is info.
func (c *HashCache) remember(rel string, info fs.FileInfo, hash string) {
	key, ok := keyOf(info)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read = true
	if ok {
		c.seen[rel] = cachedHash{Key: key, Hash: hash}
	}
}
