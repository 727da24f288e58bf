package spec

import "testing"

const roleHead = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"
const clusterRoleHead = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n"
const bindingHead = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\n"
const clusterBindingHead = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\n"

func TestRBACRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"rule without verbs", roleHead + "rules:\n- apiGroups: [''] #!\n  resources: [pods]\n", "rules[0].verbs", "at least one value"},
		{"rule without apiGroups", roleHead + "rules:\n- resources: [pods] #!\n  verbs: [get]\n", "rules[0].apiGroups", "at least one api group"},
		{"rule without resources", roleHead + "rules:\n- apiGroups: [''] #!\n  verbs: [get]\n", "rules[0].resources", "at least one resource"},
		{"namespaced non-resource URL", roleHead + "rules:\n- nonResourceURLs: [/metrics] #!\n  verbs: [get]\n", "rules[0].nonResourceURLs", "namespaced rules cannot apply to non-resource URLs"},
		{"both kinds of rule", clusterRoleHead + "rules:\n- nonResourceURLs: [/metrics] #!\n  resources: [pods]\n  verbs: [get]\n", "rules[0].nonResourceURLs", "both regular resources and non-resource URLs"},
		{"star inside URL", clusterRoleHead + "rules:\n- nonResourceURLs:\n  - /v1/*/x #!\n  verbs: [get]\n", "rules[0].nonResourceURLs[0]", "may only end"},
		{"role name with slash", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: a/b} #!\n", "metadata.name", "may not contain '/'"},
		{"aggregationRule", clusterRoleHead + "aggregationRule: #!\n  clusterRoleSelectors: [{matchLabels: {a: b}}]\n", "aggregationRule", "not supported"},
		{"roleRef kind", bindingHead + "roleRef: {kind: Pod, name: r} #!\n", "roleRef.kind", "supported values: \"Role\", \"ClusterRole\""},
		{"cluster binding to Role", clusterBindingHead + "roleRef: {kind: Role, name: r} #!\n", "roleRef.kind", "supported values: \"ClusterRole\""},
		{"roleRef apiGroup", bindingHead + "roleRef: {apiGroup: apps, kind: Role, name: r} #!\n", "roleRef.apiGroup", "unsupported value \"apps\""},
		{"roleRef name", bindingHead + "roleRef: {kind: Role} #!\n", "roleRef.name", "required"},
		{"subject kind", bindingHead + "roleRef: {kind: Role, name: r}\nsubjects:\n- {kind: Robot, name: x} #!\n", "subjects[0].kind", "supported values: \"ServiceAccount\", \"User\", \"Group\""},
		{"subject name", bindingHead + "roleRef: {kind: Role, name: r}\nsubjects:\n- {kind: User} #!\n", "subjects[0].name", "required"},
		{"service account apiGroup", bindingHead + "roleRef: {kind: Role, name: r}\nsubjects:\n- {kind: ServiceAccount, name: x, apiGroup: rbac.authorization.k8s.io} #!\n", "subjects[0].apiGroup", "supported values: \"\""},
		{"service account namespace", clusterBindingHead + "roleRef: {kind: ClusterRole, name: r}\nsubjects:\n- {kind: ServiceAccount, name: x} #!\n", "subjects[0].namespace", "names its namespace"},
		{"user with namespace", bindingHead + "roleRef: {kind: Role, name: r}\nsubjects:\n- {kind: User, name: x, namespace: a} #!\n", "subjects[0].namespace", "has no namespace"},
		{"group apiGroup", bindingHead + "roleRef: {kind: Role, name: r}\nsubjects:\n- {kind: Group, name: x, apiGroup: apps} #!\n", "subjects[0].apiGroup", "unsupported value \"apps\""},
	})
}

// TestRBACDefaults: a binding may leave out the apiGroups rbac/v1 defaults.
func TestRBACDefaults(t *testing.T) {
	src := bindingHead +
		"roleRef: {kind: ClusterRole, name: view}\nsubjects:\n- {kind: User, name: alice@example.com}\n- {kind: Group, name: dev}\n- {kind: ServiceAccount, name: robot}\n"
	set, err := loadOne(src)
	if err != nil {
		t.Fatal(err)
	}
	b := set.Objects[ObjectKey{Kind: KindRoleBinding, Namespace: "default", Name: "b"}].(*RoleBinding)
	if b.RoleRef.APIGroup != RBACGroup || b.Subjects[0].APIGroup != RBACGroup || b.Subjects[1].APIGroup != RBACGroup || b.Subjects[2].APIGroup != "" {
		t.Fatalf("defaults: %+v", b)
	}
}
