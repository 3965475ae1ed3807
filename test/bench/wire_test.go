//go:build e2e && bench

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/test/e2e"
)

// The figures over shaped links (link_test.go). This file is named to sort after the loopback figures':
// go test runs the files in name order, and the shaped links come after loopback.

// A shapedPlan is what one link measures: the generated tree and the run counts, fewer over slower links
// so that lan, cloud and far together take about half an hour.
type shapedPlan struct {
	files  int
	size   int64
	trials int // initial syncs and re-syncs, each
	edits  int // one-line edits of the 10 MB file, kindling's and kubectl cp's each
}

var shapedPlans = map[string]shapedPlan{
	"lan":   {files: treeFiles, size: treeSize, trials: 3, edits: 5},
	"cloud": {files: treeFiles, size: treeSize, trials: 1, edits: 3},
	// 100 MB would take 2m40s each way at 5 Mbit/s: a fifth of the tree.
	"far": {files: treeFiles / 5, size: treeSize / 5, trials: 1, edits: 3},
}

// shapedCompress is the arguments kindling runs with over every shaped link, named in each row: the links
// stand for a cluster that is not on this machine, where --compress auto would choose on, but through the
// benchmark's proxy on loopback auto cannot tell.
var shapedCompress = []string{"--compress", "on"}

const (
	// shapedDebounce is kindling's --debounce in watch mode over the shaped links.
	shapedDebounce = 100 * time.Millisecond
	bigTextSize    = 10 << 20
	changedFiles   = 50
)

// TestShapedLinks measures, over each shaped link, save to serving (python and node), the initial sync and the
// re-sync of a generated tree, a one-line edit of a 10 MB text file and a 50-file change, beside the
// baselines through the same link, with the traffic each took and the link's floor.
func TestShapedLinks(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			skipUnlessProfile(t, p.name)
			l := startLink(t, p)
			// Subtests: a failure of one (the cluster restarting under it) leaves the other's rows.
			for _, a := range latencyApps[:2] { // python, node
				t.Run("save-to-serving/"+a.name, func(t *testing.T) { shapedSaveToServing(t, l, a) })
			}
			t.Run("tree", func(t *testing.T) { shapedTree(t, l, shapedPlans[p.name]) })
		})
	}
}

// target sets the row's target, on cloud only: the targets are for that link.
func (l *link) target(r *shapedResult, text string, ok bool) {
	if l.name == "cloud" {
		r.target, r.met = text, verdict(ok)
	}
}

// medianTraffic is the median traffic of the runs.
func (l *link) medianTraffic(runs []window) wire {
	ws := make([]wire, len(runs))
	for i, r := range runs {
		ws[i] = l.traffic(r.from, r.to)
	}
	return medianWire(ws)
}

func shapedSaveToServing(t *testing.T, l *link, a latencyApp) {
	restart, baseline := a.measureBaseline(t, l.kubeconfig)
	paced, _ := a.measureKindling(t, shapedDebounce, l.kubeconfig, shapedCompress...)
	r := shapedResult{profile: l.name,
		measure:      fmt.Sprintf("save → serving, %s, --debounce %v %s: p50 / p95 of %d saves", a.name, shapedDebounce, strings.Join(shapedCompress, " "), saves),
		kindling:     paced.String(),
		kindlingWire: l.medianTraffic(paced.windows).String() + " per save",
		baseline:     fmt.Sprintf("%s / %s (kubectl cp + exec kill)", ms(percentile(baseline.served, 50)), ms(percentile(baseline.served, 95))),
		baselineWire: l.medianTraffic(baseline.windows).String() + " per save",
		floor: floor{p: l.profile, roundTrips: 0.5, bytes: int64(len(a.source(marker(saves)))),
			extra: shapedDebounce + restart, extraText: fmt.Sprintf("debounce %s + restart %s", ms(shapedDebounce), ms(restart))}.String(),
	}
	limit := shapedDebounce + restart + 2*l.rtt
	l.target(&r, "p50 ≤ debounce + restart + 2 RTT = "+ms(limit), percentile(paced.served, 50) <= limit)
	recordShaped(t, r)
}

func shapedTree(t *testing.T, l *link, plan shapedPlan) {
	tt := newTreeTarget(t, l.kubeconfig, plan.files, plan.size)
	tt.extra = shapedCompress
	flags := strings.Join(shapedCompress, " ")
	changing := spreadFiles(t, tt.src, changedFiles) // picked before the 10 MB file joins the tree
	runs := fmt.Sprintf("median of %d", plan.trials)
	if plan.trials == 1 {
		runs = "1 run"
	}

	kindlingRuns, tarRuns := tt.initialSyncs(t, plan.trials)
	initial, tarWall := median(walls(kindlingRuns)), median(walls(tarRuns))
	r := shapedResult{profile: l.name,
		measure:  fmt.Sprintf("initial sync, %d files / %s of generated source, fresh directory, %s (%s)", tt.files, size(tt.total), flags, runs),
		kindling: ms(initial), kindlingWire: l.medianTraffic(kindlingRuns).String(),
		baseline: ms(tarWall) + " (tar pipe)", baselineWire: l.medianTraffic(tarRuns).String(),
		floor: floor{p: l.profile, roundTrips: 5, bytes: gzippedSize(t, tt.src), bytesText: fmt.Sprintf("the tree's tar, gzip'd at level %d", transport.GzipLevel)}.String(),
	}
	l.target(&r, "≥ 3× faster than the tar pipe: ≤ "+ms(tarWall/3), initial <= tarWall/3)
	recordShaped(t, r)

	// The first re-sync is the one that counts (kindling started again after the initial sync), beside the
	// same re-sync straight to the API server.
	dest := tt.kindlingDir(plan.trials - 1)
	resyncRuns, _, resync := tt.resyncs(t, dest, plan.trials)
	direct := tt
	direct.kubeconfig = e2e.Kubeconfig()
	loopbackRuns, _, _ := direct.resyncs(t, dest, 1)
	first, loopback := resyncRuns[0].wall(), loopbackRuns[0].wall()
	r = shapedResult{profile: l.name,
		measure:  "re-sync of the unchanged tree, " + flags + ": the first run (files and bytes kindling sent)",
		kindling: fmt.Sprintf("%s (%d files, %s)", ms(first), resync.written, size(resync.bytes)), kindlingWire: l.medianTraffic(resyncRuns[:1]).String(),
		baseline: "the tar pipe sends the tree again (initial sync)", baselineWire: "—",
		floor: floor{p: l.profile, roundTrips: 5}.String(),
	}
	limit := loopback + 5*l.rtt
	l.target(&r, fmt.Sprintf("≤ loopback (%s) + 5 RTT = %s, no file content", ms(loopback), ms(limit)), first <= limit && resync.written == 0)
	recordShaped(t, r)

	big := "big.txt"
	writeText(t, filepath.Join(tt.src, big), bigTextSize)
	e := tt.lineEdits(t, dest, big, plan.edits, "--debounce", shapedDebounce.String())
	kw := l.medianTraffic(e.kindling.windows)
	r = shapedResult{profile: l.name,
		measure:      fmt.Sprintf("one-line edit of a %s text file: save → in the container, median of %d (--debounce %v %s)", size(e.fileSize), plan.edits, shapedDebounce, flags),
		kindling:     fmt.Sprintf("%s (kindling says %s sent)", ms(median(e.kindling.served)), size(e.sent)),
		kindlingWire: kw.String(),
		baseline:     ms(median(e.kubectl.served)) + " (kubectl cp)",
		baselineWire: l.medianTraffic(e.kubectl.windows).String(),
		floor:        floor{p: l.profile, roundTrips: 0.5, bytes: e.lineSize, extra: shapedDebounce, extraText: "debounce " + ms(shapedDebounce)}.String(),
	}
	l.target(&r, "≤ 64 KB on the wire (↑ + ↓)", kw.up+kw.down <= 64<<10)
	recordShaped(t, r)

	shapedManyFiles(t, l, tt, dest, changing)
}

// shapedManyFiles measures a change of the files (50) (new generated content of the same kinds and sizes),
// kindling watching: from the first write to kindling's sync line, and the time on that line (its sync,
// after the debounce).
func shapedManyFiles(t *testing.T, l *link, tt treeTarget, dest string, files []string) {
	k := startKindling(t, append(tt.syncArgs(dest), "--debounce", shapedDebounce.String())...) // tt.extra: shapedCompress
	k.waitLine(t, 0, startedWatching, 10*time.Minute)
	g := newSourceGen(50)
	from := k.count()
	start := time.Now()
	var changed int64
	for _, f := range files {
		changed += g.rewrite(t, f)
	}
	line := k.waitLine(t, from, syncLine, 5*time.Minute)
	synced := parseSyncLine(t, line.text)
	k.stop(t)
	if synced.written < len(files) {
		t.Errorf("kindling's first sync after the change wrote %d files, not %d: the figure is for those", synced.written, len(files))
	}
	run := window{start, line.at}
	// The baseline: the same files through the tar pipe, into its copy of the tree.
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i], _ = filepath.Rel(tt.src, f)
	}
	waitQuiet(t)
	pipe := tarPipe(t, tt.kubeconfig, tt.ns, tt.pod, tt.src, tt.tarDir(0), rel...)
	r := shapedResult{profile: l.name,
		measure:  fmt.Sprintf("a %d-file change (%s, new content): save → kindling's sync line (the time on that line), --debounce %v %s", len(files), size(changed), shapedDebounce, strings.Join(tt.extra, " ")),
		kindling: fmt.Sprintf("%s (%s)", ms(run.wall()), ms(synced.elapsed)), kindlingWire: l.traffic(run.from, run.to).String(),
		baseline: fmt.Sprintf("%s (tar pipe of the %d files)", ms(pipe.wall()), len(files)), baselineWire: l.traffic(pipe.from, pipe.to).String(),
		floor: floor{p: l.profile, roundTrips: 1, bytes: changed, extra: shapedDebounce, extraText: "debounce " + ms(shapedDebounce)}.String(),
	}
	limit := 2*l.rtt + l.transferTime(changed)
	l.target(&r, "sync ≤ 2 RTT + transfer time = "+ms(limit), synced.elapsed <= limit)
	recordShaped(t, r)
}

// writeText writes a text file of n bytes: generated source (sourceGen), which compresses as code does
// (numbered lines of one sentence would shrink 30× through --compress on).
func writeText(t *testing.T, file string, n int) {
	t.Helper()
	if err := os.WriteFile(file, newSourceGen(10).content(nil, kindGo, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spreadFiles returns n non-empty regular files under root, spread evenly over the lexical list of them.
func spreadFiles(t *testing.T, root string, n int) []string {
	t.Helper()
	var all []string
	regularFiles(t, root, func(p string, info os.FileInfo) {
		if info.Size() > 0 {
			all = append(all, p)
		}
	})
	if len(all) < n {
		t.Fatalf("%d files in %s, want %d", len(all), root, n)
	}
	files := make([]string, n)
	for i := range files {
		files[i] = all[i*len(all)/n]
	}
	return files
}
