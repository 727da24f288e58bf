package main

import "github.com/spf13/cobra"

// rolloutCmd is `ctl rollout`, the parent of the rollout subcommands
// (undo here; status and history live beside it).
func (c *cli) rolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Manage a Deployment's rollouts: roll it back with a commit (undo)",
	}
	cmd.AddCommand(newRolloutUndoCmd(c))
	return cmd
}
