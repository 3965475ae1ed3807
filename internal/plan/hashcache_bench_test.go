//go:build linux

// Linux only: elsewhere the hash cache stays empty.

package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkScanCachedUnchangedTree is the first scan of a restarted kindling over a tree of 10,000 files
// that did not change since the last session saved its hash cache.
func BenchmarkScanCachedUnchangedTree(b *testing.B) {
	root := writeBenchTree(b)
	cacheFile := filepath.Join(b.TempDir(), "hashes")
	saveBenchCache(b, root, cacheFile)
	check := LoadHashCache(cacheFile)
	if _, err := ScanCached(root, noneExcluded, check); err != nil {
		b.Fatal(err)
	}
	if check.read {
		b.Fatal("the scan read files the cache should have known")
	}
	b.ReportAllocs()
	defer reportCPUTime(b)()
	for b.Loop() {
		if _, err := ScanCached(root, noneExcluded, LoadHashCache(cacheFile)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadHashCache is the load alone of the cache of that tree.
func BenchmarkLoadHashCache(b *testing.B) {
	root := writeBenchTree(b)
	cacheFile := filepath.Join(b.TempDir(), "hashes")
	saveBenchCache(b, root, cacheFile)
	b.ReportAllocs()
	defer reportCPUTime(b)()
	for b.Loop() {
		if c := LoadHashCache(cacheFile); len(c.known) != 10_000 {
			b.Fatalf("the cache knows %d files, want 10000", len(c.known))
		}
	}
}

// BenchmarkHashCacheSave is the save after a scan that had to read the files.
func BenchmarkHashCacheSave(b *testing.B) {
	root := writeBenchTree(b)
	cache := LoadHashCache(filepath.Join(b.TempDir(), "hashes"))
	if _, err := ScanCached(root, noneExcluded, cache); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPUTime(b)()
	for b.Loop() {
		if err := cache.Save(); err != nil {
			b.Fatal(err)
		}
	}
}

// writeBenchTree writes 10,000 small files in 100 directories, with paths as long as a project's.
func writeBenchTree(b *testing.B) string {
	root := b.TempDir()
	for m := range 10 {
		for p := range 10 {
			dir := filepath.Join(root, "src", fmt.Sprintf("module%02d", m), fmt.Sprintf("package%02d", p))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := range 100 {
				content := fmt.Sprintf("package package%02d // file %d\n", p, f)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("source_file_%03d.go", f)), []byte(content), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return root
}

// saveBenchCache saves the hashes of the tree at root once its files are old enough to be trusted.
func saveBenchCache(b *testing.B, root, cacheFile string) {
	time.Sleep(untrustedWindow + 100*time.Millisecond)
	cache := LoadHashCache(cacheFile)
	if _, err := ScanCached(root, noneExcluded, cache); err != nil {
		b.Fatal(err)
	}
	if err := cache.Save(); err != nil {
		b.Fatal(err)
	}
}

// reportCPUTime reports, when the function it returns is called, the CPU time of the process (user and
// system, all threads) per iteration since it was called: on a busy machine it varies less than ns/op.
func reportCPUTime(b *testing.B) func() {
	start := processCPUTime(b)
	return func() {
		b.ReportMetric(float64(processCPUTime(b)-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPUTime(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
