package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/webhook"
)

// Applications returns every application (the bootstrap first, then by
// name) with its sync state and health; with objects, each one's objects
// too.
func (s *Server) Applications(objects bool) []api.Application {
	return s.applicationsOf(s.view.Load(), objects)
}

// applicationsOf is Applications with the health of view v.
func (s *Server) applicationsOf(v *view, objects bool) []api.Application {
	infos := s.store.appInfos()
	hx := newHealthIndex(v.workloads, v.views)
	out := make([]api.Application, 0, len(infos))
	for i := range infos {
		out = append(out, s.wireApp(&infos[i], hx, objects))
	}
	return out
}

func (s *Server) wireApp(ai *appInfo, hx *healthIndex, objects bool) api.Application {
	cfg := s.sourceConfig(ai.Name, ai.Decl)
	a := api.Application{
		Name:      s.displayName(ai.Name),
		Bootstrap: ai.Name == "",
		Repo:      StripCredentials(cfg.URL),
		Branch:    cfg.Branch,
		Path:      cfg.Path,
		Prune:     ai.Name == "" || (ai.Decl != nil && ai.Decl.PruneEnabled()),
		AppliedAt: ai.At,
		Created:   ai.Created,
		Retained:  ai.Retained,
	}
	if ai.Decl == nil && ai.Name != "" && ai.Revision != nil {
		// An orphan: its source is what its last revision came from.
		a.Repo, a.Branch, a.Path = ai.Revision.Repo, ai.Revision.Branch, ai.Revision.Path
	}
	a.CommitURL = s.commitURL(ai.Name, ai.Decl, a.Repo) // ui_http.go
	if a.Created.IsZero() {
		a.Created = ai.At
	}
	if ai.Revision != nil {
		c := ai.Revision.Commit
		a.Applied = &c
	}
	a.Fetched, a.LastError, a.LastSync = s.appStatus(ai.Name).get()
	switch {
	case a.LastError != nil:
		a.Sync = api.SyncFailed
	case ai.Orphan || a.Applied == nil || (a.Fetched != nil && a.Fetched.Hash != a.Applied.Hash):
		a.Sync = api.SyncOutOfSync
	default:
		a.Sync = api.SyncSynced
	}
	health, msg, per := hx.health(ai.Owned)
	a.Health, a.HealthMessage = health, msg
	switch {
	case ai.Orphan:
		a.Message = fmt.Sprintf("removed from the bootstrap application %q with prune off: its %d object(s) keep running (declare it again with prune: true, then delete it, to remove them)", s.bootstrapName(), len(ai.Owned))
	case len(ai.Retained) > 0:
		a.Message = fmt.Sprintf("%d object(s) removed from Git keep running because prune is off: %s", len(ai.Retained), keyList(ai.Retained))
	}
	if objects {
		for _, k := range ai.Owned {
			o := api.ApplicationObject{Key: k}
			if ai.Set != nil {
				src := ai.Set.Sources[k]
				o.File, o.Line = src.File, src.Line
			}
			if h, ok := per[k]; ok {
				o.Health, o.Message = h[0], h[1]
			}
			a.Objects = append(a.Objects, o)
		}
	}
	return a
}

func keyList(keys []spec.ObjectKey) string {
	const shown = 5
	parts := make([]string, 0, min(len(keys), shown))
	for i, k := range keys {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(keys)-shown))
			break
		}
		parts = append(parts, k.String())
	}
	return strings.Join(parts, ", ")
}

func (s *Server) handleApplications(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query(), filterApps) // filter.go
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	if isWatch(r) {
		s.handleApplicationsWatch(w, r, f) // ui_http.go
		return
	}
	apps := s.Applications(false)
	labels := s.appLabels()
	out := apps[:0]
	for i := range apps {
		if f.app(&apps[i], labels[apps[i].Name]) {
			out = append(out, apps[i])
		}
	}
	writeJSON(w, http.StatusOK, api.ApplicationList{Applications: out})
}

func (s *Server) handleApplication(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, a := range s.Applications(true) {
		if a.Name == name {
			writeJSON(w, http.StatusOK, a)
			return
		}
	}
	errs.WriteHTTP(w, errNotFound(fmt.Sprintf("application %q not found", name)))
}

// appOf returns the store's name of the application a request names with
// ?app= ("" and the bootstrap's name are the bootstrap), or a not-found
// error.
func (s *Server) appOf(r *http.Request) (string, error) {
	app := r.URL.Query().Get("app")
	if app == "" {
		return "", nil
	}
	name := s.internalName(app)
	if name == "" {
		return "", nil
	}
	for _, ai := range s.store.appInfos() {
		if ai.Name == name && ai.Decl != nil {
			return name, nil
		}
	}
	return "", errNotFound(fmt.Sprintf("application %q not found", app))
}

// DiffApp is Diff for one application ("" the bootstrap): its branch head
// against its applied revision, the other applications' objects staying
// as they are.
func (s *Server) DiffApp(ctx context.Context, app string) (*api.DiffResult, error) {
	var decl *spec.Application
	for _, ai := range s.store.appInfos() {
		if ai.Name == app {
			decl = ai.Decl
		}
	}
	src, cfg, err := s.sourceFor(app, decl)
	if err != nil {
		return nil, errUnavailable(s.redactFor(cfg, err.Error()))
	}
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	rev, err := src.Fetch(fctx)
	cancel()
	if err != nil {
		return nil, errUnavailable(s.redactFor(cfg, "failed to fetch "+cfg.URL+": "+err.Error()))
	}
	return s.diffApp(app, commitOf(rev), rev.Files), nil
}

// diffApp loads files as app's next revision and diffs the desired state
// with it in place of app's objects against the desired state.
func (s *Server) diffApp(app string, head *api.Commit, files map[string][]byte) *api.DiffResult {
	res := &api.DiffResult{Head: head, Changes: []api.ObjectChange{}}
	v := s.view.Load()
	in := v.planInput()
	applied, _ := s.store.appRevision(app)
	if applied != nil {
		c := applied.Commit
		res.Applied = &c
	}
	// The applied revision's unchanged documents are reused, not decoded
	// again, and their objects are the applied set's, which Diff skips
	// without comparing.
	set, err := s.loadRevision(app, files)
	if err == nil {
		err = s.checkApplications(app, set)
	}
	if err == nil {
		// What a sync would refuse: addresses outside the cluster's
		// ranges or held by another Service.
		err = s.store.serviceErrors(app, set)
	}
	if err != nil {
		res.Error = &api.SyncError{Commit: head, Stage: api.StageLoad, Message: err.Error(), Entries: api.EntriesFromError(err), Time: time.Now()}
		return res
	}
	if cs := s.store.conflicts(app, set); len(cs) > 0 {
		res.Error = conflictError(head, cs)
		return res
	}
	for _, w := range set.Warnings {
		res.Warnings = append(res.Warnings, w.String())
	}
	next := s.store.replaceApp(app, set)
	// The dry run does not depend on the diff, so both run at once (each
	// takes a core for a large revision); it is skipped when every object
	// is the applied one (the loader reused them all).
	var planned chan reconcile.Output
	if !sameObjects(v.set, next) {
		planned = make(chan reconcile.Output, 1)
		go func() {
			in.Desired = next
			// The dry run's UIDs are thrown away: key-derived ones cost
			// nothing.
			in.NewUID = nil
			planned <- reconcile.Plan(in)
		}()
	}
	ch := reconcile.Diff(v.set, next)
	if planned != nil {
		res.Placements = placements(<-planned, ch)
	}
	if ch != nil {
		res.Changes = wireChanges(ch)
	}
	return res
}

// sameObjects reports whether next holds exactly base's objects, by
// pointer: nothing to diff or plan.
func sameObjects(base, next *spec.Set) bool {
	if base == nil || next == nil || len(base.Objects) != len(next.Objects) {
		return false
	}
	for k, o := range next.Objects {
		if base.Objects[k] != o {
			return false
		}
	}
	return true
}

// routePush triggers the applications a push notification concerns: those
// tracking the pushed branch whose repository is one the payload names
// (every one tracking the branch when the payload names none, as a
// post-receive hook's may not).
func (s *Server) routePush(p webhook.Push) int {
	c := s.ctrl.Load()
	if c == nil {
		return 0
	}
	urls := map[string]bool{}
	for _, u := range p.URLs {
		urls[normalizeRepoURL(u)] = true
	}
	srcs := map[string][2]string{}
	for _, ai := range s.store.appInfos() {
		if ai.Name == "" || ai.Decl != nil {
			cfg := s.sourceConfig(ai.Name, ai.Decl)
			srcs[ai.Name] = [2]string{cfg.URL, cfg.Branch}
		}
	}
	return c.triggerApps(func(app string) bool {
		src, ok := srcs[app]
		if !ok || src[1] != p.Branch {
			return false
		}
		return len(urls) == 0 || urls[normalizeRepoURL(src[0])]
	})
}

// normalizeRepoURL reduces the ways one repository is written
// (https://host/o/r.git, git@host:o/r, ssh://git@host/o/r, with
// credentials) to "host/o/r"; a local path stays a cleaned path.
func normalizeRepoURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		raw = strings.ToLower(u.Hostname()) + "/" + strings.TrimPrefix(u.Path, "/")
	} else if at := strings.Index(raw, "@"); at >= 0 && strings.Contains(raw[at:], ":") && !strings.Contains(raw, "://") {
		hostPath := raw[at+1:]
		i := strings.Index(hostPath, ":")
		raw = strings.ToLower(hostPath[:i]) + "/" + strings.TrimPrefix(hostPath[i+1:], "/")
	} else {
		raw = path.Clean(strings.TrimPrefix(raw, "file://"))
	}
	return strings.TrimSuffix(strings.TrimSuffix(raw, "/"), ".git")
}
