package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// reconcilerCmd groups the control plane's own operations.
func (c *cli) reconcilerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reconciler",
		Short: "Operate the reconcilers' raft group (retire a reconciler)",
	}
	cmd.AddCommand(c.reconcilerRetireCmd())
	return cmd
}

func (c *cli) reconcilerRetireCmd() *cobra.Command {
	var successor string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "retire NAME",
		Short: "Hand a reconciler's raft vote to another one, then drop it",
		Long: `Retire reconciler NAME from the raft group (POST /v1/reconcilers/NAME/retire, forwarded to
the leader). Its successor (--successor, or a live reconciler the leader picks) is made a voter
first; NAME, while it runs, loses its vote (a leader steps down, and the successor is elected)
and follows as a non-voter until it is stopped; once it is stopped, retiring it again removes it
from the raft configuration. This is how a bootstrap reconciler hands the cluster over to a
self-hosted one (docs/self-hosting.md).`,
		Example: "  ctl reconciler retire reconciler --successor reconciler-node-1",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return usageErr("retire takes one reconciler name")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			res, err := cl.RetireReconciler(ctx, args[0], successor)
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			line := fmt.Sprintf("reconciler/%s %s", res.Name, res.Action)
			if res.Successor != "" {
				line += ", vote handed to " + res.Successor
			}
			fmt.Fprintf(c.out, "%s; voters: %s\n", line, strings.Join(res.Voters, ","))
			return nil
		},
	}
	cmd.Flags().StringVar(&successor, "successor", "", "reconciler that takes the vote (default: a live one the leader picks, a voter first)")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to retry while leadership changes hands")
	return cmd
}
