package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
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
			set, err := render.LoadDir(args[0])
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
