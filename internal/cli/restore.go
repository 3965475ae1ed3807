package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kindling-dev/kindling/internal/restart"
)

func newRestoreCommand() *cobra.Command {
	var c connection
	var force bool
	cmd := &cobra.Command{
		Use:   "restore -d DEPLOYMENT",
		Short: "Undo what kindling changed in a Deployment (after --keep, or a kindling that was killed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c.deployment == "" {
				return usagef("--deployment (-d) is required: name the Deployment to restore")
			}
			client, err := c.connect()
			if err != nil {
				return err
			}
			d, err := client.GetDeployment(cmd.Context(), c.deployment)
			if err != nil {
				return err
			}
			// Undoing a --keep is what restore is for; a live session's Deployment it leaves to that
			// session unless the user says it is gone.
			holder := restart.HolderOf(d, time.Now())
			restored, err := restart.RestoreDeploymentAs(cmd.Context(), client.Clientset, d.Namespace, d.Name,
				restart.RestoreOptions{Kept: true, Force: force})
			if err != nil {
				return err
			}
			if force && holder.Live() {
				fmt.Fprintf(cmd.OutOrStdout(), "kindling: removed the hold of %s (--force); if it still runs, it stops\n", holder)
			}
			if restored {
				fmt.Fprintf(cmd.OutOrStdout(), "kindling: restored deployment/%s to its original pod template\n", d.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "kindling: deployment/%s has nothing of kindling's to restore\n", d.Name)
			}
			return nil
		},
	}
	c.register(cmd.Flags(), "Deployment to restore (required)")
	cmd.Flags().BoolVar(&force, "force", false, "Restore even a Deployment that a running kindling holds (when that kindling is gone but its heartbeat is recent)")
	return cmd
}
