package plan

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/kindling-dev/kindling/internal/cachefile"
)

// HashCache remembers, in a file on this machine, the hash of every file a full scan (ScanCached) saw, with
// the file's stat key: size, mode, inode, and modification and change times. The next full scan, most often
// the first of a kindling started again, reads only the files whose key changed, instead of hashing the
// whole tree. Save keeps only what the scans since LoadHashCache saw: deleted and excluded files drop out.
//
// A change time cannot be set by any program, but the kernel stamps files with a clock that only
// advances every few milliseconds, so a file written twice in one tick keeps its key. Entries for files
// changed shortly before the cache was saved are therefore not trusted (as git does with its index).
type HashCache struct {
	path    string
	savedAt time.Time
	// saved is the cache as loaded, and known its index by path: nothing writes them afterwards, so
	// lookups read them without the lock.
	saved []cachedHash
	known map[string]int

	mu sync.Mutex
	// hit tells, by index in saved, the known files a scan found unchanged (hits counts them), and fresh
	// holds the hashes of the files read since LoadHashCache. A path is in one of them at most: the
	// later of finding a file unchanged and reading it is what Save writes.
	hit   []bool
	hits  int
	fresh map[string]cachedHash
	read  bool // a file was read since LoadHashCache: the saved cache is not up to date
}

type cachedHash struct {
	key  statKey
	hash string
}

// statKey is what tells a file apart from its earlier versions without reading it.
type statKey struct {
	size, mod, change int64
	ino               uint64
	mode              uint32
}

// untrustedWindow is how long before the cache was saved a change must have been for its entry to count.
const untrustedWindow = 2 * time.Second

// The cache file is text, read in one piece:
//
//	kindling-hashes 1 <saved at, Unix nanoseconds>
//	<path> NUL <size> <modified> <changed> <inode> <mode> <hash>    one line per file
//	<CRC-32C of all the lines above, 8 hex digits>
//
// A path ends at the NUL, the one byte no path holds; the rest of a record holds no newline. The checksum
// keeps a cut or damaged file from being taken for a cache, whose hashes are trusted instead of the files.
const hashCacheHeader = "kindling-hashes 1 "

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const checksumLineLength = len("89abcdef\n")

// LoadHashCache reads the cache at path; a missing, unreadable or damaged file, or one in another format,
// is an empty cache, since a cache is only ever a shortcut.
func LoadHashCache(path string) *HashCache {
	empty := &HashCache{path: path}
	data, err := os.ReadFile(path)
	if err != nil || len(data) < checksumLineLength {
		return empty
	}
	content, checksum := data[:len(data)-checksumLineLength], data[len(data)-checksumLineLength:]
	if !bytes.Equal(checksum, appendChecksumLine(nil, content)) {
		return empty
	}
	// Nothing writes data any more, so it can be the string the paths and hashes are cut from: one
	// allocation for all of them, instead of a copy.
	c, ok := parseHashCache(unsafe.String(unsafe.SliceData(content), len(content)))
	if !ok {
		return empty
	}
	c.path = path
	return c
}

// parseHashCache reads a cache file but its checksum line.
func parseHashCache(s string) (*HashCache, bool) {
	header, records, _ := strings.Cut(s, "\n")
	savedAt, ok := strings.CutPrefix(header, hashCacheHeader)
	if !ok {
		return nil, false
	}
	savedNanos, err := strconv.ParseInt(savedAt, 10, 64)
	if err != nil {
		return nil, false
	}
	count := strings.Count(records, "\x00")
	c := &HashCache{
		savedAt: time.Unix(0, savedNanos),
		saved:   make([]cachedHash, 0, count),
		known:   make(map[string]int, count),
		hit:     make([]bool, count),
	}
	for records != "" {
		path, rest, _ := strings.Cut(records, "\x00")
		line, more, ok := strings.Cut(rest, "\n")
		cached, valid := parseRecord(line)
		if !ok || !valid {
			return nil, false
		}
		c.known[path] = len(c.saved)
		c.saved = append(c.saved, cached)
		records = more
	}
	if len(c.known) != count { // a path twice, or a NUL out of place
		return nil, false
	}
	return c, true
}

// parseRecord reads what follows the path in a record: the stat key and the hash.
func parseRecord(line string) (cachedHash, bool) {
	var numbers [5]string
	for i := range numbers {
		var ok bool
		if numbers[i], line, ok = strings.Cut(line, " "); !ok {
			return cachedHash{}, false
		}
	}
	size, errSize := strconv.ParseInt(numbers[0], 10, 64)
	mod, errMod := strconv.ParseInt(numbers[1], 10, 64)
	change, errChange := strconv.ParseInt(numbers[2], 10, 64)
	ino, errIno := strconv.ParseUint(numbers[3], 10, 64)
	mode, errMode := strconv.ParseUint(numbers[4], 10, 32)
	if line == "" || errors.Join(errSize, errMod, errChange, errIno, errMode) != nil {
		return cachedHash{}, false
	}
	key := statKey{size: size, mod: mod, change: change, ino: ino, mode: uint32(mode)}
	return cachedHash{key: key, hash: line}, true
}

// Save writes what the scans since LoadHashCache saw, replacing the file, unless it holds that already.
func (c *HashCache) Save() error {
	c.mu.Lock()
	if !c.read && c.hits == len(c.known) {
		c.mu.Unlock()
		return nil
	}
	size := len(hashCacheHeader) + len("-9223372036854775808\n") + checksumLineLength
	for path, cached := range c.seen {
		size += len(path) + len(cached.hash) + len(longestRecordKey)
	}
	b := make([]byte, 0, size)
	b = append(b, hashCacheHeader...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, '\n')
	for path, cached := range c.seen {
		b = append(b, path...)
		b = append(b, 0)
		for _, n := range [...]int64{cached.key.size, cached.key.mod, cached.key.change} {
			b = append(strconv.AppendInt(b, n, 10), ' ')
		}
		b = append(strconv.AppendUint(b, cached.key.ino, 10), ' ')
		b = append(strconv.AppendUint(b, uint64(cached.key.mode), 10), ' ')
		b = append(b, cached.hash...)
		b = append(b, '\n')
	}
	c.mu.Unlock()
	return cachefile.Replace(c.path, appendChecksumLine(b, b))
}

func appendChecksumLine(b, content []byte) []byte {
	return fmt.Appendf(b, "%08x\n", crc32.Checksum(content, castagnoli))
}

// longestRecordKey is the longest a record can be besides its path and hash.
const longestRecordKey = "\x00-9223372036854775808 -9223372036854775808 -9223372036854775808 18446744073709551615 4294967295 \n"

// seen yields what the scans since LoadHashCache saw: the known files they found unchanged, and those they
// read. The caller holds c.mu.
func (c *HashCache) seen(yield func(string, cachedHash) bool) {
	for path, i := range c.known {
		if c.hit[i] && !yield(path, c.saved[i]) {
			return
		}
	}
	for path, cached := range c.fresh {
		if !yield(path, cached) {
			return
		}
	}
}

// lookup returns the entry of the file rel whose stat key is key, when the cache knows its hash.
func (c *HashCache) lookup(rel string, key statKey) (Entry, bool) {
	i, ok := c.known[rel]
	if !ok || c.saved[i].key != key || !time.Unix(0, key.change).Before(c.savedAt.Add(-untrustedWindow)) {
		return Entry{}, false
	}
	c.mu.Lock()
	if !c.hit[i] {
		c.hit[i] = true
		c.hits++
	}
	delete(c.fresh, rel)
	c.mu.Unlock()
	return Entry{Kind: File, Exec: key.mode&0o100 != 0, Size: key.size, Hash: c.saved[i].hash}, true
}

// remember records the hash of the file rel, just read, whose stat is info.
func (c *HashCache) remember(rel string, info fs.FileInfo, hash string) {
	key, ok := keyOf(info)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read = true
	if !ok {
		return
	}
	if c.fresh == nil {
		c.fresh = map[string]cachedHash{}
	}
	c.fresh[rel] = cachedHash{key: key, hash: hash}
	if i, ok := c.known[rel]; ok && c.hit[i] {
		c.hit[i] = false
		c.hits--
	}
}
