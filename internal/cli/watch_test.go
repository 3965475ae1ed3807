package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/watch"
)

func TestCommonDir(t *testing.T) {
	for _, tc := range []struct {
		dirs []string
		want string
	}{
		{[]string{"/a/b"}, "/a/b"},
		{[]string{"/a/b/c", "/a/b/d"}, "/a/b"},
		{[]string{"/a/b", "/a/b/c"}, "/a/b"},
		{[]string{"/a/bc", "/a/b"}, "/a"},
		{[]string{"/x", "/a/b"}, "/"},
	} {
		if got := commonDir(tc.dirs); got != tc.want {
			t.Errorf("commonDir(%v) = %q, want %q", tc.dirs, got, tc.want)
		}
	}
}

// One watcher serves every entry: each gets the changes under its own --src, relative to it, and
// nothing of the others'.
func TestSharedWatchRoutesChangesToTheirEntries(t *testing.T) {
	dir := t.TempDir()
	orders, web, other := filepath.Join(dir, "services/orders"), filepath.Join(dir, "web"), filepath.Join(dir, "other")
	for _, d := range []string{orders, web, other} {
		must(t, os.MkdirAll(d, 0o755))
	}
	entries := []syncOptions{{src: orders, excludes: []string{"*.log"}}, {src: web}}
	var out bytes.Buffer
	rep := newReporter(&out, &out, runOptions{output: "text", verbose: true})
	s, err := watchEntries(entries, rep, 0)
	must(t, err)
	defer s.Close()
	must(t, os.WriteFile(filepath.Join(other, "x"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(orders, "app.log"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(orders, "app.py"), nil, 0o644))
	must(t, os.MkdirAll(filepath.Join(web, "css"), 0o755))
	must(t, os.WriteFile(filepath.Join(web, "css/site.css"), nil, 0o644))
	expect(t, s.feeds[0], "app.py")
	expect(t, s.feeds[1], "css", "css/site.css")
	// Moving a directory above an entry's --src is a full rescan for it.
	must(t, os.Rename(filepath.Join(dir, "services"), filepath.Join(dir, "moved")))
	expect(t, s.feeds[0], watch.RescanAll)
	expect(t, s.feeds[1])
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if got := out.String(); !strings.Contains(got, `skipped app.log: excluded by "*.log" (--exclude)`) || strings.Contains(got, "other") {
		t.Errorf("-v lines:\n%s", got)
	}
}

// expect reads a feed until it has been quiet for a while and requires exactly want (each at least once).
func expect(t *testing.T, feed <-chan string, want ...string) {
	t.Helper()
	got := map[string]bool{}
	for {
		select {
		case p := <-feed:
			got[p] = true
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
		delete(got, w)
	}
	if len(got) > 0 {
		t.Errorf("unexpected %v", got)
	}
}
