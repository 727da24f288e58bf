package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec/render"
)

func (c *cli) diffCmd() *cobra.Command {
	var local string
	cmd := &cobra.Command{
		Use:   "diff [APP] [--local DIR]",
		Short: "Show what syncing would change, per object (exit 0: none, 1: changes, >1: error)",
		Long: `Show what syncing would change: each object created, changed (with a field-level diff) or
deleted, and for workloads the pods that would be started or stopped.

Without --local the reconciler fetches the tracked branch's head and compares it with the applied
revision. With --local DIR, ctl validates DIR (a work tree of the config repository's tracked path)
offline and sends its manifests to the reconciler, which compares them with the applied revision,
so a pull request can be previewed before merging.

Either way each pod that would start shows where it would land ("→ node-2", or "→ Pending:" and
the scheduler's reason): the reconciler plans the new revision on a copy of its current state
(nodes, placed pods) and throws the plan away.

With APP, the application's branch head (or DIR, a work tree of its path) is compared with its
applied revision, the other applications' objects staying as they are; without it, the
bootstrap application's.

Exit status, as kubectl diff: 0 no changes, 1 changes, 2 (or more) an error, including a
revision that fails to load.`,
		Example: `  ctl diff
  ctl diff --local ./config   # in CI, before merging
  ctl diff team-a --local .`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeApp,
		RunE: func(cmd *cobra.Command, args []string) error {
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			var res *api.DiffResult
			if local == "" {
				res, err = cl.DiffApp(ctx, app)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
			} else {
				res, err = c.localDiff(cmd, cl, local, app)
				if err != nil {
					return err
				}
			}
			if res.Error != nil {
				printSyncError(c.errOut, res.Error)
				return silentExit(exitError)
			}
			if printDiff(c.out, res) > 0 {
				return silentExit(exitChanges)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&local, "local", "", "compare this directory (a work tree of the tracked path) instead of the branch head")
	return cmd
}

// localDiff validates dir offline, as ctl validate does, then sends its
// manifests to the reconciler, which diffs them against the applied
// revision and places the pods they would start exactly as for the branch
// head (POST /v1/diff).
func (c *cli) localDiff(cmd *cobra.Command, cl *api.Client, dir, app string) (*api.DiffResult, error) {
	local := &api.Commit{Hash: "local " + dir}
	files, err := render.ReadDir(dir)
	if err == nil {
		_, err = render.Load(files)
	}
	if err != nil {
		return &api.DiffResult{Head: local, Error: loadError(err)}, nil
	}
	ctx, cancel := c.requestCtx(cmd.Context())
	defer cancel()
	res, err := cl.DiffFilesApp(ctx, app, files)
	if err != nil {
		return nil, &exitErr{code: exitError, err: err}
	}
	res.Head = local
	return res, nil
}

// loadError turns a spec.Load error into a SyncError with one entry per
// problem.
func loadError(err error) *api.SyncError {
	return &api.SyncError{Stage: api.StageLoad, Message: err.Error(), Entries: api.EntriesFromError(err)}
}

// printDiff writes the changes and returns how many there are.
func printDiff(w io.Writer, res *api.DiffResult) int {
	from, to := "nothing applied", "?"
	if res.Applied != nil {
		from = short(res.Applied.Hash)
	}
	if res.Head != nil {
		to = short(res.Head.Hash)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintf(w, "No changes: %s is up to date with %s.\n", from, to)
		return 0
	}
	fmt.Fprintf(w, "Changes from %s to %s:\n", from, to)
	placed := make(map[string]api.PodPlacement, len(res.Placements))
	for _, p := range res.Placements {
		placed[p.Pod] = p
	}
	var created, changed, deleted, started, stopped int
	for _, ch := range res.Changes {
		fmt.Fprintf(w, "\n%s %s\n", ch.Action, ch.Key)
		switch ch.Action {
		case api.ActionCreated:
			created++
		case api.ActionChanged:
			changed++
		case api.ActionDeleted:
			deleted++
		}
		if d := strings.TrimRight(ch.Diff, "\n"); d != "" {
			for _, line := range strings.Split(d, "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
		for _, p := range ch.PodsStarted {
			fmt.Fprintf(w, "  + pod %s%s\n", p, placement(placed, p))
		}
		for _, p := range ch.PodsStopped {
			fmt.Fprintf(w, "  - pod %s\n", p)
		}
		started += len(ch.PodsStarted)
		stopped += len(ch.PodsStopped)
	}
	fmt.Fprintf(w, "\n%d object(s) changed: %d created, %d changed, %d deleted; %d pod(s) started, %d stopped.\n",
		len(res.Changes), created, changed, deleted, started, stopped)
	return len(res.Changes)
}

// placement renders where a started pod would land: " → node-2", or
// " → Pending: 0/3 nodes are available: 3 Insufficient memory.", or nothing
// when the reconciler did not say.
func placement(placed map[string]api.PodPlacement, pod string) string {
	p, ok := placed[pod]
	switch {
	case !ok:
		return ""
	case p.Node != "":
		return " → " + p.Node
	case p.Message != "":
		return " → Pending: " + p.Message
	case p.Reason != "":
		return " → Pending: " + p.Reason
	}
	return " → Pending"
}

func printSyncError(w io.Writer, e *api.SyncError) {
	if e.Commit != nil {
		fmt.Fprintf(w, "commit %s by %s (%s) failed to %s:\n", short(e.Commit.Hash), orNone(e.Commit.Author), firstLine(e.Commit.Message), e.Stage)
	} else {
		fmt.Fprintf(w, "%s failed:\n", e.Stage)
	}
	if len(e.Entries) == 0 {
		fmt.Fprintf(w, "  %s\n", e.Message)
		return
	}
	for _, en := range e.Entries {
		fmt.Fprintf(w, "  %s\n", en)
	}
}

func short(hash string) string {
	if len(hash) > 12 && !strings.Contains(hash, " ") {
		return hash[:12]
	}
	return hash
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
