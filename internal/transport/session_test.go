package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

// execCounter is an Execer that counts the execs that reach the container.
type execCounter struct {
	Execer
	n atomic.Int32
}

func (c *execCounter) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c.n.Add(1)
	return c.Execer.Exec(ctx, argv, stdin, stdout, stderr)
}

func newTestSession(t *testing.T, path string) (*Session, *execCounter) {
	base := &execCounter{Execer: &LocalExecer{Name: "pod/test/session", Path: path}}
	s := NewSession(base)
	t.Cleanup(func() { s.Close() })
	return s, base
}

// run runs argv on s and returns its stdout and stderr.
func run(t *testing.T, s *Session, stdin io.Reader, argv ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := s.Exec(context.Background(), argv, stdin, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestSessionRunsCommandsOnOneShell(t *testing.T) {
	for _, c := range []container{{name: "gnu"}, {name: "busybox", path: busyboxPath(t, nil)}} {
		t.Run(c.name, func(t *testing.T) {
			s, base := newTestSession(t, c.path)
			// Arguments that break naive quoting and line framing come back exactly.
			args := append([]string{"sh", "-c", `printf '%s\0' "$@"; echo err >&2`, "x"}, funnyNames...)
			out, errOut, err := run(t, s, nil, args...)
			if err != nil || out != strings.Join(funnyNames, "\x00")+"\x00" || errOut != "err\n" {
				t.Fatalf("argv round trip: err %v, stdout %q, stderr %q", err, out, errOut)
			}
			// Input that looks like protocol: newlines, a fake token and status, NUL bytes.
			input := "kindling-00 5 'x'\n\x00line\nkindling-00 0\n" + strings.Repeat("z", 100_000)
			if out, _, err := run(t, s, strings.NewReader(input), "cat"); err != nil || out != input {
				t.Fatalf("cat of %d bytes: err %v, got %d bytes", len(input), err, len(out))
			}
			_, _, err = run(t, s, nil, "sh", "-c", "exit 7")
			if exitCode(err) != 7 {
				t.Fatalf("exit 7: got %v", err)
			}
			// A command that reads only part of its input leaves the session in step.
			if out, _, err := run(t, s, bytes.NewReader([]byte("one\ntwo\n")), "head", "-n", "1"); err != nil || out != "one\n" {
				t.Fatalf("head -n 1: %q, %v", out, err)
			}
			if _, _, err := run(t, s, nil, "no-such-command"); !isCommandNotFound(err) {
				t.Fatalf("missing command: got %v, want a not-found error", err)
			}
			if out, _, err := run(t, s, nil, "echo", "still here"); err != nil || out != "still here\n" {
				t.Fatalf("after the others: %q, %v", out, err)
			}
			if n := base.n.Load(); n != 1 {
				t.Errorf("%d execs reached the container, want 1 (the session's shell)", n)
			}
		})
	}
}

func TestSessionGivesStreamsAndBigInputsTheirOwnExec(t *testing.T) {
	s, base := newTestSession(t, "")
	run(t, s, nil, "true")
	big := strings.Repeat("b", MaxSessionInput+1)
	if out, _, err := run(t, s, strings.NewReader(big), "wc", "-c"); err != nil || strings.TrimSpace(out) != "1048577" {
		t.Fatalf("big input: %q, %v", out, err)
	}
	// A streamed stdin may depend on the command's output, so it cannot be read ahead.
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- s.Exec(context.Background(), []string{"sh", "-c", "echo ready; read x; echo got $x"}, inR, outW, nil)
		outW.Close()
	}()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(outR, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("interactive command: %q, %v", buf, err)
	}
	io.WriteString(inW, "answer\n")
	rest, _ := io.ReadAll(outR)
	if err := <-done; err != nil || string(rest) != "got answer\n" {
		t.Fatalf("interactive command: %q, %v", rest, err)
	}
	if n := base.n.Load(); n != 3 {
		t.Errorf("%d execs, want 3: the session, the big input, the stream", n)
	}
}

func TestSessionWithoutDdRunsInputsApart(t *testing.T) {
	s, base := newTestSession(t, busyboxPath(t, []string{"dd"}))
	if out, _, err := run(t, s, strings.NewReader("in"), "cat"); err != nil || out != "in" {
		t.Fatalf("cat: %q, %v", out, err)
	}
	if out, _, err := run(t, s, nil, "echo", "on the session"); err != nil || out != "on the session\n" {
		t.Fatalf("echo: %q, %v", out, err)
	}
	if n := base.n.Load(); n != 2 {
		t.Errorf("%d execs, want 2: the session, the input", n)
	}
}

func TestSessionStartsAgainAfterItsShellDied(t *testing.T) {
	s, base := newTestSession(t, "")
	run(t, s, nil, "true")
	if _, _, err := run(t, s, nil, "sh", "-c", "kill -KILL $PPID"); err == nil {
		t.Fatal("a command whose session died succeeded")
	}
	if out, _, err := run(t, s, nil, "echo", "again"); err != nil || out != "again\n" {
		t.Fatalf("after the shell died: %q, %v", out, err)
	}
	if n := base.n.Load(); n != 2 {
		t.Errorf("%d execs, want 2 sessions", n)
	}
}

func TestSessionCommandEndsWithItsContext(t *testing.T) {
	s, _ := newTestSession(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Exec(ctx, []string{"sleep", "30"}, nil, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("got %v after %v, want the context's error at once", err, time.Since(start))
	}
	if out, _, err := run(t, s, nil, "echo", "next"); err != nil || out != "next\n" {
		t.Fatalf("after a cancelled command: %q, %v", out, err)
	}
}

func TestSessionWithoutShell(t *testing.T) {
	s, _ := newTestSession(t, t.TempDir())
	if _, _, err := run(t, s, nil, "true"); !isCommandNotFound(err) {
		t.Fatalf("got %v, want the not-found error of sh", err)
	}
}

// hangingExecer is a container whose exec never answers until its context ends.
type hangingExecer struct{}

func (hangingExecer) Target() string { return "pod/hang/app" }
func (hangingExecer) Exec(ctx context.Context, _ []string, _ io.Reader, _, _ io.Writer) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestSessionStartEndsWithItsContext(t *testing.T) {
	s := NewSession(hangingExecer{})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Exec(ctx, []string{"true"}, nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

func TestSessionOpenStartsTheShellAhead(t *testing.T) {
	s, base := newTestSession(t, "")
	s.Open()
	deadline := time.Now().Add(10 * time.Second)
	for base.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if out, _, err := run(t, s, nil, "echo", "hi"); err != nil || out != "hi\n" {
		t.Fatalf("after Open: %q, %v", out, err)
	}
	if n := base.n.Load(); n != 1 {
		t.Errorf("%d execs reached the container, want 1: the shell Open started", n)
	}
}

func TestSessionCloseEndsAnOpenThatHangs(t *testing.T) {
	s := NewSession(hangingExecer{})
	s.Open()
	time.Sleep(10 * time.Millisecond) // Open's start is under way
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for an exec that never answers")
	}
}

// greetsLateExecer starts the shell only once the first command line has arrived, as a shell that
// takes long to start would answer: a session that waited for the greeting before sending would hang.
type greetsLateExecer struct{ Execer }

func (g greetsLateExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	late := `IFS= read -r first; { printf '%s\n' "$first"; cat; } | sh -c "$@"`
	return g.Execer.Exec(ctx, append([]string{"sh", "-c", late, "late"}, argv[2:]...), stdin, stdout, stderr)
}

func TestSessionSendsACommandWithoutStdinBeforeTheGreeting(t *testing.T) {
	s := NewSession(greetsLateExecer{&LocalExecer{Name: "pod/late/app"}})
	defer s.Close()
	s.Open()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := s.Exec(ctx, []string{"echo", "first"}, nil, &out, nil); err != nil || out.String() != "first\n" {
		t.Fatalf("first command: %q, %v", out.String(), err)
	}
	// Commands with stdin wait for the greeting, which by now has come.
	out.Reset()
	if err := s.Exec(ctx, []string{"cat"}, strings.NewReader("second"), &out, nil); err != nil || out.String() != "second" {
		t.Fatalf("command with stdin: %q, %v", out.String(), err)
	}
}

// opRecorder records the commands a Shell runs on a Session.
type opRecorder struct {
	*Session
	ops []Op
}

func (r *opRecorder) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.ops = append(r.ops, OpOf(argv))
	return r.Session.Exec(ctx, argv, stdin, stdout, stderr)
}

func TestSessionGreetingTellsTheToolsAProbeWould(t *testing.T) {
	for _, c := range containers(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			want, err := NewShell(&LocalExecer{Name: "pod/probe/app", Path: c.path}).probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s, base := newTestSession(t, c.path)
			on := &opRecorder{Session: s}
			got, err := NewShell(on).probe(ctx)
			if err != nil || !maps.Equal(got, want) {
				t.Fatalf("tools from the greeting: %v, %v; a probe says %v", got, err, want)
			}
			if len(on.ops) != 0 || base.n.Load() != 1 {
				t.Errorf("learning the tools ran %v on the session and %d execs, want nothing but the session's", on.ops, base.n.Load())
			}
		})
	}
}

func TestManifestWithAKeptListingAsksForItBeforeTheShellGreets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dest, cacheDir := t.TempDir(), t.TempDir()
	build(t, dest, map[string]node{"a.txt": file("a"), "sub/b.txt": file("b")})
	// The same target name, so that the second Shell finds the first one's kept listing.
	first := NewShell(&LocalExecer{Name: "pod/late/app"}, Cache(cacheDir))
	want, err := first.Manifest(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	// This shell starts only once a command line has arrived: waiting for its greeting first would hang.
	s := NewSession(greetsLateExecer{&LocalExecer{Name: "pod/late/app"}})
	defer s.Close()
	s.Open()
	got, err := NewShell(s, Cache(cacheDir)).Manifest(ctx, dest)
	if err != nil {
		t.Fatalf("manifest through a shell that greets late: %v", err)
	}
	if d := plan.FirstDifference(want, got); d != "" {
		t.Errorf("second manifest vs first: %s", d)
	}
}
