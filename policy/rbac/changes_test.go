package rbac

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
)

const teamRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-a, namespace: a}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: User, name: alice@example.com}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-a-admin, namespace: a}
roleRef: {kind: ClusterRole, name: admin}
subjects: [{kind: User, name: carol@example.com}]
`

const cmA = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\ndata: {k: v1}\n"
const cmB = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: b}\ndata: {k: v1}\n"

func TestChanges(t *testing.T) {
	prev := load(t, map[string]string{"a.yaml": cmA, "b.yaml": cmB})
	next := load(t, map[string]string{"a.yaml": strings.Replace(cmA, "v1}", "v2}", 1), "c.yaml": strings.Replace(cmA, "name: c,", "name: d,", 1)})
	var got []string
	for _, c := range Changes(prev, next) {
		got = append(got, c.Attrs.Verb+" "+c.Kind+" "+c.Attrs.Namespace+"/"+c.Attrs.Name+" "+c.File)
	}
	// ns.yaml is the same in both: its Namespaces are not changes.
	want := "update ConfigMap a/c a.yaml|delete ConfigMap b/c b.yaml|create ConfigMap a/d c.yaml"
	if strings.Join(got, "|") != want {
		t.Fatalf("Changes:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if n := len(Changes(prev, prev)); n != 0 {
		t.Fatalf("a set against itself: %d changes", n)
	}
	if n := len(Changes(nil, prev)); n != len(prev.Objects) {
		t.Fatalf("first revision: %d changes for %d objects", n, len(prev.Objects))
	}
}

func TestCheckChanges(t *testing.T) {
	applied := load(t, map[string]string{"rbac.yaml": teamRBAC, "a.yaml": cmA, "b.yaml": cmB})
	// Another application's roles: the authorizer holds them, this
	// application's revisions do not.
	platform := load(t, map[string]string{"platform.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: platform-operator}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: a}
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list"]
`})
	az := FromSets(applied, platform)
	alice := policy.User{Name: "alice@example.com"}
	carol := policy.User{Name: "carol@example.com"}
	admin := policy.User{Name: "root@example.com", Groups: []string{policy.GroupMasters}}
	grantSelf := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: me}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: alice@example.com}]
`
	bindEditInA := `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dave, namespace: a}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: User, name: dave@example.com}]
`
	roleTooBig := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: big, namespace: a}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
`
	for _, tc := range []struct {
		name      string
		files     map[string]string
		approvers map[string][]policy.User
		refused   []string // substrings, one per refusal
	}{
		{"edit may change a ConfigMap in its namespace",
			map[string]string{"a.yaml": strings.Replace(cmA, "v1}", "v2}", 1)},
			map[string][]policy.User{"a.yaml": {alice}}, nil},
		{"edit may not change namespace b",
			map[string]string{"b.yaml": strings.Replace(cmB, "v1}", "v2}", 1)},
			map[string][]policy.User{"b.yaml": {alice}},
			[]string{"b.yaml:1: ConfigMap b/c: no approver of b.yaml may update it: no RBAC rule allows user alice@example.com to update configmaps \"c\" in namespace b"}},
		{"one allowed approver of several is enough",
			map[string]string{"b.yaml": strings.Replace(cmB, "v1}", "v2}", 1)},
			map[string][]policy.User{"b.yaml": {alice, admin}}, nil},
		{"a file nobody approved",
			map[string]string{"b.yaml": strings.Replace(cmB, "v1}", "v2}", 1)},
			map[string][]policy.User{}, []string{"no approver of b.yaml: cannot update it"}},
		{"deleting needs delete",
			map[string]string{"b.yaml": "# gone\n"},
			map[string][]policy.User{"b.yaml": {alice}}, []string{"delete configmaps \"c\" in namespace b"}},
		{"a commit cannot grant itself cluster-admin",
			map[string]string{"me.yaml": grantSelf},
			map[string][]policy.User{"me.yaml": {alice}}, []string{"create clusterrolebindings.rbac.authorization.k8s.io \"me\""}},
		{"edit cannot write RoleBindings",
			map[string]string{"dave.yaml": bindEditInA},
			map[string][]policy.User{"dave.yaml": {alice}}, []string{"create rolebindings"}},
		{"admin may bind edit in its namespace (it holds edit's permissions)",
			map[string]string{"dave.yaml": bindEditInA},
			map[string][]policy.User{"dave.yaml": {carol}}, nil},
		{"admin may not bind in another namespace",
			map[string]string{"dave.yaml": strings.Replace(bindEditInA, "namespace: a", "namespace: b", 1)},
			map[string][]policy.User{"dave.yaml": {carol}}, []string{"in namespace b"}},
		{"admin may not bind cluster-admin even in its namespace (escalation)",
			map[string]string{"dave.yaml": strings.Replace(bindEditInA, "name: edit", "name: cluster-admin", 1)},
			map[string][]policy.User{"dave.yaml": {carol}}, []string{"would grant what user carol@example.com does not hold"}},
		{"admin may not write a Role granting more than it holds",
			map[string]string{"big.yaml": roleTooBig},
			map[string][]policy.User{"big.yaml": {carol}}, []string{"Role a/big would grant what user carol@example.com does not hold (* *.* in namespace a"}},
		{"masters may do anything",
			map[string]string{"me.yaml": grantSelf, "big.yaml": roleTooBig},
			map[string][]policy.User{"me.yaml": {admin}, "big.yaml": {admin}}, nil},
		{"admin may not bind a ClusterRole another application declares that grants more (found by review)",
			map[string]string{"dave.yaml": strings.Replace(bindEditInA, "name: edit", "name: platform-operator", 1)},
			map[string][]policy.User{"dave.yaml": {carol}}, []string{"RoleBinding a/dave would grant what user carol@example.com does not hold"}},
		{"admin may not bind a role no revision declares yet",
			map[string]string{"dave.yaml": strings.Replace(bindEditInA, "name: edit", "name: not-yet", 1)},
			map[string][]policy.User{"dave.yaml": {carol}}, []string{"binds a role that neither this revision nor any applied one declares"}},
		{"admin may bind another application's Role it holds (its namespace's view-like role)",
			map[string]string{"dave.yaml": strings.Replace(strings.Replace(bindEditInA, "name: edit", "name: reader", 1), "kind: ClusterRole", "kind: Role", 1)},
			map[string][]policy.User{"dave.yaml": {carol}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"rbac.yaml": teamRBAC, "a.yaml": cmA, "b.yaml": cmB}
			for k, v := range tc.files {
				files[k] = v
			}
			next := load(t, files)
			refused := CheckChanges(az, next, Changes(applied, next), tc.approvers)
			if len(refused) != len(tc.refused) {
				t.Fatalf("refused %d changes, want %d: %+v", len(refused), len(tc.refused), refused)
			}
			for i, r := range refused {
				if !strings.Contains(r.Message, tc.refused[i]) {
					t.Errorf("refusal %d: %q, want it to contain %q", i, r.Message, tc.refused[i])
				}
			}
		})
	}
}

// TestEscalationCheckIsBounded: a Role whose rules multiply to millions of
// verb, group, resource and name combinations is refused at once (it needs
// the verb escalate), not checked one combination at a time.
func TestEscalationCheckIsBounded(t *testing.T) {
	applied := load(t, map[string]string{"rbac.yaml": teamRBAC})
	az := FromSets(applied)
	var b strings.Builder
	b.WriteString("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: huge, namespace: a}\nrules:\n- apiGroups: [\"\"]\n  verbs: [get]\n  resources:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "  - r%d\n", i)
	}
	b.WriteString("  resourceNames:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "  - n%d\n", i)
	}
	next := load(t, map[string]string{"rbac.yaml": teamRBAC, "huge.yaml": b.String()})
	carol := policy.User{Name: "carol@example.com"} // admin in a
	start := time.Now()
	refused := CheckChanges(az, next, Changes(applied, next), map[string][]policy.User{"huge.yaml": {carol}})
	if len(refused) != 1 || !strings.Contains(refused[0].Message, "too many to check") {
		t.Fatalf("refused = %+v", refused)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the check took %s", d)
	}
}
