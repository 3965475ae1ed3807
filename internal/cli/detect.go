package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/engine"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/runtime"
	"github.com/kindling-dev/kindling/internal/transport"
)

// containerSpec returns the named container of the workload's pod template.
func containerSpec(d *kube.Workload, name string) corev1.Container {
	for _, c := range d.Template().Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

// processTable reads the container's processes; an empty table (and no error) when it has no shell to
// read them with, so detection falls back to the pod template's command.
func processTable(ctx context.Context, e transport.Execer) []runtime.Process {
	var out bytes.Buffer
	if err := e.Exec(ctx, []string{"sh", "-c", runtime.ProcScript}, nil, &out, io.Discard); err != nil {
		return nil
	}
	procs, err := runtime.ParseProcs(out.Bytes())
	if err != nil {
		return nil
	}
	return procs
}

// detect classifies the runtime of the target container, looking at one running pod.
func detect(ctx context.Context, o syncOptions, d *kube.Workload, container string, pod engine.Container) (runtime.Detection, error) {
	spec := containerSpec(d, container)
	return runtime.Detect(runtime.Input{
		Procs:    processTable(ctx, pod.Exec),
		Command:  spec.Command,
		Args:     spec.Args,
		Src:      o.src,
		Override: o.language,
	})
}

// describe is the one line that says what kindling detected and what it will do.
func describe(det runtime.Detection) string {
	r := det.Runtime
	s := fmt.Sprintf("runtime %s → %s", r.Display, r.Strategy)
	if r.Strategy == runtime.Signal {
		s += " " + r.Signal
	}
	if det.Process != nil && r.Strategy == runtime.Signal {
		s += fmt.Sprintf(" to PID %d", det.Process.PID)
	}
	s += ": " + strings.TrimSuffix(det.Reason, ".") + "."
	if r.Why != "" {
		s += " " + r.Why
	}
	return s
}
