package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// fetchTimeout bounds one fetch so a hung remote cannot stall the loop.
const fetchTimeout = 2 * time.Minute

// TriggerSync asks for a sync without waiting. Triggers that arrive while a
// sync runs coalesce into one more sync after it.
func (s *Server) TriggerSync() {
	select {
	case s.syncKick <- struct{}{}:
	default:
	}
}

// SyncNow triggers a sync and waits until a fetch, load and plan that
// started after the call have finished, returning their result.
func (s *Server) SyncNow(ctx context.Context) (api.SyncResult, error) {
	ch := make(chan api.SyncResult, 1)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return api.SyncResult{}, errors.New("failed to sync: reconciler is shutting down")
	}
	s.waiters = append(s.waiters, ch)
	s.mu.Unlock()
	s.TriggerSync()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return api.SyncResult{}, fmt.Errorf("failed to wait for sync: %w", ctx.Err())
	}
}

func (s *Server) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.TriggerSync()
		}
	}
}

func (s *Server) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.syncKick:
		}
		// Waiters registered before this point are served by this sync:
		// it starts after their request.
		s.mu.Lock()
		waiters := s.waiters
		s.waiters = nil
		s.mu.Unlock()
		r, planTarget := s.syncOnce(ctx)
		if planTarget > 0 && len(waiters) > 0 {
			if err := s.waitPlan(ctx, planTarget); err != nil {
				r.Error = &api.SyncError{Stage: api.StageFetch, Message: err.Error(), Time: time.Now()}
			}
		}
		for _, w := range waiters {
			w <- r
		}
	}
}

// syncOnce fetches, loads and (on success) adopts the branch head. It
// returns the result and, when the desired state changed, the plan request
// that covers it.
func (s *Server) syncOnce(ctx context.Context) (api.SyncResult, uint64) {
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	start := time.Now()
	rev, err := s.src.Fetch(fctx)
	cancel()
	now := time.Now()
	if err != nil {
		serr := &api.SyncError{Stage: api.StageFetch, Message: s.redact(fmt.Sprintf("failed to fetch %s: %s", s.cfg.RepoURL, err)), Time: now}
		s.mu.Lock()
		s.lastErr, s.lastSync = serr, now
		s.eventLocked("repo", "FetchFailed", serr.Message)
		s.mu.Unlock()
		s.log.Warn("sync failed", "stage", serr.Stage, "err", serr.Message)
		return api.SyncResult{Error: serr}, 0
	}
	commit := commitOf(rev)
	fetchTook := time.Since(start)

	s.mu.Lock()
	s.fetched = commit
	// The same commit under another --path (a restart with a new path) is
	// a different revision.
	if s.applied != nil && s.applied.rev.Commit.Hash == rev.Commit && s.applied.rev.Path == s.cfg.Path {
		s.lastErr, s.lastSync = nil, now
		s.mu.Unlock()
		return api.SyncResult{Commit: commit, Applied: true}, 0
	}
	s.mu.Unlock()

	set, err := spec.Load(rev.Files)
	if err != nil {
		serr := &api.SyncError{Commit: commit, Stage: api.StageLoad, Message: err.Error(), Entries: api.EntriesFromError(err), Time: now}
		s.mu.Lock()
		s.lastErr, s.lastSync = serr, time.Now()
		s.eventLocked("commit/"+short(rev.Commit), "LoadFailed", fmt.Sprintf("%s by %s: %d error(s), keeping %s", firstLine(rev.Message), rev.Author, max(1, len(serr.Entries)), s.appliedHashLocked()))
		s.mu.Unlock()
		s.log.Warn("commit failed to load; keeping the last good revision", "commit", rev.Commit, "author", rev.Author, "err", err)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	saved := &savedRevision{Commit: *commit, Path: s.cfg.Path, Files: rev.Files}
	// Persist before adopting: a restart must come back to what agents run.
	if err := s.state.saveRevision(saved); err != nil {
		serr := &api.SyncError{Commit: commit, Stage: api.StageApply, Message: err.Error(), Time: time.Now()}
		s.mu.Lock()
		s.lastErr, s.lastSync = serr, time.Now()
		s.mu.Unlock()
		s.log.Error("failed to persist revision; not applying it", "commit", rev.Commit, "err", err)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	s.mu.Lock()
	s.applied = &applied{rev: saved, set: set, at: time.Now()}
	s.lastErr, s.lastSync = nil, time.Now()
	s.eventLocked("commit/"+short(rev.Commit), "Synced", fmt.Sprintf("%s by %s: %d object(s)", firstLine(rev.Message), rev.Author, len(set.Objects)))
	target := s.requestPlanLocked()
	s.mu.Unlock()
	s.log.Info("applied commit", "commit", rev.Commit, "author", rev.Author, "message", firstLine(rev.Message),
		"objects", len(set.Objects), "fetch", fetchTook, "took", time.Since(start))
	return api.SyncResult{Commit: commit, Applied: true}, target
}

func (s *Server) appliedHashLocked() string {
	if s.applied == nil {
		return "nothing applied"
	}
	return short(s.applied.rev.Commit.Hash)
}

// redact removes the remote's credentials from a message.
func (s *Server) redact(msg string) string {
	stripped := StripCredentials(s.cfg.RepoURL)
	if stripped != s.cfg.RepoURL {
		msg = strings.ReplaceAll(msg, s.cfg.RepoURL, stripped)
	}
	if s.cfg.Token != "" {
		msg = strings.ReplaceAll(msg, s.cfg.Token, "REDACTED")
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
