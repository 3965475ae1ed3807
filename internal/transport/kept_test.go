package transport

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The kept copies stay within their size by dropping the least recently used, forget what no session
// used for a week, and clear what a kindling that died while writing left behind.
func TestKeptCopiesPrune(t *testing.T) {
	k := keptCopies(t.TempDir())
	hashOf := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	now := time.Now()
	put := func(name, content string, age time.Duration) {
		p := filepath.Join(string(k), name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, now.Add(-age), now.Add(-age))
	}
	oldest, older, recent, stale := strings.Repeat("a", 100), strings.Repeat("b", 100), strings.Repeat("c", 100), "d"
	put(hashOf(oldest), oldest, 3*time.Hour)
	put(hashOf(older), older, 2*time.Hour)
	put(hashOf(recent), recent, time.Minute)
	put(hashOf(stale), stale, 8*24*time.Hour)
	put(".tmp-dead", "half", 2*time.Hour)
	put(".tmp-writing", "half", time.Second)
	// Reading a copy makes it the most recently used.
	if got := k.read(hashOf(oldest)); string(got) != oldest {
		t.Fatalf("read %q", got)
	}
	k.prune(250)
	entries, _ := os.ReadDir(string(k))
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{".tmp-writing", hashOf(oldest), hashOf(recent)}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// keepFile names a copy by what it read, whatever the plan said.
func TestKeepFileNamesTheCopyByItsContent(t *testing.T) {
	k := keptCopies(t.TempDir())
	src := t.TempDir()
	put(t, filepath.Join(src, "f"), file("content"))
	k.keepFile(DirSource(src), "f")
	h := sha256.Sum256([]byte("content"))
	if got := k.read(hex.EncodeToString(h[:])); string(got) != "content" {
		t.Errorf("kept %q", got)
	}
	if k.read("../f") != nil || k.read("") != nil {
		t.Error("a name that is not a hash was read")
	}
}
