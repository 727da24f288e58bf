package spec

// RBACV1 is the API group and version of Role, ClusterRole, RoleBinding and
// ClusterRoleBinding.
const RBACV1 = "rbac.authorization.k8s.io/v1"

// RBACGroup is the API group of the RBAC kinds, which a binding's roleRef
// and its User and Group subjects name.
const RBACGroup = "rbac.authorization.k8s.io"

// The RBAC kinds and the kinds of subject a binding names.
const (
	KindRole               = "Role"
	KindClusterRole        = "ClusterRole"
	KindRoleBinding        = "RoleBinding"
	KindClusterRoleBinding = "ClusterRoleBinding"
	SubjectUser            = "User"
	SubjectGroup           = "Group"
	SubjectServiceAccount  = "ServiceAccount"
)

// Role is a namespaced set of permissions, as Kubernetes' rbac/v1 Role. It
// grants nothing until a RoleBinding in its namespace binds it to users. In
// Stevedore RBAC governs what a commit's approvers may change in Git
// (checked at sync) and what a caller may do through the reconciler API
// (docs/security.md).
type Role struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Rules are the permissions the role grants; a request is allowed if
	// any rule allows it. Empty grants nothing.
	Rules []PolicyRule `json:"rules,omitempty"`
}

// ClusterRole is a cluster-wide set of permissions, as Kubernetes' rbac/v1
// ClusterRole: bound by a ClusterRoleBinding it grants them in every
// namespace and on cluster-scoped resources; bound by a RoleBinding, in
// that binding's namespace only. aggregationRule is not supported.
type ClusterRole struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Rules are the permissions the role grants; a request is allowed if
	// any rule allows it. Empty grants nothing.
	Rules []PolicyRule `json:"rules,omitempty"`
}

// PolicyRule allows verbs on resources of API groups (optionally only the
// named objects), or verbs on non-resource URLs; never both in one rule.
type PolicyRule struct {
	// Verbs are the verbs allowed ("get", "list", "watch", "create",
	// "update", "patch", "delete", "deletecollection", or "*" for all).
	// Required.
	Verbs []string `json:"verbs"`
	// APIGroups are the API groups of the resources ("" is the core group,
	// "apps", "batch", "stevedore.dev", "*" for all). Required in a
	// resource rule.
	APIGroups []string `json:"apiGroups,omitempty"`
	// Resources are the resources, plural and lower case ("pods",
	// "deployments"), a subresource after a slash ("pods/log",
	// "pods/exec"), "*" for all, or "*/log" for a subresource of any.
	// Required in a resource rule.
	Resources []string `json:"resources,omitempty"`
	// ResourceNames restricts the rule to the objects of these names;
	// empty allows any name.
	ResourceNames []string `json:"resourceNames,omitempty"`
	// NonResourceURLs are the paths a non-resource rule allows
	// ("/v1/status", "/metrics"); a trailing "*" matches any suffix. Only
	// in a ClusterRole, and without apiGroups and resources.
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// RoleBinding grants, in its namespace, the permissions of a Role of that
// namespace or of a ClusterRole to users, groups or service accounts.
type RoleBinding struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Subjects are who the binding grants the role to. Empty grants it to
	// no one.
	Subjects []Subject `json:"subjects,omitempty"`
	// RoleRef is the Role (of the binding's namespace) or ClusterRole
	// granted. Required.
	RoleRef RoleRef `json:"roleRef"`
}

// ClusterRoleBinding grants the permissions of a ClusterRole in every
// namespace and on cluster-scoped resources.
type ClusterRoleBinding struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Subjects are who the binding grants the role to. Empty grants it to
	// no one.
	Subjects []Subject `json:"subjects,omitempty"`
	// RoleRef is the ClusterRole granted. Required.
	RoleRef RoleRef `json:"roleRef"`
}

// Subject is who a binding grants its role to.
type Subject struct {
	// Kind is "User", "Group" or "ServiceAccount". A User is a signing
	// key's principal (an e-mail address), an API token's user or a client
	// certificate's CommonName; a Group an API token's or a certificate's
	// group; a ServiceAccount is the user
	// "system:serviceaccount:NAMESPACE:NAME". Required.
	Kind string `json:"kind"`
	// APIGroup is "rbac.authorization.k8s.io" for User and Group (the
	// default when left out), "" for ServiceAccount.
	APIGroup string `json:"apiGroup,omitempty"`
	// Name is the user's, group's or service account's name. Required.
	Name string `json:"name"`
	// Namespace is a ServiceAccount's namespace: required in a
	// ClusterRoleBinding, the binding's own when left out of a
	// RoleBinding. Not set for User and Group.
	Namespace string `json:"namespace,omitempty"`
}

// RoleRef names the role a binding grants.
type RoleRef struct {
	// APIGroup is "rbac.authorization.k8s.io". Required.
	APIGroup string `json:"apiGroup"`
	// Kind is "Role" or "ClusterRole" (only "ClusterRole" in a
	// ClusterRoleBinding). Required.
	Kind string `json:"kind"`
	// Name is the role's name. Required.
	Name string `json:"name"`
}

var (
	_ Object = (*Role)(nil)
	_ Object = (*ClusterRole)(nil)
	_ Object = (*RoleBinding)(nil)
	_ Object = (*ClusterRoleBinding)(nil)
)
