package transport

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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
		if _, err := sh.stream(ctx, dest, argv, nil, streamSize(direct, tarEntrySize), func(w io.Writer) error { return writeTar(w, "", direct, DirSource(src), nil) }); err != nil {
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
