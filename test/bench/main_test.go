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
	sections := resultSections()
	for _, s := range sections {
		if s.table != "" {
			fmt.Print("\n" + s.heading + "\n\n" + s.table)
		}
	}
	if path := os.Getenv("KINDLING_BENCH_REPORT"); path != "" && measuredAny(sections) {
		if err := writeReport(path, sections, code); err != nil {
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

// allProfiles are the links in the report's order: straight to the API server, then the shaped ones.
func allProfiles() []string {
	names := []string{"loopback"}
	for _, p := range profiles {
		names = append(names, p.name)
	}
	return names
}

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

// A section is a table of the report: loopback's, or a shaped link's; table is "" when this run did not
// measure it.
type section struct {
	profile, heading, table string
}

func resultSections() []section {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var sections []section
	for _, name := range allProfiles() {
		s := section{profile: name, heading: "## Results"}
		if name == "loopback" {
			if len(results) > 0 {
				s.table = loopbackTable()
			}
		} else {
			p := profiles[slices.IndexFunc(profiles, func(p profile) bool { return p.name == name })]
			s.heading = fmt.Sprintf("## Results over `%s` (%s)", p.name, p)
			s.table = shapedTable(name)
		}
		sections = append(sections, s)
	}
	return sections
}

func measuredAny(sections []section) bool {
	return slices.ContainsFunc(sections, func(s section) bool { return s.table != "" })
}

func loopbackTable() string {
	rows := append([]result(nil), results...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].figure < rows[j].figure })
	var cells [][]string
	for _, r := range rows {
		cells = append(cells, []string{fmt.Sprint(r.figure), r.measure, r.kindling, r.baseline, r.target, r.met})
	}
	return markdownTable([]string{"#", "measure", "kindling", "baseline", "target", "met"}, cells)
}

func shapedTable(name string) string {
	var cells [][]string
	for _, r := range shapedResults {
		if r.profile == name {
			cells = append(cells, []string{r.measure, r.kindling, r.kindlingWire, r.baseline, r.baselineWire, r.floor, r.target, r.met})
		}
	}
	if len(cells) == 0 {
		return ""
	}
	return markdownTable([]string{"measure", "kindling", "kindling on the wire", "baseline", "baseline on the wire", "the link's floor", "target", "met"}, cells)
}

func markdownTable(header []string, rows [][]string) string {
	var b strings.Builder
	line := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	line(header)
	b.WriteString(strings.Repeat("|---", len(header)) + "|\n")
	for _, r := range rows {
		line(r)
	}
	return b.String()
}
