package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// TestAuthorizeChanges checks a revision's changes for its approvers (as
// verification would report them) under the applied revision's RBAC: alice
// may view a and exec in nothing; dev may edit b. A change in b approved by
// a dev is allowed; one in a, or a binding that grants alice more, is
// refused naming the file, object, user and missing permission; a
// revision cannot grant itself the rights it uses.
func TestAuthorizeChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	base := map[string]string{
		"rbac.yaml": rbacRepoYAML + `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-edit, namespace: b}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: Group, name: dev}]
`,
		"b/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: b}\ndata: {k: v1}\n",
		"a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\ndata: {k: v1}\n",
	}
	repo.commit("base", base)
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 15*time.Second, "the revision applied", func() bool {
		applied, _ := s.store.appRevision("")
		return applied != nil && s.store.publishedSet() != nil
	})
	applied, _ := s.store.appRevision("")
	alice := policy.User{Name: "alice@example.com"}
	bob := policy.User{Name: "bob@example.com", Groups: []string{"dev"}}
	root := policy.User{Name: "root@example.com", Groups: []string{policy.GroupMasters}}

	check := func(edit map[string]string, approvers map[string][]policy.User) *api.SyncError {
		files := map[string][]byte{}
		for k, v := range base {
			files[k] = []byte(v)
		}
		for k, v := range edit {
			if v == "" {
				delete(files, k)
			} else {
				files[k] = []byte(v)
			}
		}
		set, err := spec.Load(files)
		if err != nil {
			t.Fatal(err)
		}
		rev := &source.Revision{Commit: strings.Repeat("e", 40), Files: files}
		return s.checkRevision(context.Background(), "", rev, applied, set, &verifyOutcome{Approvers: approvers})
	}
	cmB2 := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: b}\ndata: {k: v2}\n"
	cmA2 := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\ndata: {k: v2}\n"
	grant := `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-edit, namespace: a}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: User, name: alice@example.com}]
`
	if serr := check(map[string]string{"b/cm.yaml": cmB2}, map[string][]policy.User{"b/cm.yaml": {bob}}); serr != nil {
		t.Fatalf("dev edits b: %+v", serr)
	}
	if serr := check(map[string]string{"b/cm.yaml": cmB2}, nil); serr != nil {
		t.Fatalf("verification off: %+v", serr)
	}
	serr := check(map[string]string{"a/cm.yaml": cmA2}, map[string][]policy.User{"a/cm.yaml": {alice, bob}})
	if serr == nil || serr.Stage != api.StagePolicy || len(serr.Entries) != 1 {
		t.Fatalf("edits of a: %+v", serr)
	}
	e := serr.Entries[0]
	for _, want := range []string{"a/cm.yaml:1: ConfigMap a/c", "no RBAC rule allows user alice@example.com to update configmaps \"c\" in namespace a",
		"no RBAC rule allows user bob@example.com (groups dev) to update configmaps"} {
		if !strings.Contains(serr.Message, want) {
			t.Errorf("message %q lacks %q", serr.Message, want)
		}
	}
	if e.File != "a/cm.yaml" || e.Line != 1 || e.Object != "ConfigMap a/c" {
		t.Errorf("entry = %+v", e)
	}
	// A commit that grants alice edit in a and uses it at once: both
	// refused (the binding is checked under the applied RBAC, where she
	// may not write RoleBindings).
	serr = check(map[string]string{"a/cm.yaml": cmA2, "grant.yaml": grant}, map[string][]policy.User{"a/cm.yaml": {alice}, "grant.yaml": {alice}})
	if serr == nil || len(serr.Entries) != 2 || !strings.Contains(serr.Message, "2 changes not allowed") {
		t.Fatalf("self-grant: %+v", serr)
	}
	// A dev (edit in b) may not bind edit in b either: edit has no
	// rolebindings.
	if serr := check(map[string]string{"grant.yaml": strings.Replace(grant, "namespace: a", "namespace: b", 1)},
		map[string][]policy.User{"grant.yaml": {bob}}); serr == nil || !strings.Contains(serr.Message, "create rolebindings.rbac.authorization.k8s.io") {
		t.Fatalf("dev binds: %+v", serr)
	}
	// Deleting a's ConfigMap is a change of its old file.
	serr = check(map[string]string{"a/cm.yaml": ""}, map[string][]policy.User{"a/cm.yaml": {bob}})
	if serr == nil || serr.Entries[0].File != "a/cm.yaml" || !strings.Contains(serr.Message, "delete configmaps") {
		t.Fatalf("delete in a: %+v", serr)
	}
	// An admin may do all of it.
	if serr := check(map[string]string{"a/cm.yaml": cmA2, "grant.yaml": grant}, map[string][]policy.User{"a/cm.yaml": {root}, "grant.yaml": {root}}); serr != nil {
		t.Fatalf("masters: %+v", serr)
	}
}
