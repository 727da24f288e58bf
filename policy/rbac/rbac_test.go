package rbac

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/spec"
)

// load loads a repository's manifests (real YAML through spec.Load).
func load(t *testing.T, files map[string]string) *spec.Set {
	t.Helper()
	m := map[string][]byte{"ns.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")}
	for k, v := range files {
		m[k] = []byte(v)
	}
	set, err := spec.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const repoRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-view, namespace: a}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: User, name: alice@example.com}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web-logs, namespace: b}
rules:
- apiGroups: [""]
  resources: [pods/log]
  resourceNames: [web-1]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-logs, namespace: b}
roleRef: {kind: Role, name: web-logs}
subjects: [{kind: Group, name: dev}, {kind: ServiceAccount, name: ci}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scraper}
rules:
- nonResourceURLs: [/metrics, /v1/*]
  verbs: [get]
- apiGroups: ["*"]
  resources: ["*/log"]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: scrapers}
roleRef: {kind: ClusterRole, name: scraper}
subjects: [{kind: ServiceAccount, name: prom, namespace: a}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: missing-role}
roleRef: {kind: ClusterRole, name: does-not-exist}
subjects: [{kind: Group, name: system:authenticated}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules: []
`

func TestAuthorize(t *testing.T) {
	az := FromSets(load(t, map[string]string{"rbac.yaml": repoRBAC}))
	alice := policy.User{Name: "alice@example.com"}
	dev := policy.User{Name: "bob", Groups: []string{"dev"}}
	ci := policy.User{Name: "system:serviceaccount:b:ci"}
	prom := policy.User{Name: "system:serviceaccount:a:prom"}
	admin := policy.User{Name: "admin", Groups: []string{policy.GroupMasters}}
	node := policy.User{Name: "system:node:n1", Groups: []string{policy.GroupNodes}}
	rec := policy.User{Name: "system:reconciler:r2", Groups: []string{policy.GroupReconcilers}}
	pods := func(verb, ns string) policy.Attributes {
		return policy.Attributes{Verb: verb, Resource: "pods", Namespace: ns}
	}
	logs := func(ns, name string) policy.Attributes {
		return policy.Attributes{Verb: "get", Resource: "pods", Subresource: "log", Namespace: ns, Name: name}
	}
	for _, tc := range []struct {
		name   string
		u      policy.User
		at     policy.Attributes
		allow  bool
		reason string
	}{
		{"view allows get pods in its namespace", alice, pods("get", "a"), true, "RoleBinding a/alice-view (ClusterRole view)"},
		{"view allows list in its namespace", alice, pods("list", "a"), true, "alice-view"},
		{"view does not reach another namespace", alice, pods("get", "b"), false, "no RBAC rule allows user alice@example.com to get pods in namespace b"},
		{"a RoleBinding does not grant all namespaces", alice, pods("list", ""), false, "list pods in all namespaces"},
		{"view allows logs (as Kubernetes' view)", alice, logs("a", "x"), true, "alice-view"},
		{"view refuses logs in b", alice, logs("b", "x"), false, "get pods/log \"x\" in namespace b"},
		{"view refuses exec", alice, policy.Attributes{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "a", Name: "x"}, false, "create pods/exec"},
		{"view refuses secrets", alice, policy.Attributes{Verb: "list", Resource: "secrets", Namespace: "a"}, false, "list secrets"},
		{"view refuses deleting pods", alice, pods("delete", "a"), false, "delete pods"},
		{"resourceNames: the named pod", dev, logs("b", "web-1"), true, "RoleBinding b/dev-logs (Role web-logs)"},
		{"resourceNames: another pod", dev, logs("b", "web-2"), false, ""},
		{"resourceNames: a list names none", dev, policy.Attributes{Verb: "list", Resource: "pods", Subresource: "log", Namespace: "b"}, false, ""},
		{"pods/log does not grant pods", dev, pods("get", "b"), false, ""},
		{"service account subject, namespace of the binding", ci, logs("b", "web-1"), true, "dev-logs"},
		{"service account of another namespace", policy.User{Name: "system:serviceaccount:a:ci"}, logs("b", "web-1"), false, ""},
		{"non-resource URL exact", prom, policy.Attributes{Verb: "get", NonResourcePath: "/metrics"}, true, "ClusterRoleBinding scrapers"},
		{"non-resource URL prefix", prom, policy.Attributes{Verb: "get", NonResourcePath: "/v1/status"}, true, ""},
		{"non-resource URL other", prom, policy.Attributes{Verb: "get", NonResourcePath: "/healthz"}, false, "get /healthz"},
		{"non-resource URL verb", prom, policy.Attributes{Verb: "post", NonResourcePath: "/metrics"}, false, ""},
		{"*/log in every group and namespace", prom, logs("b", "x"), true, ""},
		{"*/log is not exec", prom, policy.Attributes{Verb: "get", Resource: "pods", Subresource: "exec", Namespace: "b"}, false, ""},
		{"binding to a missing role grants nothing", policy.User{Name: "eve"}, pods("get", "a"), false, ""},
		{"masters: everything, the repository cannot empty cluster-admin", admin, policy.Attributes{Verb: "create", APIGroup: "stevedore.dev", Resource: "tokens"}, true, "ClusterRoleBinding cluster-admin"},
		{"masters: non-resource", admin, policy.Attributes{Verb: "get", NonResourcePath: "/metrics"}, true, ""},
		{"reconcilers: everything", rec, policy.Attributes{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "b"}, true, "stevedore:reconciler"},
		{"nodes: update leases", node, policy.Attributes{Verb: "update", APIGroup: "coordination.k8s.io", Resource: "leases", Namespace: "a", Name: "l"}, true, "stevedore:node"},
		{"nodes: not pods", node, pods("list", ""), false, ""},
		{"nodes: not delete leases", node, policy.Attributes{Verb: "delete", APIGroup: "coordination.k8s.io", Resource: "leases", Namespace: "a", Name: "l"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := az.Authorize(tc.u, tc.at)
			if ok != tc.allow || !strings.Contains(reason, tc.reason) {
				t.Fatalf("Authorize(%v, %+v) = %v, %q; want %v, containing %q", tc.u, tc.at, ok, reason, tc.allow, tc.reason)
			}
		})
	}
}

func TestRuleAllowsWildcards(t *testing.T) {
	r := spec.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}
	for _, at := range []policy.Attributes{
		{Verb: "get", Resource: "pods"},
		{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "x"},
		{Verb: "sync", APIGroup: "stevedore.dev", Resource: "applications"},
	} {
		if !RuleAllows(&r, at) {
			t.Errorf("* rule refuses %+v", at)
		}
	}
	if RuleAllows(&r, policy.Attributes{Verb: "get", NonResourcePath: "/metrics"}) {
		t.Error("a resource rule allows a non-resource URL")
	}
}

func TestResource(t *testing.T) {
	for _, tc := range [][4]string{
		{"apps/v1", "Deployment", "apps", "deployments"},
		{"v1", "Pod", "", "pods"},
		{"storage.k8s.io/v1", "StorageClass", "storage.k8s.io", "storageclasses"},
		{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "rbac.authorization.k8s.io", "clusterrolebindings"},
		{"stevedore.dev/v1alpha1", "Application", "stevedore.dev", "applications"},
		{"batch/v1", "CronJob", "batch", "cronjobs"},
	} {
		g, r := Resource(tc[0], tc[1])
		if g != tc[2] || r != tc[3] {
			t.Errorf("Resource(%s, %s) = %s, %s", tc[0], tc[1], g, r)
		}
	}
}
