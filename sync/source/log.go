package source

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// LogOptions bounds a Log: it answers a reader (the web UI's list of the
// commits waiting), not a sync, so it reads no more of the cache than the
// page shows, under the lock a sync of the same application waits for.
type LogOptions struct {
	// Max is how many commits to list; the walk stops at the first commit
	// beyond them (Log.Truncated).
	Max int
	// Limit bounds the commits of the range walked, listed or not; beyond
	// it the list is Truncated and the ancestry may be unknown (<= 0:
	// 10,000).
	Limit int
	// Details reads what signature verification needs of each listed
	// commit (Commit.Payload, Commit.Tree); without it they are empty.
	Details bool
	// KeepEmpty lists the commits that change no file at all (their tree
	// is their first parent's): signed approvals, when commits are
	// verified. They change no application's path, so they tell a reader
	// of one application nothing about another's.
	KeepEmpty bool
}

// Log is the commits of a range that change Config.Path.
type Log struct {
	// Commits are the commits reachable from the tip and not from the base
	// whose tree at Config.Path differs from their first parent's (a
	// merge's: from the branch it was merged into), newest first, at most
	// LogOptions.Max. With no base (or a base not in the cache) it holds
	// the tip alone.
	Commits   []Commit
	Truncated bool
	// Ancestor reports that the base is an ancestor of the tip; Diverged
	// that it is not (the branch was force-pushed). Neither when there is
	// no base, or when the walk stopped at LogOptions.Limit first.
	Ancestor, Diverged bool
	// BaseMissing reports that the base commit is not in the cache.
	BaseMissing bool
}

// Log lists the commits of base..to that change Config.Path, as History
// walks them (newest committer time first) but reading only what it
// lists: it stops once it has LogOptions.Max of them and knows whether
// base is an ancestor of to, and reads no signed payload nor path tree
// unless asked for Details. Deciding whether a commit changes the path
// reads its tree's entries down to the path (none when the path is the
// repository's root).
func (s *Source) Log(ctx context.Context, base, to string, o LogOptions) (*Log, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if o.Limit <= 0 {
		o.Limit = 10000
	}
	repo, tip, baseCommit, missing, err := s.openRange(base, to)
	if err != nil {
		return nil, err
	}
	out := &Log{BaseMissing: missing}
	var commits []*object.Commit
	if baseCommit == nil {
		commits = []*object.Commit{tip}
	} else {
		w := &logWalk{repo: repo, path: s.cfg.Path, opts: o, trees: map[plumbing.Hash]plumbing.Hash{}}
		if commits, err = w.walk(ctx, tip, baseCommit, out); err != nil {
			return nil, err
		}
	}
	for _, c := range commits {
		var lc Commit
		if o.Details {
			if lc, err = s.historyCommit(c); err != nil {
				return nil, err
			}
		} else {
			lc = Commit{Hash: c.Hash.String(), Author: c.Author.Name, AuthorEmail: c.Author.Email,
				Committer: c.Committer.Name, CommitterEmail: c.Committer.Email, Time: c.Committer.When, Message: c.Message}
			for _, p := range c.ParentHashes {
				lc.Parents = append(lc.Parents, p.String())
			}
		}
		out.Commits = append(out.Commits, lc)
	}
	return out, nil
}

// logWalk is one Log's walk.
type logWalk struct {
	repo *git.Repository
	path string
	opts LogOptions
	// trees memoizes the hash of a commit's tree at path (zero: absent):
	// a commit's is needed again as its child's parent.
	trees map[plumbing.Hash]plumbing.Hash
}

// walk is walkRange's painting (history.go), stopping early: once Max
// commits that change the path are listed and the base's ancestry is
// known, or at Limit commits of the range.
func (w *logWalk) walk(ctx context.Context, tip, base *object.Commit, out *Log) ([]*object.Commit, error) {
	color := map[plumbing.Hash]uint8{tip.Hash: fromTip}
	color[base.Hash] |= fromBase
	q := &commitQueue{}
	heap.Push(q, tip)
	if base.Hash != tip.Hash {
		heap.Push(q, base)
	}
	var listed []*object.Commit
	seen := map[plumbing.Hash]bool{}
	var oldest time.Time
	walked := 0
	limited := false
	for q.Len() > 0 {
		if out.Truncated && color[base.Hash]&fromTip != 0 {
			break // full, and the base is known to be an ancestor
		}
		if !q.anyWithout(color, fromBase) && (len(seen) == 0 || (*q)[0].Committer.When.Before(oldest)) {
			break
		}
		if walked%256 == 255 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c := heap.Pop(q).(*object.Commit)
		col := color[c.Hash]
		if col == fromTip && !seen[c.Hash] {
			seen[c.Hash] = true
			walked++
			if oldest.IsZero() || c.Committer.When.Before(oldest) {
				oldest = c.Committer.When
			}
			if walked > w.opts.Limit {
				out.Truncated, limited = true, true
				break
			}
			if !out.Truncated {
				keep, err := w.changes(c)
				if err != nil {
					return nil, err
				}
				switch {
				case !keep:
				case len(listed) == w.opts.Max:
					out.Truncated = true
				default:
					listed = append(listed, c)
				}
			}
		}
		for _, p := range c.ParentHashes {
			if color[p]|col == color[p] {
				continue
			}
			color[p] |= col
			pc, err := w.repo.CommitObject(p)
			if err != nil {
				return nil, fmt.Errorf("failed to read commit %s (a parent of %s): %w", p, c.Hash, err)
			}
			heap.Push(q, pc)
		}
	}
	switch {
	case color[base.Hash]&fromTip != 0:
		out.Ancestor = true
	case !limited:
		out.Diverged = true
	}
	kept := listed[:0]
	for _, c := range listed {
		// A commit first reached from the tip only may be found below the
		// base later (clock skew): it is not of the range.
		if color[c.Hash] == fromTip {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// changes reports whether c changes the path against its first parent
// (or, with KeepEmpty, changes nothing at all).
func (w *logWalk) changes(c *object.Commit) (bool, error) {
	mine, err := w.tree(c)
	if err != nil {
		return false, err
	}
	if c.NumParents() == 0 {
		return !mine.IsZero(), nil
	}
	p, err := w.repo.CommitObject(c.ParentHashes[0])
	if err != nil {
		return false, fmt.Errorf("failed to read the first parent of %s: %w", c.Hash, err)
	}
	if w.opts.KeepEmpty && p.TreeHash == c.TreeHash {
		return true, nil
	}
	theirs, err := w.tree(p)
	if err != nil {
		return false, err
	}
	return mine != theirs, nil
}

// tree is the hash of c's tree at the path, zero when the path is absent.
// It reads the trees down to the path's parent, not the path's own.
func (w *logWalk) tree(c *object.Commit) (plumbing.Hash, error) {
	if w.path == "" {
		return c.TreeHash, nil
	}
	if h, ok := w.trees[c.Hash]; ok {
		return h, nil
	}
	t, err := c.Tree()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("failed to read tree of commit %s: %w", c.Hash, err)
	}
	var h plumbing.Hash
	e, err := t.FindEntry(w.path)
	switch {
	case errors.Is(err, object.ErrDirectoryNotFound), errors.Is(err, object.ErrEntryNotFound):
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("failed to read path %q at commit %s: %w", w.path, c.Hash, err)
	default:
		h = e.Hash
	}
	w.trees[c.Hash] = h
	return h, nil
}
