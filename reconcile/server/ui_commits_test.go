package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestApplicationCommitsPathAndForcePush: the commits of an application
// whose source is a path of a shared repository are those that change that
// path (a reader of this application does not see the messages of commits
// that touch only others' paths); after a force push that drops the
// applied commit, the list says so instead of listing.
func TestApplicationCommitsPathAndForcePush(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	t.Parallel()
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	root := repo.commit("ns", map[string]string{"deploy/ns.yaml": nsYAML, "other/ns.yaml": strings.ReplaceAll(nsYAML, "shop", "other")})
	applied := repo.commit("deploy: web", map[string]string{"deploy/web.yaml": deploymentYAML(1, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log, func(c *Config) { c.Source.Path = "deploy" })
	expectApplied(t, s, applied)
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	repo.commit("other: secret project falcon", map[string]string{"other/ns.yaml": strings.ReplaceAll(nsYAML, "shop", "falcon")})
	web2 := repo.commit("deploy: web 2", map[string]string{"deploy/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	repo.commit("other: more of falcon", map[string]string{"other/falcon.txt": "x\n"})
	broken := repo.commit("deploy: broken", map[string]string{"deploy/bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {bogus: 1}\n"})
	if res, err := s.SyncNow(ctx); err != nil || res.Error == nil {
		t.Fatalf("sync of a broken head: %+v, %v", res, err)
	}
	l, err := cl.ApplicationCommits(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if l.Error != "" || l.Truncated || len(l.Commits) != 2 || l.Commits[0].Hash != broken || l.Commits[1].Hash != web2 || !l.Commits[0].Refused {
		t.Fatalf("commits of deploy/: %+v", l)
	}
	for _, c := range l.Commits {
		if strings.Contains(c.Message, "falcon") {
			t.Errorf("a commit of another path listed: %+v", c)
		}
	}

	// A force push drops the applied commit: the branch restarts from
	// root with a broken head, which the sync refuses to load, so the
	// applied commit stays.
	repo.git("reset", "-q", "--hard", root)
	rewritten := repo.commit("deploy: rewritten", map[string]string{"deploy/bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: y}\nspec: {bogus: 2}\n"})
	if res, err := s.SyncNow(ctx); err != nil || res.Error == nil || res.Error.Commit == nil || res.Error.Commit.Hash != rewritten {
		t.Fatalf("sync after the force push: %+v, %v", res, err)
	}
	l, err = cl.ApplicationCommits(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Commits) != 0 || l.Head == nil || l.Head.Hash != rewritten ||
		!strings.Contains(l.Error, "force-pushed: the applied commit "+short(applied)+" is not an ancestor of the head "+short(rewritten)) {
		t.Fatalf("commits after a force push: %+v", l)
	}
}

// TestApplicationCommitsKeepsCache: when an Application object names
// another path than its last fetch, the commits route (a read) answers
// that, and leaves the application's Git cache alone (it used to make a
// new source, which clears the cache).
func TestApplicationCommitsKeepsCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := &Server{store: newStore(), log: slog.Default(), cfg: Config{DataDir: dir}}
	decl := &spec.Application{}
	decl.Name = "team-a"
	decl.Spec.Source.RepoURL, decl.Spec.Source.TargetRevision, decl.Spec.Source.Path = "https://git.example.com/org/config.git", "main", "team-a"
	old := s.sourceConfig("team-a", decl)
	old.Path = "team-a-old"
	s.apps.sources = map[string]*appSource{"team-a": {cfg: old}}
	marker := filepath.Join(old.CacheDir, "objects", "pack", "pack-1.pack")
	if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(marker, []byte("PACK"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.appStatus("team-a").set(&api.Commit{Hash: strings.Repeat("a", 40)}, nil)

	l := s.applicationCommits(context.Background(), "team-a", decl)
	if !strings.Contains(l.Error, `the source of application "team-a" changed`) || len(l.Commits) != 0 {
		t.Errorf("commits after the source changed: %+v", l)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the commits route cleared the cache: %v", err)
	}
	if as := s.apps.sources["team-a"]; as == nil || as.cfg.Path != "team-a-old" {
		t.Errorf("the commits route replaced the source: %+v", as)
	}
	// Never fetched: said so, nothing made.
	delete(s.apps.sources, "team-a")
	if l := s.applicationCommits(context.Background(), "team-a", decl); !strings.Contains(l.Error, "has not been fetched") || s.apps.sources["team-a"] != nil {
		t.Errorf("commits of an application never fetched: %+v (sources %v)", l, s.apps.sources)
	}
}

// appReaderYAML lets the user reader get, list and watch applications.
const appReaderYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: app-reader}
rules:
- apiGroups: [stevedore.dev]
  resources: [applications]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: app-reader}
roleRef: {kind: ClusterRole, name: app-reader}
subjects: [{kind: User, name: reader}]
`

// TestUIRoutesRBAC: a user bound to view in one namespace (a RoleBinding)
// may not read an application's commits nor watch the applications (403,
// the request named); one granted get, list and watch on applications
// may.
func TestUIRoutesRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	t.Parallel()
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("rbac", map[string]string{"rbac.yaml": rbacRepoYAML, "apps.yaml": appReaderYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 15*time.Second, "the revision applied", func() bool {
		set := s.store.publishedSet()
		return set != nil && set.Objects[spec.ObjectKey{Kind: spec.KindClusterRoleBinding, Name: "app-reader"}] != nil && s.IsLeader()
	})
	h := s.Handler()
	alice := &policy.User{Name: "alice@example.com", Groups: []string{policy.GroupAuthenticated}}
	reader := &policy.User{Name: "reader", Groups: []string{policy.GroupAuthenticated}}
	commits := strings.ReplaceAll(api.PathApplicationCommits, "{name}", "default")

	for _, tc := range []struct {
		target, msg string
	}{
		{commits, "get"},
		{api.PathApplications + "?watch=1", "watch"},
	} {
		code, body := serveAs(h, alice, "GET", tc.target, "")
		if code != http.StatusForbidden || !strings.Contains(body, "alice@example.com") || !strings.Contains(body, tc.msg) || !strings.Contains(body, "applications") {
			t.Errorf("GET %s as alice: %d %s, want 403 naming her, %s and applications", tc.target, code, body, tc.msg)
		}
	}
	// The view RoleBinding does let her list pods in a: the 403s above are
	// the applications', not a user who may do nothing.
	if code, body := serveAs(h, alice, "GET", "/v1/pods?namespace=a", ""); code != http.StatusOK {
		t.Errorf("alice lists pods in a: %d %s", code, body)
	}

	code, body := serveAs(h, reader, "GET", commits, "")
	if code != http.StatusOK || !strings.Contains(body, `"application":"default"`) {
		t.Errorf("commits as reader: %d %s", code, body)
	}
	// A watch streams until its client goes: this one goes after its
	// first events.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", api.PathApplications+"?watch=1", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(withUser(ctx, *reader)))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"type":"BOOKMARK"`) || !strings.Contains(rec.Body.String(), `"type":"ADDED"`) {
		t.Errorf("applications watch as reader: %d %.300s", rec.Code, rec.Body.String())
	}
}
