package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
	ownersfile "github.com/stevedore-dev/stevedore/policy/owners"
	"github.com/stevedore-dev/stevedore/policy/signature"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// VerifyConfig configures commit verification: signatures by trusted keys
// and per-path approvals (OWNERS files), checked for every application's
// repository before a revision is decoded (docs/security.md).
type VerifyConfig struct {
	// Mode is "all" (every commit since the applied revision signed by a
	// trusted key), "merges" (the tip a merge signed by a trusted key) or
	// "off"; empty means off: --verify-commits.
	Mode string
	// TrustedKeys is a file, or a directory of files, of OpenPGP armored
	// public keys and/or SSH allowed_signers lines: --trusted-keys.
	// Required unless Mode is off. It is read at start and never from a
	// repository.
	TrustedKeys string
	// AllowForcePush accepts a tip that does not descend from the applied
	// revision (its new commits are still verified); false refuses it:
	// --allow-force-push.
	AllowForcePush bool
	// MaxCommits bounds how many commits one sync verifies; a longer range
	// is refused. Zero means 10,000: --verify-max-commits.
	MaxCommits int
}

// maxTrustedKeysFile bounds one trusted keys file.
const maxTrustedKeysFile = 4 << 20

func (c *VerifyConfig) validate() error {
	m, err := signature.ParseMode(c.Mode)
	if err != nil {
		return fmt.Errorf("Verify.Mode (--verify-commits): %w", err)
	}
	c.Mode = string(m)
	if m != signature.ModeOff && c.TrustedKeys == "" {
		return fmt.Errorf("Verify.TrustedKeys (--trusted-keys) is required with --verify-commits %s", m)
	}
	if c.MaxCommits <= 0 {
		c.MaxCommits = 10000
	}
	return nil
}

// load reads the trusted keys: nil when verification is off. A missing,
// unreadable or empty file is an error, so that a reconciler told to
// verify never starts trusting no one by mistake (or everyone).
func (c VerifyConfig) load() (*signature.Verifier, error) {
	if signature.Mode(c.Mode) == signature.ModeOff || c.Mode == "" {
		return nil, nil
	}
	files, err := readTrustedKeys(c.TrustedKeys)
	if err != nil {
		return nil, err
	}
	keys, err := signature.Parse(files)
	if err != nil {
		return nil, err
	}
	if keys.Len() == 0 {
		return nil, fmt.Errorf("failed to load trusted keys: %s holds no key", c.TrustedKeys)
	}
	return signature.NewVerifier(keys, 0), nil
}

// readTrustedKeys reads a file, or the regular files of a directory (not
// recursively, skipping hidden ones).
func readTrustedKeys(p string) (map[string][]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("failed to read trusted keys: %w", err)
	}
	names := []string{p}
	if fi.IsDir() {
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("failed to read trusted keys: %w", err)
		}
		names = names[:0]
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, filepath.Join(p, e.Name()))
			}
		}
	}
	files := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("failed to read trusted keys: %w", err)
		}
		if len(b) > maxTrustedKeysFile {
			return nil, fmt.Errorf("failed to read trusted keys: %s is larger than %d bytes", n, maxTrustedKeysFile)
		}
		files[n] = b
	}
	return files, nil
}

// historian is what verification needs of a source beyond fetching:
// *source.Source has it.
type historian interface {
	History(ctx context.Context, base, to string, max int) (*source.History, error)
}

var _ historian = (*source.Source)(nil)

// verifyRevision checks the signatures and approvals of every commit
// between the applied revision and rev (policy step 1, before decoding).
//
// The approvals are the trusted signers of the commits of the range whose
// tree (at the application's path) is rev's: the tip, and empty approval
// commits on top of it. Each file that differs between the applied
// revision and rev must be approved by an approver of that file in the
// OWNERS files of the applied revision (rev's own for a first revision):
// a change cannot approve itself by adding its author to OWNERS.
func (s *Server) verifyRevision(ctx context.Context, app string, src fetcher, cfg source.Config, rev *source.Revision, applied *savedRevision) (*verifyOutcome, *api.SyncError) {
	v := s.verifier
	if v == nil {
		return &verifyOutcome{}, nil
	}
	refuse := func(msg string, entries ...api.ErrorEntry) (*verifyOutcome, *api.SyncError) {
		return nil, &api.SyncError{Stage: api.StageVerify, Message: s.redactFor(cfg, msg), Entries: entries, Time: time.Now()}
	}
	h, ok := src.(historian)
	if !ok {
		return refuse("failed to verify: the source cannot list its history")
	}
	base := ""
	baseFiles := rev.Files
	if applied != nil {
		// The OWNERS of what runs decide, even when the application now
		// tracks another repository, branch or path: re-pointing it must
		// not make the new source's own OWNERS the judge of its content
		// (found by review).
		baseFiles = applied.Files
		if applied.sameSource(cfg) {
			// Only the same source's history continues what was applied:
			// another's is verified from its tip.
			base = applied.Commit.Hash
		}
	}
	start := time.Now()
	hist, err := h.History(ctx, base, rev.Commit, s.cfg.Verify.MaxCommits)
	if errors.Is(err, source.ErrRangeTooLong) {
		return refuse(fmt.Sprintf("failed to verify: %s (raise --verify-max-commits to verify a longer range)", err))
	}
	if err != nil {
		return refuse(fmt.Sprintf("failed to verify: %s", err))
	}
	r := signature.Range{Base: base, Ancestor: hist.Ancestor}
	for _, c := range hist.Commits {
		r.Commits = append(r.Commits, signatureCommit(c))
	}
	approvals, err := v.CheckRange(r, signature.Options{Mode: signature.Mode(s.cfg.Verify.Mode), AllowForcePush: s.cfg.Verify.AllowForcePush})
	if err != nil {
		return refuse(err.Error())
	}
	tip := signature.Commit{Hash: rev.Commit, Author: rev.Author, AuthorEmail: rev.AuthorEmail, Message: rev.Message}
	// The new revision's OWNERS files must parse: once applied they decide
	// the next revision's approvals, and a broken one would refuse every
	// revision after it, the one that fixes it too.
	if _, err := ownersfile.Parse(rev.Files); err != nil {
		return refuse(fmt.Sprintf("%s: %s", tip.Name(), err))
	}
	tree, err := ownersfile.Parse(baseFiles)
	if err != nil {
		return refuse(fmt.Sprintf("failed to read the OWNERS files of the applied revision %s (applied before verification was on? sync it once with --verify-commits off): %s", appliedHash(applied), err))
	}
	changed := changedFiles(baseFiles, rev.Files, applied == nil)
	approvedBy, missing := tree.Check(changed, approvals)
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s: not approved: %s", tip.Name(), missing[0])
		if len(missing) > 1 {
			msg += fmt.Sprintf(" (and %d more file(s))", len(missing)-1)
		}
		msg += "; " + approvalsText(approvals)
		entries := make([]api.ErrorEntry, 0, len(missing))
		for _, m := range missing {
			entries = append(entries, api.ErrorEntry{File: m.File, Message: "not approved: " + m.Need() + "; " + approvalsText(approvals)})
		}
		return refuse(msg, entries...)
	}
	s.log.Debug("revision verified", "app", s.displayName(app), "commit", rev.Commit, "commits", len(r.Commits),
		"changed", len(changed), "approvals", approvalsText(approvals), "took", time.Since(start))
	return &verifyOutcome{Approvers: approvedBy}, nil
}

// changedFiles lists the files that differ between the applied revision's
// files and the new one's (every file of a first revision), sorted.
func changedFiles(old, cur map[string][]byte, first bool) []string {
	var out []string
	for name, b := range cur {
		if o, ok := old[name]; first || !ok || !bytes.Equal(o, b) {
			out = append(out, name)
		}
	}
	if !first {
		for name := range old {
			if _, ok := cur[name]; !ok {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// approvalsText says who approved a revision's content.
func approvalsText(approvals []policy.User) string {
	if len(approvals) == 0 {
		return "no trusted signature approves this content"
	}
	names := make([]string, len(approvals))
	for i, u := range approvals {
		names[i] = u.Name
	}
	return "approved by " + strings.Join(names, ", ") + " (trusted signatures on this content)"
}

// sameSource reports whether cfg is the source the revision came from (its
// repository, branch and path; a revision saved before they were recorded
// matches any repository and branch): only then does cfg's history
// continue from it.
func (r *savedRevision) sameSource(cfg source.Config) bool {
	return r.Path == cfg.Path && (r.Repo == "" || r.Repo == StripCredentials(cfg.URL)) &&
		(r.Branch == "" || r.Branch == cfg.Branch)
}

// signatureCommit is a commit of the Git cache as commit verification
// reads it.
func signatureCommit(c source.Commit) signature.Commit {
	return signature.Commit{Hash: c.Hash, Parents: c.Parents, Author: c.Author, AuthorEmail: c.AuthorEmail,
		Message: c.Message, Time: c.Time, Signature: c.Signature, Payload: c.Payload, Tree: c.Tree}
}
