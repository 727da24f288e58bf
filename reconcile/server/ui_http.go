package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/policy/signature"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// What the web UI (web/, docs/ui.md) reads beyond ctl's lists: who the
// caller is, what it may do, the commits waiting to be applied, and the
// applications as a watch. Each is an ordinary /v1 route, authorized like
// any other (authz.go); ctl auth whoami and ctl auth can-i use the first
// two.

// registerUIRoutes adds the routes of api/ui.go. Who the caller is and
// what it may do are answered by any reconciler (the RBAC objects are in
// every reconciler's store); the commits need the leader's Git cache.
func (s *Server) registerUIRoutes(handle func(string, http.Handler), lead func(string, http.HandlerFunc)) {
	handle("GET "+api.PathWhoAmI, http.HandlerFunc(s.handleWhoAmI))
	handle("POST "+api.PathAccessReview, http.HandlerFunc(s.handleAccessReview))
	lead("GET "+api.PathApplicationCommits, s.handleApplicationCommits)
}

// Authentication methods WhoAmI reports.
const (
	methodCertificate = "certificate"
	methodToken       = "token"
)

func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request) {
	u, ok := userFrom(r.Context())
	if !ok {
		u = insecureUser
	}
	out := api.WhoAmI{User: u.Name, Groups: u.Groups, Method: methodFrom(r.Context())}
	writeJSON(w, http.StatusOK, out)
}

// maxAccessReviewBody bounds an AccessReview: MaxAccessChecks questions of
// a few hundred bytes each.
const maxAccessReviewBody = 256 << 10

func (s *Server) handleAccessReview(w http.ResponseWriter, r *http.Request) {
	var rev api.AccessReview
	if !decodeBody(w, r, maxAccessReviewBody, "access review", &rev, false) {
		return
	}
	if len(rev.Checks) > api.MaxAccessChecks {
		errs.WriteHTTP(w, errInvalid(fmt.Sprintf("access review: %d checks, at most %d", len(rev.Checks), api.MaxAccessChecks)))
		return
	}
	for i, c := range rev.Checks {
		switch {
		case c.Verb == "":
			errs.WriteHTTP(w, errInvalid(fmt.Sprintf("access review: check %d: verb is required", i)))
			return
		case (c.Resource == "") == (c.Path == ""):
			errs.WriteHTTP(w, errInvalid(fmt.Sprintf("access review: check %d: name a resource or a path, not both nor neither", i)))
			return
		}
	}
	u, authenticated := userFrom(r.Context())
	az := s.authorizer()
	for i := range rev.Checks {
		c := &rev.Checks[i]
		if !authenticated {
			// No user: Security is disabled and nothing is authorized
			// (authorizeRoute).
			c.Allowed, c.Reason = true, "security is disabled"
			continue
		}
		c.Allowed, c.Reason = az.Authorize(u, policy.Attributes{Verb: c.Verb, APIGroup: c.Group, Resource: c.Resource,
			Subresource: c.Subresource, Namespace: c.Namespace, Name: c.Name, NonResourcePath: c.Path})
	}
	if rev.Checks == nil {
		rev.Checks = []api.AccessCheck{}
	}
	writeJSON(w, http.StatusOK, rev)
}

// commitsTimeout bounds the walk of one commits request.
const commitsTimeout = 30 * time.Second

func (s *Server) handleApplicationCommits(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	app := s.internalName(name)
	var decl *spec.Application
	found := app == ""
	for _, ai := range s.store.appInfos() {
		if ai.Name == app && (app == "" || ai.Decl != nil) {
			decl, found = ai.Decl, true
		}
	}
	if !found {
		errs.WriteHTTP(w, errNotFound(fmt.Sprintf("application %q not found", name)))
		return
	}
	// Like a diff, a walk reads the Git cache: a few at once, the others
	// wait.
	select {
	case s.diffSlots <- struct{}{}:
		defer func() { <-s.diffSlots }()
	case <-r.Context().Done():
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), commitsTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, s.applicationCommits(ctx, app, decl))
}

// applicationCommits lists app's commits from its fetched head back to its
// applied revision (git's applied..head) that change the application's
// path, newest first, at most api.MaxPendingCommits, each with its
// signature's verdict when commits are verified. It reads only the Git
// cache (the head is the last fetch's), and no more of it than it lists:
// the walk stops at the first commit beyond them (once it knows whether
// the applied commit is an ancestor of the head), and reads signed
// payloads only to verify them (found by review: it read the payload and
// tree of up to --verify-max-commits commits, under the lock the
// application's sync waits for, to show 100).
//
// Only the commits that change the application's path are listed: in a
// repository shared by several applications, a user who may read this
// one must not read the messages of the commits of the others.
func (s *Server) applicationCommits(ctx context.Context, app string, decl *spec.Application) *api.CommitList {
	out := &api.CommitList{Application: s.displayName(app), Commits: []api.PendingCommit{}}
	applied, _ := s.store.appRevision(app)
	if applied != nil {
		c := applied.Commit
		out.Applied = &c
	}
	fetched, lastErr, _ := s.appStatus(app).get()
	out.Head = fetched
	if lastErr != nil && lastErr.Commit != nil {
		out.Refusal = lastErr
	}
	if fetched == nil {
		out.Error = "the branch has not been fetched since this reconciler became the leader"
		return out
	}
	if applied != nil && applied.Commit.Hash == fetched.Hash {
		return out
	}
	src, cfg, err := s.fetchedSource(app, decl)
	if err != nil {
		out.Error = s.redactFor(cfg, err.Error())
		return out
	}
	lg, ok := src.(commitLogger)
	if !ok {
		out.Error = "the source cannot list its history"
		return out
	}
	base := ""
	if applied != nil && applied.sameSource(cfg) {
		base = applied.Commit.Hash
	}
	verify := s.verifier != nil
	l, err := lg.Log(ctx, base, fetched.Hash, source.LogOptions{Max: api.MaxPendingCommits, Limit: s.cfg.Verify.MaxCommits,
		Details: verify, KeepEmpty: verify})
	switch {
	case err != nil:
		out.Error = s.redactFor(cfg, err.Error())
		return out
	case base != "" && l.BaseMissing:
		out.Error = fmt.Sprintf("the applied commit %s is not in this branch's history (force-pushed, or the cache was replaced): only the head is known", short(base))
		return out
	case base != "" && l.Diverged:
		out.Error = fmt.Sprintf("the branch was force-pushed: the applied commit %s is not an ancestor of the head %s", short(base), short(fetched.Hash))
		if verify && !s.cfg.Verify.AllowForcePush {
			out.Error += "; the sync refuses it (a force push that drops applied history is refused unless allowed: --allow-force-push)"
		} else {
			out.Error += "; the sync applies the head as it is"
		}
		return out
	}
	out.Truncated = l.Truncated
	for _, c := range l.Commits {
		pc := api.PendingCommit{Commit: api.Commit{Hash: c.Hash, Author: c.Author, AuthorEmail: c.AuthorEmail, Message: c.Message, Time: c.Time},
			Parents: c.Parents}
		if verify {
			// The verifier remembers its verdicts: the commits a sync
			// verified are not verified again.
			pc.Signature = signatureVerdict(s.verifier.Verify(signatureCommit(c)))
		}
		pc.Refused = out.Refusal != nil && out.Refusal.Commit.Hash == c.Hash
		out.Commits = append(out.Commits, pc)
	}
	return out
}

// commitLogger is what the commits route needs of a source:
// *source.Source has it.
type commitLogger interface {
	Log(ctx context.Context, base, to string, o source.LogOptions) (*source.Log, error)
}

var _ commitLogger = (*source.Source)(nil)

// fetchedSource returns the source app's last sync fetched with, for a
// reader: unlike sourceFor, it never makes a new one, which would clear
// the cache of an application whose Application object now names another
// repository, branch or path (found by review: a read-only route could
// remove the cache a sync was about to use); it answers an error instead,
// until the next sync fetches the new source.
func (s *Server) fetchedSource(app string, decl *spec.Application) (fetcher, source.Config, error) {
	if app == "" {
		return s.src, s.cfg.Source, nil
	}
	cfg := s.sourceConfig(app, decl)
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	as := s.apps.sources[app]
	switch {
	case as == nil:
		return nil, cfg, fmt.Errorf("application %q has not been fetched by this reconciler yet", s.displayName(app))
	case as.cfg.URL != cfg.URL || as.cfg.Branch != cfg.Branch || as.cfg.Path != cfg.Path:
		return nil, cfg, fmt.Errorf("the source of application %q changed (repository, branch or path) since its last fetch: its commits are listed after the next sync", s.displayName(app))
	}
	return as.src, as.cfg, nil
}

// signatureVerdict is the wire form of a verification's result.
func signatureVerdict(sg signature.Signer, err error) *api.SignatureVerdict {
	if err != nil {
		v := &api.SignatureVerdict{Reason: err.Error()}
		var se *signature.Error
		if errors.As(err, &se) {
			v.Key = se.Fingerprint
		}
		return v
	}
	return &api.SignatureVerdict{Verified: true, Signer: sg.User.Name, Key: sg.Fingerprint}
}

// handleApplicationsWatch streams the applications (without their
// objects), keyed by name: a view publish changes their health and
// applied revisions, a fetch or a sync error their sync state between
// publishes (appsChanged).
func (s *Server) handleApplicationsWatch(w http.ResponseWriter, r *http.Request, f *listFilter) {
	s.serveWatchOf(w, r, s.watchApplications(f), s.appsChanged.changed)
}

// watchApplications is the list the applications watch follows.
func (s *Server) watchApplications(f *listFilter) func(*view) []keyed {
	return func(v *view) []keyed {
		apps, labels := s.appsCache.get(s, v)
		out := make([]keyed, 0, len(apps))
		for i := range apps {
			if a := &apps[i]; f.app(a, labels[a.Name]) {
				out = append(out, keyed{key: a.Name, obj: a})
			}
		}
		return out
	}
}

// appsCache is the applications as the watch shows them, built once per
// published view and change of the applications' sync status (appsChanged)
// and shared by every watcher: each build reads every pod of the view for
// the applications' health, and N open applications pages used to build
// it N times per publish (found by review). Its slice is read-only.
type appsCache struct {
	mu     sync.Mutex
	v      *view
	gen    <-chan struct{} // appsChanged's channel when built: it is replaced at every change
	apps   []api.Application
	labels map[string]map[string]string
}

// get returns the applications of view v at the current sync status.
func (c *appsCache) get(s *Server, v *view) ([]api.Application, map[string]map[string]string) {
	// Taken before building: a change while building makes the next call
	// build again rather than keep a stale list.
	gen := s.appsChanged.changed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v != v || c.gen != gen {
		c.apps, c.labels = s.applicationsOf(v, false), s.appLabels()
		c.v, c.gen = v, gen
	}
	return c.apps, c.labels
}

// appLabels returns the labels of every declared application's
// Application object, by the name it shows.
func (s *Server) appLabels() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, ai := range s.store.appInfos() {
		if ai.Decl != nil {
			out[s.displayName(ai.Name)] = ai.Decl.Labels
		}
	}
	return out
}

// AnnotationCommitURL on an Application object overrides the link to its
// commits (api.Application.CommitURL): a template with "{hash}".
const AnnotationCommitURL = "stevedore.dev/commit-url"

// commitURL returns the link template of app's commits: its Application's
// annotation, else the reconciler's --commit-url (for the bootstrap
// application, or for all when it names "{repo}"), else one derived from a
// known forge's URL of repo; "" when none is known.
func (s *Server) commitURL(app string, decl *spec.Application, repo string) string {
	if decl != nil {
		if t := decl.Annotations[AnnotationCommitURL]; t != "" {
			return t
		}
	}
	if t := s.cfg.CommitURL; t != "" && (app == "" || strings.Contains(t, "{repo}")) {
		return strings.ReplaceAll(t, "{repo}", repoPath(repo))
	}
	return forgeCommitURL(repo)
}

// repoPath is the path of a repository URL without ".git" ("org/config"),
// what "{repo}" stands for.
func repoPath(repo string) string {
	n := normalizeRepoURL(repo)
	if _, p, ok := strings.Cut(n, "/"); ok && !strings.HasPrefix(n, "/") {
		return p
	}
	return strings.TrimPrefix(n, "/")
}

// forgeCommitURL derives the commit link of a repository on GitHub,
// GitLab, or Gitea/Forgejo (Codeberg), from its https, ssh or scp-like URL
// (credentials dropped); "" for any other host or a local path: a link
// guessed wrong is worse than none.
func forgeCommitURL(repo string) string {
	n := normalizeRepoURL(repo) // host/owner/name, or a path
	if strings.HasPrefix(n, "/") || strings.HasPrefix(strings.TrimSpace(repo), "file:") {
		return ""
	}
	host, path, ok := strings.Cut(n, "/")
	if !ok || strings.Count(path, "/") < 1 || strings.Contains(host, "..") {
		return ""
	}
	base := "https://" + host + "/" + (&url.URL{Path: path}).EscapedPath()
	switch {
	case host == "github.com":
		return base + "/commit/{hash}"
	case host == "gitlab.com" || strings.HasPrefix(host, "gitlab."):
		return base + "/-/commit/{hash}"
	case host == "codeberg.org" || strings.HasPrefix(host, "gitea.") || strings.HasPrefix(host, "forgejo."):
		return base + "/commit/{hash}"
	}
	return ""
}
