package restart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/runtime"
	"github.com/kindling-dev/kindling/internal/transport"
)

// Wrapper runs the app under the restart supervisor and restarts it, whole process group and all, after
// each sync. Prepare wraps the workload (see WrapWorkload; it does not wait for the rollout, and
// with a Hold the new pods stay unready until their first Reload), Restore unwraps it.
type Wrapper struct {
	Client    kubernetes.Interface
	Namespace string
	Workload  kube.Ref
	Options   WrapOptions
	// Ports are the TCP ports the app serves: a restart is done when each listens again. Prepare takes
	// the container's declared TCP ports when none are given.
	Ports []int32
	// Timeout bounds one restart, until the ports listen; zero means 30s.
	Timeout time.Duration
}

func (w *Wrapper) Name() string { return "wrapper" }

func (w *Wrapper) Prepare(ctx context.Context) error {
	d, err := WrapWorkload(ctx, w.Client, w.Namespace, w.Workload, w.Options)
	if err != nil {
		return err
	}
	if len(w.Ports) > 0 {
		return nil
	}
	c, err := findContainer(&d.Template().Spec, w.Options.Container)
	if err != nil {
		return err
	}
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			w.Ports = append(w.Ports, p.ContainerPort)
		}
	}
	return nil
}

func (w *Wrapper) Reload(ctx context.Context, c transport.Execer) (Result, error) {
	timeout := w.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	var stdout, stderr bytes.Buffer
	execErr := c.Exec(ctx, restartCommand(w.Ports, timeout), nil, &stdout, &stderr)
	l := lastLine(stdout.String())
	switch l.word {
	case "restarted":
		pid, err := l.number("pid")
		ready, err2 := l.millis("ready_ms")
		if err := errors.Join(err, err2); err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Target(), err)
		}
		return Result{Method: "restart", ReadyAfter: ready, Note: fmt.Sprintf("pid %d", pid)}, nil
	case "crashed":
		status, err := l.number("status")
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Target(), err)
		}
		return Result{}, &CrashError{Target: c.Target(), Status: status}
	case "timeout":
		waiting := l.fields["waiting"]
		if port, ok := strings.CutPrefix(waiting, "port:"); ok {
			return Result{}, fmt.Errorf("%s: the app restarted but nothing listens on port %s after %v; if it serves other ports, name them", c.Target(), port, timeout)
		}
		return Result{}, fmt.Errorf("%s: the supervisor did not restart the app within %v (%s)", c.Target(), timeout, l.text)
	}
	return Result{}, fmt.Errorf("%s: %s restart failed (%v): %s", c.Target(), runtime.SupervisorMarker, execErr,
		strings.TrimSpace(stderr.String()+" "+stdout.String()))
}

// Restore unwraps the workload on behalf of the session that holds it (Options.Session), and ends its
// hold with the same update; a workload another live kindling holds now is left alone (*HeldError).
func (w *Wrapper) Restore(ctx context.Context) error {
	_, err := RestoreWorkloadAs(ctx, w.Client, w.Namespace, w.Workload, RestoreOptions{Identity: w.Options.Session})
	return err
}
