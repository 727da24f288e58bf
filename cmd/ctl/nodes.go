package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// nodeStatus is kubectl's STATUS column: the reconciler's Node.Status, or,
// from a reconciler that does not send it, the same derived from membership
// and the cordon.
func nodeStatus(n api.Node) string {
	switch {
	case n.Status != "":
		return n.Status
	case n.State != api.NodeAlive:
		return api.NodeNotReady
	case n.Cordoned || n.Drained:
		return api.NodeSchedulingDisabled
	}
	return api.NodeReady
}

// nodeProtocol is the protocol the reconciler speaks to a node and the
// range the agent advertises: "2 (1..2)", "none (5..6)" for a refused
// agent, "<none>" from a reconciler from before negotiation.
func nodeProtocol(n api.Node) string {
	switch {
	case n.NegotiatedProtocol != 0:
		return fmt.Sprintf("%d (%s)", n.NegotiatedProtocol, n.Protocol)
	case n.VersionRefused != "":
		return "none (" + n.Protocol.String() + ")"
	}
	return "<none>"
}

// cpuString renders millicores as Kubernetes quantities do: whole cores
// ("2") when exact, else millicores ("1500m").
func cpuString(m int64) string {
	if m%1000 == 0 {
		return strconv.FormatInt(m/1000, 10)
	}
	return strconv.FormatInt(m, 10) + "m"
}

// bytesString renders a memory size in binary units: exact Gi and Mi as
// integers ("4Gi", "512Mi"), other sizes of a Gi or more with one decimal.
func bytesString(b int64) string {
	const (
		ki = 1 << 10
		mi = 1 << 20
		gi = 1 << 30
	)
	switch {
	case b >= gi && b%gi == 0:
		return fmt.Sprintf("%dGi", b/gi)
	case b >= gi:
		return fmt.Sprintf("%.1fGi", float64(b)/gi)
	case b >= mi:
		return fmt.Sprintf("%dMi", b/mi)
	case b >= ki:
		return fmt.Sprintf("%dKi", b/ki)
	}
	return strconv.FormatInt(b, 10)
}

// nodeActionCmd builds cordon, uncordon and drain: one POST each, printed
// as kubectl does ("node/NAME cordoned").
func (c *cli) nodeActionCmd(verb, done, short, long string, call func(cl *api.Client, ctx context.Context, node string) (*api.Node, error)) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " NODE",
		Short:   short,
		Long:    long,
		Example: "  ctl " + verb + " node-2",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return usageErr("%s takes one node name", verb)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			n, err := call(cl, ctx, args[0])
			if errors.Is(err, api.ErrNotFound) {
				return &exitErr{code: exitChanges, err: err}
			}
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			name := n.Name
			if name == "" {
				name = args[0]
			}
			fmt.Fprintf(c.out, "node/%s %s\n", name, done)
			return nil
		},
	}
}

func (c *cli) cordonCmd() *cobra.Command {
	return c.nodeActionCmd("cordon", "cordoned", "Mark a node unschedulable: new pods go elsewhere, its pods stay",
		`Mark NODE unschedulable (POST /v1/nodes/NODE/cordon, forwarded to the leader): the scheduler
places no new pod on it; the pods it runs keep running. ctl uncordon undoes it. The cordon is
recorded as an event; to keep a node cordoned durably, say so in Git (a Node object with
spec.unschedulable).`,
		(*api.Client).Cordon)
}

func (c *cli) uncordonCmd() *cobra.Command {
	return c.nodeActionCmd("uncordon", "uncordoned", "Mark a cordoned or drained node schedulable again",
		`Mark NODE schedulable again (POST /v1/nodes/NODE/uncordon): ends a cordon or a drain. Pods
evicted by a drain stay where they were placed since.`,
		(*api.Client).Uncordon)
}

func (c *cli) drainCmd() *cobra.Command {
	return c.nodeActionCmd("drain", "drained", "Cordon a node and evict its pods, which are placed again elsewhere",
		`Cordon NODE and evict every pod on it (POST /v1/nodes/NODE/drain, forwarded to the leader):
its pods are placed again on other nodes, or stay Pending when none has room. ctl uncordon
ends the drain. Watch the pods move with ctl get pods -A -o wide.`,
		(*api.Client).Drain)
}
