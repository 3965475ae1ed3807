package restart

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the app that the supervisor and the signal script act on: with
// testAppEnv set, TestMain runs one of the modes below instead of the tests.
const testAppEnv = "KINDLING_RESTART_TEST_APP"

func TestMain(m *testing.M) {
	if os.Getenv(testAppEnv) != "" {
		os.Exit(runTestApp(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// testApp is the argv that runs the test binary as an app in the given mode; the process that starts it
// must have testAppEnv in its environment (see testAppEnviron).
func testApp(t *testing.T, mode ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{self}, mode...)
}

// testAppEnviron is the environment for a process that starts test apps.
func testAppEnviron(extra ...string) []string {
	return append(append(os.Environ(), testAppEnv+"=1"), extra...)
}

// runTestApp modes:
//
//	listen PORT [ignore-term] [spawn-holder] [crash-if FILE]  serve TCP on 127.0.0.1:PORT
//	holder                                                    keep fd 3 (a listener) open, ignore TERM
//	argv FILE ARG...                                          write ARG... to FILE, NUL-separated, then sleep
//	master WORKERS [OPTION]                                   run WORKERS children; on HUP replace them
//	worker                                                    sleep until killed
//	spare=DIR MODE...                                         a spare (the supervisor's --spare): note the
//	                                                          PID in DIR, wait for the restart, run MODE...
//	spare-exits                                               a spare that cannot be one: exit 3 at once
func runTestApp(args []string) int {
	mode, args := args[0], args[1:]
	if dir, ok := strings.CutPrefix(mode, "spare="); ok {
		return testSpare(dir, args)
	}
	switch mode {
	case "spare-exits":
		return 3
	case "listen":
		return testListen(args)
	case "holder":
		signal.Ignore(syscall.SIGTERM)
		select {}
	case "argv":
		if err := os.WriteFile(args[0], []byte(strings.Join(args[1:], "\x00")), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		select {}
	case "master":
		return testMaster(args)
	case "worker":
		select {}
	}
	fmt.Fprintln(os.Stderr, "unknown test app mode", mode)
	return 2
}

func testListen(args []string) int {
	port := args[0]
	opts := map[string]string{}
	for i := 1; i < len(args); i++ {
		if args[i] == "crash-if" {
			opts["crash-if"], i = args[i+1], i+1
			continue
		}
		opts[args[i]] = "yes"
	}
	if f := opts["crash-if"]; f != "" {
		if _, err := os.Stat(f); err == nil {
			fmt.Fprintln(os.Stderr, "crashing on purpose")
			return 3
		}
	}
	if opts["ignore-term"] != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	if opts["spawn-holder"] != "" {
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 5
		}
		holder := exec.Command(os.Args[0], "holder")
		holder.ExtraFiles = []*os.File{f}
		if err := holder.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 5
		}
		f.Close()
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return 6
		}
		c.Close()
	}
}

// testMaster behaves like a pre-fork server master (gunicorn, nginx): it keeps WORKERS children and,
// on HUP, starts new ones and stops the old ones, or does what its option says instead. It prints
// "ready" once its signal handling is set up.
func testMaster(args []string) int {
	n, _ := strconv.Atoi(args[0])
	option := ""
	if len(args) > 1 {
		option = args[1]
	}
	hup := make(chan os.Signal, 1)
	switch option {
	case "ignore-hup":
		signal.Ignore(syscall.SIGHUP)
	case "die-on-hup": // the default action
	default:
		signal.Notify(hup, syscall.SIGHUP)
	}
	spawn := func(n int) []*exec.Cmd {
		var ws []*exec.Cmd
		for range n {
			w := exec.Command(os.Args[0], "worker")
			if err := w.Start(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			ws = append(ws, w)
		}
		return ws
	}
	stop := func(ws []*exec.Cmd) {
		for _, w := range ws {
			w.Process.Kill()
			w.Wait()
		}
	}
	workers := spawn(n)
	fmt.Println("ready")
	for range hup {
		time.Sleep(100 * time.Millisecond) // a reload takes a moment
		switch option {
		case "reexec-on-hup": // Puma in single mode: same PID, new threads
			stop(workers)
			syscall.Exec(os.Args[0], os.Args, os.Environ())
		case "replace-one-on-hup":
			first := workers[0]
			workers = append(workers[1:], spawn(1)...)
			stop([]*exec.Cmd{first})
		default:
			old := workers
			workers = spawn(n)
			stop(old)
		}
	}
	return 0
}

// testSpare does what kindling's spare scripts do, with the test binary as the interpreter: it takes the
// gate's fd and its ready file from the environment, says it waits (the ready file, and DIR/PID for the
// test), reads the restart's byte and runs the app.
func testSpare(dir string, app []string) int {
	fd, err := strconv.Atoi(os.Getenv("KINDLING_SPARE_FD"))
	ready := os.Getenv("KINDLING_SPARE_READY")
	os.Unsetenv("KINDLING_SPARE_FD")
	os.Unsetenv("KINDLING_SPARE_READY")
	if err != nil || ready == "" {
		fmt.Fprintln(os.Stderr, "spare: no KINDLING_SPARE_FD or KINDLING_SPARE_READY")
		return 7
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 7
	}
	waiting := filepath.Join(dir, strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(waiting, nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 7
	}
	gate := os.NewFile(uintptr(fd), "gate")
	if n, err := gate.Read(make([]byte, 1)); n != 1 {
		fmt.Fprintln(os.Stderr, "spare: reading the gate:", err)
		return 7
	}
	gate.Close()
	if err := os.WriteFile(waiting, []byte("taken"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 7
	}
	return runTestApp(app)
}
