package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stepper drives a Poller one walk at a time: its interval is too long to ever fire, so each step is the
// test's poll and its result is exactly the paths that walk reported.
type stepper struct {
	t    *testing.T
	p    *Poller
	root string
}

func startPoller(t *testing.T, root string, excluded func(string, bool) bool) *stepper {
	t.Helper()
	p, err := NewPoller(root, excluded, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return &stepper{t: t, p: p, root: root}
}

func (s *stepper) step() []string {
	s.t.Helper()
	if !s.p.poll() {
		s.t.Fatal("the poller stopped")
	}
	var got []string
	for {
		select {
		case rel := <-s.p.Changes():
			got = append(got, rel)
		default:
			return got
		}
	}
}

// expect polls once and compares the reported paths, in any order, with want.
func (s *stepper) expect(what string, want ...string) {
	s.t.Helper()
	got := s.step()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		s.t.Errorf("%s: reported %q, want %q", what, got, want)
	}
}

func (s *stepper) path(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }

func (s *stepper) write(rel, content string) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Dir(s.path(rel)), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.path(rel), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// setTime gives rel a modification time of its own, so that a rewrite of the same size is seen whatever
// the file system's timestamp granularity.
func (s *stepper) setTime(rel string, mtime time.Time) {
	s.t.Helper()
	if err := os.Chtimes(s.path(rel), mtime, mtime); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stepper) do(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

func TestPollerFileOperations(t *testing.T) {
	t.Parallel()
	s := startPoller(t, t.TempDir(), excludeNodeModulesAndLogs)
	s.expect("nothing changed")
	s.write("a.txt", "one")
	s.expect("create", "a.txt")
	s.expect("nothing changed after a create")
	s.write("a.txt", "longer")
	s.expect("write that changes the size", "a.txt")
	s.write("a.txt", "LONGER")
	s.setTime("a.txt", time.Now().Add(-time.Hour).Truncate(time.Millisecond))
	s.expect("write of the same size", "a.txt")
	if runtime.GOOS != "windows" {
		s.do(os.Chmod(s.path("a.txt"), 0o755))
		s.expect("chmod", "a.txt")
	}
	s.do(os.Rename(s.path("a.txt"), s.path("b.txt")))
	s.expect("rename", "a.txt", "b.txt")
	s.do(os.Remove(s.path("b.txt")))
	s.expect("remove", "b.txt")
	if runtime.GOOS != "windows" {
		s.do(os.Symlink("target", s.path("link")))
		s.expect("symlink", "link")
	}
	s.expect("nothing changed at the end")
}

func TestPollerDirectories(t *testing.T) {
	t.Parallel()
	s := startPoller(t, t.TempDir(), excludeNodeModulesAndLogs)
	s.write("d/e/f.txt", "")
	s.expect("mkdir -p and a file: the directory and everything in it, as the Watcher", "d", "d/e", "d/e/f.txt")
	s.do(os.Rename(s.path("d"), s.path("g")))
	s.expect("a renamed directory: its old path only, its new one with what it holds", "d", "g", "g/e", "g/e/f.txt")
	s.do(os.RemoveAll(s.path("g/e")))
	s.expect("a removed directory: its own path only", "g/e")
	s.write("g/h/i.txt", "")
	s.expect("setup", "g/h", "g/h/i.txt")
	s.do(os.RemoveAll(s.path("g/h")))
	s.write("g/h", "now a file")
	s.expect("a directory replaced by a file", "g/h")
	if runtime.GOOS != "windows" {
		s.do(os.Chmod(s.path("g"), 0o700))
		s.expect("chmod of a directory", "g")
	}
	s.expect("nothing changed at the end")
}

func TestPollerExcluded(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var mu sync.Mutex
	asked := map[string]int{}
	excluded := func(rel string, isDir bool) bool {
		mu.Lock()
		asked[rel]++
		mu.Unlock()
		return excludeNodeModulesAndLogs(rel, isDir)
	}
	s := startPoller(t, root, excluded)
	s.write("node_modules/pkg/index.js", "")
	s.write("app.log", "")
	s.write("src/app.log", "")
	s.write("src/main.js", "")
	s.expect("excluded paths are left out", "src", "src/main.js")
	s.expect("nothing changed")
	s.expect("nothing changed")
	mu.Lock()
	for rel, n := range asked {
		if n != 1 {
			t.Errorf("excluded(%q) asked %d times over walks that found it unchanged, want once", rel, n)
		}
	}
	if asked["node_modules/pkg"] != 0 {
		t.Error("an excluded directory was walked")
	}
	mu.Unlock()
	s.write("app.log", "more")
	s.expect("a write to an excluded file")
	mu.Lock()
	if asked["app.log"] != 2 {
		t.Errorf("excluded(app.log) asked %d times, want again after it changed", asked["app.log"])
	}
	mu.Unlock()
}

// A file whose time is in whole seconds and recent may be rewritten within that second without a change
// of size or time: it is reported on the walks until its time is older than any timestamp granularity.
func TestPollerRacyFiles(t *testing.T) {
	t.Parallel()
	s := startPoller(t, t.TempDir(), excludeNodeModulesAndLogs)
	s.write("coarse.txt", "v1")
	s.setTime("coarse.txt", time.Now().Truncate(time.Second))
	s.write("fine.txt", "v1")
	s.setTime("fine.txt", time.Now().Truncate(time.Second).Add(-time.Nanosecond))
	s.expect("create", "coarse.txt", "fine.txt")
	s.expect("a coarse recent time is reported again", "coarse.txt")
	s.setTime("coarse.txt", time.Now().Add(-time.Minute).Truncate(time.Second))
	s.expect("a new time is a change", "coarse.txt")
	s.expect("nothing changed once the time is old")
}

func TestPollerChangesBeforeStartAreNotReported(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a", "b", "c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := startPoller(t, root, excludeNodeModulesAndLogs)
	s.expect("nothing changed since NewPoller")
}

func TestPollerRootRemoved(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startPoller(t, root, excludeNodeModulesAndLogs)
	s.write("a.txt", "")
	s.expect("create", "a.txt")
	s.do(os.RemoveAll(root))
	s.expect("nothing reported as deleted when the root is gone")
	select {
	case err := <-s.p.Errors():
		if !strings.Contains(err.Error(), "removed or moved") {
			t.Errorf("error %q does not say the root is gone", err)
		}
	default:
		t.Fatal("no error after removing the watched directory")
	}
	s.expect("still nothing")
	select {
	case err := <-s.p.Errors():
		t.Errorf("the same error said twice: %v", err)
	default:
	}
	// The root coming back (a share mounted again) is compared with the last walk that saw it.
	s.write("b.txt", "")
	s.expect("the root back", "a.txt", "b.txt")
}

// The real loop: changes arrive without stepping, and Close ends both channels.
func TestPollerLoop(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	p, err := NewPoller(root, excludeNodeModulesAndLogs, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case rel := <-p.Changes():
		if rel != "a.txt" {
			t.Errorf("reported %q, want a.txt", rel)
		}
	case err := <-p.Errors():
		t.Fatal(err)
	case <-time.After(eventTimeout):
		t.Fatal("a new file was not reported")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for range p.Changes() {
	}
	for range p.Errors() {
	}
	if err := p.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

// Close returns while a walk is blocked on a consumer that stopped reading.
func TestPollerCloseWithUnreadChanges(t *testing.T) {
	t.Parallel()
	s := startPoller(t, t.TempDir(), excludeNodeModulesAndLogs)
	for i := range cap(s.p.changes) + 10 {
		s.write(fmt.Sprintf("f%04d", i), "")
	}
	done := make(chan bool)
	go func() { done <- s.p.poll() }()
	time.Sleep(10 * time.Millisecond)
	closed := make(chan struct{})
	go func() { s.p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(eventTimeout):
		t.Fatal("Close did not return")
	}
	if <-done {
		t.Error("the walk went on after Close")
	}
}

func TestNewPollerRejects(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		root     string
		interval time.Duration
		want     string
	}{
		{root, 0, "must be positive"},
		{file, time.Second, "not a directory"},
		{filepath.Join(root, "missing"), time.Second, "cannot watch"},
	} {
		if p, err := NewPoller(c.root, excludeNodeModulesAndLogs, c.interval); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPoller(%s, %s) = %v, want an error saying %q", c.root, c.interval, err, c.want)
			if p != nil {
				p.Close()
			}
		}
	}
}

// BenchmarkPollerWalk measures one walk of 10,000 files in 100 directories: the cost of --poll per
// interval on a local disk (a network file system adds a round trip per directory, or per file when its
// attribute cache is cold).
func BenchmarkPollerWalk(b *testing.B) {
	root := b.TempDir()
	for d := range 100 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.go", f)), []byte("package x\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	p, err := NewPoller(root, excludeNodeModulesAndLogs, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for range b.N {
		if !p.poll() {
			b.Fatal("stopped")
		}
	}
}
