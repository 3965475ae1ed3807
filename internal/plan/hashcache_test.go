package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
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
		for p, h := range c.known {
			h.Hash = "cached " + p
			c.known[p] = h
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

func noneExcluded(string, bool) bool { return false }

func sha256Hex(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}
