package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

func (c *cli) statusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [APP]",
		Short: "Show the control plane (leader, peers), the tracked repository, the applied commit and the errors",
		Long: `Show which reconciler answered and which one leads, every reconciler of the raft
configuration (state, API, last contact, what it has applied), the tracked repository, the
applied commit, the term, the last sync's error, the nodes whose pod set did not reach them
and the Deployments whose rollout is stuck (progress deadline exceeded) or was rolled back
automatically (until a commit changes their template), then, when the bootstrap repository
declares applications, one line per application.

With APP, show that application instead: its source, applied and fetched commits, sync state,
health (and why), last error and every object it owns with its file and health.`,
		Example: `  ctl status
  ctl status -o json | jq .leader
  ctl status team-a`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeApp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				return c.appStatus(cmd, cl, args[0], output)
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			st, err := cl.Status(ctx)
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			return c.emit(output, st, func(w io.Writer) {
				printStatus(w, st, cl.BaseURL())
				c.printRollouts(ctx, w, cl)
				c.printAppSummary(ctx, w, cl)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (the API's Status)")
	return cmd
}

// printStatus renders st as answered by the reconciler at base.
func printStatus(w io.Writer, st *api.Status, base string) {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	if st.Name != "" {
		fmt.Fprintf(tw, "Reconciler:\t%s (%s)\n", st.Name, base)
	} else {
		fmt.Fprintf(tw, "Reconciler:\t%s\n", base)
	}
	fmt.Fprintf(tw, "Leader:\t%s\n", leaderLine(st))
	fmt.Fprintf(tw, "Repository:\t%s\n", st.Repo)
	fmt.Fprintf(tw, "Branch:\t%s\n", st.Branch)
	if st.Path != "" {
		fmt.Fprintf(tw, "Path:\t%s\n", st.Path)
	}
	if st.Applied != nil {
		fmt.Fprintf(tw, "Applied:\t%s\n", commitLine(st.Applied))
		if !st.AppliedAt.IsZero() {
			fmt.Fprintf(tw, "Applied at:\t%s (%s ago)\n", st.AppliedAt.Format("2006-01-02 15:04:05 MST"), age(st.AppliedAt))
		}
	} else {
		fmt.Fprintf(tw, "Applied:\t<none>\n")
	}
	if st.Fetched != nil && (st.Applied == nil || st.Fetched.Hash != st.Applied.Hash) {
		fmt.Fprintf(tw, "Branch head:\t%s\n", commitLine(st.Fetched))
	}
	if !st.LastSync.IsZero() {
		fmt.Fprintf(tw, "Last sync:\t%s ago\n", age(st.LastSync))
	}
	fmt.Fprintf(tw, "Term:\t%d\n", st.Term)
	tw.Flush()
	printPeers(w, st)
	if st.LastError == nil {
		fmt.Fprintln(w, "Last error: <none>")
	} else {
		fmt.Fprint(w, "Last error: ")
		printSyncError(w, st.LastError)
		if st.Applied != nil {
			fmt.Fprintf(w, "The last good revision %s keeps running.\n", short(st.Applied.Hash))
		}
	}
	if st.ClusterError != "" {
		fmt.Fprintf(w, "Cluster error: %s\n", st.ClusterError)
	}
	printNodeErrors(w, st.NodeErrors)
}

func leaderLine(st *api.Status) string {
	switch {
	case st.Leader == "":
		return "<none> (no leader elected: syncs and node changes wait)"
	case st.Leader == st.Name:
		return st.Leader + " (this reconciler)"
	}
	return st.Leader
}

// printPeers lists the raft configuration, as the answering reconciler
// sees it.
func printPeers(w io.Writer, st *api.Status) {
	if len(st.Peers) == 0 {
		return
	}
	fmt.Fprintln(w, "Peers:")
	tw := newTable(w)
	row(tw, "  NAME", "STATE", "API", "LAST CONTACT", "APPLIED", "INDEX")
	for _, p := range st.Peers {
		contact := "-"
		if !p.LastContact.IsZero() {
			contact = age(p.LastContact) + " ago"
		}
		applied, index := "-", "-"
		if p.Applied != "" {
			applied = short(p.Applied)
		}
		if p.AppliedIndex > 0 {
			index = strconv.FormatUint(p.AppliedIndex, 10)
		}
		state := orNone(p.State)
		if !p.Voter {
			state += " (non-voter)"
		}
		row(tw, "  "+p.Name, state, orNone(p.API), contact, applied, index)
	}
	tw.Flush()
}

// printNodeErrors is the error section of the nodes whose pod set was not
// applied (ctl get nodes shows the same text in its ERROR column).
func printNodeErrors(w io.Writer, errs []api.NodeError) {
	if len(errs) == 0 {
		return
	}
	fmt.Fprintf(w, "Node errors: %d node(s) did not apply their pod set:\n", len(errs))
	tw := newTable(w)
	row(tw, "  NODE", "SINCE", "ERROR")
	for _, e := range errs {
		row(tw, "  "+e.Node, age(e.Since), e.Message)
	}
	tw.Flush()
}

// checkOutput refuses an -o other than the table, json or yaml (the
// commands that print one object).
func checkOutput(output string) error {
	switch output {
	case outTable, outJSON, outYAML:
		return nil
	}
	return usageErr("unknown output format %q: want json or yaml", output)
}
