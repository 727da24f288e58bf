package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// completionTimeout bounds each API request made to complete a word: a
// shell waiting on TAB must not hang on a reconciler that is down.
const completionTimeout = 2 * time.Second

// getResources are the resources `ctl get` completes, in the order shown.
var getResources = []string{"pods", "services", "endpoints", "deployments", "replicationcontrollers", "statefulsets", "replicasets", "daemonsets", "nodes", "namespaces", "events", "applications",
	"configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes", "storageclasses", "jobs", "cronjobs", "all"}

// noFiles: the word is never a file name.
const noFiles = cobra.ShellCompDirectiveNoFileComp

// addCompletions wires dynamic completion (cobra's ValidArgsFunction and
// flag completion) into root's commands, found by name so the commands'
// own files stay as they are. Completions come from the reconciler
// (--server); when it cannot be reached the shell offers nothing, and
// nothing is printed: a completion must never spill an error into the
// command line being typed.
func (c *cli) addCompletions(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "get":
			cmd.ValidArgsFunction = c.completeGet
		case "describe":
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				switch len(args) {
				case 0:
					return withPrefix([]string{"pods", "services", "deployments", "statefulsets", "replicasets", "daemonsets", "persistentvolumeclaims", "jobs", "cronjobs"}, toComplete), noFiles
				case 1:
					return c.objectNames(cmd, completionResource(args[0]), toComplete)
				}
				return nil, noFiles
			}
		case "logs", "exec":
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, noFiles
				}
				return c.objectNames(cmd, "pods", toComplete)
			}
			_ = cmd.RegisterFlagCompletionFunc("container", c.completeContainer)
		case "cordon", "uncordon", "drain":
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, noFiles
				}
				return c.objectNames(cmd, "nodes", toComplete)
			}
		case "rollout":
			// Every subcommand takes one Deployment (rollout.go).
			for _, sub := range cmd.Commands() {
				c.addRolloutCompletions(sub)
			}
		case "validate":
			cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, noFiles
				}
				return nil, cobra.ShellCompDirectiveFilterDirs
			}
		}
		if cmd.Flags().Lookup("local") != nil {
			_ = cmd.RegisterFlagCompletionFunc("local", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return nil, cobra.ShellCompDirectiveFilterDirs
			})
		}
		if cmd.Flags().Lookup("namespace") != nil {
			_ = cmd.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				return c.objectNames(cmd, "namespaces", toComplete)
			})
		}
		if f := cmd.Flags().Lookup("output"); f != nil {
			formats := outputFormats(f.Usage)
			_ = cmd.RegisterFlagCompletionFunc("output", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				d := noFiles
				// "jsonpath=" and the like go on with their argument.
				if slices.ContainsFunc(formats, func(s string) bool { return strings.HasSuffix(s, "=") }) {
					d |= cobra.ShellCompDirectiveNoSpace
				}
				return withPrefix(formats, toComplete), d
			})
		}
	}
}

// formatWord is one output format as a flag's usage lists it: "wide",
// "json", or "jsonpath=TEMPLATE" (completed as "jsonpath=").
var formatWord = regexp.MustCompile(`\b([a-z][a-z-]*=?)`)

// outputFormats reads the formats from an --output flag's usage
// ("output format: wide, json or yaml"), so that a format a command learns
// is completed without a second list to keep in step.
func outputFormats(usage string) []string {
	_, list, ok := strings.Cut(usage, ":")
	if !ok {
		return nil
	}
	list, _, _ = strings.Cut(list, "(")
	var out []string
	for _, m := range formatWord.FindAllStringSubmatch(list, -1) {
		if w := m[1]; w != "or" && w != "and" && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// completeGet completes the resource, then the names of its objects.
func (c *cli) completeGet(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return withPrefix(getResources, toComplete), noFiles
	}
	names, d := c.objectNames(cmd, completionResource(args[0]), toComplete)
	// get takes several names: offer those not given yet.
	return slices.DeleteFunc(names, func(n string) bool { return slices.Contains(args[1:], n) }), d
}

// objectNames lists the names of the objects of res ("pods", "deployments",
// "replicationcontrollers", "nodes", "namespaces") that start with prefix, pods and deployments in
// the command's --namespace (all of them with --all-namespaces).
func (c *cli) objectNames(cmd *cobra.Command, res, prefix string) ([]string, cobra.ShellCompDirective) {
	cl, ctx, cancel, ok := c.completionClient(cmd)
	if !ok {
		return nil, noFiles
	}
	defer cancel()
	ns := completionNamespace(cmd)
	var names []string
	switch res {
	case "pods":
		pods, err := cl.Pods(ctx, ns)
		if err != nil {
			return nil, noFiles
		}
		for _, p := range pods {
			names = append(names, p.Name)
		}
	case "deployments", "replicationcontrollers", resDaemonSets:
		wl, err := cl.Deployments(ctx, ns)
		if err != nil {
			return nil, noFiles
		}
		kind := spec.KindDeployment
		if res == "replicationcontrollers" {
			kind = spec.KindReplicationController
		}
		if res == resDaemonSets {
			kind = spec.KindDaemonSet
		}
		for _, w := range wl {
			if w.Kind == kind {
				names = append(names, w.Name)
			}
		}
	case resStatefulSets, resReplicaSets:
		wl, err := cl.Deployments(ctx, ns)
		if err != nil {
			return nil, noFiles
		}
		for _, w := range wl {
			if w.Kind == appsKinds[res] {
				names = append(names, w.Name)
			}
		}
	case resServices, resEndpoints:
		svcs, err := cl.Services(ctx, ns)
		if err != nil {
			return nil, noFiles
		}
		for _, s := range svcs {
			names = append(names, s.Metadata.Name)
		}
	case "nodes":
		nodes, err := cl.Nodes(ctx)
		if err != nil {
			return nil, noFiles
		}
		for _, n := range nodes {
			names = append(names, n.Name)
		}
	case "namespaces":
		nss, err := cl.Namespaces(ctx)
		if err != nil {
			return nil, noFiles
		}
		for _, n := range nss {
			names = append(names, n.Name)
		}
	case resConfigMaps, resSecrets, resClaims, resVolumes, resStorageClasses:
		names = storageNames(ctx, cl, res, ns)
	case resApps:
		apps, err := cl.Applications(ctx)
		if err != nil {
			return nil, noFiles
		}
		for _, a := range apps {
			names = append(names, a.Name)
		}
	}
	slices.Sort(names)
	return withPrefix(slices.Compact(names), prefix), noFiles
}

// completeContainer completes logs -c with the containers of the pod named
// in the arguments.
func (c *cli) completeContainer(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, noFiles
	}
	cl, ctx, cancel, ok := c.completionClient(cmd)
	if !ok {
		return nil, noFiles
	}
	defer cancel()
	pods, err := cl.Pods(ctx, completionNamespace(cmd))
	if err != nil {
		return nil, noFiles
	}
	var names []string
	for _, p := range pods {
		if p.Name == args[0] {
			for _, ctr := range p.Spec.Containers {
				names = append(names, ctr.Name)
			}
		}
	}
	return withPrefix(names, toComplete), noFiles
}

// completionClient returns a client and a context bounded by
// completionTimeout (or --request-timeout, if shorter).
func (c *cli) completionClient(cmd *cobra.Command) (*api.Client, context.Context, context.CancelFunc, bool) {
	cl, err := c.newClient()
	if err != nil {
		return nil, nil, nil, false
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	d := completionTimeout
	if c.timeout > 0 && c.timeout < d {
		d = c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return cl, ctx, cancel, true
}

// completionNamespace is the namespace the command line names so far:
// "" (all) with -A, else -n or "default".
func completionNamespace(cmd *cobra.Command) string {
	if all, err := cmd.Flags().GetBool("all-namespaces"); err == nil && all {
		return ""
	}
	if ns, err := cmd.Flags().GetString("namespace"); err == nil && ns != "" {
		return ns
	}
	return spec.DefaultNamespace
}

// completionResource maps kubectl's names and abbreviations of a resource
// to the one whose names objectNames lists ("" for none). (Its own table:
// get's grows with get.)
func completionResource(s string) string {
	// One name table for get and its completion; lists and all name no
	// single resource.
	res, err := resources(s)
	if err != nil || len(res) != 1 {
		return ""
	}
	return res[0]
}

func withPrefix(words []string, prefix string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
