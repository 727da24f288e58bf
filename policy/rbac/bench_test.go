package rbac

import (
	"fmt"
	"testing"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/spec"
)

// manyBindings is a cluster of n namespaces, each with a Role and a
// RoleBinding for its team, and n ClusterRoleBindings of view to
// other users.
func manyBindings(n int) []spec.Object {
	var out []spec.Object
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns-%d", i)
		out = append(out,
			&spec.Role{TypeMeta: spec.TypeMeta{Kind: spec.KindRole}, ObjectMeta: spec.ObjectMeta{Name: "team", Namespace: ns},
				Rules: []spec.PolicyRule{{APIGroups: []string{"", "apps"}, Resources: []string{"pods", "pods/log", "deployments"}, Verbs: []string{"get", "list", "update"}}}},
			&spec.RoleBinding{TypeMeta: spec.TypeMeta{Kind: spec.KindRoleBinding}, ObjectMeta: spec.ObjectMeta{Name: "team", Namespace: ns},
				RoleRef:  spec.RoleRef{Kind: spec.KindRole, Name: "team"},
				Subjects: []spec.Subject{{Kind: spec.SubjectGroup, Name: "team-" + ns}}},
			&spec.ClusterRoleBinding{TypeMeta: spec.TypeMeta{Kind: spec.KindClusterRoleBinding}, ObjectMeta: spec.ObjectMeta{Name: "view-" + ns},
				RoleRef:  spec.RoleRef{Kind: spec.KindClusterRole, Name: RoleView},
				Subjects: []spec.Subject{{Kind: spec.SubjectUser, Name: "auditor-" + ns}}},
		)
	}
	return out
}

// BenchmarkAuthorize: one decision among 1,000 namespaces' bindings and
// 1,000 cluster-wide ones, allowed (a RoleBinding) and refused (every
// binding looked at).
func BenchmarkAuthorize(b *testing.B) {
	az := New(manyBindings(1000)...)
	u := policy.User{Name: "dev", Groups: []string{"team-ns-500"}}
	allowed := policy.Attributes{Verb: "get", Resource: "pods", Subresource: "log", Namespace: "ns-500", Name: "web-1"}
	refused := policy.Attributes{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "ns-500", Name: "web-1"}
	b.Run("allowed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if ok, _ := az.Authorize(u, allowed); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if ok, _ := az.Authorize(u, refused); ok {
				b.Fatal("allowed")
			}
		}
	})
}

// BenchmarkNew: building the Authorizer of 3,000 RBAC objects, as a new
// revision costs once.
func BenchmarkNew(b *testing.B) {
	objs := manyBindings(1000)
	for i := 0; i < b.N; i++ {
		New(objs...)
	}
}

// BenchmarkCheckChanges: the RBAC check of a revision that creates 10,000
// ConfigMaps in one namespace, approved by a namespace editor, against
// 3,000 RBAC objects.
func BenchmarkCheckChanges(b *testing.B) {
	objs := manyBindings(1000)
	az := New(objs...)
	next := spec.NewSet()
	for i := 0; i < 10000; i++ {
		o := &spec.ConfigMap{TypeMeta: spec.TypeMeta{APIVersion: "v1", Kind: spec.KindConfigMap},
			ObjectMeta: spec.ObjectMeta{Name: fmt.Sprintf("c%d", i), Namespace: "ns-7"}}
		k := spec.KeyOf(o)
		next.Objects[k], next.Sources[k] = o, spec.Source{File: "cms.yaml", Line: i*5 + 1}
	}
	u := policy.User{Name: "dev", Groups: []string{"team-ns-7"}}
	approvers := map[string][]policy.User{"cms.yaml": {u}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		changes := Changes(nil, next)
		if r := CheckChanges(az, next, changes, approvers); len(r) != 10000 {
			b.Fatalf("%d refused", len(r))
		}
	}
}
