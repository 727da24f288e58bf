package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

const gitRBACBindings = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: platform-admins
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: User
  name: alice@example.com
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: shop-editors
  namespace: shop
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: edit
subjects:
- kind: User
  name: bob@example.com
`

// TestGitRBACWithVerification runs the whole chain with real keys: the
// signer approved by OWNERS must also be allowed by the applied RBAC. bob,
// an OWNERS approver of every directory but bound to edit in shop only,
// may change shop, is refused a Deployment in another namespace and a
// binding that would make him admin (escalation), and each refusal keeps
// the last approved revision.
func TestGitRBACWithVerification(t *testing.T) {
	f := newVerifyFixture(t)
	r := f.repo
	// bob approves everything by OWNERS; RBAC alone stops him.
	first := r.Commit(f.alice, "rbac", map[string]string{
		"OWNERS":        "approvers:\n- alice@example.com\n- bob@example.com\n",
		"other/ns.yaml": strings.ReplaceAll(nsYAML, "shop", "other"),
		"rbac.yaml":     gitRBACBindings,
	})
	log, _ := testLogger(t)
	s := startServer(t, r.Dir, t.TempDir(), log, verifyOpts(f, "all"))
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	expectApplied(t, s, first)

	refused := func(applied string, want ...string) {
		t.Helper()
		res, err := s.SyncNow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Error == nil || res.Applied || res.Error.Stage != api.StagePolicy {
			t.Fatalf("sync: %+v (error %+v), want a refusal at stage policy", res, res.Error)
		}
		for _, w := range want {
			if !strings.Contains(res.Error.Message, w) {
				t.Errorf("refusal %q does not say %q", res.Error.Message, w)
			}
		}
		st, err := cl.Status(context.Background())
		if err != nil || st.Applied == nil || st.Applied.Hash != applied || st.LastError == nil || st.LastError.Stage != api.StagePolicy {
			t.Fatalf("status %+v, %v: want %s applied and the refusal", st, err, short(applied))
		}
		r.Git(nil, "reset", "-q", "--hard", applied)
	}

	// In shop, edit allows bob to change a Deployment.
	ok := r.Commit(f.bob, "shop: 2 replicas", map[string]string{"shop/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	expectApplied(t, s, ok)

	// In other, nothing binds him.
	r.Commit(f.bob, "other: web", map[string]string{"other/web.yaml": strings.ReplaceAll(deploymentYAML(1, "registry.local/hello:1"), "namespace: shop", "namespace: other")})
	refused(ok, "other/web.yaml:1", "bob@example.com", `create deployments.apps "web" in namespace other`)

	// Binding himself admin in shop: edit holds neither bind nor every
	// permission of admin.
	r.Commit(f.bob, "shop: bob admin", map[string]string{"shop/bob.yaml": strings.NewReplacer("shop-editors", "bob-admin", "name: edit", "name: admin").Replace(gitRBACBindings[strings.Index(gitRBACBindings, "---\n")+4:])})
	refused(ok, "shop/bob.yaml", "bob@example.com", "rolebindings")

	// alice, cluster-admin, may do both.
	r.Commit(f.alice, "other: web", map[string]string{"other/web.yaml": strings.ReplaceAll(deploymentYAML(1, "registry.local/hello:1"), "namespace: shop", "namespace: other")})
	done := r.Commit(f.alice, "shop: bob admin", map[string]string{"shop/bob.yaml": strings.NewReplacer("shop-editors", "bob-admin", "name: edit", "name: admin").Replace(gitRBACBindings[strings.Index(gitRBACBindings, "---\n")+4:])})
	expectApplied(t, s, done)
}

// TestVerifyRepointedSourceKeepsAppliedOwners: an application re-pointed
// at another path is verified from the new source's tip, but the OWNERS of
// the applied revision still decide (found by review: the new path's own
// OWNERS used to, so whoever wrote them approved its content).
func TestVerifyRepointedSourceKeepsAppliedOwners(t *testing.T) {
	f := newVerifyFixture(t)
	r := f.repo
	first := r.Commit(f.alice, "alt, owned by mallory", map[string]string{
		"alt/OWNERS":   "approvers:\n- mallory@example.com\n",
		"alt/ns.yaml":  strings.ReplaceAll(nsYAML, "shop", "alt"),
		"alt/web.yaml": strings.ReplaceAll(deploymentYAML(1, "registry.local/hello:1"), "namespace: shop", "namespace: alt"),
	})
	log, _ := testLogger(t)
	dir := t.TempDir()
	s := startServer(t, r.Dir, dir, log, verifyOpts(f, "all"))
	expectApplied(t, s, first)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad := r.Commit(f.mallory, "alt: 5 replicas", map[string]string{"alt/web.yaml": strings.ReplaceAll(deploymentYAML(5, "registry.local/hello:1"), "namespace: shop", "namespace: alt")})
	s = startServer(t, r.Dir, dir, log, verifyOpts(f, "all"), func(c *Config) { c.Source.Path = "alt" })
	waitFor(t, 10*time.Second, "leadership", s.IsLeader)
	res, err := s.SyncNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Applied || res.Error.Stage != api.StageVerify || !strings.Contains(res.Error.Message, short(bad)) ||
		!strings.Contains(res.Error.Message, "not approved") {
		t.Fatalf("sync after re-pointing: %+v (error %+v), want %s refused: mallory owns alt/ only in the new path's OWNERS", res, res.Error, short(bad))
	}
}
