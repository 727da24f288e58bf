package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// The Git side of `ctl rollout undo`, with go-git: the user's clone of the
// config repository, its cleanliness, the commit and the push.

// workTree is the user's clone.
type workTree struct {
	repo *git.Repository
	wt   *git.Worktree
	// root is the work tree's top directory.
	root string
}

// openWorkTree opens the Git repository containing dir ("" is the current
// directory).
func openWorkTree(dir string) (*workTree, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("failed to open the Git repository containing %s (use --repo DIR for a clone of the config repository): %w", abs, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("failed to open the work tree of %s: %w", abs, err)
	}
	return &workTree{repo: repo, wt: wt, root: wt.Filesystem.Root()}, nil
}

// checkClean refuses when file (slash-separated, relative to the root) has
// changes that are not committed, or when anything else is staged: the
// rollback commit must hold the rollback and nothing else.
func (w *workTree) checkClean(file string) error {
	st, err := w.wt.Status()
	if err != nil {
		return fmt.Errorf("failed to read the status of %s: %w", w.root, err)
	}
	if fs, ok := st[file]; ok && (fs.Worktree != git.Unmodified || fs.Staging != git.Unmodified) {
		if fs.Worktree == git.Untracked {
			return fmt.Errorf("%s is not committed: commit it first, then roll back", file)
		}
		return fmt.Errorf("%s has uncommitted changes: commit or stash them first (git stash), then roll back", file)
	}
	var staged []string
	for name, fs := range st {
		if fs.Staging != git.Unmodified && fs.Staging != git.Untracked {
			staged = append(staged, name)
		}
	}
	if len(staged) > 0 {
		sort.Strings(staged)
		return fmt.Errorf("changes are staged in %s (%s): commit or unstage them first, so that the rollback commit holds only the rollback", w.root, strings.Join(staged, ", "))
	}
	return nil
}

// branch is the branch HEAD is on.
func (w *workTree) branch() (plumbing.ReferenceName, error) {
	head, err := w.repo.Head()
	if err != nil {
		return "", fmt.Errorf("failed to read HEAD of %s: %w", w.root, err)
	}
	if !head.Name().IsBranch() {
		return "", fmt.Errorf("HEAD of %s is detached: check out the branch the reconciler tracks first", w.root)
	}
	return head.Name(), nil
}

// findAt returns the file (relative to dir, slash-separated) and contents
// of the manifest under dir (slash-separated, relative to the root; "" for
// the root) that declares Deployment namespace/name in commit hash, trying
// hint first: where another revision's template is written as its author
// wrote it.
func (w *workTree) findAt(hash, dir, hint, namespace, name string) (string, []byte, error) {
	h := plumbing.NewHash(hash)
	if len(hash) != 40 || h.IsZero() {
		return "", nil, fmt.Errorf("%q is not a commit hash", hash)
	}
	c, err := w.repo.CommitObject(h)
	if err != nil {
		return "", nil, fmt.Errorf("commit %s is not in %s (git fetch may bring it): %w", short(hash), w.root, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return "", nil, err
	}
	if dir != "" && dir != "." {
		if tree, err = tree.Tree(dir); err != nil {
			return "", nil, fmt.Errorf("commit %s has no directory %s: %w", short(hash), dir, err)
		}
	}
	try := func(name string) ([]byte, bool) {
		f, err := tree.File(name)
		if err != nil {
			return nil, false
		}
		s, err := f.Contents()
		if err != nil {
			return nil, false
		}
		return []byte(s), true
	}
	if data, ok := try(hint); ok {
		if _, err := findTemplate(data, namespace, name); err == nil {
			return hint, data, nil
		}
	}
	var found string
	var foundData []byte
	errStop := errors.New("found")
	err = tree.Files().ForEach(func(f *object.File) error {
		if f.Name == hint || !spec.IsManifestPath(f.Name) {
			return nil
		}
		s, err := f.Contents()
		if err != nil {
			return nil
		}
		if _, err := findTemplate([]byte(s), namespace, name); err == nil {
			found, foundData = f.Name, []byte(s)
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return "", nil, err
	}
	if found == "" {
		return "", nil, fmt.Errorf("no file of commit %s declares it", short(hash))
	}
	return found, foundData, nil
}

// identity is the rollback commit's author: --author "Name <email>", else
// $GIT_AUTHOR_NAME and $GIT_AUTHOR_EMAIL, else git config's user.name and
// user.email (the repository's, then the user's global configuration).
func (w *workTree) identity(flag string, getenv func(string) string) (*object.Signature, error) {
	now := time.Now()
	if flag != "" {
		a, err := mail.ParseAddress(flag)
		if err != nil || a.Name == "" {
			return nil, usageErr("--author %q: want \"Name <email>\"", flag)
		}
		return &object.Signature{Name: a.Name, Email: a.Address, When: now}, nil
	}
	if n, e := getenv("GIT_AUTHOR_NAME"), getenv("GIT_AUTHOR_EMAIL"); n != "" && e != "" {
		return &object.Signature{Name: n, Email: e, When: now}, nil
	}
	cfg, err := w.repo.ConfigScoped(config.GlobalScope)
	if err != nil {
		// An unreadable global configuration: the repository's own may
		// still name the user.
		if cfg, err = w.repo.Config(); err != nil {
			return nil, fmt.Errorf("failed to read the Git configuration of %s: %w", w.root, err)
		}
	}
	if cfg.User.Name == "" || cfg.User.Email == "" {
		return nil, errors.New("no author for the commit: set git config user.name and user.email, or pass --author \"Name <email>\"")
	}
	return &object.Signature{Name: cfg.User.Name, Email: cfg.User.Email, When: now}, nil
}

// commit stages file (relative to the root, slash-separated) and commits it
// with msg.
func (w *workTree) commit(file, msg string, author *object.Signature) (plumbing.Hash, error) {
	if _, err := w.wt.Add(file); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("failed to stage %s: %w", file, err)
	}
	h, err := w.wt.Commit(msg, &git.CommitOptions{Author: author})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("failed to commit %s: %w", file, err)
	}
	return h, nil
}

// pushResult says where a push went.
type pushResult struct {
	remote, url string
	ref         plumbing.ReferenceName
	upToDate    bool
}

// upstream is the remote and remote ref branch is pushed to: its configured
// upstream (branch.NAME.remote and merge), else the same name on origin.
func (w *workTree) upstream(branch plumbing.ReferenceName) (remote string, ref plumbing.ReferenceName, url string, err error) {
	cfg, err := w.repo.Config()
	if err != nil {
		return "", "", "", err
	}
	remote, ref = "origin", branch
	if b, ok := cfg.Branches[branch.Short()]; ok {
		if b.Remote != "" {
			remote = b.Remote
		}
		if b.Merge != "" {
			ref = b.Merge
		}
	}
	rc, ok := cfg.Remotes[remote]
	if !ok || len(rc.URLs) == 0 {
		return "", "", "", fmt.Errorf("branch %s has no remote to push to (no %q remote): push it yourself", branch.Short(), remote)
	}
	return remote, ref, rc.URLs[0], nil
}

// push pushes branch to its upstream.
func (w *workTree) push(ctx context.Context, branch plumbing.ReferenceName) (pushResult, error) {
	remote, ref, url, err := w.upstream(branch)
	if err != nil {
		return pushResult{}, err
	}
	res := pushResult{remote: remote, url: source.Redacted(url), ref: ref}
	err = w.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: remote,
		RefSpecs:   []config.RefSpec{config.RefSpec(branch.String() + ":" + ref.String())},
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		res.upToDate = true
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("failed to push %s to %s (%s) %s: %w", branch.Short(), remote, res.url, ref, err)
	}
	return res, nil
}

// relPath joins the tracked path and a file under it into a path relative
// to the repository's root, slash-separated.
func relPath(tracked, file string) string {
	if tracked == "" || tracked == "." {
		return file
	}
	return path.Join(tracked, file)
}
