package transport

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

// stuckExecer is a container whose transfer processes died after taking some of the stream: the exec
// neither reads its stdin any more nor ends, as a Kubernetes exec with an open stdin does.
type stuckExecer struct{ LocalExecer }

func (s *stuckExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin == nil || len(argv) < 3 || !strings.Contains(argv[2], "tar -x") {
		return s.LocalExecer.Exec(ctx, argv, stdin, stdout, stderr)
	}
	io.CopyN(io.Discard, stdin, 100<<10)
	<-ctx.Done()
	return ctx.Err()
}

// A streamed transfer that the container stops taking is given up after stallTimeout, naming the
// container, instead of at the operation's deadline (minutes for a large sync).
func TestStalledTransferIsGivenUp(t *testing.T) {
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 300 * time.Millisecond
	src := t.TempDir()
	for i := range 30 {
		name := filepath.Join(src, fmt.Sprintf("f%02d.dat", i))
		if err := os.WriteFile(name, []byte(strings.Repeat("x", 100<<10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	local := scan(t, src)
	sh := NewShell(&stuckExecer{LocalExecer{Name: "pod/stuck/app"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := sh.Apply(ctx, t.TempDir()+"/app", plan.Diff(local, plan.Tree{}), DirSource(src))
	if err == nil || !strings.Contains(err.Error(), "pod/stuck/app stopped answering during the transfer") {
		t.Fatalf("Apply = %v, want the stall named", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the stall was noticed after %v", d)
	}
}

// drainedExecer is a container killed after the whole stream was buffered on its way: the exec took every
// byte, then neither ends nor answers.
type drainedExecer struct{ LocalExecer }

func (s *drainedExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin == nil || len(argv) < 3 || !strings.Contains(argv[2], "tar -x") {
		return s.LocalExecer.Exec(ctx, argv, stdin, stdout, stderr)
	}
	io.Copy(io.Discard, stdin)
	<-ctx.Done()
	return ctx.Err()
}

// A container that took the whole transfer and then went silent is given up too, a while after the last
// byte, not at the operation's deadline.
func TestTransferWithoutAnEndIsGivenUp(t *testing.T) {
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 300 * time.Millisecond
	src := t.TempDir()
	for i := range 30 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d.dat", i)), []byte(strings.Repeat("y", 100<<10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh := NewShell(&drainedExecer{LocalExecer{Name: "pod/drained/app"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := sh.Apply(ctx, t.TempDir()+"/app", plan.Diff(scan(t, src), plan.Tree{}), DirSource(src))
	if err == nil || !strings.Contains(err.Error(), "pod/drained/app stopped answering during the transfer") {
		t.Fatalf("Apply = %v, want the silence named", err)
	}
}
