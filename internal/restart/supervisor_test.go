package restart

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/runtime"
)

// testShell is a POSIX sh the supervisor must work under, with the tools it finds on PATH.
type testShell struct {
	name string
	argv []string // the shell, to which the script path is appended
	path string   // PATH for the supervisor and the app
	// resetsSignals: env --default-signal is on PATH, so INT reaches the app as INT, not as TERM.
	resetsSignals bool
}

// testShells are dash (Debian's /bin/sh, with GNU coreutils) and BusyBox ash with only BusyBox applets
// in front of PATH (as in an Alpine image).
func testShells(t *testing.T) []testShell {
	t.Helper()
	dash, err := exec.LookPath("dash")
	if err != nil {
		t.Fatalf("dash not found: install it with `apt-get install -y dash`")
	}
	busybox, applets := busyboxApplets(t)
	return []testShell{
		{name: "dash", argv: []string{dash}, path: os.Getenv("PATH"), resetsSignals: true},
		{name: "busybox", argv: []string{busybox, "sh"}, path: applets + ":" + os.Getenv("PATH")},
	}
}

// busyboxApplets returns the machine's busybox and a directory of links to it, one per applet.
func busyboxApplets(t *testing.T) (busybox, dir string) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox not found: the supervisor must be tested under BusyBox ash; install it with `apt-get install -y busybox`")
	}
	dir = t.TempDir()
	if out, err := exec.Command(busybox, "--install", "-s", dir).CombinedOutput(); err != nil {
		t.Fatalf("busybox --install -s %s: %v: %s", dir, err, out)
	}
	return busybox, dir
}

// testSupervisor is the supervisor script running in `run` mode, as a child of the test (not as PID 1:
// clients find it through the pid file).
type testSupervisor struct {
	t          *testing.T
	sh         testShell
	script     string
	dir        string
	cmd        *exec.Cmd
	stderr     string // file: a pipe would keep Wait waiting for the app, which inherits it
	clientPath string
	exited     chan struct{}
	err        error // the Wait result, once exited is closed
}

func writeScript(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), runtime.SupervisorMarker)
	if err := os.WriteFile(path, []byte(SupervisorScript()), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func startSupervisor(t *testing.T, sh testShell, options []string, app []string) *testSupervisor {
	t.Helper()
	tmp := t.TempDir()
	s := &testSupervisor{t: t, sh: sh, script: writeScript(t), dir: filepath.Join(tmp, "state"),
		stderr: filepath.Join(tmp, "stderr"), exited: make(chan struct{})}
	argv := append(append(append(s.shellArgv("run", "--state-dir", s.dir), options...), "--"), app...)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Env = testAppEnviron("PATH=" + sh.path)
	stderr, err := os.Create(s.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	s.cmd.Stderr = stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.stop)
	s.waitFor("the supervisor to write its state", func() bool { _, _, _, ok := s.state(); return ok })
	return s
}

func (s *testSupervisor) shellArgv(args ...string) []string {
	return append(append(append([]string{}, s.sh.argv...), s.script), args...)
}

// stop ends the supervisor and whatever it left running.
func (s *testSupervisor) stop() {
	_, _, detail, _ := s.state()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Second): // the app ignores TERM
		s.cmd.Process.Kill()
	}
	if pid, err := strconv.Atoi(detail); err == nil {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	<-s.exited
}

// log is what the supervisor wrote to stderr.
func (s *testSupervisor) log() string {
	b, err := os.ReadFile(s.stderr)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// state reads the state file: generation, state and detail.
func (s *testSupervisor) state() (gen int, state, detail string, ok bool) {
	b, err := os.ReadFile(filepath.Join(s.dir, "state"))
	if err != nil {
		return 0, "", "", false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, "", "", false
	}
	gen, err = strconv.Atoi(f[0])
	if len(f) > 2 {
		detail = f[2]
	}
	return gen, f[1], detail, err == nil
}

// appPID is the running app's PID.
func (s *testSupervisor) appPID() int {
	s.t.Helper()
	_, state, detail, _ := s.state()
	pid, err := strconv.Atoi(detail)
	if state != "running" || err != nil {
		s.t.Fatalf("state is %q %q, want running PID", state, detail)
	}
	return pid
}

// client runs the script's client mode with the same shell and returns its stdout and exit code.
func (s *testSupervisor) client(args ...string) (string, int) {
	s.t.Helper()
	argv := s.shellArgv(append(args[:1:1], append([]string{"--state-dir", s.dir}, args[1:]...)...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	path := s.sh.path
	if s.clientPath != "" {
		path = s.clientPath
	}
	cmd.Env = []string{"PATH=" + path}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	if stderr.Len() > 0 {
		s.t.Logf("%s stderr: %s", args[0], stderr.String())
	}
	return strings.TrimSpace(string(out)), code
}

// restarted is a successful restart as the client reported it.
type restarted struct{ pid, generation int }

// restart asks for a restart and fails the test unless it succeeded.
func (s *testSupervisor) restart(args ...string) restarted {
	s.t.Helper()
	out, code := s.client(append([]string{"restart", "--timeout", "10"}, args...)...)
	l := lastLine(out)
	pid, err := l.number("pid")
	gen, err2 := l.number("generation")
	if _, err3 := l.millis("ready_ms"); l.word != "restarted" || code != 0 || errors.Join(err, err2, err3) != nil {
		s.t.Fatalf("restart: exit %d, output %q; supervisor stderr: %s", code, out, s.log())
	}
	return restarted{pid, gen}
}

func (s *testSupervisor) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; supervisor stderr: %s", what, s.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for the supervisor to exit and returns its exit code and how long that took.
func (s *testSupervisor) waitExit(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(within):
		s.t.Fatalf("supervisor still running after %v; stderr: %s", within, s.log())
	}
	var exit *exec.ExitError
	if errors.As(s.err, &exit) {
		return exit.ExitCode()
	}
	if s.err != nil {
		s.t.Fatal(s.err)
	}
	return 0
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func listening(port string) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// liveGroupMembers lists the processes of group pgid that are alive (not zombies).
func liveGroupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if fields[0] != "Z" && fields[0] != "X" && fields[2] == strconv.Itoa(pgid) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			pids = append(pids, pid)
		}
	}
	return pids
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	state := strings.Fields(s[strings.LastIndex(s, ")")+1:])[0]
	return state != "Z" && state != "X"
}

func TestSupervisorRestartsTheAppAndItsPort(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			port := freePort(t)
			s := startSupervisor(t, sh, nil, testApp(t, "listen", port))
			s.waitFor("the app to listen", func() bool { return listening(port) })
			status, code := s.client("status")
			if want := fmt.Sprintf("supervisor=%d generation=1 state=running pid=%d", s.cmd.Process.Pid, s.appPID()); status != want || code != 0 {
				t.Fatalf("status = %q (exit %d), want %q", status, code, want)
			}
			for gen := 2; gen <= 4; gen++ {
				old := s.appPID()
				o := s.restart("--wait-port", port)
				if o.generation != gen || o.pid == old || o.pid != s.appPID() {
					t.Fatalf("restart %d: %+v, old pid %d, state pid %d", gen, o, old, s.appPID())
				}
				if members := liveGroupMembers(t, old); alive(old) || len(members) > 0 {
					t.Fatalf("old app %d still alive (group members %v)", old, members)
				}
				if !listening(port) {
					t.Fatalf("port %s not served after the restart", port)
				}
			}
			if strings.Contains(s.log(), "exited") {
				t.Fatalf("an intended restart was reported as a crash: %s", s.log())
			}
		})
	}
}

func TestSupervisorKillsTheWholeGroupWithEscalation(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			port := freePort(t)
			// The app and the child it starts ignore TERM, and the child holds the listening socket: only
			// a KILL of the whole group frees the port for the new app.
			s := startSupervisor(t, sh, []string{"--grace", "1"}, testApp(t, "listen", port, "ignore-term", "spawn-holder"))
			s.waitFor("the app to listen", func() bool { return listening(port) })
			old := s.appPID()
			s.waitFor("the holder child", func() bool { return len(liveGroupMembers(t, old)) == 2 })

			start := time.Now()
			o := s.restart("--wait-port", port)
			if took := time.Since(start); took < time.Second || took > 5*time.Second {
				t.Fatalf("restart took %v, want the 1s grace and then KILL", took)
			}
			if members := liveGroupMembers(t, old); len(members) > 0 {
				t.Fatalf("old group %d still has live members %v", old, members)
			}
			if o.pid == old || !listening(port) {
				t.Fatalf("restart %+v (old pid %d): port %s listening=%v", o, old, port, listening(port))
			}
		})
	}
}

func TestSupervisorReportsACrashOnceAndWaits(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			port := freePort(t)
			crash := filepath.Join(t.TempDir(), "crash")
			s := startSupervisor(t, sh, nil, testApp(t, "listen", port, "crash-if", crash))
			s.waitFor("the app to listen", func() bool { return listening(port) })

			if err := os.WriteFile(crash, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := s.client("restart", "--wait-port", port, "--timeout", "10")
			if out != "crashed status=3" || code != 1 {
				t.Fatalf("restart into a crashing app: %q exit %d, want \"crashed status=3\" exit 1", out, code)
			}
			time.Sleep(500 * time.Millisecond) // a restart loop would show more lines by now
			const line = "kindling-supervisor: app exited with status 3; waiting for the next sync"
			if n := strings.Count(s.log(), line); n != 1 {
				t.Fatalf("crash line %d times in stderr, want once: %s", n, s.log())
			}
			if status, _ := s.client("status"); !strings.HasSuffix(status, "generation=2 state=crashed status=3") {
				t.Fatalf("status after the crash: %q", status)
			}

			if err := os.Remove(crash); err != nil {
				t.Fatal(err)
			}
			if o := s.restart("--wait-port", port); o.generation != 3 {
				t.Fatalf("restart after the fix: %+v, want generation 3", o)
			}
		})
	}
}

func TestSupervisorForwardsStopSignals(t *testing.T) {
	for _, sh := range testShells(t) {
		for _, tc := range []struct {
			sig  syscall.Signal
			want int // exit code: 128 + the signal the app received
		}{
			{syscall.SIGTERM, 128 + 15},
			{syscall.SIGINT, map[bool]int{true: 128 + 2, false: 128 + 15}[sh.resetsSignals]},
		} {
			t.Run(sh.name+"/"+tc.sig.String(), func(t *testing.T) {
				port := freePort(t)
				s := startSupervisor(t, sh, nil, testApp(t, "listen", port))
				s.waitFor("the app to listen", func() bool { return listening(port) })
				app := s.appPID()
				s.cmd.Process.Signal(tc.sig)
				if code := s.waitExit(2 * time.Second); code != tc.want {
					t.Fatalf("supervisor exit code %d, want %d", code, tc.want)
				}
				if alive(app) {
					t.Fatalf("app %d outlived the supervisor", app)
				}
				if strings.Contains(s.log(), "exited") {
					t.Fatalf("a stop was reported as a crash: %s", s.log())
				}
			})
		}
	}
}

// Right after the fork, the app's process is still a copy of the supervisor shell, whose TERM trap would
// swallow the signal and leave the app running: a stop or restart that early must still reach the app.
func TestSupervisorStopsAnAppThatHasJustStarted(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name+"/stop", func(t *testing.T) {
			for range 10 {
				s := startSupervisor(t, sh, nil, testApp(t, "worker"))
				s.cmd.Process.Signal(syscall.SIGTERM)
				s.waitExit(3 * time.Second)
			}
		})
		t.Run(sh.name+"/restart", func(t *testing.T) {
			s := startSupervisor(t, sh, []string{"--grace", "10"}, testApp(t, "worker"))
			for gen := 1; gen <= 10; gen++ {
				if err := os.WriteFile(filepath.Join(s.dir, "request"), []byte(strconv.Itoa(gen)), 0o644); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				// As the client does: a signal that lands just before the supervisor blocks in wait is
				// only seen with the next one, so it is sent again until the generation moves.
				s.waitFor("the next generation", func() bool {
					s.cmd.Process.Signal(syscall.SIGUSR1)
					g, st, _, _ := s.state()
					return g == gen+1 && st == "running"
				})
				if took := time.Since(start); took > 3*time.Second {
					t.Fatalf("restart %d took %v: the app missed its TERM and waited for the 10s grace", gen, took)
				}
			}
		})
	}
}

func TestSupervisorHoldsTheFirstStart(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name+"/until a restart request", func(t *testing.T) {
			started := filepath.Join(t.TempDir(), "argv")
			s := startSupervisor(t, sh, []string{"--hold", "30"}, testApp(t, "argv", started))
			if status, _ := s.client("status"); !strings.HasSuffix(status, "generation=0 state=held") {
				t.Fatalf("status while held: %q", status)
			}
			time.Sleep(300 * time.Millisecond)
			if _, err := os.Stat(started); err == nil {
				t.Fatal("the app started while held")
			}
			if o := s.restart(); o.generation != 1 {
				t.Fatalf("first restart: %+v, want generation 1", o)
			}
			s.waitFor("the app to start", func() bool { _, err := os.Stat(started); return err == nil })
		})
		t.Run(sh.name+"/until the timeout", func(t *testing.T) {
			started := filepath.Join(t.TempDir(), "argv")
			begin := time.Now()
			s := startSupervisor(t, sh, []string{"--hold", "1"}, testApp(t, "argv", started))
			s.waitFor("the app to start", func() bool { _, err := os.Stat(started); return err == nil })
			if took := time.Since(begin); took < time.Second {
				t.Fatalf("the app started after %v, before the 1s hold", took)
			}
			if !strings.Contains(s.log(), "no sync arrived within 1s; starting the app anyway") {
				t.Fatalf("no notice of the hold timeout: %s", s.log())
			}
		})
		t.Run(sh.name+"/stopped while held", func(t *testing.T) {
			s := startSupervisor(t, sh, []string{"--hold", "30"}, testApp(t, "argv", filepath.Join(t.TempDir(), "argv")))
			s.cmd.Process.Signal(syscall.SIGTERM)
			if code := s.waitExit(2 * time.Second); code != 0 {
				t.Fatalf("exit code %d, want 0", code)
			}
		})
	}
}

func TestSupervisorKeepsArgvExactly(t *testing.T) {
	args := []string{"two words", `it's "quoted"`, "$(HOME)", "$$(X)", "$HOME", "", "*", "-", "--", "line\nbreak", `back\slash`, "stop"}
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "argv")
			s := startSupervisor(t, sh, nil, testApp(t, append([]string{"argv", file}, args...)...))
			var got []byte
			s.waitFor("the app to write its argv", func() bool { got, _ = os.ReadFile(file); return len(got) > 0 })
			if want := strings.Join(args, "\x00"); string(got) != want {
				t.Fatalf("app argv = %q, want %q", strings.Split(string(got), "\x00"), args)
			}
		})
	}
}

func TestSupervisorRestartsOnceForRepeatedSignals(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			s := startSupervisor(t, sh, nil, testApp(t, "worker"))
			if err := os.WriteFile(filepath.Join(s.dir, "request"), []byte("1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				s.cmd.Process.Signal(syscall.SIGUSR1)
			}
			s.waitFor("generation 2", func() bool { gen, st, _, _ := s.state(); return gen == 2 && st == "running" })
			time.Sleep(500 * time.Millisecond)
			if gen, st, _, _ := s.state(); gen != 2 || st != "running" {
				t.Fatalf("after repeated requests for one restart: generation %d %s, want 2 running", gen, st)
			}
		})
	}
}

func TestSupervisorClientFailures(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name+"/timeout", func(t *testing.T) {
			s := startSupervisor(t, sh, nil, testApp(t, "worker"))
			port := freePort(t)
			out, code := s.client("restart", "--wait-port", port, "--timeout", "1")
			if want := "timeout waiting=port:" + port; !strings.HasPrefix(out, want) || code != 3 {
				t.Fatalf("restart waiting for a port nobody opens: %q exit %d, want %q… exit 3", out, code, want)
			}
		})
		t.Run(sh.name+"/no supervisor", func(t *testing.T) {
			script := writeScript(t)
			argv := append(append([]string{}, sh.argv...), script, "restart", "--state-dir", t.TempDir())
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = []string{"PATH=" + sh.path}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "no supervisor") {
				t.Fatalf("restart without a supervisor: %v, %q", err, out)
			}
		})
	}
}

// spares lists the spares that testSpare started in dir: waiting ones and those a restart took.
func spares(t *testing.T, dir string) (waiting, taken []int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, _ := strconv.Atoi(e.Name())
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if string(b) == "taken" {
			taken = append(taken, pid)
		} else if alive(pid) {
			waiting = append(waiting, pid)
		}
	}
	return waiting, taken
}

func TestSupervisorSpareTakesOverEachStart(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			port, dir := freePort(t), t.TempDir()
			// With a hold, the first spares wait for the first restart too.
			s := startSupervisor(t, sh, []string{"--hold", "30", "--spare", "spare=" + dir, "--spare-at", "1"}, testApp(t, "listen", port))
			s.waitFor("two spares", func() bool { w, _ := spares(t, dir); return len(w) == 2 })
			if listening(port) {
				t.Fatal("a spare serves before its restart")
			}
			for gen := 1; gen <= 4; gen++ {
				before, _ := spares(t, dir)
				o := s.restart("--wait-port", port)
				if oldest := oldestProcess(t, before); o.generation != gen || o.pid != oldest {
					t.Fatalf("restart %d: %+v, want the older of the waiting spares %v (%d) to be the app", gen, o, before, oldest)
				}
				s.waitFor("two spares again", func() bool {
					w, _ := spares(t, dir)
					return len(w) == 2 && !slices.Contains(w, o.pid)
				})
				if _, taken := spares(t, dir); len(taken) != gen {
					t.Fatalf("restart %d: spares taken %v, want %d", gen, taken, gen)
				}
			}
			waiting, _ := spares(t, dir)
			s.stop()
			for _, pid := range waiting {
				if alive(pid) {
					t.Fatalf("the waiting spare %d outlived the supervisor", pid)
				}
			}
		})
	}
}

// oldestProcess is the one of pids that started first.
func oldestProcess(t *testing.T, pids []int) int {
	t.Helper()
	oldest, first := 0, uint64(0)
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		start, _ := strconv.ParseUint(fields[19], 10, 64)
		if oldest == 0 || start < first || start == first && pid < oldest {
			oldest, first = pid, start
		}
	}
	return oldest
}

func TestSupervisorStartsColdWhenTheSpareExits(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			port := freePort(t)
			s := startSupervisor(t, sh, []string{"--spare", "spare-exits", "--spare-at", "1"}, testApp(t, "listen", port))
			s.waitFor("the app to listen", func() bool { return listening(port) })
			for gen := 2; gen <= 3; gen++ {
				if o := s.restart("--wait-port", port); o.generation != gen || !listening(port) {
					t.Fatalf("restart %d: %+v, port served %v", gen, o, listening(port))
				}
			}
			if log := s.log(); strings.Count(log, "every restart starts the app cold") != 1 {
				t.Fatalf("want one line saying that restarts start cold, got: %s", log)
			}
		})
	}
}

func TestSupervisorClientWithoutGrepWaitsForThePort(t *testing.T) {
	for _, sh := range testShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			port := freePort(t)
			s := startSupervisor(t, sh, nil, testApp(t, "listen", port))
			s.waitFor("the app to listen", func() bool { return listening(port) })
			// Only sleep on the client's PATH: it reads the TCP tables with sh alone.
			bin := t.TempDir()
			for _, dir := range filepath.SplitList(sh.path) {
				if _, err := os.Stat(filepath.Join(dir, "sleep")); err == nil {
					if err := os.Symlink(filepath.Join(dir, "sleep"), filepath.Join(bin, "sleep")); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			s.clientPath = bin
			if o := s.restart("--wait-port", port); o.generation != 2 || !listening(port) {
				t.Fatalf("restart: %+v, port served %v", o, listening(port))
			}
			if out, code := s.client("restart", "--timeout", "1", "--wait-port", freePort(t)); code != 3 || !strings.Contains(out, "waiting=port:") {
				t.Fatalf("restart waiting for a port nobody serves: exit %d, %q; want a timeout waiting for the port", code, out)
			}
		})
	}
}
