package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec/render"
)

// diffOptions are ctl diff's flags.
type diffOptions struct {
	local    string
	output   string // "", "text", "markdown", "json"
	color    string // "auto", "always", "never"
	maxLines int
	maxBytes int
}

func (c *cli) diffCmd() *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff [APP] [--local DIR] [-o text|markdown|json]",
		Short: "Show what syncing would change, per object (exit 0: none, 1: changes, >1: error)",
		Long: `Show what syncing would change: each object created, changed or deleted, with its changed
fields ("spec.replicas: 3 → 5"), a unified diff of its YAML, and for workloads the pods that
would be started (with the node each would land on) or stopped. A Secret's values are never
shown.

Without --local the reconciler fetches the tracked branch's head and compares it with the applied
revision. With --local DIR, ctl sends the manifests of DIR (a work tree of the config repository's
tracked path) to the reconciler, which loads them with its own rules (reporting their errors as
ctl validate does) and compares them with the applied revision, so a pull request can be
previewed before merging.

Either way each pod that would start shows where it would land ("→ node-2", or "→ Pending:" and
the scheduler's reason): the reconciler plans the new revision on a copy of its current state
(nodes, placed pods) and throws the plan away.

With APP, the application's branch head (or DIR, a work tree of its path) is compared with its
applied revision, the other applications' objects staying as they are; without it, the
bootstrap application's.

-o markdown writes a pull-request comment (a summary table, then a collapsible section per
object); -o json a document for scripts (see docs/ctl.md).

Exit status, as kubectl diff: 0 no changes, 1 changes, 2 (or more) an error, including a
revision that fails to load.`,
		Example: `  ctl diff
  ctl diff --local ./config                # in CI, before merging
  ctl diff --local . -o markdown > diff.md # a pull-request comment
  ctl diff team-a --local .`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeApp,
		RunE: func(cmd *cobra.Command, args []string) error {
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			switch o.output {
			case "", "text", "markdown", "md", "json":
			default:
				return usageErr("unknown output format %q: want text, markdown or json", o.output)
			}
			color, err := c.useColor(o.color)
			if err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			var res *api.DiffResult
			if o.local == "" {
				res, err = cl.DiffApp(ctx, app)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
			} else {
				res, err = c.localDiff(cmd, cl, o.local, app)
				if err != nil {
					return err
				}
			}
			if res.Error != nil {
				printSyncError(c.errOut, res.Error)
				return silentExit(exitError)
			}
			// As kubectl prints the API server's warnings: on standard
			// error, whatever the output format.
			for _, w := range res.Warnings {
				fmt.Fprintln(c.errOut, "Warning:", w)
			}
			r := newDiffReport(res)
			switch o.output {
			case "markdown", "md":
				printDiffMarkdown(c.out, r, o.maxLines, o.maxBytes)
			case "json":
				if err := printDiffJSON(c.out, r, res); err != nil {
					return &exitErr{code: exitError, err: err}
				}
			default:
				printDiffText(c.out, r, color, o.maxLines)
			}
			if len(r.objects) > 0 {
				return silentExit(exitChanges)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.local, "local", "", "compare this directory (a work tree of the tracked path) instead of the branch head")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text, markdown (a pull-request comment) or json")
	cmd.Flags().StringVar(&o.color, "color", "auto", "colour the text output: auto (on a terminal, unless NO_COLOR is set), always or never")
	cmd.Flags().IntVar(&o.maxLines, "max-lines", 100, "show at most this many lines of a created or deleted object's YAML (0: all); changed objects always show every changed hunk")
	cmd.Flags().IntVar(&o.maxBytes, "max-bytes", 60000, "markdown: keep the comment under this many bytes, leaving out the sections that do not fit (0: no limit)")
	return cmd
}

// useColor decides whether the text output is coloured: --color always or
// never, or auto: only on a terminal, and not when NO_COLOR is set to
// anything (no-color.org).
func (c *cli) useColor(mode string) (palette, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return palette(c.getenv("NO_COLOR") == "" && isTerminal(c.out)), nil
	}
	return false, usageErr("unknown --color %q: want auto, always or never", mode)
}

// localDiff reads dir and sends its manifests to the reconciler, which
// loads them with its own rules (those that decide whether a sync applies
// them), diffs them against the applied revision and places the pods they
// would start exactly as for the branch head (POST /v1/diff). Files that
// fail to load come back in the result's Error, as `file:line: object:
// field: message`, the lines ctl validate prints. ctl does not load them
// a second time itself: that doubled the CPU a diff of a large repository
// costs for the same verdict (ctl validate checks offline).
func (c *cli) localDiff(cmd *cobra.Command, cl *api.Client, dir, app string) (*api.DiffResult, error) {
	local := &api.Commit{Hash: "local " + dir}
	files, err := render.ReadDir(dir)
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
