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
	ns := e2e.Namespace(t)
	deploy := idle("tree").deploy(t, ns)
	pod := e2e.Pod(t, ns, deploy)
	src := filepath.Join(t.TempDir(), "src")
	generateTree(t, src, treeFiles, treeSize)
	total := totalSize(t, src)
	syncArgs := func(dest string) []string {
		return []string{"sync", "-d", deploy, "-n", ns, "--src", src, "--dest", dest}
	}

	// Figure 2: alternate the two so that neither always runs on a warmer machine.
	var kindlingWall, tarWall []time.Duration
	var last syncReport
	for i := range trials {
		waitQuiet(t)
		tarWall = append(tarWall, tarPipe(t, ns, pod, src, fmt.Sprintf("/data/tar%d", i)))
		waitQuiet(t)
		wall, r := runOnce(t, syncArgs(fmt.Sprintf("/data/kindling%d", i))...)
		kindlingWall, last = append(kindlingWall, wall), r
	}
	if last.written < treeFiles {
		t.Fatalf("kindling's initial sync wrote %d entries, want at least %d", last.written, treeFiles)
	}
	dest := fmt.Sprintf("/data/kindling%d", trials-1)
	if d := e2e.DiffTrees(e2e.LocalTree(t, src, nil), e2e.ReadTree(t, ns, pod, "app", dest)); d != "" {
		t.Fatalf("after the initial sync, %s differs from the local tree: %s", dest, d)
	}
	initial, baseline := median(kindlingWall), median(tarWall)
	record(t, result{figure: 2, measure: fmt.Sprintf("initial sync, %d files / %s, fresh directory (median of %d)", treeFiles, size(total), trials),
		kindling: ms(initial), baseline: ms(baseline) + " (tar pipe)",
		target: "≤ 1.2× baseline", met: verdict(initial <= baseline*12/10)})
	for i := range trials - 1 {
		e2e.MustExec(t, ns, pod, "app", "rm", "-rf", fmt.Sprintf("/data/kindling%d", i), fmt.Sprintf("/data/tar%d", i+1))
	}

	// Figure 3: the classic tool does not know what the pod has, so it sends everything again. The first
	// re-sync is the one that counts (kindling started again after the initial sync); later ones show
	// what stays when nothing is left to learn.
	var resyncWall, resyncLine []time.Duration
	var resync syncReport
	for range trials {
		waitQuiet(t)
		wall, r := runOnce(t, syncArgs(dest)...)
		resyncWall, resyncLine, resync = append(resyncWall, wall), append(resyncLine, r.elapsed), r
	}
	waitQuiet(t)
	again := tarPipe(t, ns, pod, src, "/data/tar0")
	record(t, result{figure: 3, measure: fmt.Sprintf("re-sync of the unchanged tree: first / median of %d (sync line: first)", trials),
		kindling: fmt.Sprintf("%s / %s (%s)", ms(resyncWall[0]), ms(median(resyncWall)), ms(resyncLine[0])),
		baseline: ms(again) + " (tar pipe again)",
		target:   "≤ 0.5 s", met: verdict(resyncWall[0] <= 500*time.Millisecond)})
	record(t, result{figure: 3, measure: "re-sync of the unchanged tree: files and bytes sent",
		kindling: fmt.Sprintf("%d files, %s", resync.written, size(resync.bytes)), baseline: fmt.Sprintf("%d files, %s", treeFiles, size(total)),
		target: "no file content", met: verdict(resync.written == 0)})

	oneLineEdit(t, ns, pod, src, dest, syncArgs(dest))
}

// oneLineEdit measures figure 4: appending a line to a file of the synced tree while kindling watches,
// against kubectl cp of the same edit into the baseline's copy of the tree.
func oneLineEdit(t *testing.T, ns, pod, src, dest string, args []string) {
	file := fileNear(t, src, 8<<10)
	k := startKindling(t, args...)
	k.waitLine(t, 0, startedWatching, 5*time.Minute)
	p := startPoller(t, ns, pod, "file", path.Join(dest, file))

	var land, kubectlLand []time.Duration
	var sent, kubectlSent int64
	var fileSize int64
	for i := range edits {
		line := fmt.Sprintf("edit %d at %d", i, time.Now().UnixNano())
		from := k.count()
		start := appendLine(t, filepath.Join(src, file), line)
		land = append(land, p.waitFor(t, line, time.Minute).at.Sub(start))
		r := parseSyncLine(t, k.waitLine(t, from, syncLine, time.Minute).text)
		sent = max(sent, r.bytes)
		fileSize = fileLen(t, filepath.Join(src, file))
	}
	k.stop(t)

	// The baseline edits its own copy, so that kindling's watch never sees it.
	copyDir := t.TempDir()
	local := filepath.Join(copyDir, filepath.Base(file))
	b, err := os.ReadFile(filepath.Join(src, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, b, 0o644); err != nil {
		t.Fatal(err)
	}
	remote := path.Join("/data/tar0", file)
	base := startPoller(t, ns, pod, "file", remote)
	for i := range edits {
		line := fmt.Sprintf("baseline edit %d at %d", i, time.Now().UnixNano())
		start := appendLine(t, local, line)
		kubectl(t, nil, "cp", local, ns+"/"+pod+":"+remote, "-c", "app")
		kubectlLand = append(kubectlLand, base.waitFor(t, line, time.Minute).at.Sub(start))
		kubectlSent = max(kubectlSent, tarSize(t, local))
	}

	record(t, result{figure: 4, measure: fmt.Sprintf("one-line edit of a %s file: bytes sent", size(fileSize)),
		kindling: size(sent), baseline: size(kubectlSent) + " (kubectl cp)",
		target: "≤ 2× file + 4 KB = " + size(2*fileSize+4<<10), met: verdict(sent <= 2*fileSize+4<<10)})
	record(t, result{figure: 4, measure: fmt.Sprintf("one-line edit: save → in the container (median of %d; debounce 500 ms)", edits),
		kindling: ms(median(land)), baseline: ms(median(kubectlLand)) + " (kubectl cp)"})
}

// fileNear returns the path (relative to root) of the regular file whose size is closest to want.
func fileNear(t *testing.T, root string, want int64) string {
	t.Helper()
	best, bestDiff := "", int64(-1)
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		d := info.Size() - want
		if d < 0 {
			d = -d
		}
		if bestDiff < 0 || d < bestDiff {
			best, bestDiff = p, d
		}
		return nil
	})
	if err != nil || best == "" {
		t.Fatalf("no file in %s: %v", root, err)
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
