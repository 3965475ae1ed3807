package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// sessionCommand is one command run both through a Session and as a plain exec, which must agree.
type sessionCommand struct {
	name  string
	argv  []string
	stdin []byte // nil: no stdin
}

func sessionCommands() []sessionCommand {
	noise := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	framing := []byte("0\n12\nkindling-\n\x00'\"$(true)\n")
	return []sessionCommand{
		{"arguments of any bytes", []string{"sh", "-c", `printf '[%s]' "$@"`, "x", "a b", "it's", `"q"`, "new\nline", "trail\n",
			"\nlead", "", `$(echo no)`, "`no`", `back\slash`, "tab\there", "ünï", "$nl", `'"$nl"'`}, nil},
		{"binary stdin", []string{"cat"}, append(framing, noise[:100<<10]...)},
		{"large stdin", []string{"sha256sum"}, noise},
		{"exit status", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil},
		{"no such command", []string{"no-such-command-kindling"}, nil},
		{"no such command, with stdin", []string{"no-such-command-kindling"}, noise[:1000]},
		{"stdin not read", []string{"sh", "-c", "exit 0"}, noise},
		{"stdin partly read", []string{"dd", "bs=5", "count=1", "status=none"}, noise},
		{"stdin read over several chunks, then not", []string{"dd", "bs=100000", "count=15", "iflag=fullblock", "status=none"}, noise},
		{"no trailing newline on stderr", []string{"sh", "-c", "printf err >&2; printf out"}, nil},
		{"empty stdin", []string{"wc", "-c"}, []byte{}},
	}
}

type execResult struct {
	stdout, stderr string
	code           int
	notFound       bool
	ok             bool
}

func runCommand(t *testing.T, e Execer, c sessionCommand) execResult {
	t.Helper()
	var stdin io.Reader
	if c.stdin != nil {
		stdin = bytes.NewReader(c.stdin)
	}
	var out, errOut bytes.Buffer
	err := e.Exec(context.Background(), c.argv, stdin, &out, &errOut)
	r := execResult{stdout: out.String(), code: -1, ok: err == nil, notFound: isCommandNotFound(err)}
	if err != nil && !r.notFound {
		r.code = exitCode(err)
	}
	if !r.notFound { // the messages of a missing command differ between sh and Go's exec
		r.stderr = errOut.String()
	}
	return r
}

func TestSessionRunsCommandsLikeExec(t *testing.T) {
	for _, c := range []container{{name: "gnu"}, {name: "busybox", path: busyboxPath(t, nil)}, {name: "without-dd", path: gnuPath(t, "dd")}} {
		t.Run(c.name, func(t *testing.T) {
			plain := &LocalExecer{Name: "pod/x/c", Path: c.path}
			session := NewSession(plain)
			defer session.Close()
			// Twice over, so that each command also runs after every other one on the same shell.
			for range 2 {
				for _, cmd := range sessionCommands() {
					want, got := runCommand(t, plain, cmd), runCommand(t, session, cmd)
					if got != want {
						t.Errorf("%s: session gave %+v, exec gave %+v", cmd.name, shorter(got), shorter(want))
					}
				}
			}
		})
	}
}

func shorter(r execResult) execResult {
	if len(r.stdout) > 200 {
		sum := sha256.Sum256([]byte(r.stdout))
		r.stdout = r.stdout[:50] + "… sha256:" + hex.EncodeToString(sum[:8])
	}
	return r
}

// TestSessionInteractive: output must reach the caller while the command waits for more input, as a
// manifest's listing does before the request it answers.
func TestSessionInteractive(t *testing.T) {
	session := NewSession(&LocalExecer{Name: "pod/x/c"})
	defer session.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- session.Exec(context.Background(), []string{"sh", "-c", `printf 'ki\0'; read a; printf 'got %s\n' "$a"; read b; echo "got $b"`}, inR, outW, nil)
		outW.Close()
	}()
	r := bufio.NewReader(outR)
	for _, step := range []struct{ want, answer string }{{"ki\x00", "one\n"}, {"got one\n", "two\n"}, {"got two\n", ""}} {
		got := make([]byte, len(step.want))
		if _, err := io.ReadFull(r, got); err != nil || string(got) != step.want {
			t.Fatalf("read %q (%v), want %q", got, err, step.want)
		}
		io.WriteString(inW, step.answer)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSessionRecovers(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(s *Session) error
	}{
		{"context ended mid-command", func(s *Session) error {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := s.Exec(ctx, []string{"sleep", "30"}, strings.NewReader("x"), nil, nil)
			if time.Since(start) > 10*time.Second {
				t.Errorf("a cancelled command returned after %v", time.Since(start))
			}
			return err
		}},
		{"shell killed", func(s *Session) error {
			return s.Exec(context.Background(), []string{"sh", "-c", "kill -9 $PPID"}, nil, nil, nil)
		}},
		{"closed", func(s *Session) error { s.Close(); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSession(&LocalExecer{Name: "pod/x/c"})
			defer s.Close()
			tt.break_(s)
			var out bytes.Buffer
			if err := s.Exec(context.Background(), []string{"echo", "again"}, nil, &out, nil); err != nil || out.String() != "again\n" {
				t.Fatalf("next command: %q, %v", out.String(), err)
			}
		})
	}
}

func TestSessionWithoutShell(t *testing.T) {
	s := NewSession(&LocalExecer{Name: "pod/x/c", Path: t.TempDir()})
	err := s.Exec(context.Background(), []string{"true"}, nil, nil, nil)
	if !isCommandNotFound(err) {
		t.Fatalf("err = %v, want the exec's command-not-found error", err)
	}
}

// TestSessionExecs: commands share one exec, except a bulk stdin, which gets an exec of its own.
func TestSessionExecs(t *testing.T) {
	counter := &countingExecer{Execer: &LocalExecer{Name: "pod/x/c"}, ops: map[Op]int{}}
	s := NewSession(counter)
	defer s.Close()
	for _, stdin := range []io.Reader{nil, strings.NewReader("in"), nil, bytes.NewReader(make([]byte, 3*maxChunk)), strings.NewReader("in")} {
		if err := s.Exec(context.Background(), []string{"cat"}, stdin, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if n := counter.ops[OpOther]; n != 2 || len(counter.ops) != 1 {
		t.Fatalf("execs %v for 5 commands, one with a bulk stdin; want 2", counter.ops)
	}
}

func TestPartialMatch(t *testing.T) {
	tok := []byte("kindling-ab")
	tests := []struct {
		buf  string
		want int
	}{
		{"abc", 0},
		{"abck", 1},
		{"abckindling-a", 10},
		{"kindling-ab", 0}, // a whole token is found by the search, not kept back
		{"", 0},
		{"kk", 1},
	}
	for _, tt := range tests {
		if got := partialMatch([]byte(tt.buf), tok); got != tt.want {
			t.Errorf("partialMatch(%q) = %d, want %d", tt.buf, got, tt.want)
		}
	}
}
