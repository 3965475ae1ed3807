//go:build e2e && bench

package bench

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/test/e2e"
)

// saves is the number of measured edits per row.
const saves = 20

// thinkTime is how long after an edit was served the next one is saved: a developer looks at the result
// before saving again. Saves back to back (the next one as soon as kindling printed its line) are measured
// too, in rows of their own: then the replacement a restart started in the container (a spare interpreter)
// competes with the next save for the machine's two cores.
const thinkTime = time.Second

// latencyApp is an app of figure 1: its one source file, rewritten for every edit with a new version
// marker that its HTTP answer shows.
type latencyApp struct {
	name   string
	file   string
	dir    string // --dest
	port   int
	path   string
	source func(marker string) string
	// argv is how the user's Deployment runs the app; loop is the baseline's, which restarts it when
	// killed; kill is the baseline's restart, run with kubectl exec.
	argv, loop, kill []string
	// floor is the pollerScript-like mode of floorScript: "kill" the app (a new process answers) or "hup"
	// the server (new workers answer).
	floor string
}

var latencyApps = []latencyApp{
	{
		name: "python", file: "server.py", dir: "/app", port: 8080, path: "/",
		source: func(marker string) string { return strings.Replace(pythonSource, "MARKER", marker, 1) },
		argv:   []string{"python3", "/app/server.py"},
		loop:   []string{"sh", "-c", "while :; do python3 /app/server.py; done"},
		kill:   []string{"pkill", "-f", "^python3 /app/server.py"},
		floor:  "kill",
	},
	{
		name: "node", file: "server.js", dir: "/app", port: 8080, path: "/",
		source: func(marker string) string { return strings.Replace(nodeSource, "MARKER", marker, 1) },
		argv:   []string{"node", "/app/server.js"},
		loop:   []string{"sh", "-c", "while :; do node /app/server.js; done"},
		kill:   []string{"pkill", "-f", "^node /app/server.js"},
		floor:  "kill",
	},
	{
		// Not index.html: the image has one (Apache's), which the seed leaves in place.
		name: "nginx", file: "kindling.html", dir: "/var/www/html", port: 80, path: "/kindling.html",
		source: func(marker string) string { return "<p>nginx " + marker + "</p>\n" },
		argv:   []string{"nginx", "-g", "daemon off;"},
		loop:   []string{"nginx", "-g", "daemon off;"},
		kill:   []string{"kill", "-HUP", "1"},
		floor:  "hup",
	},
}

const pythonSource = `import os
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION = "MARKER"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("python %s pid=%d\n" % (VERSION, os.getpid())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
`

const nodeSource = "const version = 'MARKER';\n" +
	"require('http').createServer((req, res) => res.end(`node ${version} pid=${process.pid}\\n`)).listen(8080);\n"

// marker is the version string of edit n; brackets keep "[v1]" from matching "[v10]".
func marker(n int) string { return fmt.Sprintf("[v%d]", n) }

// TestSaveToServing measures figure 1 per app: the floor, the baseline, and kindling at two debounces.
func TestSaveToServing(t *testing.T) {
	skipUnlessProfile(t, "loopback")
	for _, a := range latencyApps {
		t.Run(a.name, func(t *testing.T) {
			floor, baseline := a.measureBaseline(t, e2e.Kubeconfig())
			p50, p95 := percentile(baseline.served, 50), percentile(baseline.served, 95)
			for _, debounce := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond} {
				paced, rapid := a.measureKindling(t, debounce, e2e.Kubeconfig())
				k50 := percentile(paced.served, 50)
				row := result{figure: 1,
					measure:  fmt.Sprintf("save → serving, %s, --debounce %v: p50 / p95 (floor %s)", a.name, debounce, ms(floor)),
					kindling: paced.String(),
					baseline: fmt.Sprintf("%s / %s", ms(p50), ms(p95)),
				}
				if a.name != "nginx" {
					limit := debounce + 250*time.Millisecond
					row.target, row.met = "p50 ≤ "+ms(limit), verdict(k50 <= limit)
				}
				record(t, row)
				record(t, result{figure: 1,
					measure:  "… the same, saves back to back",
					kindling: rapid.String(),
				})
			}
		})
	}
}

// deploy runs the app with argv, its first version seeded from a ConfigMap.
func (a latencyApp) deploy(t *testing.T, ns string, argv []string) (deploy, pod string) {
	t.Helper()
	w := workload{name: a.name, dir: a.dir, files: map[string]string{a.file: a.source(marker(0))}, port: a.port, argv: argv}
	deploy = w.deploy(t, ns)
	return deploy, e2e.Pod(t, ns, deploy)
}

// measureBaseline times `kubectl cp` + `kubectl exec … kill` per edit (kubectl reaching the cluster through
// kubeconfig), against the app restarted by a shell loop, and the floor: the app's own restart, timed
// inside that container.
func (a latencyApp) measureBaseline(t *testing.T, kubeconfig string) (floor time.Duration, edits editSeries) {
	ns := e2e.Namespace(t)
	_, pod := a.deploy(t, ns, a.loop)
	floor = a.measureFloor(t, ns, pod)

	local := filepath.Join(t.TempDir(), a.file)
	remote := ns + "/" + pod + ":" + a.dir + "/" + a.file
	p := startPoller(t, ns, pod, "http", fmt.Sprint(a.port), a.path)
	p.waitFor(t, marker(0), time.Minute)
	for n := 1; n <= saves; n++ {
		start := writeSource(t, local, a.source(marker(n)))
		kubectl(t, kubeconfig, nil, "cp", local, remote, "-c", "app")
		kubectl(t, kubeconfig, nil, append([]string{"exec", "-n", ns, pod, "-c", "app", "--"}, a.kill...)...)
		done := time.Now()
		served := p.waitFor(t, marker(n), time.Minute).at
		edits.add(start, served, done)
	}
	return floor, edits
}

// floorScript restarts the app n times inside its container and prints the median time from the kill
// (mode "kill": SIGTERM to the process that answered; "hup": SIGHUP to the server, PID 1) until a new
// process answers, in seconds.
const floorScript = `import os, re, signal, sys, time, http.client
mode, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def get():
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        c.close()
        return body if r.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
def workers():
    pids = set()
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[1] == "1":
                pids.add(p)
        except (OSError, IndexError):
            pass
    return pids
times = []
for _ in range(n):
    while get() is None:
        time.sleep(0.005)
    if mode == "kill":
        pid = int(re.search(r"pid=(\d+)", get()).group(1))
        start = time.time()
        os.kill(pid, signal.SIGTERM)
        while True:
            body = get()
            if body and "pid=%d" % pid not in body:
                break
            time.sleep(0.002)
    else:
        old = workers()
        start = time.time()
        os.kill(1, signal.SIGHUP)
        while True:
            now = workers()
            if now and not (now & old) and get():
                break
            time.sleep(0.002)
    times.append(time.time() - start)
times.sort()
print(times[(len(times) + 1) // 2 - 1])
`

func (a latencyApp) measureFloor(t *testing.T, ns, pod string) time.Duration {
	t.Helper()
	out := e2e.MustExec(t, ns, pod, "app", "python3", "-c", floorScript, a.floor, fmt.Sprint(a.port), a.path, fmt.Sprint(saves))
	d, err := time.ParseDuration(strings.TrimSpace(out) + "s")
	if err != nil {
		t.Fatalf("floor script printed %q", out)
	}
	return d
}

// savedToServing matches the save-to-serving time kindling prints on a sync line after a reload.
var savedToServing = regexp.MustCompile(`save-to-serving ([0-9.]+[µnm]?s)`)

// editSeries are the measured save-to-serving times of a series of edits, what kindling reported for them,
// and each edit's window (from the save until it was served and the tool was done with it).
type editSeries struct {
	served, reported []time.Duration
	windows          []window
}

// add adds an edit saved at start and served at served; the tool was done with it at done.
func (e *editSeries) add(start, served, done time.Time) {
	e.served = append(e.served, served.Sub(start))
	e.windows = append(e.windows, window{start, later(served, done)})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (e editSeries) String() string {
	reported := e.reported
	if len(reported) == 0 {
		reported = []time.Duration{0}
	}
	return fmt.Sprintf("%s / %s (kindling says %s)", ms(percentile(e.served, 50)), ms(percentile(e.served, 95)), ms(percentile(reported, 50)))
}

// measureKindling times kindling sync --restart in watch mode per edit (kindling reaching the cluster
// through kubeconfig, with extra arguments), saves paced by thinkTime then back to back, and collects what
// kindling itself reports as the save-to-serving time.
func (a latencyApp) measureKindling(t *testing.T, debounce time.Duration, kubeconfig string, extra ...string) (paced, rapid editSeries) {
	ns := e2e.Namespace(t)
	deploy, _ := a.deploy(t, ns, a.argv)
	src := t.TempDir()
	local := filepath.Join(src, a.file)
	writeSource(t, local, a.source(marker(0)))
	k := startKindling(t, append([]string{"sync", "-d", deploy, "-n", ns, "--src", src, "--dest", a.dir, "--restart", "--debounce", debounce.String(), "--kubeconfig", kubeconfig}, extra...)...)
	k.waitLine(t, 0, startedWatching, 5*time.Minute)
	// The wrapper strategy rolls the Deployment out once: its first sync line is for the new pod.
	k.waitLine(t, 0, syncLine, 5*time.Minute)
	e2e.WaitRollout(t, ns, deploy)
	p := startPoller(t, ns, e2e.Pod(t, ns, deploy), "http", fmt.Sprint(a.port), a.path)
	p.waitFor(t, marker(0), time.Minute)
	// Edit 0 is a warm-up: it lands after everything the start-up set in motion has settled.
	for n := 0; n <= 2*saves; n++ {
		series := &paced
		if n > saves {
			series = &rapid
		} else {
			time.Sleep(thinkTime)
		}
		from := k.count()
		start := writeSource(t, local, a.source(marker(n+1)))
		served := p.waitFor(t, marker(n+1), time.Minute).at
		line := k.waitLine(t, from, syncLine, time.Minute)
		if n == 0 {
			continue
		}
		series.add(start, served, line.at)
		if m := savedToServing.FindStringSubmatch(line.text); m != nil {
			d, _ := time.ParseDuration(m[1])
			series.reported = append(series.reported, d)
		}
	}
	if len(paced.reported) == 0 || len(rapid.reported) == 0 {
		t.Logf("kindling printed no save-to-serving time:\n%s", k.output())
	}
	return paced, rapid
}

// writeSource saves a source file as an editor does and returns when the write started.
func writeSource(t *testing.T, file, content string) time.Time {
	t.Helper()
	start := time.Now()
	e2e.WriteLocalFile(t, filepath.Dir(file), filepath.Base(file), content, 0o644)
	return start
}
