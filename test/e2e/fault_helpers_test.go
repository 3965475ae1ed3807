//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/ignore"

	"github.com/kindling-dev/kindling/internal/testenv"
)

// The fault-injection suite (fault_test.go) breaks the cluster or the containers on purpose while a kindling
// session runs, then measures how long kindling needs to bring every replica back to exactly the local tree.
// These are its helpers.

// faultServerPy serves the content of /app/msg.txt as it was when the app started: a change to it is
// served only after kindling synced it and restarted the app.
const faultServerPy = `from http.server import BaseHTTPRequestHandler, HTTPServer

MSG = open("/app/msg.txt", "rb").read()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(MSG)))
        self.end_headers()
        self.wfile.write(MSG)

    def log_message(self, *args):
        pass

HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
`

// faultApp is the Python Deployment of the --restart cases.
var faultApp = app{name: "fault", dest: "/app", port: 8080,
	files:   map[string]string{"server.py": faultServerPy, "msg.txt": "edit 0\n"},
	command: []string{"python3", "/app/server.py"}}

// faultSession deploys faultApp with replicas, starts `kindling sync --restart --debounce 100ms` on a copy
// of its source and waits until the wrapped pods serve the first version. It returns the namespace, the
// Deployment, the local source directory and the kindling process.
func faultSession(t *testing.T, replicas int) (ns, deploy, src string, p *syncProc) {
	t.Helper()
	return faultSessionPrepared(t, replicas, nil)
}

// faultSessionPrepared is faultSession with prepare (if not nil) run on the Deployment before kindling
// starts.
func faultSessionPrepared(t *testing.T, replicas int, prepare func(ns, deploy string)) (ns, deploy, src string, p *syncProc) {
	t.Helper()
	ns = Namespace(t)
	deploy = faultApp.deploy(t, ns, replicas)
	if prepare != nil {
		prepare(ns, deploy)
		WaitRollout(t, ns, deploy)
	}
	src = faultApp.source(t)
	p = startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/app", "--restart", "--debounce", "100ms")
	waitOutput(t, p, "watching")
	WaitRollout(t, ns, deploy) // to the wrapped pods
	waitServing(t, ns, deploy, replicas, "edit 0", DefaultTimeout)
	return ns, deploy, src, p
}

// setMsg writes the text the app serves after its next restart.
func setMsg(t *testing.T, src, msg string) {
	t.Helper()
	WriteLocalFile(t, src, "msg.txt", msg+"\n", 0o644)
}

// needHarness skips a case that stops cluster components: only the local cluster's harness can.
func needHarness(t *testing.T) {
	t.Helper()
	if os.Getenv("KINDLING_E2E_KUBECONFIG") != "" {
		testenv.Skip(t, "stops cluster components through hack/cluster/component: needs the local cluster, not KINDLING_E2E_KUBECONFIG")
	}
}

// component runs hack/cluster/component ACTION NAME [ARGS] and returns how long it took. A stopped
// component is started again when the test ends, whatever happened: the cluster outlives the test.
func component(t *testing.T, action, name string, args ...string) time.Duration {
	t.Helper()
	script := filepath.Join(RepoRoot(), "hack", "cluster", "component")
	if action == "stop" {
		t.Cleanup(func() {
			if out, err := exec.Command(script, "start", name).CombinedOutput(); err != nil {
				t.Errorf("starting %s again after the test: %v\n%s", name, err, out)
			}
		})
	}
	start := time.Now()
	out, err := exec.Command(script, append([]string{action, name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("hack/cluster/component %s %s: %v\n%s", action, name, err, out)
	}
	return time.Since(start)
}

// waitServing waits until the Deployment has exactly pods running pods and every one of them answers GET /
// with a body containing want; it returns the time that took.
func waitServing(t *testing.T, ns, deploy string, pods int, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	Eventually(t, timeout, 200*time.Millisecond, func() error {
		current := Pods(t, ns, deploy)
		if len(current) != pods {
			return fmt.Errorf("%d pods (%s), want %d", len(current), describePods(current), pods)
		}
		for _, p := range current {
			status, body, err := HTTPGetContext(t.Context(), ns, p.Name, 8080, "/")
			if err != nil || status != 200 || !strings.Contains(body, want) {
				return fmt.Errorf("pod %s: status %d body %q err %v, want %q", p.Name, status, body, err, want)
			}
		}
		return nil
	})
	return time.Since(start)
}

// treeDiffs lists the paths where the container's tree differs from the local one (both as ReadTree
// describes them), sorted.
func treeDiffs(want, got map[string]string) []string {
	var diffs []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q missing (want %s)", p, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%q is %s, want %s", p, g, w))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q extra (%s)", p, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// converge waits until exactly pods running pods of deploy hold, under dest, the local tree minus
// kindling's excludes (byte for byte, exec bits and symlink targets included). It returns how long that
// took and the number of divergent paths (summed over the pods) when the timeout passed; on a timeout it
// also fails the test, naming the first differences.
func converge(t *testing.T, ns, deploy, src, dest string, pods int, timeout time.Duration) (time.Duration, int) {
	t.Helper()
	return convergeExcept(t, ns, deploy, src, dest, pods, timeout, nil)
}

// isStage says whether a path of the container's tree lies in one of kindling's staging directories.
func isStage(rel string) bool { return strings.HasPrefix(rel, ".kindling-stage.") }

// convergeExcept is converge leaving out the container's paths for which skip (if not nil) is true.
func convergeExcept(t *testing.T, ns, deploy, src, dest string, pods int, timeout time.Duration, skip func(rel string) bool) (time.Duration, int) {
	t.Helper()
	m, err := ignore.New(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var last error
	divergent := -1
	ok := poll(t.Context(), timeout, 250*time.Millisecond, func() bool {
		want := LocalTree(t, src, m.Excluded)
		current := Pods(t, ns, deploy)
		if len(current) != pods {
			last = fmt.Errorf("%d pods (%s), want %d", len(current), describePods(current), pods)
			return false
		}
		total := 0
		var first []string
		for _, p := range current {
			got, err := ReadTreeContext(t.Context(), ns, p.Name, "app", dest)
			if err != nil {
				last = fmt.Errorf("pod %s: %v", p.Name, err)
				return false
			}
			for rel := range got {
				if m.Excluded(rel, got[rel] == "dir") || skip != nil && skip(rel) {
					delete(got, rel)
				}
			}
			d := treeDiffs(want, got)
			total += len(d)
			for _, x := range d {
				if len(first) < 8 {
					first = append(first, p.Name+": "+x)
				}
			}
		}
		divergent = total
		last = fmt.Errorf("%d divergent paths: %s", total, strings.Join(first, "; "))
		return total == 0
	})
	if !ok {
		t.Errorf("not converged within %v: %v", timeout, last)
		return time.Since(start), divergent
	}
	return time.Since(start), 0
}

// faultSummary collects each case's one line; TestFault prints them together at its end.
var faultSummary struct {
	sync.Mutex
	lines []string
}

// report prints a case's line: what was broken, how long kindling took to converge, divergent files.
func report(t *testing.T, broken string, converged time.Duration, divergent int, notes string) {
	t.Helper()
	line := fmt.Sprintf("%-26s broken: %s; converged in %s; divergent files: %d", t.Name(), broken,
		converged.Round(10*time.Millisecond), divergent)
	if notes != "" {
		line += "; " + notes
	}
	if t.Failed() {
		line += " [FAILED]"
	}
	t.Log(line)
	faultSummary.Lock()
	faultSummary.lines = append(faultSummary.lines, line)
	faultSummary.Unlock()
}

var clockPrefix = regexp.MustCompile(`^\d\d:\d\d:\d\d `)

// benign are kindling's lines that report a fault being handled rather than an error.
var benign = []string{
	"kindling: watching for changes",
	"answered again; catching it up",
	"went away during the sync; skipped",
	") is slow (no answer after", // "pod/x (app) is slow"
	" is slow (no answer after",
}

// errorLines returns the lines kindling printed in out that are neither a sync's summary line nor one of
// the benign reports above.
func errorLines(out string) []string {
	var errs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "    ") {
			continue // the app's own output quoted by a crash report: part of the report's line
		}
		line = strings.TrimSpace(line)
		if line == "" || clockPrefix.MatchString(line) {
			continue
		}
		ok := false
		for _, b := range benign {
			ok = ok || strings.Contains(line, b)
		}
		if !ok {
			errs = append(errs, line)
		}
	}
	return errs
}

var podsSynced = regexp.MustCompile(`→ (\d+)/(\d+) pods`)

// failureLines is errorLines plus the summary lines of syncs that reached fewer pods than they
// targeted ("→ 0/2 pods"): during an outage both say the same thing to the user, that syncs fail.
func failureLines(out string) []string {
	errs := errorLines(out)
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if m := podsSynced.FindStringSubmatch(line); m != nil && clockPrefix.MatchString(line) && m[1] != m[2] {
			errs = append(errs, line)
		}
	}
	return errs
}

// since returns what kindling printed after the first mark bytes of its output.
func since(p *syncProc, mark int) string {
	out := p.Output()
	if mark > len(out) {
		return ""
	}
	return out[mark:]
}

// procFinder is a script that prints "PID KIND" for each of kindling's processes in the container: KIND
// is "session" for the session's shell (and its subshells, which share its command line) and "apply" for
// an Apply's own exec and its tar. The patterns are assembled at run time so that the script, whose own
// command line holds its text, never finds itself.
const procFinder = `a=kindling- b=session c='tar -x' d=' -o -f -'
s="$a$b" x="$c$d"
for p in /proc/[0-9]*; do
	n=${p#/proc/}
	[ "$n" != $$ ] || continue
	cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
	case $cmd in
	*"$s"*) echo "$n session" ;;
	*"$x"*) echo "$n apply" ;;
	esac
done`

// kindlingProcs returns the PIDs of kindling's processes in a pod's container by kind (see procFinder).
func kindlingProcs(t *testing.T, ns, pod string) map[string][]int {
	t.Helper()
	procs := map[string][]int{}
	for _, line := range strings.Split(MustExec(t, ns, pod, "app", "sh", "-c", procFinder), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		procs[f[1]] = append(procs[f[1]], pid)
	}
	return procs
}

// signalProcs sends sig (a kill(1) name: STOP, CONT, KILL) to pids in a pod's container.
func signalProcs(t *testing.T, ns, pod, sig string, pids []int) {
	t.Helper()
	argv := []string{"kill", "-" + sig}
	for _, p := range pids {
		argv = append(argv, strconv.Itoa(p))
	}
	MustExec(t, ns, pod, "app", argv...)
}

// median of durations (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// bodyWatcherPy runs in a container (for up to 10 minutes) and GETs http://127.0.0.1:8080/ every 10 ms;
// each time the body changes it prints "BODY <unix time in seconds> <body>". The container shares the
// machine's clock with the test.
const bodyWatcherPy = `import time, urllib.request
print("READY", flush=True)
last, end = None, time.time() + 600
while time.time() < end:
    try:
        body = urllib.request.urlopen("http://127.0.0.1:8080/", timeout=1).read().decode().strip()
    except Exception:
        body = None
    if body is not None and body != last:
        print("BODY %.3f %s" % (time.time(), body), flush=True)
        last = body
    time.sleep(0.01)
`

// servedSince waits until the watcher (bodyWatcherPy) saw want served and returns the time from from to
// then; it fails the test after timeout.
func servedSince(t *testing.T, watcher *podScript, want string, from time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var at time.Time
	Eventually(t, timeout, 20*time.Millisecond, func() error {
		for _, line := range strings.Split(watcher.out.String(), "\n") {
			f := strings.SplitN(line, " ", 3)
			if len(f) == 3 && f[0] == "BODY" && f[2] == want {
				sec, err := strconv.ParseFloat(f[1], 64)
				if err != nil {
					return err
				}
				at = time.UnixMilli(int64(sec * 1000))
				return nil
			}
		}
		return fmt.Errorf("%q not served yet; the app served:\n%s", want, watcher.out.String())
	})
	return at.Sub(from)
}

func durs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(parts, " ")
}
