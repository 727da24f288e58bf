package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
)

// `ctl rollout undo`: a rollback is a commit. The reconciler applies what
// Git says, so rolling a Deployment back in the cluster alone would be
// undone by the next sync (Argo CD refuses a rollback while auto-sync is
// on for that reason). Instead ctl writes the previous revision's pod
// template into the user's clone of the config repository, commits it and,
// with --push, pushes it: the rollback is reviewed, audited and reverted
// like any change. docs/rollouts.md, "Rolling back", describes it.

// undoOptions are ctl rollout undo's flags.
type undoOptions struct {
	namespace  string
	toRevision int64
	push       bool
	repo       string
	dryRun     bool
	author     string
}

func newRolloutUndoCmd(c *cli) *cobra.Command {
	var o undoOptions
	cmd := &cobra.Command{
		Use:   "undo DEPLOYMENT [--to-revision N] [-n NS] [--push] [--repo DIR] [--dry-run]",
		Short: "Roll a Deployment back to its previous pod template (or revision N) with a commit in the config repository",
		Long: `Roll a Deployment back the GitOps way: ctl reads the Deployment's revisions from the reconciler
(as ctl rollout history shows them), finds the file of the config repository that declares it in
the clone at --repo (default: the repository containing the current directory), replaces that
document's spec.template with the previous revision's (or revision N's) and commits the change.
With --push it pushes the branch to its remote; the next sync rolls the Deployment back. Nothing
else in the file changes: other documents, comments and key order stay as they are.

The template comes from the commit that introduced the revision, as its author wrote it, when
the clone has that commit; otherwise from the reconciler's record of it (with defaults filled
in). Before committing, ctl loads the edited tree as the reconciler would and checks that the
Deployment's template hashes to the revision's: if not, it refuses rather than commit
something else.

ctl refuses (exit 1) when there is no previous revision, revision N is unknown or current, the
file has uncommitted changes or other changes are staged, the Deployment is not found under the
application's path in the clone, or kustomize renders it (it then prints which kustomization
builds it and the images or template to restore there). --dry-run prints the diff and changes
nothing.`,
		Example: `  ctl rollout undo web -n shop --dry-run
  ctl rollout undo web -n shop --push
  ctl rollout undo web -n shop --to-revision 3 --repo ~/src/config`,
		Args: cobra.RangeArgs(1, 2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, noFiles
			}
			return c.objectNames(cmd, "deployments", toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.toRevision < 0 {
				return usageErr("--to-revision %d: want a revision number (0: the previous one)", o.toRevision)
			}
			// NAME, deployment/NAME or deployment NAME, as the other
			// rollout commands.
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			return c.rolloutUndo(cmd.Context(), name, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.namespace, "namespace", "n", "", "namespace (default \"default\")")
	fl.Int64Var(&o.toRevision, "to-revision", 0, "the revision to roll back to (0: the one before the current)")
	fl.BoolVar(&o.push, "push", false, "push the branch to its remote after committing")
	fl.StringVar(&o.repo, "repo", "", "a clone of the config repository (default: the repository containing the current directory)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print the diff of the file and change nothing")
	fl.StringVar(&o.author, "author", "", "the commit's author, \"Name <email>\" (default: $GIT_AUTHOR_NAME and $GIT_AUTHOR_EMAIL, else git config user.name and user.email)")
	return cmd
}

// undoPlan is one rollback being prepared.
type undoPlan struct {
	key         spec.ObjectKey
	cur, target *api.DeploymentRevision
	app         appSource
	w           *workTree
	// dir is the tracked path, relative to the work tree's root; file the
	// manifest declaring the Deployment, relative to dir.
	dir, file   string
	old, edited []byte
	// from says where the restored template came from.
	from string
}

// refused is a rollback ctl will not make: exit 1 with why.
func refused(format string, a ...any) error {
	return &exitErr{code: exitChanges, err: fmt.Errorf(format, a...)}
}

func (c *cli) rolloutUndo(ctx context.Context, name string, o undoOptions) error {
	ns := o.namespace
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	p := &undoPlan{key: spec.ObjectKey{Kind: spec.KindDeployment, Namespace: ns, Name: name}}
	cl, err := c.client()
	if err != nil {
		return err
	}
	rctx, cancel := c.requestCtx(ctx)
	revs, err := cl.RolloutHistory(rctx, ns, name)
	if err == nil {
		p.app, err = appOf(rctx, cl, p.key)
	}
	cancel()
	if errors.Is(err, api.ErrNotFound) {
		why := err.Error()
		if se := (*api.StatusError)(nil); errors.As(err, &se) && se.Message != "" {
			why = se.Message
		}
		return refused("Deployment %s/%s not found (the reconciler answered: %s)", ns, name, why)
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	if p.cur, p.target, err = pickRevision(revs, o.toRevision); err != nil {
		return refused("Deployment %s/%s: %w", ns, name, err)
	}
	if p.w, err = openWorkTree(o.repo); err != nil {
		return &exitErr{code: exitError, err: err}
	}
	files, err := c.locate(p)
	if err != nil {
		return err
	}
	if err := p.build(files); err != nil {
		return err
	}
	rel := relPath(p.dir, p.file)
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: splitLines(p.old), B: splitLines(p.edited), FromFile: "a/" + rel, ToFile: "b/" + rel, Context: 3,
	})
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	msg := p.message()
	if o.dryRun {
		fmt.Fprint(c.out, diff)
		fmt.Fprintf(c.errOut, "dry run: %s not changed; the commit would say:\n\n%s\n", rel, indent(msg, "    "))
		return nil
	}
	return c.commitRollback(ctx, p, o, msg)
}

// locate finds the Deployment's file in the work tree and checks that ctl
// may edit it; it returns the tracked path's manifests.
func (c *cli) locate(p *undoPlan) (map[string][]byte, error) {
	p.dir = cleanTracked(p.app.path)
	abs := filepath.Join(p.w.root, filepath.FromSlash(p.dir))
	where := abs
	if p.app.name != "" {
		where = fmt.Sprintf("%s (the path of application %s)", abs, p.app.name)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, refused("%s is not a directory of %s: is it a clone of %s?", where, p.w.root, orNone(p.app.repo))
	}
	files, err := render.ReadDir(abs)
	if err != nil {
		return nil, refused("failed to read %s: %w", where, err)
	}
	set, err := render.Load(files)
	if err != nil {
		return nil, refused("the manifests in %s do not load; fix them first:\n%w", where, err)
	}
	obj, ok := set.Objects[p.key].(*spec.Deployment)
	if !ok {
		return nil, refused("no manifest in %s declares Deployment %s: is %s a clone of %s, up to date?", where, p.key.Namespace+"/"+p.key.Name, p.w.root, orNone(p.app.repo))
	}
	src := set.Sources[p.key]
	if src.Line == 0 {
		c.printKustomizeHint(p, src.File, files[src.File], &obj.Spec.Template)
		return nil, silentExit(exitChanges)
	}
	p.file, p.old = src.File, files[src.File]
	if fi, err := os.Lstat(filepath.Join(abs, filepath.FromSlash(p.file))); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, refused("%s is a symbolic link: edit the file it points to by hand", relPath(p.dir, p.file))
	}
	if err := p.w.checkClean(relPath(p.dir, p.file)); err != nil {
		return nil, refused("%w", err)
	}
	switch h := spec.TemplateHash(&obj.Spec.Template); {
	case h == p.target.Hash:
		return nil, refused("%s already gives Deployment %s revision %d's template: push and sync it (git push, then ctl sync)",
			relPath(p.dir, p.file), p.key.Namespace+"/"+p.key.Name, p.target.Number)
	case h != p.cur.Hash:
		fmt.Fprintf(c.errOut, "note: %s gives Deployment %s a template (%s) other than revision %d's that is applied (%s): the clone is ahead of or behind the applied commit; its template is the one replaced\n",
			relPath(p.dir, p.file), p.key.Namespace+"/"+p.key.Name, h, p.cur.Number, p.cur.Hash)
	}
	return files, nil
}

// build writes the target revision's template into the file, from the
// commit that introduced it when the clone has it, else from the
// reconciler's record, and checks that the tree then loads and gives the
// revision's hash.
func (p *undoPlan) build(files map[string][]byte) error {
	span, err := findTemplate(p.old, p.key.Namespace, p.key.Name)
	if err != nil {
		return refused("%s: Deployment %s/%s: %w", relPath(p.dir, p.file), p.key.Namespace, p.key.Name, err)
	}
	lines := splitLines(p.old)
	var tried []string
	if f, data, err := p.w.findAt(p.target.Commit, p.dir, p.file, p.key.Namespace, p.key.Name); err != nil {
		tried = append(tried, fmt.Sprintf("the template of commit %s: %v", short(p.target.Commit), err))
	} else if block, err := templateBlock(data, p.key.Namespace, p.key.Name, span.col); err != nil {
		tried = append(tried, fmt.Sprintf("the template of commit %s (%s): %v", short(p.target.Commit), relPath(p.dir, f), err))
	} else {
		edited := replaceSpan(lines, span, block)
		if err := p.verify(files, edited); err != nil {
			tried = append(tried, fmt.Sprintf("the template of commit %s (%s): %v", short(p.target.Commit), relPath(p.dir, f), err))
		} else {
			p.edited, p.from = edited, fmt.Sprintf("commit %s, %s", short(p.target.Commit), relPath(p.dir, f))
			return nil
		}
	}
	block, err := encodeTemplate(&p.target.Template, p.target.Hash, span.col)
	if err == nil {
		edited := replaceSpan(lines, span, block)
		if err = p.verify(files, edited); err == nil {
			p.edited, p.from = edited, "the reconciler's record of revision "+fmt.Sprint(p.target.Number)
			return nil
		}
	}
	tried = append(tried, fmt.Sprintf("the reconciler's record of the template: %v", err))
	return refused("cannot restore revision %d's template (%s) in %s; nothing was changed:\n  %s",
		p.target.Number, p.target.Hash, relPath(p.dir, p.file), strings.Join(tried, "\n  "))
}

// verify loads the tracked path with the file edited, as the reconciler
// would, and checks the Deployment's template hash.
func (p *undoPlan) verify(files map[string][]byte, edited []byte) error {
	next := make(map[string][]byte, len(files))
	for k, v := range files {
		next[k] = v
	}
	next[p.file] = edited
	set, err := render.Load(next)
	if err != nil {
		return fmt.Errorf("the edited file does not load: %w", err)
	}
	d, ok := set.Objects[p.key].(*spec.Deployment)
	if !ok {
		return errors.New("the edited files no longer declare the Deployment")
	}
	if h := spec.TemplateHash(&d.Spec.Template); h != p.target.Hash {
		return fmt.Errorf("the edited template hashes to %s, not %s", h, p.target.Hash)
	}
	return nil
}

// message is the rollback commit's message (docs/rollouts.md, "Rolling
// back").
func (p *undoPlan) message() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Roll back Deployment %s/%s to revision %d\n\n", p.key.Namespace, p.key.Name, p.target.Number)
	fmt.Fprintf(&b, "Restores the pod template of revision %d (commit %s, %q), replacing revision %d (commit %s).\n",
		p.target.Number, short(p.target.Commit), p.target.Subject, p.cur.Number, short(p.cur.Commit))
	if img, was := strings.Join(p.target.Images, ", "), strings.Join(p.cur.Images, ", "); img != was {
		fmt.Fprintf(&b, "Images: %s (were %s).\n", img, was)
	}
	fmt.Fprintf(&b, "\nRollback-Of: %s\nRollback-To: %s\n", p.cur.Commit, p.target.Commit)
	return b.String()
}

// commitRollback writes the file, commits it and pushes when asked.
func (c *cli) commitRollback(ctx context.Context, p *undoPlan, o undoOptions, msg string) error {
	rel := relPath(p.dir, p.file)
	author, err := p.w.identity(o.author, c.getenv)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	branch, err := p.w.branch()
	if err != nil {
		return refused("%w", err)
	}
	abs := filepath.Join(p.w.root, filepath.FromSlash(rel))
	st, err := os.Stat(abs)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	if err := atomicfile.WriteFile(abs, p.edited, st.Mode().Perm()); err != nil {
		return &exitErr{code: exitError, err: err}
	}
	h, err := p.w.commit(rel, msg, author)
	if err != nil {
		// Leave the work tree as it was.
		_ = atomicfile.WriteFile(abs, p.old, st.Mode().Perm())
		return &exitErr{code: exitError, err: err}
	}
	fmt.Fprintf(c.out, "Deployment %s/%s: revision %d (%s) → revision %d (%s)\n", p.key.Namespace, p.key.Name,
		p.cur.Number, orNone(strings.Join(p.cur.Images, ", ")), p.target.Number, orNone(strings.Join(p.target.Images, ", ")))
	fmt.Fprintf(c.out, "edited %s (template from %s)\n", rel, p.from)
	fmt.Fprintf(c.out, "committed %s on %s: %s\n", short(h.String()), branch.Short(), firstLine(msg))
	if p.app.branch != "" && p.app.branch != branch.Short() {
		fmt.Fprintf(c.errOut, "note: the reconciler tracks branch %s, not %s: the rollback reaches the cluster once %s is merged into %s\n",
			p.app.branch, branch.Short(), branch.Short(), p.app.branch)
	}
	sync := "ctl sync"
	if p.app.name != "" && !p.app.bootstrap {
		sync += " " + p.app.name
	}
	if !o.push {
		fmt.Fprintf(c.out, "next: git push, then %s\n", sync)
		return nil
	}
	res, err := p.w.push(ctx, branch)
	if err != nil {
		return &exitErr{code: exitError, err: fmt.Errorf("committed %s, but %w; push it with git push", short(h.String()), err)}
	}
	state := ""
	if res.upToDate {
		state = " (already up to date)"
	}
	fmt.Fprintf(c.out, "pushed %s to %s (%s) as %s%s\n", branch.Short(), res.remote, res.url, res.ref, state)
	fmt.Fprintf(c.out, "next: %s (or wait for the next poll or webhook)\n", sync)
	return nil
}

// pickRevision returns the current revision and the one to roll back to:
// revision to, or (to = 0) the newest before the current one, as kubectl
// rollout undo does.
func pickRevision(revs []api.DeploymentRevision, to int64) (cur, target *api.DeploymentRevision, err error) {
	for i := range revs {
		if revs[i].Current {
			cur = &revs[i]
		}
	}
	if cur == nil {
		return nil, nil, errors.New("the reconciler records no current revision (is it in the applied commit?)")
	}
	var numbers []string
	for i := range revs {
		r := &revs[i]
		numbers = append(numbers, fmt.Sprint(r.Number))
		switch {
		case to != 0 && r.Number == to:
			target = r
		case to == 0 && r.Number < cur.Number && (target == nil || r.Number > target.Number):
			target = r
		}
	}
	switch {
	case to == 0 && target == nil:
		return nil, nil, fmt.Errorf("no revision before the current one (%d) to roll back to", cur.Number)
	case target == nil:
		return nil, nil, fmt.Errorf("no revision %d: the reconciler keeps revisions %s", to, strings.Join(numbers, ", "))
	case target.Number == cur.Number || target.Hash == cur.Hash:
		return nil, nil, fmt.Errorf("revision %d is the current one: nothing to roll back", target.Number)
	}
	return cur, target, nil
}

// appSource is the application whose files declare the Deployment.
type appSource struct {
	name               string
	bootstrap          bool
	repo, branch, path string
}

// appOf finds the application owning key (the bootstrap one when no other
// does, or when the reconciler has no applications to list).
func appOf(ctx context.Context, cl *api.Client, key spec.ObjectKey) (appSource, error) {
	apps, err := cl.Applications(ctx)
	if err != nil || len(apps) == 0 {
		st, err := cl.Status(ctx)
		if err != nil {
			return appSource{}, err
		}
		return appSource{bootstrap: true, repo: st.Repo, branch: st.Branch, path: st.Path}, nil
	}
	of := func(a api.Application) appSource {
		return appSource{name: a.Name, bootstrap: a.Bootstrap, repo: a.Repo, branch: a.Branch, path: a.Path}
	}
	if len(apps) == 1 {
		return of(apps[0]), nil
	}
	for _, a := range apps {
		full, err := cl.Application(ctx, a.Name)
		if err != nil {
			continue
		}
		for _, o := range full.Objects {
			if o.Key == key {
				return of(a), nil
			}
		}
	}
	return of(apps[0]), nil
}

// cleanTracked turns an application's path into a slash-separated path
// relative to the repository's root, "" for the root.
func cleanTracked(p string) string {
	p = path.Clean("/" + strings.TrimSpace(p))
	return strings.TrimPrefix(p, "/")
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
