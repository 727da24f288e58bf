package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Applications in ctl: `ctl get applications`, `ctl status APP`,
// `ctl sync APP` and `ctl diff APP` (see docs/applications.md).

// printApplications is `ctl get applications`, shaped like `argocd app
// list`: one line per application, the bootstrap first.
func printApplications(w io.Writer, apps []api.Application, wide bool) {
	tw := newTable(w)
	cols := []string{"NAME", "REPO", "PATH", "REVISION", "SYNC", "HEALTH", "AGE"}
	if wide {
		cols = append(cols, "BRANCH", "PRUNE", "MESSAGE")
	}
	row(tw, cols...)
	for _, a := range apps {
		rev := "<none>"
		if a.Applied != nil {
			rev = short(a.Applied.Hash)
		}
		path := a.Path
		if path == "" {
			path = "."
		}
		created := "<none>"
		if !a.Created.IsZero() {
			created = age(a.Created)
		}
		line := []string{a.Name, a.Repo, path, rev, a.Sync, orNone(a.Health), created}
		if wide {
			line = append(line, a.Branch, fmt.Sprint(a.Prune), appMessage(a))
		}
		row(tw, line...)
	}
	tw.Flush()
}

// appMessage is the one thing to know about an application: its error,
// what it keeps running, or why it is not healthy.
func appMessage(a api.Application) string {
	switch {
	case a.LastError != nil:
		return firstLine(a.LastError.Message)
	case a.Message != "":
		return a.Message
	case a.HealthMessage != "":
		return a.HealthMessage
	}
	return ""
}

// appStatus is `ctl status APP`.
func (c *cli) appStatus(cmd *cobra.Command, cl *api.Client, name, output string) error {
	ctx, cancel := c.requestCtx(cmd.Context())
	defer cancel()
	a, err := cl.Application(ctx, name)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	return c.emit(output, a, func(w io.Writer) { printApplication(w, a) })
}

// printApplication writes one application: source, commits, states,
// error and objects.
func printApplication(w io.Writer, a *api.Application) {
	kind := "Application"
	if a.Bootstrap {
		kind = "Application (bootstrap: --repo of the reconciler)"
	}
	fmt.Fprintf(w, "%s %s\n", kind, a.Name)
	path := a.Path
	if path == "" {
		path = "."
	}
	fmt.Fprintf(w, "Source:   %s, branch %s, path %s (prune: %v)\n", a.Repo, a.Branch, path, a.Prune)
	if a.Applied != nil {
		fmt.Fprintf(w, "Applied:  %s by %s: %s (%s ago)\n", short(a.Applied.Hash), orNone(a.Applied.Author), firstLine(a.Applied.Message), age(a.AppliedAt))
	} else {
		fmt.Fprintln(w, "Applied:  <none>")
	}
	if a.Fetched != nil {
		fmt.Fprintf(w, "Fetched:  %s\n", short(a.Fetched.Hash))
	}
	fmt.Fprintf(w, "Sync:     %s\n", a.Sync)
	health := a.Health
	if a.HealthMessage != "" {
		health += " (" + a.HealthMessage + ")"
	}
	fmt.Fprintf(w, "Health:   %s\n", health)
	if a.Message != "" {
		fmt.Fprintf(w, "Message:  %s\n", a.Message)
	}
	if a.LastError == nil {
		fmt.Fprintln(w, "Last error: <none>")
	} else {
		fmt.Fprint(w, "Last error: ")
		printSyncError(w, a.LastError)
		if a.Applied != nil {
			fmt.Fprintf(w, "The last good revision %s keeps running.\n", short(a.Applied.Hash))
		}
	}
	if len(a.Objects) == 0 {
		fmt.Fprintln(w, "Objects:  <none>")
		return
	}
	fmt.Fprintln(w, "Objects:")
	tw := newTable(w)
	row(tw, "  KIND", "NAMESPACE", "NAME", "FILE", "HEALTH", "MESSAGE")
	for _, o := range a.Objects {
		file := o.File
		if o.Line > 0 {
			file = fmt.Sprintf("%s:%d", o.File, o.Line)
		}
		row(tw, "  "+o.Key.Kind, orNone(o.Key.Namespace), o.Key.Name, orNone(file), orNone(o.Health), o.Message)
	}
	tw.Flush()
}

// syncApps is `ctl sync [APP]` without --wait's pod watch: it prints one
// line per application and says whether any failed (and whether a commit
// was at fault).
func (c *cli) syncApps(ctx context.Context, cl *api.Client, app string) (bad, commitBad bool, err error) {
	res, err := cl.SyncApp(ctx, app, true)
	if err != nil {
		return false, false, &exitErr{code: exitError, err: err}
	}
	results := append([]api.SyncResult{*res}, res.Applications...)
	for _, r := range results {
		prefix := ""
		if r.App != "" && (app == "" && len(results) > 1) {
			prefix = r.App + ": "
		}
		if r.Error != nil {
			fmt.Fprint(c.errOut, prefix)
			printSyncError(c.errOut, r.Error)
			bad = true
			commitBad = commitBad || r.Error.Stage == api.StageLoad || r.Error.Stage == api.StageConflict
			continue
		}
		if r.Commit != nil {
			fmt.Fprintf(c.out, "%ssynced %s by %s: %s\n", prefix, short(r.Commit.Hash), orNone(r.Commit.Author), firstLine(r.Commit.Message))
		}
	}
	return bad, commitBad, nil
}

// appNames lists applications for shell completion.
func appNames(ctx context.Context, cl *api.Client, prefix string) []string {
	apps, err := cl.Applications(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range apps {
		if strings.HasPrefix(a.Name, prefix) {
			out = append(out, a.Name)
		}
	}
	return out
}

// completeApp completes an APP argument from the reconciler's list.
func (c *cli) completeApp(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := c.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := c.requestCtx(cmd.Context())
	defer cancel()
	return appNames(ctx, cl, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// appObject is an application as `ctl get applications -o yaml|json`
// prints it: Kubernetes-shaped (the Application kind of the bootstrap
// repository, with a status shaped like Argo CD's: sync.status and
// revision, health.status and message), so that jq and yq habits work.
func appObject(a api.Application) map[string]any {
	spec := map[string]any{
		"source": map[string]any{"repoURL": a.Repo, "targetRevision": a.Branch, "path": a.Path},
		"prune":  a.Prune,
	}
	sync := map[string]any{"status": a.Sync}
	if a.Applied != nil {
		sync["revision"] = a.Applied.Hash
	}
	status := map[string]any{
		"sync":   sync,
		"health": map[string]any{"status": a.Health, "message": a.HealthMessage},
	}
	if a.LastError != nil {
		status["lastError"] = a.LastError
	}
	if a.Message != "" {
		status["message"] = a.Message
	}
	if len(a.Retained) > 0 {
		status["retained"] = a.Retained
	}
	if !a.LastSync.IsZero() {
		status["reconciledAt"] = a.LastSync
	}
	meta := map[string]any{"name": a.Name}
	if !a.Created.IsZero() {
		meta["creationTimestamp"] = a.Created
	}
	if a.Bootstrap {
		meta["annotations"] = map[string]string{"stevedore.dev/bootstrap": "true"}
	}
	return map[string]any{"apiVersion": appAPIVersion, "kind": "Application", "metadata": meta, "spec": spec, "status": status}
}

// printAppSummary ends `ctl status` with one line per application when the
// bootstrap repository declares some. A reconciler that cannot say (no
// leader, an older reconciler without applications) prints nothing more:
// the status above stands on its own.
func (c *cli) printAppSummary(ctx context.Context, w io.Writer, cl *api.Client) {
	apps, err := cl.Applications(ctx)
	if err != nil || len(apps) < 2 {
		return
	}
	fmt.Fprintln(w, "Applications:")
	tw := newTable(w)
	row(tw, "  NAME", "REVISION", "SYNC", "HEALTH", "MESSAGE")
	for _, a := range apps {
		rev := "<none>"
		if a.Applied != nil {
			rev = short(a.Applied.Hash)
		}
		row(tw, "  "+a.Name, rev, a.Sync, orNone(a.Health), appMessage(a))
	}
	tw.Flush()
}
