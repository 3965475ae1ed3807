package transport

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/testenv"
)

// Fake dd programs, put first in a test container's PATH: the dd of images whose dd has no working
// iflag=fullblock. Each runs the real dd.
const (
	// ddRejectsFullblock is older BusyBox or toybox: iflag=fullblock is an error, and nothing is read.
	ddRejectsFullblock = `#!/bin/sh
case " $* " in *" iflag="*) echo "dd: unknown input flag" >&2; exit 1 ;; esac
exec REALDD "$@"
`
	// ddReadsShort accepts iflag=fullblock but ignores it, and its reads come back short: a block is
	// at most 1000 bytes, whatever bs says. A 3-byte input still comes whole, as the greeting checks.
	ddReadsShort = `#!/bin/sh
bs=512 count=
for a; do case $a in bs=*) bs=${a#bs=} ;; count=*) count=${a#count=} ;; esac; done
[ "$bs" -le 1000 ] || bs=1000
exec REALDD bs="$bs" ${count:+count=$count}
`
)

// hostileContainer is a PATH with shell as sh, this machine's tools, and dd replaced by fakeDD ("" keeps
// the real one).
func hostileContainer(t *testing.T, shell, fakeDD string) string {
	t.Helper()
	dir := gnuPath(t, "sh", "dd")
	shellBin, err := exec.LookPath(shell)
	if err != nil {
		testenv.Skip(t, shell+" is not installed")
	}
	// busybox runs as the applet its link is named after.
	if err := os.Symlink(shellBin, filepath.Join(dir, "sh")); err != nil {
		t.Fatal(err)
	}
	realDD, err := exec.LookPath("dd")
	if err != nil {
		t.Fatal(err)
	}
	if fakeDD == "" {
		err = os.Symlink(realDD, filepath.Join(dir, "dd"))
	} else {
		err = os.WriteFile(filepath.Join(dir, "dd"), []byte(strings.ReplaceAll(fakeDD, "REALDD", realDD)), 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// hostilePayloads are stdins that would run the canary command if any of their bytes reached the
// session's shell as a command line. canary is the file such a command creates.
func hostilePayloads(canary string) map[string][]byte {
	// A builtin, so that it needs nothing from the container's PATH.
	touch := "echo pwned >" + canary
	quoted := "'" + touch + "'"
	lines := []string{
		"$(" + touch + ")",
		"`" + touch + "`",
		"; " + touch + " ;",
		"' ; " + touch + " ; '",
		// The old protocol exactly, and the new one with guessed secret and token formats.
		"kindling-0123456789abcdef0123456789abcdef 0 'sh' '-c' " + quoted,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ kindling-ABCDEFGHIJKLMNOPQRSTUVWXYZ 0 'sh' '-c' " + quoted,
		"x 0 'sh' '-c' " + quoted + " $(" + touch + ")",
		touch,
	}
	protocol := strings.Join(lines, "\n") + "\n"
	big := bytes.Repeat([]byte(protocol), 200_000/len(protocol)+1) // arrives in many reads, in 64 KiB blocks
	return map[string][]byte{
		"metacharacters":    []byte(protocol),
		"no final newline":  []byte(strings.TrimSuffix(protocol, "\n")),
		"newline first":     []byte("\n" + protocol),
		"NUL bytes":         []byte("\x00" + strings.ReplaceAll(protocol, " ", "\x00 ") + "\x00"),
		"binary":            append([]byte{0xff, 0xfe, 0, 1, 2, '\n', '\r'}, []byte(protocol)...),
		"big":               big,
		"exactly one block": append(bytes.Repeat([]byte("\n"), 65536-len(protocol)), protocol...),
		"one block and one": append(bytes.Repeat([]byte("x"), 65536), protocol[:1]...),
	}
}

// TestSessionNeverRunsInput sends stdins that look like commands through a Session whose shell is dash,
// bash or BusyBox sh, with dds that cannot read whole blocks: each lands byte-exact, or its command
// fails, and none of it ever runs.
func TestSessionNeverRunsInput(t *testing.T) {
	for _, shell := range []string{"dash", "bash", "busybox"} {
		for _, dd := range []struct{ name, script string }{
			{"gnu-dd", ""}, {"dd-rejects-fullblock", ddRejectsFullblock}, {"dd-reads-short", ddReadsShort},
		} {
			t.Run(shell+"/"+dd.name, func(t *testing.T) {
				path := hostileContainer(t, shell, dd.script)
				dir := t.TempDir()
				canary := filepath.Join(dir, "canary")
				s, _ := newTestSession(t, path)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for name, payload := range hostilePayloads(canary) {
					target := filepath.Join(dir, "out")
					os.Remove(target)
					err := s.Exec(ctx, []string{"sh", "-c", `cat >"$1"`, "x", target}, bytes.NewReader(payload), nil, nil)
					got, _ := os.ReadFile(target)
					if err == nil && !bytes.Equal(got, payload) {
						t.Errorf("%s: the command succeeded, but %d bytes of %d landed", name, len(got), len(payload))
					}
					if dd.script == "" && err != nil {
						t.Errorf("%s: %v (the real dd reads whole blocks: the input should land)", name, err)
					}
					// The session goes on, or a new one starts.
					var out bytes.Buffer
					err = s.Exec(ctx, []string{"echo", "next"}, nil, &out, nil)
					if _, err := os.Stat(canary); err == nil {
						t.Fatalf("%s: the canary exists: part of the input ran as a command", name)
					}
					if err != nil || out.String() != "next\n" {
						t.Fatalf("%s: the command after it: %q, %v", name, out.String(), err)
					}
				}
			})
		}
	}
}

// TestSessionInputHoldingTheSecret gives a stdin that holds the session's secret an exec of its own.
func TestSessionInputHoldingTheSecret(t *testing.T) {
	s, base := newTestSession(t, "")
	run(t, s, nil, "true")
	secret := s.conn.secret
	canary := filepath.Join(t.TempDir(), "canary")
	for _, input := range []string{
		"x\n" + secret + " kindling-T 0 'sh' '-c' 'touch " + canary + "'\n",
		"x\n" + secret[:5] + "\x00" + secret[5:] + " kindling-T 0 'sh' '-c' 'touch " + canary + "'\n", // a shell's read drops the NUL
	} {
		before := base.n.Load()
		if out, _, err := run(t, s, strings.NewReader(input), "cat"); err != nil || out != input {
			t.Fatalf("cat: %q, %v", out, err)
		}
		if base.n.Load() != before+1 {
			t.Errorf("an input holding the secret ran on the session")
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("the canary exists")
	}
	if out, _, err := run(t, s, nil, "echo", "on the session"); err != nil || out != "on the session\n" {
		t.Fatalf("after: %q, %v", out, err)
	}
}

// TestSessionEndsOnALineWithoutTheSecret: a line that does not start with the secret ends the shell
// before anything of it runs.
func TestSessionEndsOnALineWithoutTheSecret(t *testing.T) {
	s, base := newTestSession(t, "")
	run(t, s, nil, "true")
	canary := filepath.Join(t.TempDir(), "canary")
	c := s.conn
	token := newToken()
	// The framing of the old protocol: token, size, words; no secret.
	if _, err := c.stdin.Write([]byte(token + " 0 'sh' '-c' 'touch " + canary + "'\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not end")
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("a line without the secret ran")
	}
	if out, _, err := run(t, s, nil, "echo", "again"); err != nil || out != "again\n" {
		t.Fatalf("the next command: %q, %v", out, err)
	}
	if n := base.n.Load(); n != 2 {
		t.Errorf("%d execs, want 2: the first shell and a fresh one", n)
	}
}

// TestSessionInputOfManyBlocksToACommandThatStopsReading: the input left unread by a command that exits
// early is drained, so the session stays in step.
func TestSessionInputOfManyBlocksToACommandThatStopsReading(t *testing.T) {
	for _, c := range []container{{name: "gnu"}, {name: "busybox", path: busyboxPath(t, nil)}} {
		t.Run(c.name, func(t *testing.T) {
			s, base := newTestSession(t, c.path)
			input := "first\n" + strings.Repeat("y", 5*65536+17)
			if out, _, err := run(t, s, strings.NewReader(input), "head", "-c", "6"); err != nil || out != "first\n" {
				t.Fatalf("head: %q, %v", out, err)
			}
			if out, _, err := run(t, s, strings.NewReader(input), "cat"); err != nil || out != input {
				t.Fatalf("cat: %d bytes of %d, %v", len(out), len(input), err)
			}
			if n := base.n.Load(); n != 1 {
				t.Errorf("%d execs, want 1", n)
			}
		})
	}
}

const fuzzCanary = "/tmp/kindling-fuzz-canary"

// FuzzSession sends an argument and a stdin through a Session: the command sees both exactly, and
// nothing of either runs.
func FuzzSession(f *testing.F) {
	// The corpus in testdata/fuzz/FuzzSession has more; its commands touch fuzzCanary.
	f.Add("plain", []byte("plain input"))
	f.Add("", []byte{})
	s := NewSession(&LocalExecer{Name: "pod/fuzz/app"})
	f.Cleanup(func() { s.Close() })
	canaryDir := f.TempDir()
	os.Remove(fuzzCanary)
	f.Fuzz(func(t *testing.T, arg string, input []byte) {
		if strings.IndexByte(arg, 0) >= 0 {
			if err := s.Exec(context.Background(), []string{"echo", arg}, nil, nil, nil); err == nil {
				t.Fatal("an argument with a NUL byte was run")
			}
			return
		}
		// Every word of either that would run as a command creates a file in canaryDir.
		var out bytes.Buffer
		argv := []string{"sh", "-c", `cd "$1" && printf '%s|' "$2" && cat`, "x", canaryDir, arg}
		// A session that hangs fails with its input, instead of stalling the fuzzer.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Exec(ctx, argv, bytes.NewReader(input), &out, nil); err != nil {
			t.Fatal(err)
		}
		if want := arg + "|" + string(input); out.String() != want {
			t.Fatalf("got %q, want %q", out.String(), want)
		}
		if entries, _ := os.ReadDir(canaryDir); len(entries) > 0 {
			t.Fatalf("%s was created: something ran", entries[0].Name())
		}
		if _, err := os.Stat(fuzzCanary); err == nil {
			t.Fatalf("%s was created: something ran", fuzzCanary)
		}
	})
}

// TestSessionCommandThatWritesBeforeReadingItsInput: a command that writes more than a pipe holds, on
// both streams, before it reads its input, and a shell that ends half-way through an input while its
// output is on the way, do not hang the session: its output is read while the input is written.
func TestSessionCommandThatWritesBeforeReadingItsInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, _ := newTestSession(t, "")
	input := strings.Repeat("i", 600_000)
	var out, errOut bytes.Buffer
	argv := []string{"sh", "-c", `head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; wc -c`}
	if err := s.Exec(ctx, argv, strings.NewReader(input), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 300_000+len("600000\n") || errOut.Len() != 300_000 || !strings.HasSuffix(out.String(), "600000\n") {
		t.Fatalf("stdout %d bytes (ends %q), stderr %d bytes", out.Len(), out.String()[max(0, out.Len()-8):], errOut.Len())
	}

	// A dd that reads short ends the shell half-way through the input (at the next line: hence the
	// newlines), with dd's report on stderr.
	s, _ = newTestSession(t, hostileContainer(t, "dash", ddReadsShort))
	lines := strings.Repeat(strings.Repeat("i", 99)+"\n", 6000)
	start := time.Now()
	if err := s.Exec(ctx, []string{"cat"}, strings.NewReader(lines), io.Discard, io.Discard); err == nil {
		t.Fatal("the input was lost, and the command succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the command failed after %s, want at once", d)
	}
}
