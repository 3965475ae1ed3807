package cachefile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReplaceWritesWholeAndPrunesStaleFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	stale, fresh := filepath.Join(dir, "stale"), filepath.Join(dir, "fresh")
	if err := Replace(stale, []byte("old")); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-MaxAge - time.Hour)
	os.Chtimes(stale, long, long)
	if err := Replace(fresh, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := Replace(fresh, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(fresh); err != nil || string(b) != "two" {
		t.Fatalf("content %q, %v; want the last one", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d files, want 1 (no stale file, no temporary)", len(entries))
	}
}
