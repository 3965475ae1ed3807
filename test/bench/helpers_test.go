//go:build e2e && bench

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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

	"github.com/kindling-dev/kindling/test/e2e"
)

// ---------------------------------------------------------------------------------------------------------
// Trees

// regularFiles calls fn for each regular file under root, in lexical order.
func regularFiles(t testing.TB, root string, fn func(path string, info os.FileInfo)) {
	t.Helper()
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			fn(p, info)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countTree is the number and the total size of the regular files under root.
func countTree(t testing.TB, root string) (files int, bytes int64) {
	t.Helper()
	regularFiles(t, root, func(_ string, info os.FileInfo) {
		files++
		bytes += info.Size()
	})
	return files, bytes
}

// ---------------------------------------------------------------------------------------------------------
// Workloads

// workload is a Deployment of the runtimes image running argv, with files seeded into dir first (see
// e2e.Seed) unless dir is "".
type workload struct {
	name  string
	dir   string
	files map[string]string
	port  int
	argv  []string
}

// deploy applies the workload into ns, waits for its rollout and returns the Deployment's name.
func (w workload) deploy(t *testing.T, ns string) string {
	t.Helper()
	container := map[string]any{"name": "app", "image": e2e.RuntimesImage, "imagePullPolicy": "Never", "command": w.argv}
	spec := map[string]any{"terminationGracePeriodSeconds": 1, "containers": []any{container}}
	if w.dir != "" {
		apply(t, ns, e2e.Seed(spec, container, w.name, w.dir, w.files))
	}
	if w.port > 0 {
		container["ports"] = []any{map[string]any{"containerPort": w.port}}
		container["readinessProbe"] = map[string]any{"tcpSocket": map[string]any{"port": w.port}, "periodSeconds": 1, "failureThreshold": 1}
	}
	labels := map[string]any{"app": w.name}
	apply(t, ns, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": w.name},
		"spec": map[string]any{"replicas": 1, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": spec}}})
	e2e.WaitRollout(t, ns, w.name)
	return w.name
}

func apply(t *testing.T, ns string, obj map[string]any) {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	e2e.Apply(t, ns, string(b))
}

// idle is a workload that only keeps a container running, to sync trees into.
func idle(name string) workload {
	return workload{name: name, argv: []string{"sleep", "infinity"}}
}

// ---------------------------------------------------------------------------------------------------------
// kindling processes

// kindlingProc is a kindling process whose output lines are timestamped as they arrive.
type kindlingProc struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan error

	mu     sync.Mutex
	lines  []outputLine
	change chan struct{} // closed and replaced on every new line
}

type outputLine struct {
	at   time.Time
	text string
}

// startKindling runs kindling with args until the test ends (or stop).
func startKindling(t *testing.T, args ...string) *kindlingProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &kindlingProc{cmd: e2e.KindlingCmd(t, args...), done: make(chan error, 1), change: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, outputLine{time.Now(), s.Text()})
			close(p.change)
			p.change = make(chan struct{})
			p.mu.Unlock()
		}
		r.Close()
		// Output ends when kindling exits, so every line is in before done says so.
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("kindling output:\n%s", p.output())
		}
	})
	return p
}

func (p *kindlingProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines {
		fmt.Fprintf(&b, "%s %s\n", l.at.Format("15:04:05.000"), l.text)
	}
	return b.String()
}

// count is the number of lines printed so far (to wait for lines after a point).
func (p *kindlingProc) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// waitLine waits for the first line at index from or later that matches re.
func (p *kindlingProc) waitLine(t *testing.T, from int, re *regexp.Regexp, timeout time.Duration) outputLine {
	t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		change := p.change
		p.mu.Unlock()
		if l, ok := p.find(from, re); ok {
			return l
		}
		select {
		case <-change:
		case err := <-p.done:
			p.done <- err
			if l, ok := p.find(from, re); ok {
				return l
			}
			t.Fatalf("kindling exited (%v) before printing a line matching %q:\n%s", err, re, p.output())
		case <-deadline:
			t.Fatalf("kindling printed no line matching %q within %v:\n%s", re, timeout, p.output())
		}
	}
}

func (p *kindlingProc) find(from int, re *regexp.Regexp) (outputLine, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines[min(from, len(p.lines)):] {
		if re.MatchString(l.text) {
			return l, true
		}
	}
	return outputLine{}, false
}

// stop interrupts kindling (as Ctrl-C does) and waits for it to exit.
func (p *kindlingProc) stop(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("kindling did not exit within 60s of SIGINT")
	}
}

// syncLine matches the line kindling prints for each sync.
var syncLine = regexp.MustCompile(`(\d+) written, (\d+) deleted \(([\d.]+) (B|KB|MB)\) → (\d+)/(\d+) pods in ([0-9.]+[µnm]?s)`)

// startedWatching matches kindling's line once its initial sync is done and it is watching.
var startedWatching = regexp.MustCompile(`watching for changes`)

// syncReport is what one sync line says.
type syncReport struct {
	written int
	bytes   int64
	elapsed time.Duration
}

func parseSyncLine(t *testing.T, line string) syncReport {
	t.Helper()
	m := syncLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a sync line: %q", line)
	}
	written, _ := strconv.Atoi(m[1])
	n, _ := strconv.ParseFloat(m[3], 64)
	unit := map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20}[m[4]]
	elapsed, err := time.ParseDuration(m[7])
	if err != nil {
		t.Fatalf("sync line %q: %v", line, err)
	}
	return syncReport{written: written, bytes: int64(math.Round(n * unit)), elapsed: elapsed}
}

// A window is the interval a measured run took: its wall time, and where to look up its traffic on a
// shaped link.
type window struct{ from, to time.Time }

func (w window) wall() time.Duration { return w.to.Sub(w.from) }

func walls(ws []window) []time.Duration {
	ds := make([]time.Duration, len(ws))
	for i, w := range ws {
		ds[i] = w.wall()
	}
	return ds
}

// runOnce runs `kindling sync … --once` to completion and returns when it ran and its sync line.
func runOnce(t *testing.T, args ...string) (window, syncReport) {
	t.Helper()
	cmd := e2e.KindlingCmd(t, append(args, "--once")...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	run := window{start, time.Now()}
	if err != nil {
		t.Fatalf("kindling %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	line := syncLine.FindString(string(out))
	if line == "" {
		t.Fatalf("kindling printed no sync line:\n%s", out)
	}
	return run, parseSyncLine(t, line)
}

// ---------------------------------------------------------------------------------------------------------
// The baseline's tools

// kubectl runs kubectl against the benchmark's cluster, reached through kubeconfig (e2e.Kubeconfig(), or a
// shaped link's); stdin may be nil.
func kubectl(t *testing.T, kubeconfig string, stdin io.Reader, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// tarPipe copies the tree under src (or only the paths given, relative to src) into dir of the pod with
// `tar -c | kubectl exec -i … tar -x`, kubectl reaching the cluster through kubeconfig, and returns when it
// ran.
func tarPipe(t *testing.T, kubeconfig, ns, pod, src, dir string, paths ...string) window {
	t.Helper()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	script := `tar -c -f - -C "$1" -- "${@:6}" | kubectl --kubeconfig "$2" exec -i -n "$3" "$4" -c app -- sh -c 'mkdir -p "$1" && tar -x -f - -C "$1"' sh "$5"`
	cmd := exec.CommandContext(t.Context(), "bash", append([]string{"-o", "pipefail", "-c", script, "bash", src, kubeconfig, ns, pod, dir}, paths...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	run := window{start, time.Now()}
	if err != nil {
		t.Fatalf("tar pipe into %s/%s:%s: %v\n%s", ns, pod, dir, err, out)
	}
	return run
}

// ---------------------------------------------------------------------------------------------------------
// Pollers inside a pod

// pollerScript runs inside the pod and prints "ready", then "<unix ns> <state>" whenever the state it
// polls every 5 ms changes. Modes: "http PORT PATH" (state: the body's first line, or "down"),
// "file PATH" (state: the file's last line, read from its last 4 KB, or "missing").
const pollerScript = `import os, sys, time, http.client
mode = sys.argv[1]
def http_state(port, path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        c.close()
        if r.status != 200:
            return "status-%d" % r.status
        return (body.strip().splitlines() or [""])[0]
    except (OSError, http.client.HTTPException):
        return "down"
def file_state(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            lines = f.read().decode(errors="replace").splitlines()
        return lines[-1] if lines else ""
    except OSError:
        return "missing"
state = (lambda: http_state(sys.argv[2], sys.argv[3])) if mode == "http" else (lambda: file_state(sys.argv[2]))
print("ready", flush=True)
last = None
while True:
    s = state()
    if s != last:
        print(time.time_ns(), s, flush=True)
        last = s
    time.sleep(0.005)
`

// poller is a pollerScript running in a pod.
type poller struct {
	events chan event
	stop   context.CancelFunc
	failed chan error
}

type event struct {
	at    time.Time
	state string
}

// startPoller starts pollerScript with args in the pod's app container and waits until it runs.
func startPoller(t *testing.T, ns, pod string, args ...string) *poller {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	p := &poller{events: make(chan event, 1024), stop: cancel, failed: make(chan error, 1)}
	r, w := io.Pipe()
	ready := make(chan struct{})
	go func() {
		argv := append([]string{"python3", "-u", "-c", pollerScript}, args...)
		var stderr strings.Builder
		err := e2e.ExecStream(ctx, ns, pod, "app", argv, nil, w, &stderr)
		if ctx.Err() == nil {
			p.failed <- fmt.Errorf("poller in %s/%s ended: %v %s", ns, pod, err, stderr.String())
		}
		w.Close()
	}()
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			if s.Text() == "ready" {
				close(ready)
				continue
			}
			ns, state, _ := strings.Cut(s.Text(), " ")
			n, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				continue
			}
			p.events <- event{time.Unix(0, n), state}
		}
	}()
	t.Cleanup(cancel)
	select {
	case <-ready:
	case err := <-p.failed:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("poller in %s/%s did not start within 30s", ns, pod)
	}
	return p
}

// waitFor returns the first event whose state contains want.
func (p *poller) waitFor(t *testing.T, want string, timeout time.Duration) event {
	t.Helper()
	deadline := time.After(timeout)
	var last string
	for {
		select {
		case e := <-p.events:
			if strings.Contains(e.state, want) {
				return e
			}
			last = e.state
		case err := <-p.failed:
			t.Fatal(err)
		case <-deadline:
			t.Fatalf("the pod did not show %q within %v (last seen: %q)", want, timeout, last)
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// Process figures from /proc

// procStatus returns a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/status %s: %q", pid, field, v)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// cpuTime is the CPU time (user + system) a process has used, from /proc/PID/stat.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// After "PID (COMM) " the fields count from 3 (state); utime and stime are fields 14 and 15.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[14-3], 10, 64)
	stime, _ := strconv.ParseInt(fields[15-3], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// machineBusy is the fraction of the machine's CPU time spent busy over the interval, from /proc/stat.
func machineBusy(t *testing.T, interval time.Duration) float64 {
	t.Helper()
	sample := func() (busy, total int64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			t.Fatal(err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			n, _ := strconv.ParseInt(f, 10, 64)
			total += n
			if i != 3 && i != 4 { // idle and iowait
				busy += n
			}
		}
		return busy, total
	}
	b0, t0 := sample()
	time.Sleep(interval)
	b1, t1 := sample()
	if t1 == t0 {
		return 0
	}
	return float64(b1-b0) / float64(t1-t0)
}

// waitQuiet waits until the machine is mostly idle (the writeback and the pods' churn of the previous
// figure are over), so that a timed phase measures itself; it gives up after a minute and says so.
func waitQuiet(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for machineBusy(t, 500*time.Millisecond) > 0.15 {
		if time.Now().After(deadline) {
			t.Logf("the machine stayed busy for a minute; measuring anyway")
			return
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// Numbers

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100).
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(math.Ceil(p/100*float64(len(s))))-1]
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// shorten cuts s to n bytes, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
