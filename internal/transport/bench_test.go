package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// The benchmarks sync a generated tree of 10,000 files and about 100 MB (mixed sizes, nested
// directories) into a local directory through this machine's sh and GNU tools:
//
//	go test ./internal/transport -run '^$' -bench . -benchtime 5x

var (
	benchOnce sync.Once
	benchRoot string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// benchTree returns the generated source tree, made on first use.
func benchTree(b *testing.B) string {
	benchOnce.Do(func() {
		if benchRoot, benchErr = os.MkdirTemp("", "kindling-bench-"); benchErr != nil {
			return
		}
		benchErr = generateTree(filepath.Join(benchRoot, "src"), 10_000, 100<<20)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return filepath.Join(benchRoot, "src")
}

// generateTree writes files in nested directories; sizes are mostly small with a long tail, adding up
// to about total bytes.
func generateTree(root string, files int, total int64) error {
	chacha := rand.NewChaCha8([32]byte{1})
	rng := rand.New(chacha)
	dirs := []string{root}
	for i := range files / 20 {
		d := filepath.Join(dirs[rng.IntN(len(dirs))], fmt.Sprintf("dir%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		dirs = append(dirs, d)
	}
	weights := []int64{1, 4, 16, 64} // relative sizes of four classes of files
	var sum int64
	for _, w := range weights {
		sum += w
	}
	unit := total / int64(files) * int64(len(weights)) / sum
	for i := range files {
		size := rng.Int64N(2*unit*weights[i%len(weights)] + 1)
		data := make([]byte, size)
		chacha.Read(data)
		mode := os.FileMode(0o644)
		if i%50 == 0 {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dirs[rng.IntN(len(dirs))], fmt.Sprintf("file%d.txt", i)), data, mode); err != nil {
			return err
		}
	}
	return nil
}

func setBytes(b *testing.B, t plan.Tree) {
	b.SetBytes(plan.Diff(t, nil).Bytes())
}

func BenchmarkApplyFresh(b *testing.B) {
	src := benchTree(b)
	local := scan(b, src)
	setBytes(b, local)
	sh := NewShell(&LocalExecer{Name: "local"})
	ctx := context.Background()
	dest := filepath.Join(benchRoot, "dest")
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
		if _, err := sh.Apply(ctx, dest, plan.Diff(local, nil), DirSource(src)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirectExtract is what Apply would cost without its staging directory: the same tar stream,
// extracted straight into dest.
func BenchmarkDirectExtract(b *testing.B) {
	src := benchTree(b)
	local := scan(b, src)
	setBytes(b, local)
	p := plan.Diff(local, nil)
	var direct []stagedEntry
	for _, d := range p.Mkdirs {
		direct = append(direct, stagedEntry{name: d, path: d, Entry: local[d]})
	}
	for _, w := range p.Writes {
		direct = append(direct, stagedEntry{name: w.Path, path: w.Path, Entry: w.Entry})
	}
	sh := NewShell(&LocalExecer{Name: "local"})
	ctx := context.Background()
	dest := filepath.Join(benchRoot, "dest")
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
		argv := []string{"sh", "-c", `mkdir -p "$1" && tar -x -o -f - -C "$1"`, "sh", dest}
		if _, err := sh.stream(ctx, dest, argv, nil, streamSize(direct, tarEntrySize), func(w io.Writer) error { return writeTar(w, "", direct, DirSource(src), nil, nil) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawTarPipe is the baseline: `tar c | exec tar x` through the same Execer.
func BenchmarkRawTarPipe(b *testing.B) {
	src := benchTree(b)
	setBytes(b, scan(b, src))
	e := &LocalExecer{Name: "local"}
	ctx := context.Background()
	dest := filepath.Join(benchRoot, "dest")
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
		c := exec.Command("tar", "-c", "-f", "-", "-C", src, ".")
		out, err := c.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		err = e.Exec(ctx, []string{"sh", "-c", `mkdir -p "$1" && tar -x -o -f - -C "$1"`, "sh", dest}, out, nil, os.Stderr)
		if werr := c.Wait(); err == nil {
			err = werr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkManifest reads back (and hashes) the whole synced tree, as a re-sync of an unchanged tree does.
func BenchmarkManifest(b *testing.B) {
	src := benchTree(b)
	local := scan(b, src)
	setBytes(b, local)
	sh := NewShell(&LocalExecer{Name: "local"})
	ctx := context.Background()
	dest := filepath.Join(benchRoot, "dest")
	os.RemoveAll(dest)
	if _, err := sh.Apply(ctx, dest, plan.Diff(local, nil), DirSource(src)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		remote, err := sh.Manifest(ctx, dest)
		if err != nil {
			b.Fatal(err)
		}
		if d := plan.FirstDifference(local, remote); d != "" {
			b.Fatal(d)
		}
	}
}

// BenchmarkApplyOneEdit sends one changed file into the synced tree, as a save in watch mode does.
func BenchmarkApplyOneEdit(b *testing.B) {
	src := benchTree(b)
	local := scan(b, src)
	sh := NewShell(&LocalExecer{Name: "local"})
	ctx := context.Background()
	dest := filepath.Join(benchRoot, "dest")
	os.RemoveAll(dest)
	if _, err := sh.Apply(ctx, dest, plan.Diff(local, nil), DirSource(src)); err != nil {
		b.Fatal(err)
	}
	var edited string
	for _, p := range local.Paths() {
		if local[p].Kind == plan.File {
			edited = p
		}
	}
	edit := plan.Plan{Writes: []plan.Item{{Path: edited, Entry: local[edited]}}}
	var sent int64
	for b.Loop() {
		stats, err := sh.Apply(ctx, dest, edit, DirSource(src))
		if err != nil {
			b.Fatal(err)
		}
		sent = stats.Bytes
	}
	b.ReportMetric(float64(sent), "wire-bytes")
	b.ReportMetric(float64(local[edited].Size), "file-bytes")
}

// benchListedFiles is the size of the tree whose hash cache and kept listing the parsing benchmarks
// read, as kindling started again on a container that holds a 10,000-file tree does.
const benchListedFiles = 10_000

// listedEntry is one record of listStatScript's output, with the stat key a cache keeps of it.
type listedEntry struct{ kind, path, stat, target, key string }

// generateListing returns the listing of a generated tree: nested directories, files, a few of them
// logs (which the benchmarks exclude) and a few symlinks, with GNU find's stat lines.
func generateListing(files int) []listedEntry {
	rng := rand.New(rand.NewChaCha8([32]byte{2}))
	entry := func(kind, path string, size int64, mode uint32, target string) listedEntry {
		inode := 1_000_000 + rng.Int64N(9_000_000)
		mtime, mtimeNs := 1_700_000_000+rng.Int64N(70_000_000), rng.Int64N(1e9)
		ctime, ctimeNs := 1_760_000_000+rng.Int64N(7_000_000), rng.Int64N(1e9)
		return listedEntry{
			kind: kind, path: path, target: target,
			// find's %T@ has ten fractional digits, the last always 0.
			stat: fmt.Sprintf("%d %o %d %d.%09d0 %d.%09d0", size, mode, inode, mtime, mtimeNs, ctime, ctimeNs),
			key:  fmt.Sprintf("%d %o %d %d%09d %d%09d", size, mode, inode, mtime, mtimeNs, ctime, ctimeNs),
		}
	}
	dirs := []string{"."}
	listing := []listedEntry{entry("d", ".", 4096, 0o755, "")}
	for i := range files / 20 {
		d := fmt.Sprintf("%s/dir%d", dirs[rng.IntN(len(dirs))], i)
		dirs = append(dirs, d)
		listing = append(listing, entry("d", d, 4096, 0o755, ""))
	}
	for i := range files {
		name, mode := fmt.Sprintf("file%d.txt", i), uint32(0o644)
		switch {
		case i%100 == 1:
			name = fmt.Sprintf("server%d.log", i)
		case i%50 == 0:
			mode = 0o755
		}
		listing = append(listing, entry("f", dirs[rng.IntN(len(dirs))]+"/"+name, rng.Int64N(100_000), mode, ""))
	}
	for i := range files / 200 {
		target := fmt.Sprintf("../file%d.txt", i)
		listing = append(listing, entry("l", fmt.Sprintf("%s/link%d", dirs[rng.IntN(len(dirs))], i), int64(len(target)), 0o777, target))
	}
	return listing
}

// excludingLogs is a Shell that leaves *.log out of its manifests, as kindling always excludes some paths.
func excludingLogs() *Shell {
	return NewShell(&RecordingExecer{}, Excluding(func(rel string, isDir bool) bool { return !isDir && strings.HasSuffix(rel, ".log") }))
}

// BenchmarkHashCacheLoad reads the hash cache of a 10,000-file tree: a Manifest's records, then those
// of an Apply that deleted a directory and wrote a few files.
func BenchmarkHashCacheLoad(b *testing.B) {
	var cache bytes.Buffer
	var dirs []string
	for i, l := range generateListing(benchListedFiles) {
		switch l.kind {
		case "d":
			dirs = append(dirs, strings.TrimPrefix(l.path, "./"))
		case "f":
			writeRecord(&cache, "w", strings.TrimPrefix(l.path, "./"), l.key, fmt.Sprintf("%064x", i))
		}
	}
	writeRecord(&cache, "d", dirs[len(dirs)-1], "", "")
	for i := range 20 {
		writeRecord(&cache, "w", fmt.Sprintf("%s/new%d.txt", dirs[i+1], i), "5 644 1 1 1", fmt.Sprintf("%064x", i))
	}
	c := &hashCache{path: filepath.Join(b.TempDir(), "cache")}
	if err := os.WriteFile(c.path, cache.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(cache.Len()))
	for b.Loop() {
		if known := c.load(); len(known) < benchListedFiles/2 {
			b.Fatalf("loaded %d files", len(known))
		}
	}
}

// BenchmarkReadListing parses the gzip'd listing of a 10,000-file tree, as a Manifest does with the
// listing it kept when the container finds the tree unchanged: into an empty map of stat keys, or into
// one sized for the files of the hash cache.
func BenchmarkReadListing(b *testing.B) {
	var raw bytes.Buffer
	listing := generateListing(benchListedFiles)
	raw.WriteString(manifestHeader + "\x00")
	for _, l := range listing {
		writeRecord(&raw, l.kind, l.path, l.stat, l.target)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, 1) // as gzip -1
	w.Write(raw.Bytes())
	w.Close()
	sh := excludingLogs()
	for _, sizedKeys := range []int{0, benchListedFiles} {
		b.Run(fmt.Sprintf("keys=%d", sizedKeys), func(b *testing.B) {
			b.SetBytes(int64(raw.Len()))
			for b.Loop() {
				tree, _, err := sh.readListing(bytes.NewReader(gz.Bytes()), true, make(map[string]string, sizedKeys), nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(tree) < benchListedFiles {
					b.Fatalf("tree of %d entries", len(tree))
				}
			}
		})
	}
}
