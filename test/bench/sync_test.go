//go:build e2e && bench

package bench

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/test/e2e"
)

const (
	treeFiles = 10_000
	treeSize  = 100 << 20
	trials    = 3
	edits     = 5
)

// TestTreeSync measures figures 2–4 on one pod: the initial sync of a 10,000-file / 100 MB tree, the
// re-sync of the unchanged tree, and one-line edits in watch mode, each beside the baseline.
func TestTreeSync(t *testing.T) {
	skipUnlessProfile(t, "loopback")
	tt := newTreeTarget(t, e2e.Kubeconfig(), treeFiles, treeSize)

	kindlingRuns, tarRuns := tt.initialSyncs(t, trials)
	initial, baseline := median(walls(kindlingRuns)), median(walls(tarRuns))
	record(t, result{figure: 2, measure: fmt.Sprintf("initial sync, %d files / %s, fresh directory (median of %d)", treeFiles, size(tt.total), trials),
		kindling: ms(initial), baseline: ms(baseline) + " (tar pipe)",
		target: "≤ 1.2× baseline", met: verdict(initial <= baseline*12/10)})

	dest := tt.kindlingDir(trials - 1)
	resyncRuns, resyncLine, resync := tt.resyncs(t, dest, trials)
	waitQuiet(t)
	again := tarPipe(t, tt.kubeconfig, tt.ns, tt.pod, tt.src, tt.tarDir(0)).wall()
	record(t, result{figure: 3, measure: fmt.Sprintf("re-sync of the unchanged tree: first / median of %d (sync line: first)", trials),
		kindling: fmt.Sprintf("%s / %s (%s)", ms(resyncRuns[0].wall()), ms(median(walls(resyncRuns))), ms(resyncLine[0])),
		baseline: ms(again) + " (tar pipe again)",
		target:   "≤ 0.5 s", met: verdict(resyncRuns[0].wall() <= 500*time.Millisecond)})
	record(t, result{figure: 3, measure: "re-sync of the unchanged tree: files and bytes sent",
		kindling: fmt.Sprintf("%d files, %s", resync.written, size(resync.bytes)), baseline: fmt.Sprintf("%d files, %s", tt.files, size(tt.total)),
		target: "no file content", met: verdict(resync.written == 0)})

	e := tt.lineEdits(t, dest, fileNear(t, tt.src, 8<<10), edits)
	record(t, result{figure: 4, measure: fmt.Sprintf("one-line edit of a %s file: bytes sent", size(e.fileSize)),
		kindling: size(e.sent), baseline: size(e.kubectlSent) + " (kubectl cp)",
		target: "≤ 2× file + 4 KB = " + size(2*e.fileSize+4<<10), met: verdict(e.sent <= 2*e.fileSize+4<<10)})
	record(t, result{figure: 4, measure: fmt.Sprintf("one-line edit: save → in the container (median of %d; debounce 500 ms)", edits),
		kindling: ms(median(e.kindling.served)), baseline: ms(median(e.kubectl.served)) + " (kubectl cp)"})
}

// A treeTarget is a generated tree and the pod of a fresh idle Deployment it is synced into, kindling
// and kubectl reaching the cluster through kubeconfig.
type treeTarget struct {
	ns, deploy, pod, kubeconfig string
	src                         string
	files                       int
	total                       int64
	extra                       []string // more arguments of every kindling sync
}

func newTreeTarget(t *testing.T, kubeconfig string, files int, total int64) treeTarget {
	t.Helper()
	ns := e2e.Namespace(t)
	deploy := idle("tree").deploy(t, ns)
	src := filepath.Join(t.TempDir(), "src")
	generateTree(t, src, files, total)
	tt := treeTarget{ns: ns, deploy: deploy, pod: e2e.Pod(t, ns, deploy), kubeconfig: kubeconfig, src: src}
	tt.files, tt.total = countTree(t, src)
	return tt
}

func (tt treeTarget) syncArgs(dest string) []string {
	return append([]string{"sync", "-d", tt.deploy, "-n", tt.ns, "--src", tt.src, "--dest", dest, "--kubeconfig", tt.kubeconfig}, tt.extra...)
}

// kindlingDir and tarDir are the directories of the pod that the i-th initial sync of each fills.
func (tt treeTarget) kindlingDir(i int) string { return fmt.Sprintf("/data/kindling%d", i) }
func (tt treeTarget) tarDir(i int) string      { return fmt.Sprintf("/data/tar%d", i) }

// initialSyncs measures figure 2: n initial syncs with kindling --once, each into a fresh directory, and n
// with the tar pipe, alternating so that neither always runs on a warmer machine. It checks the last
// kindling copy against the tree and keeps only the last kindling copy and the first tar copy.
func (tt treeTarget) initialSyncs(t *testing.T, n int) (kindling, tarPipes []window) {
	t.Helper()
	var last syncReport
	for i := range n {
		waitQuiet(t)
		tarPipes = append(tarPipes, tarPipe(t, tt.kubeconfig, tt.ns, tt.pod, tt.src, tt.tarDir(i)))
		waitQuiet(t)
		run, r := runOnce(t, tt.syncArgs(tt.kindlingDir(i))...)
		kindling, last = append(kindling, run), r
	}
	if last.written < tt.files {
		t.Fatalf("kindling's initial sync wrote %d entries, want at least %d", last.written, tt.files)
	}
	dest := tt.kindlingDir(n - 1)
	if d := e2e.DiffTrees(e2e.LocalTree(t, tt.src, nil), e2e.ReadTree(t, tt.ns, tt.pod, "app", dest)); d != "" {
		t.Fatalf("after the initial sync, %s differs from the local tree: %s", dest, d)
	}
	for i := range n - 1 {
		e2e.MustExec(t, tt.ns, tt.pod, "app", "rm", "-rf", tt.kindlingDir(i), tt.tarDir(i+1))
	}
	return kindling, tarPipes
}

// resyncs measures figure 3: kindling --once n times into dest, which holds the tree. The classic tool
// does not know what the pod has, so it sends everything again. The first re-sync is the one that counts
// (kindling started again after the initial sync); later ones show what stays when nothing is left to
// learn. It returns the runs, the times on their sync lines and the last sync line.
func (tt treeTarget) resyncs(t *testing.T, dest string, n int) (runs []window, lines []time.Duration, last syncReport) {
	t.Helper()
	for range n {
		waitQuiet(t)
		run, r := runOnce(t, tt.syncArgs(dest)...)
		runs, lines, last = append(runs, run), append(lines, r.elapsed), r
	}
	return runs, lines, last
}

// lineEditRuns are one-line edits of a file: kindling's (watching) and the baseline's (kubectl cp).
type lineEditRuns struct {
	fileSize, sent, kubectlSent int64 // the file's size after the edits, the most kindling sent for one, kubectl cp's tar stream
	lineSize                    int64 // the bytes an edit adds
	kindling, kubectl           editSeries
}

// lineEdits measures figure 4: n edits appending a line to file (relative to the tree) while kindling,
// started with extra arguments, watches and syncs the tree into dest, then n edits of a copy of it with
// kubectl cp into the first tar pipe's copy. Each is timed from the write to the new line being readable
// in the container.
func (tt treeTarget) lineEdits(t *testing.T, dest, file string, n int, extra ...string) lineEditRuns {
	var e lineEditRuns
	k := startKindling(t, append(tt.syncArgs(dest), extra...)...)
	k.waitLine(t, 0, startedWatching, 10*time.Minute)
	p := startPoller(t, tt.ns, tt.pod, "file", path.Join(dest, file))
	for i := range n {
		line := fmt.Sprintf("edit %d at %d", i, time.Now().UnixNano())
		from := k.count()
		start := appendLine(t, filepath.Join(tt.src, file), line)
		landed := p.waitFor(t, line, 5*time.Minute).at
		synced := k.waitLine(t, from, syncLine, 5*time.Minute)
		e.kindling.add(start, landed, synced.at)
		e.sent = max(e.sent, parseSyncLine(t, synced.text).bytes)
		e.lineSize = int64(len(line) + 1)
	}
	e.fileSize = fileLen(t, filepath.Join(tt.src, file))
	k.stop(t)

	// The baseline edits its own copy, so that kindling's watch never sees it.
	local := filepath.Join(t.TempDir(), filepath.Base(file))
	b, err := os.ReadFile(filepath.Join(tt.src, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, b, 0o644); err != nil {
		t.Fatal(err)
	}
	remote := path.Join(tt.tarDir(0), file)
	base := startPoller(t, tt.ns, tt.pod, "file", remote)
	for i := range n {
		line := fmt.Sprintf("baseline edit %d at %d", i, time.Now().UnixNano())
		start := appendLine(t, local, line)
		kubectl(t, tt.kubeconfig, nil, "cp", local, tt.ns+"/"+tt.pod+":"+remote, "-c", "app")
		done := time.Now()
		e.kubectl.add(start, base.waitFor(t, line, 5*time.Minute).at, done)
		e.kubectlSent = max(e.kubectlSent, tarSize(t, local))
	}
	return e
}

// fileNear returns the path (relative to root) of the generated text file whose size is closest to want.
func fileNear(t *testing.T, root string, want int64) string {
	t.Helper()
	best, bestDiff := "", int64(-1)
	regularFiles(t, root, func(p string, info os.FileInfo) {
		if !isText(p) {
			return
		}
		d := info.Size() - want
		if d < 0 {
			d = -d
		}
		if bestDiff < 0 || d < bestDiff {
			best, bestDiff = p, d
		}
	})
	if best == "" {
		t.Fatalf("no file in %s", root)
	}
	rel, _ := filepath.Rel(root, best)
	return filepath.ToSlash(rel)
}

// appendLine appends line to the file, as an editor saving a one-line change, and returns when it
// started writing.
func appendLine(t *testing.T, file, line string) time.Time {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, line+"\n"...)
	start := time.Now()
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return start
}

func fileLen(t *testing.T, file string) int64 {
	t.Helper()
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// tarSize is the size of the tar stream kubectl cp sends for one file: one header, the content padded
// to 512-byte blocks, two zero blocks.
func tarSize(t *testing.T, file string) int64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(file, "/"), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(b)
	tw.Close()
	return int64(buf.Len())
}
