package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
)

func (c *cli) validateCmd() *cobra.Command {
	var serviceCIDR, nodePorts string
	var ageKeys, pgpKeys []string
	cmd := &cobra.Command{
		Use:   "validate DIR",
		Short: "Check a config repository offline (exit 1 with file:line: object: field: message per problem)",
		Long: `Decode, default and validate every *.yaml and *.yml file under DIR exactly as the reconciler
would, without contacting it: for pre-commit hooks and CI. Each problem is printed on its own line
as file:line: object: field: message, and ctl exits 1; a valid directory exits 0. Services'
addresses are checked against --service-cidr and --service-node-port-range: give the cluster's
(the reconciler's flags of those names) when they are not Kubernetes' defaults.`,
		Example: `  ctl validate ./config
  ctl validate --service-cidr 10.100.0.0/16 ./config`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("validate takes one directory")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ld, err := validateLoader(serviceCIDR, nodePorts)
			if err != nil {
				return usageErr("%v", err)
			}
			if ld.Decrypt, err = validateKeys(ageKeys, pgpKeys); err != nil {
				return &exitErr{code: exitError, err: err}
			}
			set, err := ld.LoadDir(args[0])
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
			// Warnings (an object in a deprecated apiVersion) do not
			// fail the check.
			for _, w := range set.Warnings {
				fmt.Fprintf(c.errOut, "warning: %s\n", w)
			}
			fmt.Fprintf(c.out, "%s: %d object(s) valid\n", args[0], len(set.Objects))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&ageKeys, "sops-age-key-file", nil, "age identity file that decrypts SOPS-encrypted manifests, as the reconciler's flag (also $SOPS_AGE_KEY_FILE); without keys encrypted values are not checked")
	f.StringSliceVar(&pgpKeys, "sops-pgp-key-file", nil, "armored OpenPGP secret key that decrypts SOPS-encrypted manifests, as the reconciler's flag")
	f.StringVar(&serviceCIDR, "service-cidr", spec.DefaultServiceCIDR.String(), "the cluster's service CIDR (the reconciler's --service-cidr)")
	f.StringVar(&nodePorts, "service-node-port-range", fmt.Sprintf("%d-%d", spec.DefaultNodePortMin, spec.DefaultNodePortMax), "the cluster's node-port range, first-last (the reconciler's --service-node-port-range)")
	return cmd
}

// validateLoader is the loader of a cluster with these ranges.
func validateLoader(serviceCIDR, nodePorts string) (render.Loader, error) {
	var n spec.Network
	p, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return render.Loader{}, fmt.Errorf("--service-cidr: %w", err)
	}
	n.ServiceCIDR = p
	lo, hi, ok := strings.Cut(nodePorts, "-")
	first, err1 := strconv.Atoi(lo)
	last, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil {
		return render.Loader{}, fmt.Errorf("--service-node-port-range %q: want first-last", nodePorts)
	}
	n.NodePortMin, n.NodePortMax = int32(first), int32(last)
	if err := n.Validate(); err != nil {
		return render.Loader{}, err
	}
	return render.Loader{Network: n}, nil
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
