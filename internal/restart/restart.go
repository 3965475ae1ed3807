// Package restart makes the app in a container pick up synced files: a supervisor that restarts it, a
// graceful reload signal, or nothing for runtimes that reload by themselves.
//
// The engine holds one Strategy per session. Prepare readies the workload (the Wrapper wraps its
// container under the supervisor script, delivered through the pod spec); Reload runs in one container
// after a sync changed files there and says how long the app took to serve again; Restore undoes
// Prepare exactly. Everything that happens inside a container goes through transport.Execer as
// constant scripts with arguments: the supervisor script's modes (restart, signal) do the waiting and
// verifying next to the app, so one exec covers a reload.
package restart

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kindling-dev/kindling/internal/transport"
)

// Strategy makes the app in a container serve the files synced into it.
type Strategy interface {
	// Name is the strategy as the user sees it: "wrapper", "signal" or "none".
	Name() string
	// Prepare readies the workload once per session; calling it again changes nothing.
	Prepare(ctx context.Context) error
	// Reload runs after a sync changed files in the container c and returns once the app serves them.
	Reload(ctx context.Context, c transport.Execer) (Result, error)
	// Restore undoes Prepare exactly; calling it twice is safe.
	Restore(ctx context.Context) error
}

// Result says what a Reload did.
type Result struct {
	// Method is what was done, e.g. "restart", "SIGHUP" or "none".
	Method string
	// ReadyAfter is how long the app took to serve again, measured in the container.
	ReadyAfter time.Duration
	// Note is a detail for the user, or empty.
	Note string
}

// None only syncs: PHP, nodemon and the like read changed files by themselves.
type None struct {
	// Note is shown with every reload, e.g. PHP's opcache.validate_timestamps caveat.
	Note string
}

func (None) Name() string                  { return "none" }
func (None) Prepare(context.Context) error { return nil }
func (None) Restore(context.Context) error { return nil }
func (n None) Reload(context.Context, transport.Execer) (Result, error) {
	return Result{Method: "none", Note: n.Note}, nil
}

// CrashError is an app that exited after its restart. The supervisor waits for the next sync instead
// of restarting it in a loop, so the user can fix the code and save again.
type CrashError struct {
	Target string
	Status int
	// Output is the end of the container's log, when it could be read: why the app exited.
	Output []string
}

func (e *CrashError) Error() string {
	if len(e.Output) == 0 {
		return fmt.Sprintf("%s: the app exited with status %d after the restart; see its log, fix the code and save again", e.Target, e.Status)
	}
	return fmt.Sprintf("%s: the app exited with status %d after the restart; fix the code and save again. Its last output:\n    %s",
		e.Target, e.Status, strings.Join(e.Output, "\n    "))
}

// NoReloadError is a server that did not reload on its signal. The engine falls back to the Wrapper and
// says so once.
type NoReloadError struct {
	Target string
	Signal string
	PID    int
	Reason string
}

func (e *NoReloadError) Error() string {
	return fmt.Sprintf("%s: SIG%s to pid %d did not reload the server: %s", e.Target, e.Signal, e.PID, e.Reason)
}
