package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kindling-dev/kindling/internal/kube"
)

// dryRun prints what a sync would do and where, changing nothing.
func dryRun(ctx context.Context, out io.Writer, o syncOptions, client *kube.Client, t *podTargets, container string) error {
	current, err := t.Current(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deployment:  %s/%s\n", client.Namespace, t.pods.Deployment())
	fmt.Fprintf(out, "container:   %s\n", container)
	var names []string
	for _, c := range current {
		names = append(names, c.Exec.Target())
	}
	fmt.Fprintf(out, "pods:        %d running (%s)\n", len(current), strings.Join(names, ", "))
	fmt.Fprintf(out, "sync:        %s → %s\n", o.src, o.dest)
	return nil
}
