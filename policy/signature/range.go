package signature

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/stevedore-dev/stevedore/policy"
)

// Mode says which commits must be signed.
type Mode string

// Modes of commit verification.
const (
	// ModeOff verifies nothing.
	ModeOff Mode = "off"
	// ModeAll wants every commit between the applied revision and the new
	// one signed by a trusted key.
	ModeAll Mode = "all"
	// ModeMerges wants the new tip to be a merge commit signed by a trusted
	// key (forges that merge on approval); the commits it brings in need
	// not be signed.
	ModeMerges Mode = "merges"
)

// ParseMode parses "all", "merges" or "off" ("" is off).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case "", ModeOff:
		return ModeOff, nil
	case ModeAll, ModeMerges:
		return m, nil
	}
	return "", fmt.Errorf("unknown verification mode %q: want all, merges or off", s)
}

// Commit is a commit as verification sees it (sync/source.Commit).
type Commit struct {
	Hash        string
	Parents     []string
	Author      string
	AuthorEmail string
	Message     string
	// Time is the committer time.
	Time      time.Time
	Signature string
	Payload   []byte
	// Tree names the content the commit deploys (the tree at the
	// application's path).
	Tree string
}

// Name names c for messages: short hash, subject and author.
func (c Commit) Name() string {
	h := c.Hash
	if len(h) > 12 {
		h = h[:12]
	}
	subject := strings.TrimSpace(c.Message)
	if i := strings.IndexByte(subject, '\n'); i >= 0 {
		subject = subject[:i]
	}
	if len(subject) > 72 {
		subject = subject[:69] + "..."
	}
	return fmt.Sprintf("commit %s %q by %s <%s>", h, subject, printable(c.Author), printable(c.AuthorEmail))
}

// printable replaces control characters (a terminal escape in an author's
// name) so that a message shown by ctl cannot rewrite the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// Range is what a new revision brings: its commits (tip first) and how it
// relates to the applied revision.
type Range struct {
	Commits []Commit
	// Base is the applied commit, "" for a first revision.
	Base string
	// Ancestor reports whether Base is an ancestor of the tip.
	Ancestor bool
}

// Options are the verification settings.
type Options struct {
	Mode Mode
	// AllowForcePush accepts a tip that does not descend from the applied
	// revision; its commits not reachable from it are verified as usual.
	AllowForcePush bool
}

// CommitError is a refused commit of a range.
type CommitError struct {
	Commit Commit
	Err    error
	// Others counts the other refused commits of the range.
	Others int
}

func (e *CommitError) Error() string {
	s := e.Commit.Name() + ": " + e.Err.Error()
	if e.Others > 0 {
		s += fmt.Sprintf(" (and %d more commit(s) refused)", e.Others)
	}
	return s
}

func (e *CommitError) Unwrap() error { return e.Err }

// ForcePushError is a tip that does not descend from the applied commit.
type ForcePushError struct {
	Base, Tip string
}

func (e *ForcePushError) Error() string {
	return fmt.Sprintf("the branch was force-pushed: the applied commit %s is not an ancestor of %s (a force push that drops applied history is refused unless allowed: --allow-force-push)", short(e.Base), short(e.Tip))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Verifier verifies commits with a set of trusted keys, remembering each
// commit's verdict (a commit's hash covers its signature and payload), so a
// long range is verified once. It is safe for concurrent use.
type Verifier struct {
	keys *Keys
	max  int

	mu    sync.Mutex
	cache map[string]verdict
}

type verdict struct {
	signer Signer
	err    error
}

// NewVerifier returns a Verifier for keys remembering up to cacheSize
// verdicts (zero means 100,000; the cache is emptied when full).
func NewVerifier(keys *Keys, cacheSize int) *Verifier {
	if cacheSize <= 0 {
		cacheSize = 100000
	}
	return &Verifier{keys: keys, max: cacheSize, cache: map[string]verdict{}}
}

// Keys returns the verifier's trusted keys.
func (v *Verifier) Keys() *Keys { return v.keys }

// Verify returns the signer of c, or why its signature is refused.
func (v *Verifier) Verify(c Commit) (Signer, error) {
	v.mu.Lock()
	r, ok := v.cache[c.Hash]
	v.mu.Unlock()
	if ok && c.Hash != "" {
		return r.signer, r.err
	}
	s, err := v.keys.Verify(c.Signature, c.Payload, c.Time)
	if c.Hash != "" {
		v.mu.Lock()
		if len(v.cache) >= v.max {
			clear(v.cache)
		}
		v.cache[c.Hash] = verdict{s, err}
		v.mu.Unlock()
	}
	return s, err
}

// CheckRange applies o to r: the force-push rule, then the mode's
// signatures. It returns the approvals of the tip's content: the trusted
// signers of the commits of r whose Tree is the tip's (the tip itself, or
// empty approval commits on top of it), in order, without duplicates. A
// refusal is a *ForcePushError or a *CommitError. With ModeOff it returns
// nothing.
//
// A first revision (no Base) has only its tip verified, which must be
// signed by a trusted key in either mode (it need not be a merge).
func (v *Verifier) CheckRange(r Range, o Options) ([]policy.User, error) {
	if o.Mode == ModeOff || o.Mode == "" || len(r.Commits) == 0 {
		return nil, nil
	}
	tip := r.Commits[0]
	if r.Base != "" && !r.Ancestor && !o.AllowForcePush {
		return nil, &ForcePushError{Base: r.Base, Tip: tip.Hash}
	}
	switch {
	case o.Mode == ModeAll || r.Base == "":
		var first *CommitError
		for i := len(r.Commits) - 1; i >= 0; i-- { // oldest first
			c := r.Commits[i]
			if _, err := v.Verify(c); err != nil {
				if first == nil {
					first = &CommitError{Commit: c, Err: err}
				} else {
					first.Others++
				}
			}
		}
		if first != nil {
			return nil, first
		}
	case o.Mode == ModeMerges:
		if len(tip.Parents) < 2 {
			return nil, &CommitError{Commit: tip, Err: fmt.Errorf("not a merge commit: with --verify-commits merges the tip must be a merge signed by an approver")}
		}
		if _, err := v.Verify(tip); err != nil {
			return nil, &CommitError{Commit: tip, Err: err}
		}
	default:
		return nil, fmt.Errorf("unknown verification mode %q", o.Mode)
	}
	var approvals []policy.User
	seen := map[string]bool{}
	for _, c := range r.Commits {
		if c.Tree != tip.Tree {
			continue
		}
		s, err := v.Verify(c)
		if err != nil || seen[s.User.Name] {
			continue
		}
		seen[s.User.Name] = true
		approvals = append(approvals, s.User)
	}
	return approvals, nil
}
