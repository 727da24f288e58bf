// Package policy decides what may be deployed and who may do what: commit
// signatures and per-path approvals (review as deployment approval), RBAC
// over the rbac.authorization.k8s.io/v1 objects of the config repository,
// namespace quotas and LimitRanges, and Kubernetes' pod security levels.
// Its functions are pure decisions with reasons: bytes and objects in,
// allowed or a refusal naming the file, object, field and rule out. The
// reconciler wires them into its sync (reconcile/server) and its API.
package policy

import "strings"

// User is an authenticated identity, named as Kubernetes names them: a
// signing key's principal (an e-mail address), an API token's user, or a
// client certificate's CommonName with its Organizations as Groups.
type User struct {
	Name   string
	Groups []string
}

// Well-known users and groups.
const (
	// GroupMasters is bound to every permission, as in Kubernetes; the
	// admin credential a reconciler writes on first start is in it.
	GroupMasters = "system:masters"
	// GroupAuthenticated is every authenticated caller's implicit group.
	GroupAuthenticated = "system:authenticated"
	// GroupReconcilers are the reconcilers' own certificates
	// ("system:reconciler:<name>").
	GroupReconcilers = "stevedore:reconcilers"
	// GroupNodes are the agents' certificates ("system:node:<name>").
	GroupNodes = "system:nodes"
	// GroupMonitoring may read /metrics of reconcilers and agents and
	// nothing else: the scraper's certificate, which is no reconciler's.
	GroupMonitoring = "stevedore:monitoring"
	// UserAdmin is the admin credential's user name.
	UserAdmin = "admin"
	// NodeUserPrefix and ReconcilerUserPrefix prefix a node's and a
	// reconciler's certificate user name.
	NodeUserPrefix       = "system:node:"
	ReconcilerUserPrefix = "system:reconciler:"
)

// InGroup reports whether u is in group g.
func (u User) InGroup(g string) bool {
	for _, x := range u.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// String names u for messages ("alice@example.com (groups dev, ops)").
func (u User) String() string {
	if len(u.Groups) == 0 {
		return u.Name
	}
	return u.Name + " (groups " + strings.Join(u.Groups, ", ") + ")"
}

// Attributes are what a request or a change does, in Kubernetes' RBAC
// terms: a verb (get, list, watch, create, update, patch, delete, and
// Stevedore's sync, cordon, drain, exec as subresources' create) on a
// resource (plural, lower case: "pods", "deployments") of an API group
// ("" for core, "apps", "batch", "stevedore.dev" for Stevedore's own) in a
// namespace ("" for cluster-scoped), optionally one named object and a
// subresource ("log", "exec", "rollback").
type Attributes struct {
	Verb        string
	APIGroup    string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// NonResourcePath is set instead of Resource for endpoints that name
	// no resource ("/v1/status", "/metrics").
	NonResourcePath string
}

// Authorizer decides whether a user may do something. Implementations are
// safe for concurrent use.
type Authorizer interface {
	// Authorize returns whether u may do a, and a reason that names the
	// rule that allowed it or why nothing did.
	Authorize(u User, a Attributes) (allowed bool, reason string)
}

// Change is one object a revision creates, updates or deletes, and where
// it is declared (the new file for create and update, the old one for
// delete), for the checks made at sync.
type Change struct {
	File  string
	Line  int
	Attrs Attributes // Verb is create, update or delete; Name the object's
	// Kind is the object's kind, for messages.
	Kind string
}
