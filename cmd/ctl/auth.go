package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// ctl auth whoami and ctl auth can-i, as kubectl's (docs/ctl.md): who the
// reconciler takes the caller for, and whether RBAC lets it do something
// (POST /v1/accessreview). ctl ui mints a token for the caller to sign in
// to the web UI with.

func (c *cli) authCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Inspect authorization: who am I (whoami), may I (can-i)",
	}
	var output string
	who := &cobra.Command{
		Use:   "whoami",
		Short: "Print the user and groups the reconciler authenticates you as",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return c.whoami(cmd.Context(), output) },
	}
	who.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	var o canIOptions
	canI := &cobra.Command{
		Use:   "can-i VERB RESOURCE[/NAME] | VERB /PATH",
		Short: "Check whether you may do something: prints yes (exit 0) or no (exit 1)",
		Example: `  ctl auth can-i list pods -n shop
  ctl auth can-i delete pods/web-0 -n shop
  ctl auth can-i get pods --subresource log -n shop
  ctl auth can-i create applications/sync      # any application
  ctl auth can-i patch nodes/node-1            # cordon
  ctl auth can-i get /metrics`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErr("can-i takes a verb and a resource (RESOURCE[/NAME]) or a path (/v1/status)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return c.canI(cmd.Context(), args[0], args[1], o) },
	}
	fl := canI.Flags()
	fl.StringVarP(&o.namespace, "namespace", "n", "", "namespace (default \"default\" for a namespaced resource)")
	fl.BoolVarP(&o.all, "all-namespaces", "A", false, "in every namespace")
	fl.StringVar(&o.subresource, "subresource", "", "subresource (log, exec, sync, drain…)")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing: the exit code answers")
	cmd.AddCommand(who, canI)
	return cmd
}

func (c *cli) whoami(ctx context.Context, output string) error {
	w, err := askAPI(ctx, c, func(ctx context.Context, cl *api.Client) (*api.WhoAmI, error) { return cl.WhoAmI(ctx) })
	if err != nil {
		return err
	}
	return c.emit(output, w, func(out io.Writer) {
		tw := newTable(out)
		fmt.Fprintln(tw, "ATTRIBUTE\tVALUE")
		fmt.Fprintf(tw, "Username\t%s\n", w.User)
		fmt.Fprintf(tw, "Groups\t[%s]\n", strings.Join(w.Groups, " "))
		if w.Method != "" {
			fmt.Fprintf(tw, "Authenticated by\t%s\n", w.Method)
		}
		tw.Flush()
	})
}

// canIOptions are ctl auth can-i's flags.
type canIOptions struct {
	namespace   string
	all         bool
	subresource string
	quiet       bool
}

// authResource is a resource RBAC knows: its API group, and whether it
// lives in a namespace.
type authResource struct {
	group      string
	namespaced bool
}

// authResources are the resources the reconciler authorizes (the table of
// docs/security-rbac.md), by their plural names.
var authResources = map[string]authResource{
	"pods": {"", true}, "services": {"", true}, "endpoints": {"", true}, "events": {"", true},
	"configmaps": {"", true}, "secrets": {"", true}, "persistentvolumeclaims": {"", true},
	"nodes": {"", false}, "namespaces": {"", false}, "persistentvolumes": {"", false},
	"deployments": {"apps", true}, "jobs": {"batch", true}, "cronjobs": {"batch", true},
	"leases": {"coordination.k8s.io", true}, "storageclasses": {"storage.k8s.io", false},
	"applications": {"stevedore.dev", false}, "tokens": {"stevedore.dev", false},
	"selfsubjectreviews": {"authentication.k8s.io", false}, "selfsubjectaccessreviews": {"authorization.k8s.io", false},
}

// authAliases are kubectl's short and singular names.
var authAliases = map[string]string{
	"po": "pods", "pod": "pods", "svc": "services", "service": "services", "ep": "endpoints", "ev": "events", "event": "events",
	"cm": "configmaps", "configmap": "configmaps", "secret": "secrets", "pvc": "persistentvolumeclaims",
	"persistentvolumeclaim": "persistentvolumeclaims", "no": "nodes", "node": "nodes", "ns": "namespaces",
	"namespace": "namespaces", "pv": "persistentvolumes", "persistentvolume": "persistentvolumes",
	"deploy": "deployments", "deployment": "deployments", "job": "jobs", "cj": "cronjobs", "cronjob": "cronjobs",
	"lease": "leases", "sc": "storageclasses", "storageclass": "storageclasses",
	"app": "applications", "apps": "applications", "application": "applications", "token": "tokens",
}

// accessCheck turns can-i's arguments into the question the reconciler
// answers: RESOURCE[.GROUP][/SUBRESOURCE-or-NAME] as kubectl reads them
// ("pods/log" is a subresource when it names one, else a pod's name),
// or a non-resource path.
func accessCheck(verb, target string, o canIOptions) (api.AccessCheck, error) {
	if strings.HasPrefix(target, "/") {
		if o.namespace != "" || o.subresource != "" {
			return api.AccessCheck{}, usageErr("a path (%s) takes no --namespace nor --subresource", target)
		}
		return api.AccessCheck{Verb: verb, Path: target}, nil
	}
	res, name, _ := strings.Cut(target, "/")
	res = strings.ToLower(res)
	group := ""
	if r, g, ok := strings.Cut(res, "."); ok {
		res, group = r, g
	}
	if a, ok := authAliases[res]; ok {
		res = a
	}
	known, ok := authResources[res]
	if !ok {
		names := make([]string, 0, len(authResources))
		for k := range authResources {
			names = append(names, k)
		}
		slices.Sort(names)
		return api.AccessCheck{}, usageErr("unknown resource %q: want one of %s, or a path (/v1/status)", res, strings.Join(names, ", "))
	}
	if group == "" {
		group = known.group
	}
	sub := o.subresource
	if sub == "" && name != "" && isSubresource(res, name) {
		// kubectl reads "pods/log" this way too.
		sub, name = name, ""
	}
	ck := api.AccessCheck{Verb: verb, Group: group, Resource: res, Subresource: sub, Name: name}
	if known.namespaced && !o.all {
		ck.Namespace = o.namespace
		if ck.Namespace == "" {
			ck.Namespace = "default"
		}
	}
	return ck, nil
}

// isSubresource reports whether sub is a subresource of res the
// reconciler authorizes.
func isSubresource(res, sub string) bool {
	switch res + "/" + sub {
	case "pods/log", "pods/exec", "nodes/drain", "applications/sync", "deployments/rollback":
		return true
	}
	return false
}

func (c *cli) canI(ctx context.Context, verb, target string, o canIOptions) error {
	ck, err := accessCheck(strings.ToLower(verb), target, o)
	if err != nil {
		return err
	}
	out, err := askAPI(ctx, c, func(ctx context.Context, cl *api.Client) ([]api.AccessCheck, error) {
		return cl.ReviewAccess(ctx, []api.AccessCheck{ck})
	})
	if err != nil {
		return err
	}
	if len(out) != 1 {
		return &exitErr{code: exitError, err: fmt.Errorf("failed to review access: %d answers to one question", len(out))}
	}
	if !o.quiet {
		if out[0].Allowed {
			fmt.Fprintln(c.out, "yes")
		} else {
			fmt.Fprintln(c.out, "no")
			if out[0].Reason != "" {
				fmt.Fprintln(c.errOut, out[0].Reason)
			}
		}
	}
	if !out[0].Allowed {
		return silentExit(exitChanges)
	}
	return nil
}

// uiOptions are ctl ui's flags.
type uiOptions struct {
	ttl  time.Duration
	open bool
}

func (c *cli) uiCmd() *cobra.Command {
	var o uiOptions
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Print a link that signs in to the web UI as you (a new token for your user and groups)",
		Long: `ctl ui mints an API token for the user and groups the reconciler authenticates
you as (ctl auth whoami) and prints the web UI's address with it:
https://SERVER/ui/#token=…. The token is in the URL's fragment, which a browser
never sends to a server. Minting a token for a user needs the verb impersonate
on that user and each of its groups (cluster-admin has it): an administrator's
admin.conf works; another user asks an administrator for a token instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return c.ui(cmd.Context(), o) },
	}
	cmd.Flags().DurationVar(&o.ttl, "ttl", 12*time.Hour, "how long the token lives")
	cmd.Flags().BoolVar(&o.open, "open", false, "open the link in the default browser (xdg-open, open)")
	return cmd
}

func (c *cli) ui(ctx context.Context, o uiOptions) error {
	if o.ttl < time.Second {
		return usageErr("--ttl is at least 1s")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.requestCtx(ctx)
	defer cancel()
	who, err := cl.WhoAmI(ctx)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	// system:authenticated is every authenticated caller's anyway.
	groups := slices.DeleteFunc(slices.Clone(who.Groups), func(g string) bool { return g == "system:authenticated" })
	t, err := cl.CreateToken(ctx, api.TokenRequest{User: who.User, Groups: groups, TTLSeconds: int64(o.ttl / time.Second)})
	if err != nil {
		return &exitErr{code: exitError, err: fmt.Errorf("failed to create a token for %s: %w", who.User, err)}
	}
	link := uiLink(cl.BaseURL(), t.Secret)
	fmt.Fprintln(c.out, link)
	if !t.Expires.IsZero() {
		fmt.Fprintf(c.errOut, "token %s for %s expires %s (ctl delete token %s revokes it)\n", t.ID, who.User, t.Expires.Format(time.RFC3339), t.ID)
	}
	if o.open {
		name := "xdg-open"
		if runtime.GOOS == "darwin" {
			name = "open"
		}
		if err := exec.Command(name, link).Start(); err != nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to open a browser: %w", err)}
		}
	}
	return nil
}

// uiLink is the web UI's address on the reconciler at base, signing in
// with token: in the fragment, which the browser keeps to itself.
func uiLink(base, token string) string {
	return strings.TrimSuffix(base, "/") + api.PathUI + "#token=" + url.QueryEscape(token)
}
