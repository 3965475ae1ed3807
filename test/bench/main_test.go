//go:build e2e && bench

// Package bench measures kindling's inner loop on a real cluster, each figure beside the classic approach
// (`kubectl cp` of the changed files plus `kubectl exec … kill`, or a raw `tar c | kubectl exec tar x`
// pipe), and prints one table. It is a benchmark report, not a test suite: a missed target is printed as
// such, it does not fail the run. Run it with
//
//	make bench
//	go test -tags 'e2e bench' -count=1 -v -timeout 90m ./test/bench/   # the same, without writing the report
//
// It uses the e2e fixture (package test/e2e) for the cluster, namespaces, deployments and exec, so the
// cluster is chosen the same way: KINDLING_E2E_KUBECONFIG, else the local one from hack/cluster/up.
// KINDLING_BENCH_REPORT names a Markdown file to write the table, the machine and the command to
// (make bench writes docs/benchmarks.md). -run picks figures: TestSaveToServing (1), TestTreeSync (2–4),
// TestWatcherCost (5), TestShapedLinks (the same kinds of figures over shaped links, link_test.go).
// KINDLING_BENCH_PROFILES (make bench PROFILES=…) picks the links: loopback (figures 1–5, straight to the
// API server) and the shaped ones (lan, cloud, far); all of them when it is unset.
package bench

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/kindling-dev/kindling/test/e2e"
)

func TestMain(m *testing.M) {
	code := e2e.Run(m)
	table := renderTable()
	fmt.Print("\n" + table)
	if path := os.Getenv("KINDLING_BENCH_REPORT"); path != "" && len(results) > 0 {
		if err := writeReport(path, table, code); err != nil {
			fmt.Fprintf(os.Stderr, "bench: write %s: %v\n", path, err)
			code = 1
		} else {
			fmt.Printf("bench: wrote %s\n", path)
		}
	}
	os.Exit(code)
}

// profilesEnv names the links to measure on, separated by spaces; all of them when it is unset.
const profilesEnv = "KINDLING_BENCH_PROFILES"

func profileWanted(name string) bool {
	v := os.Getenv(profilesEnv)
	return v == "" || slices.Contains(strings.Fields(v), name)
}

func skipUnlessProfile(t *testing.T, name string) {
	t.Helper()
	if !profileWanted(name) {
		t.Skipf("%s is not in %s=%q", name, profilesEnv, os.Getenv(profilesEnv))
	}
}

// A result is one row of the loopback table.
type result struct {
	figure   int
	measure  string
	kindling string
	baseline string
	target   string
	// met is "yes" or "NO" for a row with a target, "" otherwise.
	met string
}

// A shapedResult is one row of a shaped link's table: each figure with the traffic it took on the link
// and the link's own floor for it.
type shapedResult struct {
	profile                string
	measure                string
	kindling, kindlingWire string
	baseline, baselineWire string
	floor                  string
	target, met            string
}

var (
	resultsMu     sync.Mutex
	results       []result
	shapedResults []shapedResult
	// linkCheck is what TestLinkShaping measured, for the report.
	linkCheck string
)

// record adds a row to the table (and logs it, so that a run cut short still shows what it measured).
func record(t *testing.T, r result) {
	t.Helper()
	t.Logf("figure %d: %s: kindling %s, baseline %s, target %s %s", r.figure, r.measure, r.kindling, r.baseline, r.target, r.met)
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

func recordShaped(t *testing.T, r shapedResult) {
	t.Helper()
	t.Logf("%s: %s: kindling %s [%s], baseline %s [%s], floor %s, target %s %s", r.profile, r.measure, r.kindling, r.kindlingWire, r.baseline, r.baselineWire, r.floor, r.target, r.met)
	resultsMu.Lock()
	defer resultsMu.Unlock()
	shapedResults = append(shapedResults, r)
}

func recordLinkCheck(s string) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	linkCheck = s
}

// verdict turns a target check into the table's "met" column.
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func renderTable() string {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	rows := append([]result(nil), results...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].figure < rows[j].figure })
	var b strings.Builder
	b.WriteString("| # | measure | kindling | baseline | target | met |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", r.figure, r.measure, r.kindling, r.baseline, r.target, r.met)
	}
	return b.String()
}
