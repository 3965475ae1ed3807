//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type restartCase struct {
	app
	edit     string // the file whose "v1" becomes "v2"
	path     string // the URL path that shows the version
	strategy string // what kindling must say it chose
	// graceful: the server reloads in place (same master process) without failing a request.
	graceful bool
	// dropsAtMost is how many requests the reload may fail: Puma's hot restart (single mode, USR2)
	// re-executes the process, and a connection it accepted at that instant can get an empty reply
	// (puma/puma#2337), which no signal of kindling's avoids.
	dropsAtMost int64
	// spare: the supervisor keeps a spare interpreter (this file of kindling's) that the restart turns into
	// the app.
	spare string
}

var restartCases = []restartCase{
	{app: app{name: "python", dest: "/app", port: 8080, files: map[string]string{"server.py": pythonServer},
		command: []string{"python3", "/app/server.py"}}, edit: "server.py", strategy: "→ wrapper", spare: "spare.py"},
	{app: app{name: "node", dest: "/app", port: 8080, files: map[string]string{"server.js": nodeServer},
		command: []string{"node", "/app/server.js"}}, edit: "server.js", strategy: "→ wrapper", spare: "spare.cjs"},
	{app: app{name: "ruby", dest: "/app", port: 8080, files: map[string]string{"server.rb": rubyServer},
		command: []string{"ruby", "/app/server.rb"}}, edit: "server.rb", strategy: "→ wrapper"},
	{app: app{name: "perl", dest: "/app", port: 8080, files: map[string]string{"server.pl": perlServer},
		command: []string{"perl", "/app/server.pl"}}, edit: "server.pl", strategy: "→ wrapper"},
	{app: app{name: "uvicorn-single", dest: "/app", port: 8080, files: map[string]string{"app.py": asgiApp},
		command: []string{"python3", "-m", "uvicorn", "--host", "0.0.0.0", "--port", "8080", "--app-dir", "/app", "--lifespan", "off", "app:app"}},
		edit: "app.py", strategy: "→ wrapper"},
	{app: app{name: "uvicorn-workers", dest: "/app", port: 8080, files: map[string]string{"app.py": asgiApp},
		command: []string{"python3", "-m", "uvicorn", "--workers", "2", "--host", "0.0.0.0", "--port", "8080", "--app-dir", "/app", "--lifespan", "off", "app:app"}},
		edit: "app.py", strategy: "→ signal HUP"},
	{app: app{name: "gunicorn", dest: "/app", port: 8080, files: map[string]string{"app.py": wsgiApp},
		command: []string{"gunicorn", "-w", "2", "-b", "0.0.0.0:8080", "--chdir", "/app", "app:app"}},
		edit: "app.py", strategy: "→ signal HUP", graceful: true},
	{app: app{name: "puma", dest: "/app", port: 8080, files: map[string]string{"config.ru": rackApp},
		command: []string{"puma", "-b", "tcp://0.0.0.0:8080", "/app/config.ru"}},
		edit: "config.ru", strategy: "→ signal USR2", graceful: true, dropsAtMost: 1},
	{app: app{name: "nginx", dest: "/var/www/html", port: 80, files: map[string]string{"kindling.html": "<p>nginx v1</p>\n"},
		command: []string{"nginx", "-g", "daemon off;"}}, edit: "kindling.html", path: "/kindling.html", strategy: "→ signal HUP", graceful: true},
	{app: app{name: "httpd", dest: "/var/www/html", port: 80, files: map[string]string{"kindling.html": "<p>httpd v1</p>\n"},
		command: []string{"apache2-foreground"}}, edit: "kindling.html", path: "/kindling.html", strategy: "→ signal USR1", graceful: true},
	{app: app{name: "php", dest: "/var/www/html", port: 80, files: map[string]string{"index.php": "<?php echo \"php v1\\n\";\n"},
		command: []string{"apache2-foreground"}}, edit: "index.php", path: "/index.php", strategy: "→ none"},
	{app: app{name: "nodemon", dest: "/app", port: 8080, files: map[string]string{"server.js": nodeServer},
		command: []string{"nodemon", "--watch", "/app", "/app/server.js"}}, edit: "server.js", strategy: "→ none"},
}

// TestRestartStrategies proves, per runtime, that a local edit is served after the sync with the strategy
// the runtime needs, and for graceful reloads that the master survived and no request failed.
func TestRestartStrategies(t *testing.T) {
	for _, tc := range restartCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path == "" {
				path = "/"
			}
			ns := Namespace(t)
			deploy := tc.deploy(t, ns, 1)
			WaitHTTPBody(t, ns, deploy, tc.port, path, "v1", DefaultTimeout)
			src := tc.source(t)
			p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--dest", tc.dest, "--restart", "--debounce", "100ms")
			waitOutput(t, p, "watching")
			if !strings.Contains(p.Output(), tc.strategy) {
				t.Fatalf("kindling did not choose %q:\n%s", tc.strategy, p.Output())
			}
			WaitHTTPBody(t, ns, deploy, tc.port, path, "v1", DefaultTimeout)

			var failed, served atomic.Int64
			var before string
			stopLoop := func() {}
			if tc.graceful {
				pod := Pod(t, ns, deploy)
				before = masterIdentity(t, ns, pod)
				stopLoop = requestLoop(t, ns, pod, tc.port, path, &served, &failed)
			}
			var spares []int
			if tc.spare != "" {
				WaitRollout(t, ns, deploy) // to the wrapped pod
				spares = waitingSpares(t, ns, Pod(t, ns, deploy), tc.spare)
			}
			edit(t, src, tc.edit, "v1", "v2")
			WaitHTTPBody(t, ns, deploy, tc.port, path, "v2", 60*time.Second)
			if tc.spare != "" {
				pod := Pod(t, ns, deploy)
				app := supervisedPID(t, ns, pod)
				if !slices.Contains(spares, app) {
					t.Errorf("the app after the restart is process %d, not one of the spares %v that waited for it", app, spares)
				}
				if next := waitingSpares(t, ns, pod, tc.spare); slices.Contains(next, app) {
					t.Errorf("the app %d is still listed among the spares %v", app, next)
				}
			}
			if tc.graceful {
				// Keep requesting a little after the switch: at least 500 ms and a few answers, however slow
				// the port-forward is on a busy machine.
				switched, after := time.Now(), served.Load()
				Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
					if time.Since(switched) < 500*time.Millisecond || served.Load() < max(after+3, 5) {
						return fmt.Errorf("%d requests served, %d of them since the new version answered", served.Load(), served.Load()-after)
					}
					return nil
				})
				stopLoop()
				pod := Pod(t, ns, deploy)
				if after := masterIdentity(t, ns, pod); after != before {
					t.Errorf("the master process was restarted: before %s, after %s", before, after)
				}
				if failed.Load() > tc.dropsAtMost || served.Load() < 5 {
					t.Errorf("request loop during the reload: %d served, %d failed", served.Load(), failed.Load())
				}
			}
			p.Stop(t, syscall.SIGINT)
		})
	}
}

// waitingSpares waits for the supervisor's two spare interpreters, running script, to wait beside the
// app, and returns their PIDs.
func waitingSpares(t *testing.T, ns, pod, script string) []int {
	t.Helper()
	var pids []int
	Eventually(t, DefaultTimeout, 100*time.Millisecond, func() error {
		app := supervisedPID(t, ns, pod)
		// One line per process: PID, then its argv.
		out := MustExec(t, ns, pod, "app", "sh", "-c", `for d in /proc/[0-9]*; do
			echo "${d#/proc/} $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)"
		done`)
		pids = nil
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) > 2 && f[2] == "/.kindling/bin/"+script {
				if p, _ := strconv.Atoi(f[0]); p != app {
					pids = append(pids, p)
				}
			}
		}
		if len(pids) != 2 {
			return fmt.Errorf("want two spares %s beside the app (process %d); processes:\n%s", script, app, out)
		}
		return nil
	})
	return pids
}

// supervisedPID is the app's PID from the supervisor's state file ("GENERATION running PID").
func supervisedPID(t *testing.T, ns, pod string) int {
	t.Helper()
	f := strings.Fields(MustExec(t, ns, pod, "app", "cat", "/.kindling/state/state"))
	if len(f) < 3 || f[1] != "running" {
		t.Fatalf("supervisor state %q, want GENERATION running PID", f)
	}
	pid, err := strconv.Atoi(f[2])
	must(t, err)
	return pid
}

// masterIdentity names PID 1 of the container by its start time and the container's restart count: both
// stay the same as long as the same master process keeps running.
func masterIdentity(t *testing.T, ns, pod string) string {
	t.Helper()
	stat := MustExec(t, ns, pod, "app", "cat", "/proc/1/stat")
	fields := strings.Fields(stat[strings.LastIndex(stat, ")")+1:])
	p, err := Clientset().CoreV1().Pods(ns).Get(t.Context(), pod, metav1.GetOptions{})
	must(t, err)
	return fmt.Sprintf("pid1-start=%s restarts=%d", fields[19], p.Status.ContainerStatuses[0].RestartCount)
}

// requestLoop GETs path over one port-forward until stopped, counting answers and failures.
func requestLoop(t *testing.T, ns, pod string, port int, path string, served, failed *atomic.Int64) (stop func()) {
	t.Helper()
	local, stopForward := PortForward(t, ns, pod, port)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			status, _, err := HTTPGetLocal(ctx, local, path)
			if ctx.Err() != nil {
				return
			}
			if err != nil || status != 200 {
				failed.Add(1)
				t.Logf("request failed during reload: status %d err %v", status, err)
			} else {
				served.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-done; stopForward() }
}

func waitOutput(t *testing.T, p *syncProc, want string) {
	t.Helper()
	Eventually(t, DefaultTimeout, 100*time.Millisecond, func() error {
		if !strings.Contains(p.Output(), want) {
			return fmt.Errorf("kindling has not printed %q yet:\n%s", want, p.Output())
		}
		return nil
	})
}

func templateJSON(t *testing.T, ns, deploy string) string {
	t.Helper()
	d, err := Clientset().AppsV1().Deployments(ns).Get(t.Context(), deploy, metav1.GetOptions{})
	must(t, err)
	b, err := json.Marshal(d.Spec.Template)
	must(t, err)
	return string(b)
}

// quotedApp has a command and args with spaces, quotes and a $(VAR) reference, which the wrapper must
// preserve exactly: the server prints its argv.
var quotedApp = app{name: "quoted", dest: "/app", port: 8080, files: map[string]string{"server.py": pythonServer},
	command: []string{"python3", "/app/server.py"},
	args:    []string{"--greeting", `hello 'single' "double" $dollar`, "$(POD_NAME)", "$$(NOT_EXPANDED)"},
	env:     []map[string]any{{"name": "POD_NAME", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}}},
}

// TestWrapperRestoresTheDeploymentExactly: Ctrl-C, SIGTERM and a SIGKILL followed by `kindling restore`
// all leave the pod template exactly as it was, and the wrapped app ran with its exact argv.
func TestWrapperRestoresTheDeploymentExactly(t *testing.T) {
	ns := Namespace(t)
	deploy := quotedApp.deploy(t, ns, 1)
	original := templateJSON(t, ns, deploy)
	src := quotedApp.source(t)
	wantArgv := `argv=['--greeting', 'hello \'single\' "double" $dollar', 'quoted-`

	for _, stop := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(stop.String(), func(t *testing.T) {
			p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--debounce", "100ms")
			waitOutput(t, p, "watching")
			if templateJSON(t, ns, deploy) == original {
				t.Fatal("the Deployment was not wrapped")
			}
			edit(t, src, "server.py", "v1", "v2")
			WaitHTTPBody(t, ns, deploy, 8080, "/", "v2", 60*time.Second)
			WaitHTTPBody(t, ns, deploy, 8080, "/", wantArgv, 10*time.Second)
			WaitHTTPBody(t, ns, deploy, 8080, "/", `'$(NOT_EXPANDED)'`, 10*time.Second)
			edit(t, src, "server.py", "v2", "v1")
			if stop == syscall.SIGKILL {
				_ = p.cmd.Process.Kill()
				<-p.done
				if templateJSON(t, ns, deploy) == original {
					t.Fatal("SIGKILL restored the Deployment: the test cannot see the repair")
				}
				out, err := KindlingCmd(t, "restore", "-d", deploy, "-n", ns).CombinedOutput()
				if err != nil {
					t.Fatalf("kindling restore: %v\n%s", err, out)
				}
			} else {
				p.Stop(t, stop)
			}
			if got := templateJSON(t, ns, deploy); got != original {
				t.Fatalf("pod template after %v differs from the original:\n got: %s\nwant: %s", stop, got, original)
			}
			WaitRollout(t, ns, deploy)
		})
	}
}

// TestOnceRestartRestoresAfterwards: --once --restart syncs, restarts, then restores the Deployment unless
// --keep is given.
func TestOnceRestartRestoresAfterwards(t *testing.T) {
	ns := Namespace(t)
	deploy := quotedApp.deploy(t, ns, 1)
	original := templateJSON(t, ns, deploy)
	src := quotedApp.source(t)
	edit(t, src, "server.py", "v1", "v2")
	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--once", "--keep").CombinedOutput()
	if err != nil {
		t.Fatalf("kindling --once --restart --keep: %v\n%s", err, out)
	}
	WaitHTTPBody(t, ns, deploy, 8080, "/", "v2", 60*time.Second)
	if templateJSON(t, ns, deploy) == original {
		t.Fatal("--keep did not keep the wrapper")
	}
	// The next run repairs what the previous one kept.
	out, err = KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--once").CombinedOutput()
	if err != nil {
		t.Fatalf("kindling --once --restart: %v\n%s", err, out)
	}
	if got := templateJSON(t, ns, deploy); got != original {
		t.Fatalf("pod template after --once --restart differs from the original:\n got: %s\nwant: %s", got, original)
	}
}
