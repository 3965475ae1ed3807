package transport

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// recordingMeter checks the Meter contract as it is called: Start, then Adds of at most one buffer,
// then Done, never an Add after Done.
type recordingMeter struct {
	t *testing.T

	mu                      sync.Mutex
	starts, dones           int
	totalFiles, totalBytes  int64
	files, bytes, largestAd int64
	running                 bool
}

func (m *recordingMeter) Start(files, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		m.t.Error("Start before the previous Done")
	}
	m.starts++
	m.running = true
	m.totalFiles, m.totalBytes, m.files, m.bytes = files, bytes, 0, 0
}

func (m *recordingMeter) Add(files, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running {
		m.t.Error("Add outside Start..Done")
	}
	m.files += files
	m.bytes += bytes
	m.largestAd = max(m.largestAd, bytes)
}

func (m *recordingMeter) Done() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dones++
	m.running = false
}

func TestProgressCountsExactlyThePlan(t *testing.T) {
	sizes := map[string]struct {
		files int
		size  int
	}{
		// Handed over whole, then a stream built while it is sent (over MaxSessionInput).
		"small": {files: 20, size: 3000},
		"large": {files: 30, size: 100 << 10},
	}
	for _, c := range containers(t) {
		for name, sz := range sizes {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				tree := map[string]node{"empty": file(""), "d": dir(), "d/link": symlink("../empty")}
				var wantBytes int64
				for i := range sz.files {
					tree[fmt.Sprintf("d/f%02d", i)] = file(strings.Repeat("x", sz.size+i))
					wantBytes += int64(sz.size + i)
				}
				src, dest := t.TempDir(), t.TempDir()
				build(t, src, tree)
				m := &recordingMeter{t: t}
				sh := newShell(t, c, Progress(m))
				p, _ := syncTree(t, sh, src, dest)
				wantFiles := int64(sz.files + 1)
				if int64(len(p.Writes)) != wantFiles || p.Bytes() != wantBytes {
					t.Fatalf("plan has %d files, %d bytes; the test expects %d, %d", len(p.Writes), p.Bytes(), wantFiles, wantBytes)
				}
				if m.starts != 1 || m.dones != 1 {
					t.Errorf("%d Starts, %d Dones; want one each", m.starts, m.dones)
				}
				if m.totalFiles != wantFiles || m.totalBytes != wantBytes {
					t.Errorf("Start(%d, %d), want Start(%d, %d)", m.totalFiles, m.totalBytes, wantFiles, wantBytes)
				}
				if m.files != wantFiles || m.bytes != wantBytes {
					t.Errorf("Adds sum to %d files, %d bytes; want %d, %d", m.files, m.bytes, wantFiles, wantBytes)
				}
				if m.largestAd > 32<<10 {
					t.Errorf("an Add counted %d bytes at once; the meter is told per block of 32 KiB", m.largestAd)
				}
			})
		}
	}
}

func TestProgressIsDoneWhenApplyFails(t *testing.T) {
	src, dest := t.TempDir(), t.TempDir()
	build(t, src, map[string]node{"a": file("a"), "b": file("bb")})
	m := &recordingMeter{t: t}
	sh := newShell(t, container{name: "gnu"}, Progress(m))
	local := scan(t, src)
	remote, err := sh.Manifest(t.Context(), dest)
	if err != nil {
		t.Fatal(err)
	}
	build(t, src, map[string]node{"a": file("a")}) // b vanishes after the plan was made
	if _, err := sh.Apply(t.Context(), dest, plan.Diff(local, remote), DirSource(src)); err == nil {
		t.Fatal("Apply succeeded with a vanished source file")
	}
	if m.starts != 1 || m.dones != 1 || m.running {
		t.Errorf("%d Starts, %d Dones, running %v; want a Start and a Done", m.starts, m.dones, m.running)
	}
}
