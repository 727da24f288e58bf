package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func (c *cli) diffCmd() *cobra.Command {
	var local string
	cmd := &cobra.Command{
		Use:   "diff [--local DIR]",
		Short: "Show what syncing would change, per object (exit 0: none, 1: changes, >1: error)",
		Long: `Show what syncing would change: each object created, changed (with a field-level diff) or
deleted, and for workloads the pods that would be started or stopped.

Without --local the reconciler fetches the tracked branch's head and compares it with the applied
revision. With --local DIR, ctl loads DIR (a work tree of the config repository's tracked path)
and compares it with the applied revision, so a pull request can be previewed before merging.

Exit status, as kubectl diff: 0 no changes, 1 changes, 2 (or more) an error, including a
revision that fails to load.`,
		Example: `  ctl diff
  ctl diff --local ./config   # in CI, before merging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			var res *api.DiffResult
			if local == "" {
				res, err = cl.Diff(ctx)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
			} else {
				res, err = c.localDiff(cmd, cl, local)
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

// localDiff loads dir and diffs it against the applied revision, which it
// loads locally from the files the reconciler serves.
func (c *cli) localDiff(cmd *cobra.Command, cl *api.Client, dir string) (*api.DiffResult, error) {
	ctx, cancel := c.requestCtx(cmd.Context())
	defer cancel()
	rev, err := cl.Revision(ctx)
	if err != nil {
		return nil, &exitErr{code: exitError, err: err}
	}
	res := &api.DiffResult{Applied: rev.Commit, Head: &api.Commit{Hash: "local " + dir}}
	next, err := spec.LoadDir(dir)
	if err != nil {
		res.Error = loadError(err)
		return res, nil
	}
	var base *spec.Set
	if rev.Commit != nil {
		if base, err = spec.Load(rev.Files); err != nil {
			return nil, &exitErr{code: exitError, err: fmt.Errorf("failed to load the applied revision %s locally (is ctl older than the reconciler?): %w", rev.Commit.Hash, err)}
		}
	}
	res.Changes = reconcile.Diff(base, next)
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
	var created, changed, deleted, started, stopped int
	for _, ch := range res.Changes {
		fmt.Fprintf(w, "\n%s %s\n", ch.Action, ch.Key)
		switch ch.Action {
		case reconcile.ActionCreated:
			created++
		case reconcile.ActionChanged:
			changed++
		case reconcile.ActionDeleted:
			deleted++
		}
		if d := strings.TrimRight(ch.Diff, "\n"); d != "" {
			for _, line := range strings.Split(d, "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
		for _, p := range ch.PodsStarted {
			fmt.Fprintf(w, "  + pod %s\n", p)
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
