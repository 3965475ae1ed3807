//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyProc is kindling run in a pseudo-terminal, as a person runs it.
type ptyProc struct {
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func startInTerminal(t *testing.T, dir string, args ...string) *ptyProc {
	t.Helper()
	cmd := KindlingCmd(t, args...)
	cmd.Dir = dir
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	must(t, err)
	p := &ptyProc{tty: tty, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
		tty.Close()
		if t.Failed() {
			t.Logf("terminal:\n%q", p.output())
		}
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *ptyProc) wait(t *testing.T, timeout time.Duration, what string, cond func(out string) bool) {
	t.Helper()
	waitFor(t, timeout, what, func() (bool, error) { return cond(p.output()), nil })
}

// TestTerminalShowsProgressAndTakesKeys: in a terminal, the first sync of a 10,000-file tree draws a
// progress bar (files and bytes done of total, rate, ETA), `r` restarts the app without a change, and
// `q` stops the session and restores the Deployment; the terminal gets its mode back.
func TestTerminalShowsProgressAndTakesKeys(t *testing.T) {
	ns := Namespace(t)
	python := restartCases[0].app
	python.deploy(t, ns, 1)
	before := deploymentJSON(t, ns, python.name)
	src := t.TempDir()
	WriteLocalFile(t, src, "server.py", pythonServer, 0o644)
	for i := range 10000 {
		WriteLocalFile(t, src, fmt.Sprintf("static/d%02d/f%04d.txt", i%50, i), strings.Repeat(fmt.Sprintf("line %d\n", i), 100), 0o644)
	}
	p := startInTerminal(t, src, "sync", "-d", python.name, "-n", ns, "--restart", "--debounce", "100ms")
	// (server.py is in the image already: 10,000 files to send.)
	bar := regexp.MustCompile(`initial sync [0-9,]+/10,000 files +[0-9]+% \[[=>.]+\] \([0-9.]+/[0-9.]+ MiB, [0-9.]+ [KMG]?i?B/s\)`)
	p.wait(t, 120*time.Second, "the watching line naming the keys, and the first sync", func(out string) bool {
		return strings.Contains(out, "watching for changes (r: restart now, q or Ctrl-C: stop)") && strings.Contains(out, "10000 written")
	})
	out := p.output()
	if !bar.MatchString(out) {
		t.Fatalf("no progress bar of the 10,000 files in the terminal:\n%q", out)
	}
	t.Logf("a progress frame: %q", bar.FindString(out))

	restarts := strings.Count(out, "[restart]")
	_, err := io.WriteString(p.tty, "r")
	must(t, err)
	p.wait(t, 60*time.Second, "a restart on r", func(out string) bool { return strings.Count(out, "[restart]") > restarts })
	WaitHTTPBody(t, ns, python.name, 8080, "/", "python v1", 30*time.Second)

	_, err = io.WriteString(p.tty, "q")
	must(t, err)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("kindling exited with %v after q", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("kindling did not stop within 60s of q")
	}
	if got := deploymentJSON(t, ns, python.name); got != before {
		t.Errorf("deployment not restored after q:\nbefore %s\nafter  %s", before, got)
	}
	if !strings.Contains(p.output(), "restored deployment/python") {
		t.Errorf("no restore line after q:\n%q", p.output())
	}
}
