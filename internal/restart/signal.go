package restart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kindling-dev/kindling/internal/transport"
)

// Signal sends a server its graceful-reload signal (gunicorn, Unicorn, nginx: HUP; uvicorn with workers:
// HUP; Puma: USR1 in cluster mode, USR2 in single mode; httpd: USR1) and verifies that it took: the
// master stays, and its workers (its children, or its threads when it has none) are replaced. A server
// that replaces none of them within the timeout gets a *NoReloadError, on which the engine falls back
// to the Wrapper. Prepare and Restore have nothing to do.
type Signal struct {
	// Signal is the reload signal's name, such as HUP (a "SIG" prefix is accepted).
	Signal string
	// Master finds, in a container, the process that handles the signal: the master that detection
	// found, not necessarily PID 1.
	Master func(ctx context.Context, c transport.Execer) (int, error)
	// Timeout bounds the reload; zero means 15s. A reload still under way then counts as done.
	Timeout time.Duration
}

// reloadSignals are the signals servers take for a graceful reload.
var reloadSignals = []string{"HUP", "USR1", "USR2"}

// MasterPID is a Signal.Master for a master whose PID is the same in every pod, such as 1.
func MasterPID(pid int) func(context.Context, transport.Execer) (int, error) {
	return func(context.Context, transport.Execer) (int, error) { return pid, nil }
}

func (s *Signal) Name() string { return "signal" }

func (s *Signal) Prepare(context.Context) error {
	_, err := s.signal()
	return err
}

func (s *Signal) Restore(context.Context) error { return nil }

func (s *Signal) Reload(ctx context.Context, c transport.Execer) (Result, error) {
	sig, err := s.signal()
	if err != nil {
		return Result{}, err
	}
	pid, err := s.Master(ctx, c)
	if err != nil {
		return Result{}, fmt.Errorf("%s: find the process for SIG%s: %w", c.Target(), sig, err)
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	argv := []string{"sh", "-c", supervisorScript, "kindling-reload", "signal", strconv.Itoa(pid), sig, wholeSeconds(timeout)}
	var stdout, stderr bytes.Buffer
	execErr := c.Exec(ctx, argv, nil, &stdout, &stderr)
	l := lastLine(stdout.String())
	method := "SIG" + sig
	noReload := func(reason string) error {
		return &NoReloadError{Target: c.Target(), Signal: sig, PID: pid, Reason: reason}
	}
	switch l.word {
	case "reloaded":
		workers, err := l.number("workers")
		ready, err2 := l.millis("ms")
		if err := errors.Join(err, err2); err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Target(), err)
		}
		return Result{Method: method, ReadyAfter: ready, Note: fmt.Sprintf("pid %d kept, %d new workers", pid, workers)}, nil
	case "partial":
		remaining, err := l.number("remaining")
		ready, err2 := l.millis("ms")
		if err := errors.Join(err, err2); err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Target(), err)
		}
		return Result{Method: method, ReadyAfter: ready, Note: fmt.Sprintf("pid %d kept; %d old workers still finishing after %v", pid, remaining, timeout)}, nil
	case "ignored":
		return Result{}, noReload(fmt.Sprintf("none of its %s workers was replaced within %v", l.fields["workers"], timeout))
	case "gone":
		return Result{}, noReload("the process exited or was replaced")
	case "nomaster":
		return Result{}, fmt.Errorf("%s: no process %d to send SIG%s to; the container may have restarted", c.Target(), pid, sig)
	}
	return Result{}, fmt.Errorf("%s: SIG%s to pid %d failed (%v): %s", c.Target(), sig, pid, execErr,
		strings.TrimSpace(stderr.String()+" "+stdout.String()))
}

// signal is the signal's name without "SIG", checked against reloadSignals.
func (s *Signal) signal() (string, error) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s.Signal)), "SIG")
	if slices.Contains(reloadSignals, name) {
		return name, nil
	}
	return "", fmt.Errorf("%q is not a reload signal: use one of %s", s.Signal, strings.Join(reloadSignals, ", "))
}
