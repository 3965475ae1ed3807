package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/restart"
)

func newRestoreCommand() *cobra.Command {
	var c connection
	var force bool
	cmd := &cobra.Command{
		Use:   "restore -d [TYPE/]NAME",
		Short: "Undo what kindling changed in a Deployment, StatefulSet or DaemonSet (after --keep, or a kindling that was killed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c.deployment == "" {
				return usagef("--deployment (-d) is required: name the workload to restore (NAME of a Deployment, or TYPE/NAME)")
			}
			ref, err := kube.ParseRef(c.deployment)
			if err != nil {
				return usageError{err}
			}
			client, err := c.connect()
			if err != nil {
				return err
			}
			d, err := client.GetWorkload(cmd.Context(), ref)
			if err != nil {
				return err
			}
			// Undoing a --keep is what restore is for; a live session's workload it leaves to that
			// session unless the user says it is gone.
			holder := restart.HolderOf(d.Meta(), time.Now())
			restored, err := restart.RestoreWorkloadAs(cmd.Context(), client.Clientset, d.Namespace(), d.Ref,
				restart.RestoreOptions{Kept: true, Force: force})
			if err != nil {
				return err
			}
			if force && holder.Live() {
				fmt.Fprintf(cmd.OutOrStdout(), "kindling: removed the hold of %s (--force); if it still runs, it stops\n", holder)
			}
			if restored {
				fmt.Fprintf(cmd.OutOrStdout(), "kindling: restored %s to its original pod template\n", d)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "kindling: %s has nothing of kindling's to restore\n", d)
			}
			return nil
		},
	}
	c.register(cmd.Flags(), "Workload to restore (required): NAME of a Deployment, or TYPE/NAME (statefulset/NAME, daemonset/NAME)")
	cmd.Flags().BoolVar(&force, "force", false, "Restore even a Deployment that a running kindling holds (when that kindling is gone but its heartbeat is recent)")
	return cmd
}
