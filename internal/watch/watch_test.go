package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// eventTimeout is generous: the tests run with -race on small, loaded machines.
const eventTimeout = 30 * time.Second

// excludeNodeModulesAndLogs stands in for the ignore package.
func excludeNodeModulesAndLogs(rel string, isDir bool) bool {
	for _, name := range strings.Split(rel, "/") {
		if name == "node_modules" || strings.HasSuffix(name, ".log") {
			return true
		}
	}
	return false
}

type recorder struct {
	t       *testing.T
	w       *Watcher
	root    string
	seen    map[string]bool
	rescans int
}

func startWatcher(t *testing.T, root string) *recorder {
	t.Helper()
	w, err := New(root, excludeNodeModulesAndLogs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return &recorder{t: t, w: w, root: root, seen: map[string]bool{}}
}

// waitFor reads changes until every path in want was reported. A RescanAll also satisfies it: it tells
// the engine to look at everything.
func (r *recorder) waitFor(want ...string) {
	r.t.Helper()
	deadline := time.After(eventTimeout)
	for {
		missing := slices.DeleteFunc(slices.Clone(want), func(p string) bool { return r.seen[p] })
		if len(missing) == 0 {
			return
		}
		select {
		case p := <-r.w.Changes():
			if p == RescanAll {
				r.t.Log("events overflowed; a rescan covers the missing paths")
				r.rescans++
				for _, m := range missing {
					r.seen[m] = true
				}
			}
			r.seen[p] = true
		case err := <-r.w.Errors():
			r.t.Fatalf("watch error: %v", err)
		case <-deadline:
			r.t.Fatalf("not reported within %s: %q (seen %d paths)", eventTimeout, missing, len(r.seen))
		}
	}
}

// sync reports a fresh sentinel file and waits for it: events are delivered in order, so everything
// caused before it has been reported once it arrives.
func (r *recorder) sync() {
	r.t.Helper()
	name := fmt.Sprintf("sentinel-%d", time.Now().UnixNano())
	r.write(name, "")
	r.waitFor(name)
}

func (r *recorder) notSeen(paths ...string) {
	r.t.Helper()
	r.sync()
	for _, p := range paths {
		if r.seen[p] {
			r.t.Errorf("%q was reported", p)
		}
	}
}

func (r *recorder) path(rel string) string { return filepath.Join(r.root, filepath.FromSlash(rel)) }

func (r *recorder) write(rel, content string) {
	r.t.Helper()
	if err := os.WriteFile(r.path(rel), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *recorder) mkdirAll(rel string) {
	r.t.Helper()
	if err := os.MkdirAll(r.path(rel), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

func (r *recorder) rename(from, to string) {
	r.t.Helper()
	if err := os.Rename(r.path(from), r.path(to)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *recorder) remove(rel string) {
	r.t.Helper()
	if err := os.RemoveAll(r.path(rel)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *recorder) watched() []string {
	var rels []string
	for _, p := range r.w.fs.WatchList() {
		rel, _ := filepath.Rel(r.w.root, p)
		rels = append(rels, filepath.ToSlash(rel))
	}
	slices.Sort(rels)
	return rels
}

func TestWatcherFileOperations(t *testing.T) {
	t.Parallel()
	r := startWatcher(t, t.TempDir())
	r.write("a.txt", "1")
	r.waitFor("a.txt")

	tests := []struct {
		name string
		do   func()
		want []string
	}{
		{"create", func() { r.write("new.txt", "x") }, []string{"new.txt"}},
		{"write", func() {
			f, err := os.OpenFile(r.path("a.txt"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("more")
			f.Close()
		}, []string{"a.txt"}},
		{"chmod", func() {
			if err := os.Chmod(r.path("a.txt"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"a.txt"}},
		{"rename", func() { r.rename("new.txt", "renamed.txt") }, []string{"new.txt", "renamed.txt"}},
		{"delete", func() { r.remove("renamed.txt") }, []string{"renamed.txt"}},
		{"name with spaces and unicode", func() { r.write("é t.txt", "") }, []string{"é t.txt"}},
	}
	for _, tt := range tests {
		clear(r.seen)
		tt.do()
		r.waitFor(tt.want...)
		if t.Failed() {
			t.Fatalf("after %s", tt.name)
		}
	}
}

func TestWatcherDirectories(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := t.TempDir()
	r := startWatcher(t, root)

	r.mkdirAll("a/sub")
	r.write("a/sub/f.txt", "")
	r.waitFor("a", "a/sub", "a/sub/f.txt")

	// Moving a directory must move its watches too: later events use the new path.
	r.rename("a", "b")
	r.waitFor("a", "b", "b/sub", "b/sub/f.txt")
	clear(r.seen)
	r.write("b/sub/g.txt", "")
	r.waitFor("b/sub/g.txt")
	r.notSeen("a/sub/g.txt")

	// A directory moved out is reported, and no longer watched.
	clear(r.seen)
	if err := os.Rename(r.path("b"), filepath.Join(outside, "b")); err != nil {
		t.Fatal(err)
	}
	r.waitFor("b")
	if err := os.WriteFile(filepath.Join(outside, "b", "sub", "h.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.notSeen("b/sub/h.txt")

	// A tree moved in is reported whole and watched.
	if err := os.Rename(filepath.Join(outside, "b"), r.path("c")); err != nil {
		t.Fatal(err)
	}
	r.waitFor("c", "c/sub", "c/sub/f.txt", "c/sub/g.txt", "c/sub/h.txt")
	r.write("c/sub/i.txt", "")
	r.waitFor("c/sub/i.txt")

	clear(r.seen)
	r.remove("c")
	r.waitFor("c")
	if got := r.watched(); !slices.Equal(got, []string{"."}) {
		t.Errorf("watched after removing everything: %q, want only the root", got)
	}
}

func TestWatcherNewDirectoryRace(t *testing.T) {
	t.Parallel()
	r := startWatcher(t, t.TempDir())
	// mkdir -p and an immediate file: the file is created before the watches of its directories exist.
	var want []string
	for i := range 20 {
		dir := fmt.Sprintf("d%d/x/y/z", i)
		r.mkdirAll(dir)
		r.write(dir+"/f", "")
		want = append(want, dir, dir+"/f")
	}
	r.waitFor(want...)
}

func TestWatcherAtomicSave(t *testing.T) {
	t.Parallel()
	r := startWatcher(t, t.TempDir())
	r.write("main.py", "v1")
	r.waitFor("main.py")

	tests := []struct {
		name string
		save func()
	}{
		{"temp file renamed over the target", func() {
			r.write(".main.py.tmp123", "v2")
			r.rename(".main.py.tmp123", "main.py")
		}},
		{"vim with backupcopy=no", func() {
			r.write("4913", "")
			r.remove("4913")
			r.write(".main.py.swp", "")
			r.rename("main.py", "main.py~")
			r.write("main.py", "v3")
			r.remove("main.py~")
			r.remove(".main.py.swp")
		}},
	}
	for _, tt := range tests {
		clear(r.seen)
		tt.save()
		r.waitFor("main.py")
		if t.Failed() {
			t.Fatalf("after %s", tt.name)
		}
	}
}

func TestWatcherExcluded(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "node_modules", "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startWatcher(t, root)

	r.mkdirAll("node_modules/pkg/lib")
	r.write("node_modules/pkg/lib/index.js", "")
	r.write("node_modules/old/index.js", "")
	r.mkdirAll("src/node_modules")
	r.write("src/debug.log", "")
	r.write("src/app.js", "")
	r.waitFor("src", "src/app.js")
	r.notSeen("node_modules", "node_modules/pkg", "node_modules/pkg/lib/index.js", "node_modules/old/index.js",
		"src/node_modules", "src/debug.log")
	if got, want := r.watched(), []string{".", "src"}; !slices.Equal(got, want) {
		t.Errorf("watched %q, want %q", got, want)
	}
}

func TestWatcherBurst(t *testing.T) {
	t.Parallel()
	r := startWatcher(t, t.TempDir())
	r.mkdirAll("burst")
	var want []string
	for i := range 1000 {
		name := fmt.Sprintf("burst/f%04d.txt", i)
		r.write(name, "x")
		want = append(want, name)
	}
	r.waitFor(want...)
}

func TestWatcherRootRemoved(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	r := startWatcher(t, root)
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.w.Errors():
		if !strings.Contains(err.Error(), "removed or moved") {
			t.Errorf("error %q does not say the root is gone", err)
		}
	case <-time.After(eventTimeout):
		t.Fatal("no error after removing the watched directory")
	}
}

func TestWatcherOverflowRescans(t *testing.T) {
	t.Parallel()
	r := startWatcher(t, t.TempDir())
	r.write("a", "")
	r.write("b", "")
	r.waitFor("a", "b")
	// Nobody reads Changes now, so the kernel's queue (fs.inotify.max_queued_events, 16384 by default)
	// fills up behind the watcher's buffers and overflows. Alternating files defeats the kernel's merging
	// of identical consecutive events.
	for i := range 40000 {
		if err := os.Chmod(r.path([]string{"a", "b"}[i%2]), 0o600|os.FileMode(i%2)<<6); err != nil {
			t.Fatal(err)
		}
	}
	// Created while events are dropped: only the resync can find and watch it.
	r.mkdirAll("lost/dir")
	r.waitFor(RescanAll)
	if r.rescans == 0 {
		t.Fatal("no RescanAll after an overflow")
	}
	clear(r.seen)
	r.write("lost/dir/f", "")
	r.waitFor("lost/dir/f")
}

func TestWatchLimit(t *testing.T) {
	root := t.TempDir()
	for i := range 5 {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprint(i), "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer fsw.Close()
	added := 0
	w := &Watcher{root: root, excluded: excludeNodeModulesAndLogs, fs: fsw, dirs: map[string]os.FileInfo{},
		add: func(p string) error {
			if added == 3 {
				return fmt.Errorf("add watch: %w", syscall.ENOSPC)
			}
			added++
			return fsw.Add(p)
		}}
	err = w.watchTree("", nil)
	if err == nil {
		t.Fatal("watchTree succeeded past the watch limit")
	}
	for _, want := range []string{"the 11 directories under " + root, "fs.inotify.max_user_watches=" + readLimit("max_user_watches"),
		"sudo sysctl fs.inotify.max_user_watches=524288"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if msg := instanceLimitError().Error(); !strings.Contains(msg, "sudo sysctl fs.inotify.max_user_instances=") {
		t.Errorf("instance limit error %q does not give the fix", msg)
	}
}

// BenchmarkNewLargeTree measures start-up on a tree of 100,000 files in 5,050 directories.
func BenchmarkNewLargeTree(b *testing.B) {
	root := b.TempDir()
	for i := range 50 {
		for j := range 100 {
			dir := filepath.Join(root, fmt.Sprint(i), fmt.Sprint(j))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for k := range 20 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.py", k)), nil, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for b.Loop() {
		w, err := New(root, excludeNodeModulesAndLogs)
		if err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

func TestNewRejectsNonDirectories(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{file, filepath.Join(dir, "missing")} {
		if w, err := New(root, excludeNodeModulesAndLogs); err == nil {
			w.Close()
			t.Errorf("New(%s) succeeded", root)
		} else if !strings.Contains(err.Error(), root) {
			t.Errorf("error %q does not name %s", err, root)
		}
	}
}

// A directory this user may not read is skipped (the scan reports it); the rest is watched. Only the
// root itself failing is an error.
func TestUnreadableDirectoryIsSkipped(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"locked/sub", "open"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer fsw.Close()
	denied := func(p string) error {
		if filepath.Base(p) == "locked" || p == root {
			return fmt.Errorf("add watch: %w", syscall.EACCES)
		}
		return fsw.Add(p)
	}
	w := &Watcher{root: root, excluded: excludeNodeModulesAndLogs, fs: fsw, dirs: map[string]os.FileInfo{},
		add: func(p string) error {
			if p == root {
				return fsw.Add(p)
			}
			return denied(p)
		}}
	if err := w.watchTree("", nil); err != nil {
		t.Fatalf("an unreadable subdirectory failed the watch: %v", err)
	}
	if _, ok := w.dirs["open"]; !ok {
		t.Error("the readable directory is not watched")
	}
	if _, ok := w.dirs["locked"]; ok {
		t.Error("the unreadable directory is listed as watched")
	}
	w.add = denied
	if err := w.watchTree("", nil); err == nil {
		t.Error("an unreadable root did not fail the watch")
	}
}
