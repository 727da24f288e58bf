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

// errNotLeader is returned by the writes only a leader makes, when this
// reconciler does not lead (the HTTP layer forwards them instead).
var errNotLeader = errors.New("this reconciler is not the leader")

// TriggerSync asks the leader's controller to sync every application
// without waiting; on a follower it does nothing (the HTTP layer forwards
// triggers).
func (s *Server) TriggerSync() {
	if c := s.ctrl.Load(); c != nil {
		c.triggerSync()
	}
}

// TriggerApp asks the leader to sync one application (by its API name)
// without waiting. It fails with a not-found error for an unknown
// application and with errNotLeader on a follower.
func (s *Server) TriggerApp(app string) error {
	c := s.ctrl.Load()
	if c == nil {
		return fmt.Errorf("failed to sync: %w", errNotLeader)
	}
	name := s.internalName(app)
	if c.triggerApps(func(n string) bool { return n == name }) == 0 {
		return errNotFound(fmt.Sprintf("application %q not found", app))
	}
	return nil
}

// SyncNow syncs every application and waits until a fetch, load and plan
// of each that started after the call have finished, returning the
// bootstrap application's result with the others' in Applications. It
// fails with errNotLeader on a follower.
func (s *Server) SyncNow(ctx context.Context) (api.SyncResult, error) {
	return s.SyncApp(ctx, "")
}

// SyncApp is SyncNow for one application (by its API name; "" syncs every
// one).
func (s *Server) SyncApp(ctx context.Context, app string) (api.SyncResult, error) {
	c := s.ctrl.Load()
	if c == nil {
		return api.SyncResult{}, fmt.Errorf("failed to sync: %w", errNotLeader)
	}
	return c.syncNow(ctx, s.internalName(app), app == "")
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

// syncApp is the leader's ordered steps for one sync of one application:
// fetch, load, check ownership, commit the revision to raft. A step that
// fails stops the chain, says why in the application's status and keeps
// its last good revision. It returns the result and, when the desired
// state changed, the plan request that covers it.
func (c *controller) syncApp(ctx context.Context, app string) (api.SyncResult, uint64) {
	s := c.s
	status := s.appStatus(app)
	var decl *spec.Application
	prune := true
	if app != "" {
		for _, ai := range s.store.appInfos() {
			if ai.Name == app {
				decl = ai.Decl
			}
		}
		if decl == nil {
			return api.SyncResult{}, 0 // deleted meanwhile: followApps stops this runner
		}
		prune = decl.PruneEnabled()
	}
	src, cfg, err := s.sourceFor(app, decl)
	if err != nil {
		serr := &api.SyncError{Stage: api.StageFetch, Message: s.redactFor(cfg, err.Error()), Time: time.Now()}
		status.set(nil, serr)
		return api.SyncResult{Error: serr}, 0
	}
	log := c.log.With("app", s.displayName(app))
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	start := time.Now()
	rev, err := src.Fetch(fctx)
	cancel()
	if err != nil {
		serr := &api.SyncError{Stage: api.StageFetch, Message: s.redactFor(cfg, fmt.Sprintf("failed to fetch %s: %s", cfg.URL, err)), Time: time.Now()}
		status.set(nil, serr)
		s.events.add(appObject(s, app, "repo"), "FetchFailed", serr.Message)
		log.Warn("sync failed", "stage", serr.Stage, "err", serr.Message)
		return api.SyncResult{Error: serr}, 0
	}
	commit := commitOf(rev)
	fetchTook := time.Since(start)

	applied, _ := s.store.appRevision(app)
	// The same commit under another path or repository (a restart with a
	// new --path, an edited Application) is a different revision.
	if applied != nil && applied.Commit.Hash == rev.Commit && applied.Path == cfg.Path &&
		(applied.Repo == "" || applied.Repo == StripCredentials(cfg.URL)) && (applied.Branch == "" || applied.Branch == cfg.Branch) {
		status.set(commit, nil)
		return api.SyncResult{Commit: commit, Applied: true}, 0
	}

	// Signatures and approvals, before a byte of the revision is decoded
	// (verify.go).
	vo, serr := s.verifyRevision(ctx, app, src, cfg, rev, applied)
	if serr != nil {
		return c.policyRefused(app, rev, applied, serr, "VerifyFailed")
	}

	// What the applied revision shares with this one is not decoded again.
	// Within the revision limits first (limits.go).
	set, err := s.loadRevision(app, rev.Files)
	if err == nil {
		err = s.checkApplications(app, set)
	}
	var retained map[string][]byte
	if err == nil {
		if retained, err = s.store.retainedFor(app, set, prune); err == nil && retained != nil {
			set, err = s.store.loadApp(rev.Files, retained)
		}
	}
	if err == nil {
		// Addresses its Services ask for that others hold (store_net.go):
		// refused with file and line like any invalid commit.
		err = s.store.serviceErrors(app, set)
	}
	if err != nil {
		serr := &api.SyncError{Commit: commit, Stage: api.StageLoad, Message: err.Error(), Entries: api.EntriesFromError(err), Time: time.Now()}
		status.set(commit, serr)
		s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), "LoadFailed", fmt.Sprintf("%s by %s: %d error(s), keeping %s: %s",
			firstLine(rev.Message), rev.Author, max(1, len(serr.Entries)), appliedHash(applied), firstEntry(serr)))
		log.Warn("commit failed to load; keeping the last good revision", "commit", rev.Commit, "author", rev.Author, "err", err)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	if cs := s.store.conflicts(app, set); len(cs) > 0 {
		serr := conflictError(commit, cs)
		status.set(commit, serr)
		s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), "OwnershipConflict", serr.Message)
		log.Warn("commit claims objects another application owns; keeping the last good revision", "commit", rev.Commit, "err", serr.Message)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	if serr := s.checkRevision(ctx, app, rev, applied, set, vo); serr != nil {
		return c.policyRefused(app, rev, applied, serr, "PolicyRefused")
	}
	saved := &savedRevision{Commit: *commit, Path: cfg.Path, Repo: StripCredentials(cfg.URL), Branch: cfg.Branch, Files: rev.Files}
	// Committed before it is planned: a new leader comes back to what the
	// agents run.
	op := opRevision
	if app != "" {
		op = opAppRevision
	}
	if err := s.el.apply(&command{Op: op, App: app, Revision: saved, Retained: retained, Created: time.Now()}, s.cfg.Raft.ApplyTimeout); err != nil {
		stage := api.StageApply
		var rej *rejectedError
		if errors.As(err, &rej) {
			stage = api.StageConflict
		}
		serr := &api.SyncError{Commit: commit, Stage: stage, Message: err.Error(), Time: time.Now()}
		status.set(commit, serr)
		s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), "ApplyFailed", fmt.Sprintf("%s by %s: not applied, keeping %s: %s",
			firstLine(rev.Message), rev.Author, appliedHash(applied), serr.Message))
		log.Error("failed to commit revision; not applying it", "commit", rev.Commit, "err", err)
		return api.SyncResult{Commit: commit, Error: serr}, 0
	}
	status.set(commit, nil)
	if len(retained) > 0 {
		s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), "Retained", fmt.Sprintf("%d object(s) removed from Git keep running because prune is off", len(retained)))
	}
	for _, w := range set.Warnings {
		s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), EventDeprecatedAPIVersion, w.String())
	}
	s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), "Synced", fmt.Sprintf("%s by %s: %d object(s)", firstLine(rev.Message), rev.Author, len(set.Objects)))
	c.mu.Lock()
	target := c.requestPlanLocked()
	c.mu.Unlock()
	log.Info("applied commit", "commit", rev.Commit, "author", rev.Author, "message", firstLine(rev.Message),
		"objects", len(set.Objects), "retained", len(retained), "fetch", fetchTook, "took", time.Since(start))
	return api.SyncResult{Commit: commit, Applied: true}, target
}

// policyRefused records a policy refusal of rev (verify.go, policy.go): the
// status names the commit and the reason, an event says which revision
// keeps running.
func (c *controller) policyRefused(app string, rev *source.Revision, applied *savedRevision, serr *api.SyncError, reason string) (api.SyncResult, uint64) {
	s := c.s
	commit := commitOf(rev)
	if serr.Commit == nil {
		serr.Commit = commit
	}
	if serr.Time.IsZero() {
		serr.Time = time.Now()
	}
	s.appStatus(app).set(commit, serr)
	s.events.add(appObject(s, app, "commit/"+short(rev.Commit)), reason, fmt.Sprintf("%s by %s: refused, keeping %s: %s",
		firstLine(rev.Message), rev.Author, appliedHash(applied), serr.Message))
	c.log.With("app", s.displayName(app)).Warn("commit refused by policy; keeping the last good revision", "commit", rev.Commit, "stage", serr.Stage, "err", serr.Message)
	return api.SyncResult{Commit: commit, Error: serr}, 0
}

// appObject is the object an event of app names: the bootstrap
// application's events keep the names of a single-repository reconciler.
func appObject(s *Server, app, object string) string {
	if app == "" {
		return object
	}
	return "application/" + app + "/" + object
}

// checkApplications refuses Application objects outside the bootstrap
// application, and one that reuses the bootstrap application's name.
func (s *Server) checkApplications(app string, set *spec.Set) error {
	var list spec.ErrorList
	for _, k := range set.Keys() {
		if k.Kind != spec.KindApplication {
			continue
		}
		src := set.Sources[k]
		switch {
		case app != "":
			list = append(list, &spec.Error{File: src.File, Line: src.Line, Object: "Application " + k.Name,
				Message: fmt.Sprintf("Application objects are read from the bootstrap application %q only, not from application %q", s.bootstrapName(), app)})
		case k.Name == s.bootstrapName():
			list = append(list, &spec.Error{File: src.File, Line: src.Line, Object: "Application " + k.Name, Field: "metadata.name",
				Message: fmt.Sprintf("%q is the bootstrap application's name (--app-name)", k.Name)})
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list
}

// conflictError is the sync error of a revision that claims objects other
// applications own: one entry per object, naming its file and both
// applications.
func conflictError(commit *api.Commit, cs []ownershipConflict) *api.SyncError {
	serr := &api.SyncError{Commit: commit, Stage: api.StageConflict, Time: time.Now(), Message: cs[0].Error()}
	if len(cs) > 1 {
		serr.Message = fmt.Sprintf("%s (and %d more object(s))", serr.Message, len(cs)-1)
	}
	for _, c := range cs {
		serr.Entries = append(serr.Entries, api.ErrorEntry{File: c.At.File, Line: c.At.Line, Object: c.Key.String(),
			Message: fmt.Sprintf("already owned by application %q (%s:%d)", c.Owner, c.OwnAt.File, c.OwnAt.Line)})
	}
	return serr
}

// firstEntry is a refused revision's first problem, with its file and
// line ("apps/web.yaml:12: Deployment shop/web: spec.replicas: ...").
func firstEntry(serr *api.SyncError) string {
	if len(serr.Entries) == 0 {
		return firstLine(serr.Message)
	}
	return serr.Entries[0].String()
}

func appliedHash(r *savedRevision) string {
	if r == nil {
		return "nothing applied"
	}
	return short(r.Commit.Hash)
}

// redactFor removes a source's credentials from a message.
func (s *Server) redactFor(cfg source.Config, msg string) string {
	stripped := StripCredentials(cfg.URL)
	if stripped != cfg.URL {
		msg = strings.ReplaceAll(msg, cfg.URL, stripped)
	}
	if cfg.Token != "" {
		msg = strings.ReplaceAll(msg, cfg.Token, "REDACTED")
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
