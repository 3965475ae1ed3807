package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kindling-dev/kindling/internal/restart"
)

func newRestoreCommand() *cobra.Command {
	var c connection
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
			restored, err := restart.RestoreDeployment(cmd.Context(), client.Clientset, d.Namespace, d.Name)
			if err != nil {
				return err
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
	return cmd
}
