package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec/render"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// fetchTimeout bounds one fetch so a hung remote cannot stall the loop.
const fetchTimeout = 2 * time.Minute

// errNotLeader is returned by the writes only a leader makes, when this
// reconciler does not lead (the HTTP layer forwards them instead).
var errNotLeader = errors.New("this reconciler is not the leader")

// TriggerSync asks the leader's controller for a sync without waiting; on a
// follower it does nothing (the HTTP layer forwards triggers).
func (s *Server) TriggerSync() {
	if c := s.ctrl.Load(); c != nil {
		c.triggerSync()
	}
}

// SyncNow triggers a sync and waits until a fetch, load and plan that
// started after the call have finished, returning their result. It fails
// with errNotLeader on a follower.
func (s *Server) SyncNow(ctx context.Context) (api.SyncResult, error) {
	c := s.ctrl.Load()
	if c == nil {
		return api.SyncResult{}, fmt.Errorf("failed to sync: %w", errNotLeader)
	}
	return c.syncNow(ctx)
}

func (c *controller) triggerSync() {
	select {
	case c.syncKick <- struct{}{}:
	default:
	}
}

func (c *controller) syncNow(ctx context.Context) (api.SyncResult, error) {
	ch := make(chan api.SyncResult, 1)
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return api.SyncResult{}, fmt.Errorf("failed to sync: %w", errNotLeader)
	}
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	c.triggerSync()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return api.SyncResult{}, fmt.Errorf("failed to wait for sync: %w", ctx.Err())
	}
}

func (c *controller) pollLoop() {
	t := time.NewTicker(c.s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.triggerSync()
		}
	}
}

func (c *controller) syncLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.syncKick:
		}
		// Waiters registered before this point are served by this sync:
		// it starts after their request.
		c.mu.Lock()
		waiters := c.waiters
		c.waiters = nil
		c.mu.Unlock()
		r, planTarget := c.syncOnce()
		if planTarget > 0 && len(waiters) > 0 {
			if err := c.waitPlan(c.ctx, planTarget); err != nil {
				r.Error = &api.SyncError{Stage: api.StageFetch, Message: err.Error(), Time: time.Now()}
			}
		}
		for _, w := range waiters {
			w <- r
		}
	}
}

// syncOnce is the leader's ordered steps for one sync: fetch, load, commit
// the revision to raft. A step that fails stops the chain, says why in the
// status and keeps the last good revision. It returns the result and, when
// the desired state changed, the plan request that covers it.
func (c *controller) syncOnce() (api.SyncResult, uint64) {
	s := c.s
	fctx, cancel := context.WithTimeout(c.ctx, fetchTimeout)
	start := time.Now()
	rev, err := s.src.Fetch(fctx)
	cancel()
	if err != nil {
		serr := &api.SyncError{Stage: api.StageFetch, Message: s.redact(fmt.Sprintf("failed to fetch %s: %s", s.cfg.Source.URL, err)), Time: time.Now()}
		s.sync.set(nil, serr)
		s.events.add("repo", "FetchFailed", serr.Message)
		c.log.Warn("sync failed", "stage", serr.Stage, "err", serr.Message)
		return api.SyncResult{Error: serr}, 0
	}
	commit := commitOf(rev)
	fetchTook := time.Since(start)

	applied, _ := s.store.revision()
	// The same commit under another --path (a restart with a new path) is
	// a different revision.
	if applied != nil && applied.Commit.Hash == rev.Commit && applied.Path == s.cfg.Source.Path {
		s.sync.set(commit, nil)
		return api.SyncResult{Commit: commit, Applied: true}, 0
	}

	// What the applied revision shares with this one is not decoded again.
	set, _, err := render.LoadCached(rev.Files, s.store.docCache())
	if err != nil {
		serr := &api.SyncError{Commit: commit, Stage: api.StageLoad, Message: err.Error(), Entries: api.EntriesFromError(err), Time: time.Now()}
		s.sync.set(commit, serr)
		s.events.add("commit/"+short(rev.Commit), "LoadFailed", fmt.Sprintf("%s by %s: %d error(s), keeping %s", firstLine(rev.Message), rev.Author, max(1, len(serr.Entries)), appliedHash(applied)))
		c.log.Warn("commit failed to load; keeping the last good revision", "commit", rev.Commit, "author", rev.Author, "err", err)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	saved := &savedRevision{Commit: *commit, Path: s.cfg.Source.Path, Files: rev.Files}
	// Committed before it is planned: a new leader comes back to what the
	// agents run.
	if err := s.el.apply(&command{Op: opRevision, Revision: saved}, s.cfg.Raft.ApplyTimeout); err != nil {
		serr := &api.SyncError{Commit: commit, Stage: api.StageApply, Message: err.Error(), Time: time.Now()}
		s.sync.set(commit, serr)
		c.log.Error("failed to commit revision; not applying it", "commit", rev.Commit, "err", err)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	s.sync.set(commit, nil)
	s.events.add("commit/"+short(rev.Commit), "Synced", fmt.Sprintf("%s by %s: %d object(s)", firstLine(rev.Message), rev.Author, len(set.Objects)))
	c.mu.Lock()
	target := c.requestPlanLocked()
	c.mu.Unlock()
	c.log.Info("applied commit", "commit", rev.Commit, "author", rev.Author, "message", firstLine(rev.Message),
		"objects", len(set.Objects), "fetch", fetchTook, "took", time.Since(start))
	return api.SyncResult{Commit: commit, Applied: true}, target
}

func appliedHash(r *savedRevision) string {
	if r == nil {
		return "nothing applied"
	}
	return short(r.Commit.Hash)
}

// redact removes the remote's credentials from a message.
func (s *Server) redact(msg string) string {
	stripped := StripCredentials(s.cfg.Source.URL)
	if stripped != s.cfg.Source.URL {
		msg = strings.ReplaceAll(msg, s.cfg.Source.URL, stripped)
	}
	if s.cfg.Source.Token != "" {
		msg = strings.ReplaceAll(msg, s.cfg.Source.Token, "REDACTED")
	}
	return msg
}

func commitOf(rev *source.Revision) *api.Commit {
	return &api.Commit{Hash: rev.Commit, Author: rev.Author, AuthorEmail: rev.AuthorEmail, Message: rev.Message, Time: rev.Time}
}

func short(hash string) string {
	if len(hash) > 12 {
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
