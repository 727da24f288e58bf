package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func (c *cli) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate DIR",
		Short: "Check a config repository offline (exit 1 with file:line: object: field: message per problem)",
		Long: `Decode, default and validate every *.yaml and *.yml file under DIR exactly as the reconciler
would, without contacting it: for pre-commit hooks and CI. Each problem is printed on its own line
as file:line: object: field: message, and ctl exits 1; a valid directory exits 0.`,
		Example: `  ctl validate ./config`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("validate takes one directory")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := spec.LoadDir(args[0])
			if err != nil {
				var list spec.ErrorList
				if !errors.As(err, &list) {
					// Not a problem in the manifests: DIR unreadable.
					return &exitErr{code: exitError, err: err}
				}
				// Paths are relative to DIR.
				for _, e := range list {
					fmt.Fprintln(c.out, e.Error())
				}
				return silentExit(exitChanges)
			}
			fmt.Fprintf(c.out, "%s: %d object(s) valid\n", args[0], len(set.Objects))
			return nil
		},
	}
}

func (c *cli) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the tracked repository, the applied commit and the last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			st, err := cl.Status(ctx)
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			printStatus(c.out, st)
			return nil
		},
	}
}

func printStatus(w io.Writer, st *api.Status) {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
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
	if st.LastError == nil {
		fmt.Fprintln(w, "Last error: <none>")
		return
	}
	fmt.Fprint(w, "Last error: ")
	printSyncError(w, st.LastError)
	if st.Applied != nil {
		fmt.Fprintf(w, "The last good revision %s keeps running.\n", short(st.Applied.Hash))
	}
}

func commitLine(c *api.Commit) string {
	s := short(c.Hash)
	if c.Author != "" {
		s += " by " + c.Author
		if c.AuthorEmail != "" {
			s += " <" + c.AuthorEmail + ">"
		}
	}
	if m := firstLine(c.Message); m != "" {
		s += ": " + m
	}
	return s
}

func (c *cli) logsCmd() *cobra.Command {
	var o api.LogsOptions
	cmd := &cobra.Command{
		Use:     "logs POD [-c CONTAINER] [-n NAMESPACE] [--tail N]",
		Short:   "Print a container's log (through the reconciler, from the pod's agent)",
		Example: "  ctl logs web-5d9c1a2b3c-x7k2p -n shop --tail 20",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("logs takes one pod name")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pod = args[0]
			if o.Namespace == "" {
				o.Namespace = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			rc, err := cl.Logs(cmd.Context(), o)
			if err != nil {
				if errors.Is(err, api.ErrNotFound) {
					return &exitErr{code: exitChanges, err: err}
				}
				return &exitErr{code: exitError, err: err}
			}
			defer rc.Close()
			if _, err := io.Copy(c.out, rc); err != nil && cmd.Context().Err() == nil {
				return &exitErr{code: exitError, err: fmt.Errorf("failed to read logs: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.Container, "container", "c", "", "container (default: the pod's only container)")
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().IntVar(&o.Tail, "tail", 0, "only the last N lines (default: all)")
	return cmd
}
