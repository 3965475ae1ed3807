package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestHashCache(t *testing.T) {
	root, cacheFile := t.TempDir(), filepath.Join(t.TempDir(), "sub", "hashes")
	for name, content := range map[string]string{"same": "same", "changed": "before", "gone": "gone"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first := LoadHashCache(cacheFile)
	want, err := ScanCached(root, noneExcluded, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "changed"), []byte("after!"), 0o644)
	os.Remove(filepath.Join(root, "gone"))

	// Poisoned hashes show which entries came from the cache.
	load := func(savedAgo time.Duration) *HashCache {
		c := LoadHashCache(cacheFile)
		if len(c.known) != 3 {
			t.Fatalf("the saved cache holds %d files, want 3", len(c.known))
		}
		for p, i := range c.known {
			c.saved[i].hash = "cached " + p
		}
		c.savedAt = time.Now().Add(-savedAgo)
		return c
	}
	later, err := ScanCached(root, noneExcluded, load(-time.Minute)) // saved well after the files changed
	if err != nil {
		t.Fatal(err)
	}
	if later["same"].Hash != "cached same" {
		t.Errorf("unchanged file: hash %q, want the cached one", later["same"].Hash)
	}
	if got, want := later["changed"].Hash, sha256Hex("after!"); got != want {
		t.Errorf("changed file: hash %q, want %q (read again)", got, want)
	}
	if _, ok := later["gone"]; ok {
		t.Error("a deleted file is in the tree")
	}

	// Just saved: a file may still change within the same clock tick, so nothing is trusted.
	soon, err := ScanCached(root, noneExcluded, load(0))
	if err != nil {
		t.Fatal(err)
	}
	if soon["same"].Hash != want["same"].Hash {
		t.Errorf("file changed just before the save: hash %q, want it read again", soon["same"].Hash)
	}

	// A save rewrites the cache only when a scan read files.
	saveAfterScan := func() time.Time {
		c := LoadHashCache(cacheFile)
		c.savedAt = time.Now().Add(time.Minute)
		if _, err := ScanCached(root, noneExcluded, c); err != nil {
			t.Fatal(err)
		}
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		info, _ := os.Stat(cacheFile)
		return info.ModTime()
	}
	saved := saveAfterScan() // "changed" and "gone" are not in it yet
	if again := saveAfterScan(); !again.Equal(saved) {
		t.Error("a scan that read no file rewrote the cache")
	}
	os.WriteFile(filepath.Join(root, "changed"), []byte("again!"), 0o644) // same size, new change time
	if again := saveAfterScan(); again.Equal(saved) {
		t.Error("a scan that read a file did not save the cache")
	}
}

func TestHashCacheUnreadableIsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hashes")
	os.WriteFile(path, []byte("not a cache"), 0o600)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "f"), []byte("f"), 0o644)
	tree, err := ScanCached(root, noneExcluded, LoadHashCache(path))
	if err != nil || tree["f"].Hash != sha256Hex("f") {
		t.Fatalf("scan with a corrupt cache: %v, %+v", err, tree)
	}
}

func TestHashCacheFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hashes")
	const past = 1_600_000_000_000_000_000 // 2020, long before any save
	saved := map[string]cachedHash{
		"plain.go": {statKey{size: 12, mod: past + 1, change: past + 2, ino: 42, mode: 0o100644}, sha256Hex("a")},
		"dir/a b\n\tc": {statKey{size: 0, mod: -1_000_000_000, change: past, ino: math.MaxUint64, mode: math.MaxUint32},
			sha256Hex("b")},
		"ünï/ファイル": {statKey{size: math.MaxInt64, mod: math.MinInt64, change: past, ino: 0, mode: 0o100755}, sha256Hex("c")},
	}
	first := LoadHashCache(path)
	first.fresh, first.read = maps.Clone(saved), true // as if a scan had read these files
	before := time.Now()
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	second := LoadHashCache(path)
	if got := loadedHashes(second); !reflect.DeepEqual(got, saved) {
		t.Errorf("loaded %+v\nwant %+v", got, saved)
	}
	if second.savedAt.Before(before.Round(0)) || second.savedAt.After(after.Round(0)) {
		t.Errorf("saved at %v, want between %v and %v", second.savedAt, before, after)
	}

	// The next session finds two files unchanged, but reads one of them again later, and reads another one
	// before finding it unchanged: the later of the two is saved, and what it did not see is forgotten.
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("f"), 0o644)
	info, err := os.Lstat(file)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := keyOf(info)
	if _, ok := second.lookup("plain.go", saved["plain.go"].key); !ok {
		t.Fatal("lookup of an unchanged file missed")
	}
	second.remember("plain.go", info, sha256Hex("read again"))
	second.remember("ünï/ファイル", info, sha256Hex("read first"))
	if e, ok := second.lookup("ünï/ファイル", saved["ünï/ファイル"].key); !ok || e.Hash != saved["ünï/ファイル"].hash {
		t.Fatalf("lookup of an unchanged file: %+v, %v", e, ok)
	}
	if err := second.Save(); err != nil {
		t.Fatal(err)
	}
	want := map[string]cachedHash{"plain.go": {key, sha256Hex("read again")}, "ünï/ファイル": saved["ünï/ファイル"]}
	if got := loadedHashes(LoadHashCache(path)); !reflect.DeepEqual(got, want) {
		t.Errorf("loaded after a second session %+v\nwant %+v", got, want)
	}
}

func TestHashCacheDamagedIsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hashes")
	c := LoadHashCache(path)
	c.fresh, c.read = map[string]cachedHash{
		"a": {statKey{size: 1, mod: 2, change: 3, ino: 4, mode: 5}, sha256Hex("a")},
		"b": {statKey{size: 6, mod: 7, change: 8, ino: 9, mode: 10}, sha256Hex("b")},
	}, true
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loadedHashes(LoadHashCache(path))) != 2 {
		t.Fatal("the undamaged cache does not load")
	}

	var damaged [][]byte
	for n := range len(valid) {
		damaged = append(damaged, valid[:n])
	}
	for i := range valid {
		for _, flip := range []byte{0x01, 0x20, 0x80, 0xff} {
			b := bytes.Clone(valid)
			b[i] ^= flip
			damaged = append(damaged, b)
		}
	}
	random := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, random.IntN(2*len(valid)))
		for i := range b {
			b[i] = byte(random.Uint32())
		}
		damaged = append(damaged, b, append([]byte(hashCacheHeader), b...))
	}
	// The format this one replaced.
	var gobFile bytes.Buffer
	type oldKey struct {
		Size, Mod, Change int64
		Ino               uint64
		Mode              uint32
	}
	type oldEntry struct {
		Key  oldKey
		Hash string
	}
	gob.NewEncoder(&gobFile).Encode(struct {
		SavedAt int64
		Files   map[string]oldEntry
	}{time.Now().UnixNano(), map[string]oldEntry{"a": {oldKey{1, 2, 3, 4, 5}, sha256Hex("a")}}})
	damaged = append(damaged, gobFile.Bytes())
	// Right checksums over wrong content.
	header := hashCacheHeader + "1700000000000000000\n"
	for _, content := range []string{
		"",
		"kindling-hashes 2 1700000000000000000\n",
		hashCacheHeader + "soon\n",
		header + "a\x001 2 3 4 5 " + sha256Hex("a"),
		header + "a 1 2 3 4 5 " + sha256Hex("a") + "\n",
		header + "a\x001 2 3 4 " + sha256Hex("a") + "\n",
		header + "a\x001 2 3 4 5 \n",
		header + "a\x001 2 3 4 5\n",
		header + "a\x001 2 three 4 5 " + sha256Hex("a") + "\n",
		header + "a\x001 2 3 -4 5 " + sha256Hex("a") + "\n",
		header + "a\x001 2 3 4 4294967296 " + sha256Hex("a") + "\n",
		header + "a\x001 2 3 4 5 " + sha256Hex("a") + "\n" + "a\x001 2 3 4 5 " + sha256Hex("b") + "\n",
		header + "a\x001 2 3 4 5 \x00" + sha256Hex("a") + "\n",
	} {
		damaged = append(damaged, appendChecksumLine([]byte(content), []byte(content)))
	}

	for _, b := range damaged {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if c := LoadHashCache(path); len(c.known) != 0 || len(c.saved) != 0 || !c.savedAt.IsZero() {
			t.Fatalf("%q loads as a cache of %d files saved at %v", b, len(c.known), c.savedAt)
		}
	}
}

// FuzzParseHashCache looks behind the checksum, which random content hardly ever passes.
func FuzzParseHashCache(f *testing.F) {
	header := hashCacheHeader + "1700000000000000000\n"
	f.Add(header)
	f.Add(header + "a\x001 2 3 4 5 " + sha256Hex("a") + "\n" + "b/c d\x000 -2 3 4 5 " + sha256Hex("b") + "\n")
	f.Fuzz(func(t *testing.T, content string) {
		c, ok := parseHashCache(content)
		if !ok {
			return
		}
		if len(c.known) != len(c.saved) || len(c.hit) != len(c.saved) {
			t.Fatalf("%d paths, %d hashes, %d hit marks", len(c.known), len(c.saved), len(c.hit))
		}
		for _, i := range c.known {
			if c.saved[i].hash == "" {
				t.Fatalf("an empty hash loaded from %q", content)
			}
		}
	})
}

// loadedHashes returns what c loaded, by path.
func loadedHashes(c *HashCache) map[string]cachedHash {
	hashes := map[string]cachedHash{}
	for path, i := range c.known {
		hashes[path] = c.saved[i]
	}
	return hashes
}

func noneExcluded(string, bool) bool { return false }

func sha256Hex(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}
