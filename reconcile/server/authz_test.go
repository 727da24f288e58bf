package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// rbacRepoYAML: namespaces a and b; alice may view a; the dev group may
// exec in b.
const rbacRepoYAML = `apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-view, namespace: a}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: User, name: alice@example.com}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: exec, namespace: b}
rules:
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-exec, namespace: b}
roleRef: {kind: Role, name: exec}
subjects: [{kind: Group, name: dev}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: syncer}
rules:
- apiGroups: [stevedore.dev]
  resources: [applications/sync]
  resourceNames: [default]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-sync}
roleRef: {kind: ClusterRole, name: syncer}
subjects: [{kind: User, name: ci}]
`

// serveAs sends one request through s.Handler() as u (nil: no user, as
// with Security disabled) and returns the status and body.
func serveAs(h http.Handler, u *policy.User, method, target, body string) (int, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if u != nil {
		req = req.WithContext(withUser(req.Context(), *u))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	// A JSON error escapes the quotes of the names it quotes.
	return rec.Code, strings.ReplaceAll(rec.Body.String(), `\"`, `"`)
}

// TestRBACThroughTheAPI: a user bound to view in namespace a may list and
// get pods in a, is refused logs in b, exec anywhere, sync, and a list
// across every namespace; the refusal is a 403 naming the user, verb,
// resource and namespace. RBAC comes from the applied revision.
func TestRBACThroughTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("rbac", map[string]string{"rbac.yaml": rbacRepoYAML, "web.yaml": strings.ReplaceAll(deploymentYAML(1, "registry.local/hello:1"), "namespace: shop", "namespace: a")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 15*time.Second, "the revision applied", func() bool {
		set := s.store.publishedSet()
		return set != nil && set.Objects[spec.ObjectKey{Kind: spec.KindRoleBinding, Namespace: "a", Name: "alice-view"}] != nil && s.IsLeader()
	})
	h := s.Handler()
	alice := &policy.User{Name: "alice@example.com"}
	bob := &policy.User{Name: "bob", Groups: []string{"dev"}}
	admin := &policy.User{Name: policy.UserAdmin, Groups: []string{policy.GroupMasters}}
	ci := &policy.User{Name: "ci"}
	node := &policy.User{Name: policy.NodeUserPrefix + "n1", Groups: []string{policy.GroupNodes}}
	monitor := &policy.User{Name: "prometheus", Groups: []string{policy.GroupMonitoring}}

	for _, tc := range []struct {
		name           string
		u              *policy.User
		method, target string
		body           string
		want           int    // 0: anything but 403
		msg            string // in a 403's body
	}{
		{"view lists pods in a", alice, "GET", "/v1/pods?namespace=a", "", http.StatusOK, ""},
		{"view gets a pod in a", alice, "GET", "/v1/pods/a/nope", "", http.StatusNotFound, ""},
		{"view reads logs in a", alice, "GET", "/v1/logs?namespace=a&pod=nope", "", 0, ""},
		{"view watches deployments in a", alice, "GET", "/v1/deployments?namespace=a&watch=0", "", http.StatusOK, ""},
		{"logs in b", alice, "GET", "/v1/logs?namespace=b&pod=web-1", "", http.StatusForbidden,
			`no RBAC rule allows user alice@example.com to get pods/log "web-1" in namespace b`},
		{"exec in a", alice, "POST", "/v1/exec?namespace=a&pod=web-1&command=sh", "", http.StatusForbidden, "to create pods/exec"},
		{"sync", alice, "POST", "/v1/sync", "", http.StatusForbidden, "to create applications/sync.stevedore.dev"},
		{"pods of every namespace", alice, "GET", "/v1/pods", "", http.StatusForbidden, "list pods in all namespaces"},
		{"secrets in a", alice, "GET", "/v1/secrets?namespace=a", "", http.StatusForbidden, "list secrets in namespace a"},
		{"delete a pod in a", alice, "DELETE", "/v1/pods/a/web-1", "", http.StatusForbidden, "delete pods"},
		{"cordon", alice, "POST", "/v1/nodes/n1/cordon", "", http.StatusForbidden, "patch nodes \"n1\""},
		{"create a job in a (namespace from the body)", alice, "POST", "/v1/jobs", `{"namespace":"a","name":"j","from":"cronjob/c"}`, http.StatusForbidden, "create jobs.batch \"j\" in namespace a"},
		{"create a token", alice, "POST", "/v1/tokens", `{"user":"alice@example.com","groups":["system:masters"]}`, http.StatusForbidden, "create tokens.stevedore.dev"},
		{"metrics", alice, "GET", "/metrics", "", http.StatusForbidden, "get /metrics"},
		{"the group may exec in b", bob, "POST", "/v1/exec?namespace=b&pod=nope&command=sh", "", 0, ""},
		{"the group may not exec in a", bob, "POST", "/v1/exec?namespace=a&pod=nope&command=sh", "", http.StatusForbidden, "user bob (groups dev)"},
		{"admin lists every pod", admin, "GET", "/v1/pods", "", http.StatusOK, ""},
		{"admin lists tokens", admin, "GET", "/v1/tokens", "", http.StatusOK, ""},
		{"no user: authorization is not asked (Security disabled)", nil, "GET", "/v1/pods", "", http.StatusOK, ""},
		// Hostile requests.
		{"a namespace with a slash in the path", alice, "GET", "/v1/pods/a%2Fx/y", "", http.StatusForbidden, `get pods "y" in namespace a/x`},
		{"a job body over the bound", admin, "POST", "/v1/jobs", `{"namespace":"a","name":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
		{"a job body that is not JSON", alice, "POST", "/v1/jobs", `{"namespace":`, http.StatusBadRequest, "failed to decode"},
		{"the body reaches the handler after authorization", admin, "POST", "/v1/jobs", `{"namespace":"a","name":"j","from":"cronjob/nope"}`, http.StatusNotFound, "nope"},
		{"resourceNames name the bootstrap application when ?app= is absent", ci, "POST", "/v1/sync", "", http.StatusAccepted, ""},
		{"resourceNames: another application", ci, "POST", "/v1/sync?app=other", "", http.StatusForbidden, `applications/sync.stevedore.dev "other"`},
		{"a node asks for a lease for another node", node, "PUT", "/v1/leases/a/l", `{"holderIdentity":"web-1","node":"n2"}`, http.StatusForbidden, "system:node:n1 may only ask on behalf of its own pods"},
		{"a node asks for a lease naming no node", node, "PUT", "/v1/leases/a/l", `{"holderIdentity":"web-1"}`, http.StatusForbidden, "on behalf of its own pods"},
		{"a node asks for a lease for itself: the holder is checked next", node, "PUT", "/v1/leases/a/l", `{"holderIdentity":"web-1","node":"n1"}`, http.StatusForbidden, "which is not placed on it"},
		{"a node may not delete leases", node, "DELETE", "/v1/leases/a/l", "", http.StatusForbidden, "delete leases"},
		{"top pods of a", alice, "GET", "/v1/top/pods?namespace=a", "", 0, ""},
		{"top pods: ?all=1 is every namespace whatever ?namespace= says", alice, "GET", "/v1/top/pods?namespace=a&all=1", "", http.StatusForbidden, "list pods.metrics.k8s.io in all namespaces"},
		{"top pods: no namespace is default", alice, "GET", "/v1/top/pods", "", http.StatusForbidden, "in namespace default"},
		{"a monitoring certificate reads /metrics", monitor, "GET", "/metrics", "", http.StatusOK, "go_goroutines"},
		{"a monitoring certificate lists no pods", monitor, "GET", "/v1/pods?namespace=a", "", http.StatusForbidden, "list pods"},
		{"anyone authenticated reads the status", alice, "GET", "/v1/status", "", http.StatusOK, "applied"},
		{"a node may not list pods", node, "GET", "/v1/pods?namespace=a", "", http.StatusForbidden, "list pods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := serveAs(h, tc.u, tc.method, tc.target, tc.body)
			switch {
			case tc.want == 0 && code == http.StatusForbidden:
				t.Fatalf("%s %s: 403 %s", tc.method, tc.target, body)
			case tc.want != 0 && code != tc.want:
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.target, code, body, tc.want)
			case !strings.Contains(body, tc.msg):
				t.Fatalf("%s %s: body %s, want it to contain %q", tc.method, tc.target, body, tc.msg)
			}
		})
	}

	// A new revision that binds alice to edit in b is authorized from as
	// soon as it is applied.
	repo.commit("alice edits b", map[string]string{"more.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-edit, namespace: b}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: User, name: alice@example.com}]
`})
	cl, _ := api.NewClient(s.APIURL(), nil)
	if _, err := cl.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if code, body := serveAs(h, alice, "POST", "/v1/exec?namespace=b&pod=nope&command=sh", ""); code == http.StatusForbidden {
		t.Fatalf("exec in b after the binding: 403 %s", body)
	}
}

// TestEveryRouteIsAuthorized walks every pattern Handler registered: each
// is public or has an authorization mapping, so a route added later cannot
// skip RBAC; a pattern without one is refused to every user.
func TestEveryRouteIsAuthorized(t *testing.T) {
	s := &Server{store: newStore(), log: slog.Default()}
	s.metrics = newServerMetrics(s)
	_ = s.Handler()
	patterns := s.routes.list()
	if len(patterns) < 40 {
		t.Fatalf("only %d routes recorded: %v", len(patterns), patterns)
	}
	for _, p := range patterns {
		if _, ok := routeAttrs[p]; !ok && !publicRoutes[p] {
			t.Errorf("route %q has no authorization mapping (authz.go routeAttrs) and is not public", p)
		}
	}
	for p := range routeAttrs {
		found := false
		for _, q := range patterns {
			found = found || q == p
		}
		if !found {
			t.Errorf("routeAttrs maps %q, which Handler does not register", p)
		}
	}
	h := s.authorizeRoute("GET /v1/new-thing", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	admin := &policy.User{Name: policy.UserAdmin, Groups: []string{policy.GroupMasters}}
	if code, body := serveAs(h, admin, "GET", "/v1/new-thing", ""); code != http.StatusForbidden || !strings.Contains(body, "no authorization mapping") {
		t.Fatalf("unmapped route: %d %s", code, body)
	}
}
