package source

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrRangeTooLong means a History range holds more commits than allowed.
var ErrRangeTooLong = errors.New("too many commits to verify")

// Commit is one commit of a History, with what signature verification
// needs.
type Commit struct {
	Hash           string
	Parents        []string
	Author         string
	AuthorEmail    string
	Committer      string
	CommitterEmail string
	// Time is the committer's time (what git checks a signing key's
	// validity against).
	Time    time.Time
	Message string
	// Signature is the raw gpgsig header: an armored OpenPGP or SSH
	// signature, "" for an unsigned commit.
	Signature string
	// Payload is the commit object without its signature headers: the
	// bytes the signature signs, exactly as git verifies them.
	Payload []byte
	// Tree is the hash of the tree at Config.Path in this commit ("" when
	// the path does not exist there): two commits with the same Tree
	// deploy the same files.
	Tree string
}

// History is the commits a new revision brings.
type History struct {
	// Commits are the commits reachable from the new tip and not from the
	// base, tip first, each before its parents. With no base (or a base
	// not in the cache) it holds the tip alone.
	Commits []Commit
	// Ancestor reports whether the base is an ancestor of the tip (false
	// after a force push that dropped it, and when there is no base).
	Ancestor bool
	// BaseMissing reports that the base commit is not in the cache (a
	// force push that the cache's repacking already dropped, or another
	// repository).
	BaseMissing bool
}

// History returns the commits reachable from to and not from base (git's
// base..to), bounded: more than max commits is an error wrapping
// ErrRangeTooLong (max <= 0 means 10,000). base "" is a first revision:
// the tip alone. Both must be in the cache (to is, after a Fetch).
func (s *Source) History(ctx context.Context, base, to string, max int) (*History, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if max <= 0 {
		max = 10000
	}
	repo, tip, baseCommit, missing, err := s.openRange(base, to)
	if err != nil {
		return nil, err
	}
	h := &History{BaseMissing: missing}
	if baseCommit == nil {
		c, err := s.historyCommit(tip)
		if err != nil {
			return nil, err
		}
		h.Commits = []Commit{c}
		return h, nil
	}
	commits, ancestor, err := walkRange(ctx, repo, tip, baseCommit, max)
	if err != nil {
		return nil, err
	}
	h.Ancestor = ancestor
	for _, c := range commits {
		hc, err := s.historyCommit(c)
		if err != nil {
			return nil, err
		}
		h.Commits = append(h.Commits, hc)
	}
	return h, nil
}

const (
	fromTip  = 1
	fromBase = 2
)

// walkRange paints the history down from tip and base, newest committer
// time first (as git's merge-base does), until every commit still queued
// is reachable from base and older than every commit reached from tip
// only: with parents never newer than their children, nothing queued can
// reach those any more. The commits reached from tip only are the range.
// A clock skew can only make the walk count an old commit as new (to be
// verified again), never leave a new one out: a commit is left out only
// once it is known to be reachable from base.
func walkRange(ctx context.Context, repo *git.Repository, tip, base *object.Commit, max int) ([]*object.Commit, bool, error) {
	color := map[plumbing.Hash]uint8{tip.Hash: fromTip}
	color[base.Hash] |= fromBase
	q := &commitQueue{}
	heap.Push(q, tip)
	if base.Hash != tip.Hash {
		heap.Push(q, base)
	}
	var tipOnly []*object.Commit
	seenTipOnly := map[plumbing.Hash]bool{}
	var oldest time.Time // of the commits reached from tip only
	for q.Len() > 0 {
		if !q.anyWithout(color, fromBase) && (len(tipOnly) == 0 || (*q)[0].Committer.When.Before(oldest)) {
			break
		}
		if len(tipOnly)%256 == 255 && ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		c := heap.Pop(q).(*object.Commit)
		col := color[c.Hash]
		if col == fromTip && !seenTipOnly[c.Hash] {
			seenTipOnly[c.Hash] = true
			tipOnly = append(tipOnly, c)
			if oldest.IsZero() || c.Committer.When.Before(oldest) {
				oldest = c.Committer.When
			}
			if len(tipOnly) > max {
				return nil, false, fmt.Errorf("failed to list the commits from %s to %s: more than %d: %w", shortHash(base.Hash.String()), shortHash(tip.Hash.String()), max, ErrRangeTooLong)
			}
		}
		for _, p := range c.ParentHashes {
			if color[p]|col == color[p] {
				continue
			}
			color[p] |= col
			pc, err := repo.CommitObject(p)
			if err != nil {
				return nil, false, fmt.Errorf("failed to read commit %s (a parent of %s): %w", p, c.Hash, err)
			}
			heap.Push(q, pc)
		}
	}
	var out []*object.Commit
	for _, c := range tipOnly {
		if color[c.Hash] == fromTip {
			out = append(out, c)
		}
	}
	return out, color[base.Hash]&fromTip != 0, nil
}

// commitQueue is a max-heap of commits by committer time.
type commitQueue []*object.Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	return q[i].Committer.When.After(q[j].Committer.When)
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

func (q commitQueue) anyWithout(color map[plumbing.Hash]uint8, bit uint8) bool {
	for _, c := range q {
		if color[c.Hash]&bit == 0 {
			return true
		}
	}
	return false
}

// historyCommit reads what verification needs of c.
func (s *Source) historyCommit(c *object.Commit) (Commit, error) {
	out := Commit{
		Hash: c.Hash.String(), Author: c.Author.Name, AuthorEmail: c.Author.Email,
		Committer: c.Committer.Name, CommitterEmail: c.Committer.Email, Time: c.Committer.When,
		Message: c.Message, Signature: c.PGPSignature,
	}
	for _, p := range c.ParentHashes {
		out.Parents = append(out.Parents, p.String())
	}
	if c.PGPSignature != "" {
		var err error
		if out.Payload, err = s.signedPayload(c.Hash); err != nil {
			return out, err
		}
	}
	tree := c.TreeHash
	if s.cfg.Path != "" {
		t, err := c.Tree()
		if err != nil {
			return out, fmt.Errorf("failed to read tree of commit %s: %w", c.Hash, err)
		}
		sub, err := t.Tree(s.cfg.Path)
		switch {
		case errors.Is(err, object.ErrDirectoryNotFound), errors.Is(err, object.ErrEntryNotFound):
			return out, nil
		case err != nil:
			return out, fmt.Errorf("failed to read path %q at commit %s: %w", s.cfg.Path, c.Hash, err)
		}
		tree = sub.Hash
	}
	out.Tree = tree.String()
	return out, nil
}

// signedPayload is commit h as stored, without its signature headers:
// what git verifies a signature over. It reads the raw object once (go-git's
// EncodeWithoutSignature decodes it twice more to check that the struct
// still matches it).
func (s *Source) signedPayload(h plumbing.Hash) ([]byte, error) {
	obj, err := s.repo.Storer.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("failed to read commit %s: %w", h, err)
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("failed to read commit %s: %w", h, err)
	}
	raw, err := io.ReadAll(rd)
	rd.Close()
	if err != nil {
		return nil, fmt.Errorf("failed to read commit %s: %w", h, err)
	}
	return stripSignature(raw), nil
}

// stripSignature removes the gpgsig and gpgsig-sha256 headers (and their
// continuation lines) from a raw commit's header, keeping every other byte,
// as git does before verifying.
func stripSignature(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	inSig := false
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		line := raw
		if i >= 0 {
			line = raw[:i+1]
		}
		if len(line) == 1 { // the blank line: the message follows untouched
			return append(append(out, line...), raw[1:]...)
		}
		switch {
		case bytes.HasPrefix(line, []byte("gpgsig ")), bytes.HasPrefix(line, []byte("gpgsig-sha256 ")):
			inSig = true
		case inSig && line[0] == ' ':
		default:
			inSig = false
			out = append(out, line...)
		}
		raw = raw[len(line):]
	}
	return out
}

// Changes returns the files commit changes under Config.Path (relative to
// it), against its first parent (a merge's changes are what it brings to
// the branch it was merged into); a root commit changes every file.
func (s *Source) Changes(ctx context.Context, commit string) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	repo, err := s.open()
	if err != nil {
		return nil, s.redact.wrap(err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("failed to read commit %s: %w", commit, err)
	}
	to, err := s.pathTree(c)
	if err != nil {
		return nil, err
	}
	var from *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return nil, fmt.Errorf("failed to read the first parent of %s: %w", commit, err)
		}
		if from, err = s.pathTree(p); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTreeWithOptions(ctx, from, to, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to diff commit %s: %w", commit, err)
	}
	var files []string
	for _, ch := range changes {
		if ch.From.Name != "" {
			files = append(files, ch.From.Name)
		}
		if ch.To.Name != "" && ch.To.Name != ch.From.Name {
			files = append(files, ch.To.Name)
		}
	}
	return files, nil
}

// pathTree is c's tree at Config.Path, nil when the path is missing.
func (s *Source) pathTree(c *object.Commit) (*object.Tree, error) {
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("failed to read tree of commit %s: %w", c.Hash, err)
	}
	if s.cfg.Path == "" {
		return t, nil
	}
	sub, err := t.Tree(s.cfg.Path)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read path %q at commit %s: %w", s.cfg.Path, c.Hash, err)
	}
	return sub, nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// openRange opens the cache (its lock held by the caller) and reads the
// commits at the ends of base..to: baseCommit is nil when base is "" or
// not in the cache, missing true for the latter (history rewritten, or a
// cache cleared).
func (s *Source) openRange(base, to string) (repo *git.Repository, tip, baseCommit *object.Commit, missing bool, err error) {
	if repo, err = s.open(); err != nil {
		return nil, nil, nil, false, s.redact.wrap(err)
	}
	if tip, err = repo.CommitObject(plumbing.NewHash(to)); err != nil {
		return nil, nil, nil, false, fmt.Errorf("failed to read commit %s: %w", to, err)
	}
	if base != "" {
		if baseCommit, err = repo.CommitObject(plumbing.NewHash(base)); err != nil {
			baseCommit, missing = nil, true
		}
	}
	return repo, tip, baseCommit, missing, nil
}
