package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
)

// dryRun prints what a sync would do and where, and why, changing nothing.
func dryRun(ctx context.Context, out io.Writer, o syncOptions, d *kube.Workload, t *podTargets, matcher *ignore.Matcher) error {
	current, err := t.Current(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s/%s\n", d.Kind, d.Namespace(), d.Name)
	fmt.Fprintf(out, "container:  %s\n", t.container)
	var names []string
	for _, c := range current {
		names = append(names, c.Exec.Target())
	}
	fmt.Fprintf(out, "pods:       %d running (%s)\n", len(current), strings.Join(names, ", "))
	fmt.Fprintf(out, "sync:       %s → %s\n", o.src, o.dest)
	fmt.Fprintf(out, "excludes:   %s\n", strings.Join(matcher.Patterns(), " "))
	if len(current) == 0 {
		fmt.Fprintln(out, "runtime:    unknown until a pod runs")
		return nil
	}
	if _, err := transport.NewShell(current[0].Exec).Probe(ctx); errors.Is(err, transport.ErrNoShell) {
		// (The process table of a shell-less container is read by an ephemeral container, which a dry run
		// does not add: detection below goes by --language and the template.)
		fmt.Fprintf(out, "shell:      none in the container; --restart brings a static BusyBox from %s (an init container), without it kindling cannot sync here\n", o.helperImage)
	}
	det, err := detect(ctx, o, d, t.container, current[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(out, describe(det))
	for _, n := range det.Notes {
		fmt.Fprintln(out, "note: "+n)
	}
	if !o.restart {
		fmt.Fprintln(out, "restart:    off (pass --restart to apply the strategy above)")
	}
	return nil
}
