package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// versions is what `ctl version -o json|yaml` prints, in kubectl version's
// shape: clientVersion and serverVersion.
type versions struct {
	Client *api.Version `json:"clientVersion"`
	Server *api.Version `json:"serverVersion,omitempty"`
}

func (c *cli) versionCmd() *cobra.Command {
	var (
		clientOnly bool
		output     string
	)
	cmd := &cobra.Command{
		Use:   "version [--client] [-o json|yaml]",
		Short: "Print ctl's version and the reconciler's",
		Long: `Print the version of ctl and of the reconciler --server reaches, from the Go build info of each
binary: module version, commit, commit time, whether the tree was modified, Go version and platform.
With --client the reconciler is not contacted.`,
		Example: `  ctl version
  ctl version --client
  ctl version -o json | jq -r .serverVersion.gitCommit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != outJSON && output != outYAML {
				return usageErr("unknown output format %q: want json or yaml", output)
			}
			bi := version.Get()
			cv := api.Version{BuildInfo: api.BuildInfo(bi), ReleaseVersion: bi.ReleaseVersion()}
			v := versions{Client: &cv}
			var serverErr error
			if !clientOnly {
				serverErr = c.serverVersion(cmd, &v)
			}
			if err := c.emit(output, v, func(w io.Writer) {
				fmt.Fprintln(w, "Client Version:", versionLine(v.Client))
				if v.Server != nil {
					fmt.Fprintln(w, "Server Version:", versionLine(v.Server))
				}
			}); err != nil {
				return err
			}
			// As kubectl: the client's version is printed even when the
			// server cannot be reached, then the error.
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only ctl's version; do not contact the reconciler")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: one line each)")
	return cmd
}

func (c *cli) serverVersion(cmd *cobra.Command, v *versions) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.requestCtx(cmd.Context())
	defer cancel()
	sv, err := cl.Version(ctx)
	if err != nil {
		return &exitErr{code: exitError, err: fmt.Errorf("failed to get the reconciler's version: %w", err)}
	}
	v.Server = sv
	// As kubectl: a warning on stderr when the two are more than one minor
	// release apart (docs/versions.md).
	server := sv.ReleaseVersion
	if server == "" {
		// A reconciler from before v0.16: its header, else its build.
		if server = cl.ServerVersion(); server == "" {
			server = sv.GitVersion
		}
	}
	if w := version.Skew(v.Client.ReleaseVersion, server, api.MaxMinorSkew); w != "" {
		fmt.Fprintln(c.errOut, "WARNING:", w)
	}
	return nil
}

// versionLine renders a version the way reconciler and agent --version do.
func versionLine(v *api.Version) string { return version.Info(v.BuildInfo).String() }
