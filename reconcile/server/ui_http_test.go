package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestWhoAmIAndAccessReview: anyone authenticated may ask who they are
// and what they may do (stevedore:discovery); the answers are RBAC's, a
// namespace-scoped RoleBinding allowing in its namespace only, with the
// authorizer's reason.
func TestWhoAmIAndAccessReview(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	t.Parallel()
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("rbac", map[string]string{"rbac.yaml": rbacRepoYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 15*time.Second, "the revision applied", func() bool {
		set := s.store.publishedSet()
		return set != nil && set.Objects[spec.ObjectKey{Kind: spec.KindRoleBinding, Namespace: "a", Name: "alice-view"}] != nil
	})
	h := s.Handler()
	alice := &policy.User{Name: "alice@example.com", Groups: []string{"team", policy.GroupAuthenticated}}
	nobody := &policy.User{Name: "nobody", Groups: []string{policy.GroupAuthenticated}}

	code, body := serveAs(h, alice, "GET", api.PathWhoAmI, "")
	var who api.WhoAmI
	if code != http.StatusOK || json.Unmarshal([]byte(body), &who) != nil || who.User != alice.Name || len(who.Groups) != 2 || who.Groups[0] != "team" {
		t.Fatalf("whoami: %d %s", code, body)
	}
	review := `{"checks":[
		{"verb":"list","resource":"pods","namespace":"a"},
		{"verb":"list","resource":"pods","namespace":"b"},
		{"verb":"get","resource":"pods","subresource":"log","namespace":"a","name":"web-1"},
		{"verb":"create","group":"stevedore.dev","resource":"applications","subresource":"sync","name":"default"},
		{"verb":"get","path":"/v1/status"},
		{"verb":"get","path":"/metrics"}]}`
	req := httptest.NewRequest("POST", api.PathAccessReview, strings.NewReader(review))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(withUser(req.Context(), *alice)))
	code, body = rec.Code, rec.Body.String() // raw: serveAs unescapes quotes
	var rev api.AccessReview
	if code != http.StatusOK || json.Unmarshal([]byte(body), &rev) != nil || len(rev.Checks) != 6 {
		t.Fatalf("access review: %d %s", code, body)
	}
	want := []bool{true, false, true, false, true, false}
	for i, c := range rev.Checks {
		if c.Allowed != want[i] || c.Reason == "" {
			t.Errorf("check %d %+v: allowed %v, want %v with a reason", i, c, c.Allowed, want[i])
		}
	}
	if r := rev.Checks[0].Reason; !strings.Contains(r, "alice-view") {
		t.Errorf("allowed by %q, want the RoleBinding named", r)
	}
	if r := rev.Checks[1].Reason; !strings.Contains(r, "list pods in namespace b") {
		t.Errorf("denied because %q, want the request named", r)
	}
	// Someone bound to nothing may still ask.
	for _, p := range []struct{ method, path, body string }{{"GET", api.PathWhoAmI, ""}, {"POST", api.PathAccessReview, `{"checks":[{"verb":"list","resource":"pods"}]}`}} {
		code, body := serveAs(h, nobody, p.method, p.path, p.body)
		if code != http.StatusOK || strings.Contains(body, `"allowed":true`) {
			t.Errorf("%s %s as nobody: %d %s", p.method, p.path, code, body)
		}
	}
	// A node's certificate too: every authenticated user is in
	// system:authenticated for RBAC.
	node := &policy.User{Name: policy.NodeUserPrefix + "n1", Groups: []string{policy.GroupNodes}}
	if code, body := serveAs(h, node, "GET", api.PathWhoAmI, ""); code != http.StatusOK || !strings.Contains(body, "system:node:n1") {
		t.Errorf("whoami as a node: %d %s", code, body)
	}
	// Malformed reviews.
	many := `{"checks":[` + strings.TrimSuffix(strings.Repeat(`{"verb":"get","path":"/x"},`, api.MaxAccessChecks+1), ",") + `]}`
	for _, tc := range []struct{ body, msg string }{
		{many, "at most 100"},
		{`{"checks":[{"verb":"get","resource":"pods","path":"/x"}]}`, "not both"},
		{`{"checks":[{"resource":"pods"}]}`, "verb is required"},
		{`{"checks":`, "failed to decode"},
	} {
		if code, body := serveAs(h, alice, "POST", api.PathAccessReview, tc.body); code != http.StatusBadRequest || !strings.Contains(body, tc.msg) {
			t.Errorf("review %.40s: %d %s, want 400 %q", tc.body, code, body, tc.msg)
		}
	}
	// Security disabled, no user: allowed.
	code, body = serveAs(h, nil, "POST", api.PathAccessReview, `{"checks":[{"verb":"delete","resource":"nodes"}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"allowed":true`) {
		t.Errorf("review with security disabled: %d %s", code, body)
	}
}

// TestUISecured: on a secured reconciler the UI's assets need no
// credentials and carry their CSP, a deep link answers the index, / goes
// to the UI; whoami says how the caller authenticated; a token minted
// for a user with no bindings reads whoami and access reviews only.
func TestUISecured(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	t.Parallel()
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dir := t.TempDir()
	s := startServer(t, repo.dir, dir, log, secured)
	waitFor(t, 15*time.Second, "leading", s.IsLeader)
	anon := httpsClient(t, s.sec.m.CA, pki.KeyPair{})
	anon.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	index := ""
	for _, p := range []string{"/ui/", "/ui/pods/default/web-0", "/ui/app.js"} {
		resp, err := anon.Get(s.APIURL() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("GET %s without credentials: %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		switch p {
		case "/ui/":
			index = string(b)
		case "/ui/pods/default/web-0":
			if string(b) != index || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("the deep link answered %s %.80q, want the index", resp.Header.Get("Content-Type"), b)
			}
		}
	}
	resp, err := anon.Get(s.APIURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != api.PathUI {
		t.Errorf("GET /: %d to %q, want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), api.PathUI)
	}
	if code, _, _ := httpsGet(t, anon, s.APIURL()+api.PathWhoAmI); code != http.StatusUnauthorized {
		t.Errorf("whoami without credentials: %d, want 401", code)
	}

	conf, err := api.LoadClientConfig(filepath.Join(dir, fileAdminConf))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewClientFromConfig(conf, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	who, err := admin.WhoAmI(ctx)
	if err != nil || who.Method != "certificate" || !strings.Contains(strings.Join(who.Groups, ","), policy.GroupMasters) {
		t.Fatalf("whoami as admin: %+v, %v", who, err)
	}
	tok, err := admin.CreateToken(ctx, api.TokenRequest{User: "carol", TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := api.NewClientFromConfig(api.NewClientConfig("test", s.APIURL(), conf.Clusters[0].Cluster.CertificateAuthorityData, "carol", api.UserConfig{Token: tok.Secret}), "")
	if err != nil {
		t.Fatal(err)
	}
	who, err = carol.WhoAmI(ctx)
	if err != nil || who.User != "carol" || who.Method != "token" || strings.Join(who.Groups, ",") != policy.GroupAuthenticated {
		t.Fatalf("whoami with a token: %+v, %v", who, err)
	}
	checks, err := carol.ReviewAccess(ctx, []api.AccessCheck{{Verb: "list", Resource: "pods", Namespace: "default"}, {Verb: "get", Path: api.PathStatus}})
	if err != nil || len(checks) != 2 || checks[0].Allowed || !checks[1].Allowed {
		t.Fatalf("carol's review: %+v, %v", checks, err)
	}
	if _, err := carol.Pods(ctx, "default"); err == nil {
		t.Fatal("carol lists pods")
	}

	// A browser holding the admin's certificate: another site's form post
	// is refused before it syncs anything; the UI's own (same-origin)
	// request and ctl's (no browser headers) are served.
	certPEM, keyPEM, err := s.sec.m.CA.Issue(pki.Request{User: pki.AdminUser()})
	if err != nil {
		t.Fatal(err)
	}
	browser := httpsClient(t, s.sec.m.CA, pki.KeyPair{CertPEM: certPEM, KeyPEM: keyPEM})
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"cross-site form", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, http.StatusForbidden},
		{"cross-origin, no fetch metadata", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.APIURL()}, http.StatusAccepted},
		{"no browser headers", nil, http.StatusAccepted},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.APIURL()+api.PathSync, nil)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST /v1/sync with the admin's certificate, %s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// TestApplicationCommits: with verification on, the commits between the
// applied revision and a refused head are listed newest first with each
// one's signature verdict, the refused head marked and the refusal
// attached; the applications watch sends the refusal as a MODIFIED
// application without a view being published.
func TestApplicationCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	t.Parallel()
	f := newVerifyFixture(t)
	log, _ := testLogger(t)
	s := startServer(t, f.repo.Dir, t.TempDir(), log, verifyOpts(f, "all"))
	expectApplied(t, s, f.first)
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	l, err := cl.ApplicationCommits(ctx, "default")
	if err != nil || len(l.Commits) != 0 || l.Applied == nil || l.Applied.Hash != f.first || l.Head == nil || l.Head.Hash != f.first || l.Error != "" {
		t.Fatalf("commits with the head applied: %+v, %v", l, err)
	}
	w, err := cl.WatchFiltered(ctx, api.PathApplications, api.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == api.WatchBookmark {
			break
		}
	}

	byEve := f.repo.Commit(f.eve, "ns: a label", map[string]string{"ns.yaml": nsYAML + "  labels: {team: shop}\n"})
	byAlice := f.repo.Commit(f.alice, "top: a note", map[string]string{"NOTES": "hello\n"})
	res, err := s.SyncNow(ctx)
	if err != nil || res.Error == nil || res.Error.Stage != api.StageVerify {
		t.Fatalf("sync: %+v, %v; want a refusal at verify", res, err)
	}
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		var a api.Application
		if err := json.Unmarshal(ev.Object, &a); err != nil {
			t.Fatal(err)
		}
		if ev.Type == api.WatchModified && a.Name == "default" && a.LastError != nil {
			if a.Sync != api.SyncFailed || a.Fetched == nil || a.Fetched.Hash != byAlice {
				t.Errorf("watched application: %+v", a)
			}
			break
		}
	}

	l, err = cl.ApplicationCommits(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if l.Error != "" || l.Truncated || len(l.Commits) != 2 || l.Commits[0].Hash != byAlice || l.Commits[1].Hash != byEve || l.Head.Hash != byAlice {
		t.Fatalf("commits: %+v", l)
	}
	top, eve := l.Commits[0], l.Commits[1]
	if !top.Refused || eve.Refused || l.Refusal == nil || l.Refusal.Commit.Hash != byAlice || l.Refusal.Stage != api.StageVerify {
		t.Errorf("refusal: head refused %v, eve's %v, refusal %+v", top.Refused, eve.Refused, l.Refusal)
	}
	if top.Signature == nil || !top.Signature.Verified || top.Signature.Signer != "alice@example.com" || top.Signature.Key == "" {
		t.Errorf("alice's signature: %+v", top.Signature)
	}
	if eve.Signature == nil || eve.Signature.Verified || !strings.Contains(eve.Signature.Reason, "untrusted") || eve.Author != "eve" ||
		eve.Message != "ns: a label\n" || len(eve.Parents) != 1 || eve.Parents[0] != f.first {
		t.Errorf("eve's commit: %+v (signature %+v)", eve, eve.Signature)
	}
	if _, err := cl.ApplicationCommits(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `application "nope" not found`) {
		t.Errorf("commits of an unknown application: %v", err)
	}
}

// TestApplicationCommitsTruncated: without verification, a head that
// fails to load 101 commits after the applied one lists the newest 100,
// no signature verdicts, the head refused with its file and line; the
// commits that change nothing (empty ones) are not listed.
func TestApplicationCommitsTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	t.Parallel()
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	first := repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	expectApplied(t, s, first)
	for i := 1; i <= 100; i++ {
		repo.git("commit", "-q", "--allow-empty", "-m", "empty")
		repo.commit(fmt.Sprintf("notes %d", i), map[string]string{"NOTES": fmt.Sprintf("note %d\n", i)})
	}
	head := repo.commit("broken", map[string]string{"bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {bogus: 1}\n"})
	res, err := s.SyncNow(context.Background())
	if err != nil || res.Error == nil {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	cl, _ := api.NewClient(s.APIURL(), nil)
	l, err := cl.ApplicationCommits(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	if !l.Truncated || len(l.Commits) != api.MaxPendingCommits || l.Commits[0].Hash != head || !l.Commits[0].Refused || l.Commits[0].Signature != nil ||
		l.Commits[1].Message != "notes 100\n" || l.Commits[1].Refused || l.Commits[99].Message != "notes 2\n" {
		t.Fatalf("commits: truncated %v, %d commits, first %+v", l.Truncated, len(l.Commits), l.Commits[0])
	}
	if l.Refusal == nil || len(l.Refusal.Entries) == 0 || l.Refusal.Entries[0].File != "bad.yaml" || l.Refusal.Entries[0].Line == 0 {
		t.Errorf("refusal: %+v", l.Refusal)
	}
}

func TestCommitURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ repo, want string }{
		{"https://github.com/acme/config.git", "https://github.com/acme/config/commit/{hash}"},
		{"https://user:secret@github.com/acme/config", "https://github.com/acme/config/commit/{hash}"},
		{"git@github.com:acme/config.git", "https://github.com/acme/config/commit/{hash}"},
		{"ssh://git@gitlab.com/group/sub/config.git", "https://gitlab.com/group/sub/config/-/commit/{hash}"},
		{"https://gitlab.example.com/ops/config", "https://gitlab.example.com/ops/config/-/commit/{hash}"},
		{"https://codeberg.org/acme/config.git/", "https://codeberg.org/acme/config/commit/{hash}"},
		{"https://git.example.com/acme/config", ""},
		{"https://github.com/acme", ""},
		{"file:///srv/git/config", ""},
		{"/srv/git/config.git", ""},
	} {
		if got := forgeCommitURL(tc.repo); got != tc.want {
			t.Errorf("forgeCommitURL(%q) = %q, want %q", tc.repo, got, tc.want)
		}
		if strings.Contains(forgeCommitURL(tc.repo), "secret") {
			t.Errorf("%q: the link holds the credentials", tc.repo)
		}
	}
	s := &Server{cfg: Config{CommitURL: "https://git.example.com/{repo}/commit/{hash}"}}
	annotated := &spec.Application{ObjectMeta: spec.ObjectMeta{Name: "x", Annotations: map[string]string{AnnotationCommitURL: "https://x/{hash}"}}}
	plain := &spec.Application{ObjectMeta: spec.ObjectMeta{Name: "y"}}
	for _, tc := range []struct {
		app  string
		decl *spec.Application
		repo string
		want string
	}{
		{"", nil, "https://git.example.com/ops/config.git", "https://git.example.com/ops/config/commit/{hash}"},
		{"y", plain, "ssh://git@git.example.com/team/app", "https://git.example.com/team/app/commit/{hash}"},
		{"x", annotated, "https://github.com/a/b", "https://x/{hash}"},
	} {
		if got := s.commitURL(tc.app, tc.decl, tc.repo); got != tc.want {
			t.Errorf("commitURL(%q, %q) = %q, want %q", tc.app, tc.repo, got, tc.want)
		}
	}
	// Without {repo} the flag is the bootstrap application's only.
	s.cfg.CommitURL = "https://git.example.com/ops/config/commit/{hash}"
	if got := s.commitURL("y", plain, "https://github.com/a/b"); got != "https://github.com/a/b/commit/{hash}" {
		t.Errorf("another application's link: %q", got)
	}
}
