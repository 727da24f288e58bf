package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// deleteCmd is ctl delete pod: the one way to restart a pod afresh. Git
// still declares the pod (or its workload), so it comes back as a new
// incarnation under the same name.
func (c *cli) deleteCmd() *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "delete pod NAME [-n NAMESPACE] | delete token ID",
		Short: "Delete a pod's current incarnation (its owner re-creates it), or revoke an API token",
		Long: `Delete the current incarnation of pod NAME (DELETE /v1/pods/NS/NAME, forwarded to the
leader, committed to raft and recorded as an event). Its containers stop and, since Git still
declares the pod or its workload, the reconciler re-creates it under the same name with a new UID,
possibly on another node, as a ReplicaSet re-creates a deleted pod:

  - a StatefulSet ordinal keeps its name, DNS name and claims (its data);
  - a pod of an OnDelete StatefulSet or DaemonSet comes back with the current template;
  - a pod of an old revision during a rollout is not re-created.

To remove a pod for good, remove it (or lower its workload's replicas) in Git.

delete token ID revokes an API token (ctl get tokens lists their IDs): it stops working at once.`,
		Example: "  ctl delete pod web-0 -n shop\n  ctl delete token 3f2a9c0d1e4b5a69",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 2 && isTokenResource(args[0]) && strings.TrimSpace(args[1]) != "" {
				return nil
			}
			if len(args) != 2 || (args[0] != "pod" && args[0] != "pods" && args[0] != "po") || strings.TrimSpace(args[1]) == "" {
				return usageErr("delete takes: pod NAME, or token ID")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if isTokenResource(args[0]) {
				return c.deleteToken(cmd.Context(), args[1])
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ns := namespace
			if ns == "" {
				ns = "default"
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			d, err := cl.DeletePod(ctx, ns, args[1])
			if errors.Is(err, api.ErrNotFound) {
				return &exitErr{code: exitChanges, err: err}
			}
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			fmt.Fprintf(c.out, "pod %q deleted (uid %s)\n", d.Name, d.UID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	return cmd
}
