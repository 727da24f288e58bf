package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// ctl rollout: a Deployment's rollout as kubectl rollout shows it (status,
// history). Git is how a rollout starts and how it is undone; these
// commands follow and explain it.

func (c *cli) rolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Follow a Deployment's rollout (status), list its revisions (history), roll it back with a commit (undo)",
		Long: `Follow a Deployment's rollout and list the templates it has run. Revisions are
recorded by the reconciler when a commit changes a Deployment's pod template (see
docs/rollouts.md); a rollback is a revert commit, or automatic with the
stevedore.dev/auto-rollback annotation.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(c.rolloutStatusCmd(), c.rolloutHistoryCmd(), newRolloutUndoCmd(c))
	return cmd
}

// deploymentArg reads a Deployment's name from a rollout command's
// arguments: NAME, deployment/NAME or deployment NAME (with kubectl's
// abbreviations of the type).
func deploymentArg(args []string) (string, error) {
	var typ, name string
	switch len(args) {
	case 1:
		if t, n, ok := strings.Cut(args[0], "/"); ok {
			typ, name = t, n
		} else {
			name = args[0]
		}
	case 2:
		typ, name = args[0], args[1]
	default:
		return "", usageErr("want one Deployment: NAME, deployment/NAME or deployment NAME")
	}
	if typ != "" {
		if res, err := resources(typ); err != nil || len(res) != 1 || res[0] != resWorkloads {
			return "", usageErr("unknown resource %q: rollout supports deployments only", typ)
		}
	}
	if name == "" {
		return "", usageErr("want a Deployment's name")
	}
	return name, nil
}

func (c *cli) rolloutStatusCmd() *cobra.Command {
	var (
		namespace string
		timeout   time.Duration
		watch     bool
	)
	cmd := &cobra.Command{
		Use:   "status deployment/NAME",
		Short: "Follow a Deployment's rollout until it completes, fails or times out",
		Long: `Print a Deployment's rollout progress as kubectl rollout status does, one line
each time it changes ("Waiting for deployment "web" rollout to finish: 2 of 10 updated
replicas are available..."), from the reconciler's watch stream, until every replica
runs the current template and no old one is left ("deployment "web" successfully rolled
out": exit 0). The rollout failing ends it with exit code 1: its progress deadline passed
(progressDeadlineSeconds), or it was rolled back automatically. --timeout ends it with
exit code 2. With --watch=false, print the current state once.

Run it after the commit is applied (ctl sync --wait): before that, the Deployment's
previous template is the one followed.`,
		Example: `  ctl sync --wait && ctl rollout status deployment/web -n shop
  ctl rollout status web -n shop --timeout 5m
  ctl rollout status deploy/web -n shop -w=false`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			if namespace == "" {
				namespace = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			if !watch {
				return c.rolloutStatusOnce(ctx, cl, namespace, name)
			}
			err = c.followRollout(ctx, cl, namespace, name)
			if err != nil && ctx.Err() != nil && cmd.Context().Err() == nil {
				return &exitErr{code: exitError, err: fmt.Errorf("timed out after %s waiting for deployment %q rollout to finish", timeout, name)}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long to wait before giving up (exit code 2); 0 waits for ever")
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "follow the rollout until it ends; false prints its state once")
	return cmd
}

// rolloutProgress is kubectl's rollout status of a Deployment: the line to
// print, whether the rollout is done, and the error that ends it (the
// deadline passed, or it was rolled back automatically).
func rolloutProgress(w api.Workload) (string, bool, error) {
	if w.Override != "" {
		return "", false, fmt.Errorf("deployment %q was rolled back automatically: %s; its Git template runs again once a commit changes it", w.Name, w.Override)
	}
	if w.Progress == api.ProgressDeadlineExceeded || progressingReason(w) == reasonDeadlineExceeded {
		err := fmt.Sprintf("deployment %q exceeded its progress deadline", w.Name)
		if w.Message != "" {
			err += ": " + w.Message
		}
		return "", false, errors.New(err)
	}
	if w.Progress == api.ProgressPaused {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: the Deployment is paused (spec.paused)...\n", w.Name), false, nil
	}
	switch {
	case w.UpToDate < w.Replicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", w.Name, w.UpToDate, w.Replicas), false, nil
	case w.Current > w.UpToDate:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", w.Name, w.Current-w.UpToDate), false, nil
	case w.Available < w.UpToDate:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", w.Name, w.Available, w.UpToDate), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", w.Name), true, nil
}

// reasonDeadlineExceeded is the Progressing condition's reason for a stuck
// rollout.
const reasonDeadlineExceeded = "ProgressDeadlineExceeded"

// progressingReason is the reason of a workload's Progressing condition,
// "" when the reconciler reports none.
func progressingReason(w api.Workload) string {
	for _, c := range w.Conditions {
		if c.Type == "Progressing" {
			return c.Reason
		}
	}
	return ""
}

func deploymentNotFound(namespace, name string) error {
	return &exitErr{code: exitChanges, err: fmt.Errorf("deployment %q not found in namespace %q", name, namespace)}
}

// rolloutStatusOnce prints the rollout's state once (--watch=false).
func (c *cli) rolloutStatusOnce(ctx context.Context, cl *api.Client, namespace, name string) error {
	ctx, cancel := c.requestCtx(ctx)
	defer cancel()
	wls, err := cl.Deployments(ctx, namespace)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	for _, w := range wls {
		if w.Kind == spec.KindDeployment && w.Name == name {
			msg, _, err := rolloutProgress(w)
			if err != nil {
				return &exitErr{code: exitChanges, err: err}
			}
			fmt.Fprint(c.out, msg)
			return nil
		}
	}
	return deploymentNotFound(namespace, name)
}

// followRollout prints the rollout's progress from the watch stream of the
// Deployments until it ends. A stream the reconciler closes (it stopped
// leading) is opened again, as ctl get -w does.
func (c *cli) followRollout(ctx context.Context, cl *api.Client, namespace, name string) error {
	last := ""
	show := func(w api.Workload) (bool, error) {
		msg, done, err := rolloutProgress(w)
		if err != nil {
			return true, &exitErr{code: exitChanges, err: err}
		}
		if msg != last {
			fmt.Fprint(c.out, msg)
			last = msg
		}
		return done, nil
	}
	var failingSince time.Time
	for {
		done, err := c.rolloutStream(ctx, cl, namespace, name, show)
		if done || ctx.Err() != nil {
			return err
		}
		var ee *exitErr
		if errors.As(err, &ee) {
			return err
		}
		if err == nil || errors.Is(err, io.EOF) {
			failingSince = time.Time{}
		} else {
			var se *api.StatusError
			if errors.As(err, &se) && se.StatusCode != 503 {
				return &exitErr{code: exitError, err: err}
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
				fmt.Fprintf(c.errOut, "watch: %v; retrying every %s\n", err, watchRetry)
			}
			if c.timeout > 0 && time.Since(failingSince) > c.timeout {
				return &exitErr{code: exitError, err: fmt.Errorf("failed to watch for %s: %w", c.timeout, err)}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(watchRetry):
		}
	}
}

// rolloutStream follows one watch stream, calling show with every state
// of the Deployment, until show says the rollout ended or the stream ends.
func (c *cli) rolloutStream(ctx context.Context, cl *api.Client, namespace, name string, show func(api.Workload) (bool, error)) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// --request-timeout bounds the wait for the stream's first event.
	opened := func() {}
	if c.timeout > 0 {
		t := time.AfterFunc(c.timeout, cancel)
		opened = func() { t.Stop() }
	}
	s, err := cl.Watch(sctx, api.PathDeployments, namespace)
	if err != nil {
		return false, err
	}
	defer s.Close()
	found := false
	for {
		ev, err := s.Next()
		opened()
		if err != nil {
			return false, err
		}
		switch ev.Type {
		case "":
			return false, &exitErr{code: exitError, err: fmt.Errorf("the reconciler at %s does not stream watch events: upgrade it", cl.BaseURL())}
		case api.WatchBookmark:
			if !found {
				return false, deploymentNotFound(namespace, name)
			}
			continue
		}
		var w api.Workload
		if err := json.Unmarshal(ev.Object, &w); err != nil {
			return false, fmt.Errorf("failed to decode a watch event: %w", err)
		}
		if w.Kind != spec.KindDeployment || w.Name != name || w.Namespace != namespace {
			continue
		}
		if ev.Type == api.WatchDeleted {
			return true, &exitErr{code: exitChanges, err: fmt.Errorf("deployment %q was deleted", name)}
		}
		found = true
		if done, err := show(w); done || err != nil {
			return true, err
		}
	}
}

func (c *cli) rolloutHistoryCmd() *cobra.Command {
	var (
		namespace string
		revision  int64
		output    string
	)
	cmd := &cobra.Command{
		Use:   "history deployment/NAME",
		Short: "List a Deployment's revisions: commit, author, images and change cause",
		Long: `List the pod templates a Deployment has run, oldest first, as the reconciler
recorded them when commits changed its template: the revision number, the commit that
introduced it, its author, the images, and the commit's subject as the change cause. The
revision Git declares now is marked (current); one an automatic rollback runs instead
is marked (running), with the rollback's reason below. The last revisionHistoryLimit
revisions (default 10) are kept besides the current one.

With --revision N, print that revision's pod template as YAML.`,
		Example: `  ctl rollout history deployment/web -n shop
  ctl rollout history web -n shop --revision 3
  ctl rollout history web -n shop -o json | jq '.revisions[] | select(.healthy) | .number'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			if namespace == "" {
				namespace = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			revs, err := cl.RolloutHistory(ctx, namespace, name)
			if errors.Is(err, api.ErrNotFound) {
				return deploymentNotFound(namespace, name)
			}
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			if revision != 0 {
				for _, r := range revs {
					if r.Number == revision {
						return c.printRevision(name, r, output)
					}
				}
				return &exitErr{code: exitChanges, err: fmt.Errorf("unable to find revision %d of deployment %q (kept: %s)", revision, name, revisionNumbers(revs))}
			}
			// Which revision runs, when an automatic rollback replaced
			// Git's: best effort, the history stands without it.
			var running *api.Workload
			if wls, err := cl.Deployments(ctx, namespace); err == nil {
				for i, w := range wls {
					if w.Kind == spec.KindDeployment && w.Name == name {
						running = &wls[i]
					}
				}
			}
			return c.emit(output, api.RevisionList{Revisions: revs}, func(w io.Writer) { printHistory(w, name, revs, running) })
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().Int64Var(&revision, "revision", 0, "print this revision's pod template")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	return cmd
}

func revisionNumbers(revs []api.DeploymentRevision) string {
	if len(revs) == 0 {
		return "none"
	}
	out := make([]string, len(revs))
	for i, r := range revs {
		out[i] = strconv.FormatInt(r.Number, 10)
	}
	return strings.Join(out, ", ")
}

// printHistory is the history table; w, when known, says which revision
// runs.
func printHistory(out io.Writer, name string, revs []api.DeploymentRevision, w *api.Workload) {
	fmt.Fprintf(out, "deployment.apps/%s\n", name)
	if len(revs) == 0 {
		fmt.Fprintln(out, "No revision recorded yet: the next commit applied records the current template.")
		return
	}
	var current int64
	for _, r := range revs {
		if r.Current {
			current = r.Number
		}
	}
	var runs int64
	if w != nil && w.Override != "" && w.RevisionNumber != current {
		runs = w.RevisionNumber
	}
	tw := newTable(out)
	row(tw, "REVISION", "COMMIT", "AUTHOR", "IMAGES", "CHANGE-CAUSE")
	for _, r := range revs {
		num := strconv.FormatInt(r.Number, 10)
		switch r.Number {
		case current:
			num += " (current)"
		case runs:
			num += " (running)"
		}
		row(tw, num, orNone(shortHash(r.Commit)), orNone(r.Author), orNone(strings.Join(r.Images, ",")), orNone(r.Subject))
	}
	tw.Flush()
	if w != nil && w.Override != "" {
		what := "A previous revision runs"
		if runs != 0 {
			what = fmt.Sprintf("Revision %d runs", runs)
		}
		fmt.Fprintf(out, "%s instead of revision %d (automatic rollback): %s\n", what, current, w.Override)
	}
}

// shortHash abbreviates a commit hash as git log --oneline does.
func shortHash(h string) string {
	if len(h) > 7 && !strings.Contains(h, " ") {
		return h[:7]
	}
	return h
}

// printRevision prints one revision's pod template as YAML (or the whole
// revision with -o json|yaml).
func (c *cli) printRevision(name string, r api.DeploymentRevision, output string) error {
	if output != outTable {
		return c.emit(output, r, nil)
	}
	fmt.Fprintf(c.out, "# deployment.apps/%s revision %d", name, r.Number)
	if r.Current {
		fmt.Fprint(c.out, " (current)")
	}
	fmt.Fprintln(c.out)
	if r.Commit != "" {
		fmt.Fprintf(c.out, "# commit %s", shortHash(r.Commit))
		if r.Author != "" {
			fmt.Fprintf(c.out, " by %s", r.Author)
		}
		if !r.Time.IsZero() {
			fmt.Fprintf(c.out, " at %s", stamp(r.Time))
		}
		if r.Subject != "" {
			fmt.Fprintf(c.out, ": %s", r.Subject)
		}
		fmt.Fprintln(c.out)
	}
	return writeYAML(c.out, r.Template)
}

// printRollouts is ctl status' section of the Deployments whose rollout
// needs attention: stuck past its progress deadline, or rolled back
// automatically (until Git's template changes). Nothing when none does, or
// when the reconciler does not answer.
func (c *cli) printRollouts(ctx context.Context, w io.Writer, cl *api.Client) {
	wls, err := cl.Deployments(ctx, "")
	if err != nil {
		return
	}
	type problem struct{ name, rev, what, msg string }
	var probs []problem
	for _, wl := range wls {
		if wl.Kind != spec.KindDeployment {
			continue
		}
		deadline := wl.Progress == api.ProgressDeadlineExceeded || progressingReason(wl) == reasonDeadlineExceeded
		if wl.Override == "" && !deadline {
			continue
		}
		p := problem{name: wl.Namespace + "/" + wl.Name, rev: "-", what: reasonDeadlineExceeded, msg: wl.Message}
		if wl.RevisionNumber > 0 {
			p.rev = strconv.FormatInt(wl.RevisionNumber, 10)
		}
		if wl.Override != "" {
			p.what, p.msg = "RolledBack", wl.Override+"; Git's template does not run until a commit changes it"
			if deadline && wl.Message != "" {
				p.msg += "; " + wl.Message
			}
		}
		probs = append(probs, p)
	}
	if len(probs) == 0 {
		return
	}
	fmt.Fprintf(w, "Rollouts: %d Deployment(s) need attention:\n", len(probs))
	tw := newTable(w)
	row(tw, "  DEPLOYMENT", "REVISION", "PROBLEM", "MESSAGE")
	for _, p := range probs {
		row(tw, "  "+p.name, p.rev, p.what, p.msg)
	}
	tw.Flush()
}

// addRolloutCompletions completes a rollout subcommand's Deployment (NAME,
// or TYPE/NAME once a type is typed) and its --namespace and --output.
func (c *cli) addRolloutCompletions(cmd *cobra.Command) {
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch {
		case len(args) == 1 && !strings.Contains(args[0], "/"):
			// deployment NAME
			if res, err := resources(args[0]); err != nil || len(res) != 1 || res[0] != resWorkloads {
				return nil, noFiles
			}
		case len(args) > 0:
			return nil, noFiles
		}
		typ, prefix, typed := strings.Cut(toComplete, "/")
		if !typed {
			prefix = toComplete
		}
		names, d := c.objectNames(cmd, resWorkloads, prefix)
		if typed {
			for i, n := range names {
				names[i] = typ + "/" + n
			}
		}
		return names, d
	}
	if cmd.Flags().Lookup("namespace") != nil {
		_ = cmd.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return c.objectNames(cmd, "namespaces", toComplete)
		})
	}
	if f := cmd.Flags().Lookup("output"); f != nil {
		formats := outputFormats(f.Usage)
		_ = cmd.RegisterFlagCompletionFunc("output", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return withPrefix(formats, toComplete), noFiles
		})
	}
}
