package rbac

import (
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/spec"
)

// Names of the built-in ClusterRoles (bind them from the repository) and
// of the API groups Stevedore's own resources live in.
const (
	RoleClusterAdmin = "cluster-admin"
	RoleAdmin        = "admin"
	RoleEdit         = "edit"
	RoleView         = "view"
	RoleReconciler   = "stevedore:reconciler"
	RoleNode         = "stevedore:node"
	// RoleDiscovery lets every authenticated caller read the sync status
	// and the version, as Kubernetes' system:discovery lets it read /version.
	RoleDiscovery = "stevedore:discovery"
	// RoleMonitoring reads /metrics, bound to policy.GroupMonitoring.
	RoleMonitoring = "stevedore:monitoring"

	// GroupStevedore is the API group of Stevedore's own resources:
	// applications (and applications/sync) and tokens.
	GroupStevedore = "stevedore.dev"
	// GroupCoordination is the API group of leases.
	GroupCoordination = "coordination.k8s.io"
	// GroupMetrics is the API group of `ctl top`'s pods and nodes.
	GroupMetrics = "metrics.k8s.io"
	// GroupAuthentication and GroupAuthorization are Kubernetes' groups of
	// the self reviews: who am I (GET /v1/whoami) and may I (POST
	// /v1/accessreview), which everyone authenticated may ask, as
	// Kubernetes' system:basic-user lets them.
	GroupAuthentication = "authentication.k8s.io"
	GroupAuthorization  = "authorization.k8s.io"
	// ResourceSelfSubjectReviews and ResourceSelfSubjectAccessReviews are
	// their resources (verb create).
	ResourceSelfSubjectReviews       = "selfsubjectreviews"
	ResourceSelfSubjectAccessReviews = "selfsubjectaccessreviews"
)

var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}
	allVerbs   = append(append([]string{}, readVerbs...), writeVerbs...)
)

// viewRules are what view grants, roughly Kubernetes' view: reading the
// workloads, services, configuration and events of a namespace, and pods'
// logs; not Secrets, not exec, not RBAC.
func viewRules() []spec.PolicyRule {
	return []spec.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "services", "endpoints", "configmaps",
			"serviceaccounts", "persistentvolumeclaims", "replicationcontrollers", "podtemplates", "events",
			"namespaces"}, Verbs: readVerbs},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Verbs: readVerbs},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: readVerbs},
		{APIGroups: []string{GroupCoordination}, Resources: []string{"leases"}, Verbs: readVerbs},
		{APIGroups: []string{GroupMetrics}, Resources: []string{"pods"}, Verbs: readVerbs},
	}
}

// editRules add to view writing the workloads, services and configuration
// of a namespace, Secrets, exec, deleting pods and starting jobs: roughly
// Kubernetes' edit.
func editRules() []spec.PolicyRule {
	return append(viewRules(),
		spec.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "services", "endpoints", "configmaps", "secrets",
			"serviceaccounts", "persistentvolumeclaims", "replicationcontrollers", "podtemplates"}, Verbs: allVerbs},
		spec.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}},
		spec.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets",
			"deployments/rollback"}, Verbs: allVerbs},
		spec.PolicyRule{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: allVerbs},
		spec.PolicyRule{APIGroups: []string{GroupCoordination}, Resources: []string{"leases"}, Verbs: allVerbs},
	)
}

// adminRules add to edit the namespace's Roles and RoleBindings: roughly
// Kubernetes' admin, meant to be bound in a namespace by a RoleBinding.
func adminRules() []spec.PolicyRule {
	return append(editRules(),
		spec.PolicyRule{APIGroups: []string{spec.RBACGroup}, Resources: []string{"roles", "rolebindings"}, Verbs: allVerbs},
	)
}

// Builtins returns the built-in ClusterRoles and ClusterRoleBindings every
// Authorizer has (docs/security.md):
//
//   - cluster-admin: everything, bound to policy.GroupMasters (the admin
//     credential a reconciler writes on first start);
//   - admin, edit, view: roughly Kubernetes' own, bound to no one: bind
//     them per namespace with RoleBindings in the repository;
//   - stevedore:reconciler: everything, bound to policy.GroupReconcilers
//     (a follower forwards its callers' requests to the leader);
//   - stevedore:discovery: get /v1/status and /v1/version, and create
//     selfsubjectreviews and selfsubjectaccessreviews (/v1/whoami,
//     /v1/accessreview), bound to policy.GroupAuthenticated (what `ctl
//     status`, `ctl version`, `ctl auth` and the web UI's sign-in read);
//   - stevedore:node: read and update leases, bound to policy.GroupNodes
//     (an agent campaigns for its pods; the server also checks that a node
//     asks only for pods placed on it).
func Builtins() []spec.Object {
	cr := func(name string, rules []spec.PolicyRule) *spec.ClusterRole {
		return &spec.ClusterRole{TypeMeta: spec.TypeMeta{APIVersion: spec.RBACV1, Kind: spec.KindClusterRole},
			ObjectMeta: spec.ObjectMeta{Name: name}, Rules: rules}
	}
	crb := func(name, role, group string) *spec.ClusterRoleBinding {
		return &spec.ClusterRoleBinding{TypeMeta: spec.TypeMeta{APIVersion: spec.RBACV1, Kind: spec.KindClusterRoleBinding},
			ObjectMeta: spec.ObjectMeta{Name: name},
			Subjects:   []spec.Subject{{Kind: spec.SubjectGroup, APIGroup: spec.RBACGroup, Name: group}},
			RoleRef:    spec.RoleRef{APIGroup: spec.RBACGroup, Kind: spec.KindClusterRole, Name: role}}
	}
	everything := []spec.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
		{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
	}
	return []spec.Object{
		cr(RoleClusterAdmin, everything),
		cr(RoleAdmin, adminRules()),
		cr(RoleEdit, editRules()),
		cr(RoleView, viewRules()),
		cr(RoleReconciler, everything),
		cr(RoleNode, []spec.PolicyRule{
			{APIGroups: []string{GroupCoordination}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "update"}},
			{NonResourceURLs: []string{"/v1/status", "/v1/version"}, Verbs: []string{"get"}},
		}),
		crb(RoleClusterAdmin, RoleClusterAdmin, policy.GroupMasters),
		crb(RoleReconciler, RoleReconciler, policy.GroupReconcilers),
		crb(RoleNode, RoleNode, policy.GroupNodes),
		cr(RoleDiscovery, []spec.PolicyRule{
			{NonResourceURLs: []string{"/v1/status", "/v1/version"}, Verbs: []string{"get"}},
			{APIGroups: []string{GroupAuthentication}, Resources: []string{ResourceSelfSubjectReviews}, Verbs: []string{"create"}},
			{APIGroups: []string{GroupAuthorization}, Resources: []string{ResourceSelfSubjectAccessReviews}, Verbs: []string{"create"}},
		}),
		crb(RoleDiscovery, RoleDiscovery, policy.GroupAuthenticated),
		cr(RoleMonitoring, []spec.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}),
		crb(RoleMonitoring, RoleMonitoring, policy.GroupMonitoring),
	}
}
