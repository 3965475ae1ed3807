//go:build e2e && bench

package bench

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/test/e2e"
)

const (
	bigTreeFiles = 100_000
	bigTreeSize  = 100 << 20
	settle       = 10 * time.Second
	idleWindow   = 10 * time.Second
)

// TestWatcherCost measures figure 5: kindling watching a 100,000-file tree. The time to start watching
// is measured into a fresh directory and again into one that holds the tree (kindling restarted); memory
// and CPU of the second, once it watches and nothing changes.
func TestWatcherCost(t *testing.T) {
	skipUnlessProfile(t, "loopback")
	ns := e2e.Namespace(t)
	deploy := idle("big").deploy(t, ns)
	pod := e2e.Pod(t, ns, deploy)
	src := filepath.Join(t.TempDir(), "src")
	generateTree(t, src, bigTreeFiles, bigTreeSize)
	args := []string{"sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/data/big"}

	baseline := tarPipe(t, e2e.Kubeconfig(), ns, pod, src, "/data/tar").wall()
	fresh := startKindling(t, args...)
	freshStart := fresh.waitLine(t, 0, startedWatching, 30*time.Minute).at.Sub(fresh.start)
	fresh.stop(t)

	k := startKindling(t, args...)
	warmStart := k.waitLine(t, 0, startedWatching, 30*time.Minute).at.Sub(k.start)
	pid := k.cmd.Process.Pid
	// The first seconds after the initial sync are not idle yet: the Go runtime finishes collecting the
	// garbage of the sync in the background.
	time.Sleep(settle)
	cpuBefore, idleFrom := cpuTime(t, pid), time.Now()
	time.Sleep(idleWindow) // the measurement itself: CPU used while nothing happens
	idleCPU := float64(cpuTime(t, pid)-cpuBefore) / float64(time.Since(idleFrom)) * 100
	rss, peak := procStatus(t, pid, "VmRSS"), procStatus(t, pid, "VmHWM")
	k.stop(t)

	_, total := countTree(t, src)
	files := fmt.Sprintf("%d files / %s", bigTreeFiles, size(total))
	record(t, result{figure: 5, measure: "start to watching, " + files + ", fresh directory (initial upload included)",
		kindling: ms(freshStart), baseline: ms(baseline) + " (tar pipe, no watching)"})
	record(t, result{figure: 5, measure: "start to watching, the pod already holds the tree",
		kindling: ms(warmStart), baseline: "—"})
	record(t, result{figure: 5, measure: "RSS while watching (peak during the start-up: manifest and initial sync)",
		kindling: fmt.Sprintf("%s (%s)", size(rss), size(peak)), baseline: "—",
		target: "≤ 100 MB", met: verdict(rss <= 100<<20)})
	record(t, result{figure: 5, measure: fmt.Sprintf("idle CPU over %v", idleWindow),
		kindling: fmt.Sprintf("%.2f %% (from %v after the initial sync)", idleCPU, settle), baseline: "—",
		target: "~0 % (≤ 0.5 %)", met: verdict(idleCPU <= 0.5)})

	message, clear := watchLimit(t, args)
	record(t, result{figure: 5, measure: fmt.Sprintf("inotify watch limit reached (limit set to %d)", watchLimitForTest),
		kindling: "`" + shorten(message, 90) + "`", baseline: "—", target: "a clear message, not a crash", met: verdict(clear)})
}

// watchLimitForTest is far below the tree's 5,000 directories.
const watchLimitForTest = 1000

// watchLimit runs kindling with a low inotify watch limit: in a user namespace of its own, whose limit
// (/proc/sys/user/max_inotify_watches) it may lower without touching the machine's. It returns kindling's
// last line and whether kindling ended with one clear line naming the limit.
func watchLimit(t *testing.T, args []string) (string, bool) {
	t.Helper()
	kindling := e2e.KindlingCmd(t, args...)
	script := fmt.Sprintf(`echo %d >/proc/sys/user/max_inotify_watches && exec "$@"`, watchLimitForTest)
	cmd := exec.CommandContext(t.Context(), "unshare", append([]string{"--user", "--map-root-user", "sh", "-c", script, "sh", kindling.Path}, args...)...)
	cmd.Env = kindling.Env
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	last := text[strings.LastIndexByte(text, '\n')+1:]
	t.Logf("kindling with %d inotify watches: %v\n%s", watchLimitForTest, err, text)
	crashed := strings.Contains(text, "panic") || strings.Contains(text, "goroutine ")
	return last, err != nil && !crashed && strings.HasPrefix(last, "kindling: ") && strings.Contains(last, "limit")
}
