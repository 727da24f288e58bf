// Package rbac decides, with Kubernetes' RBAC semantics, what a user may do:
// an Authorizer over the rbac.authorization.k8s.io/v1 objects of the
// applied revisions plus Stevedore's built-in ClusterRoles, and
// CheckChanges, the check at sync that the approvers of each changed file
// may make its changes. It is pure: objects in, a decision with a reason
// out (docs/security.md, section RBAC).
package rbac

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/spec"
)

// ServiceAccountPrefix prefixes the user name of a ServiceAccount subject:
// "system:serviceaccount:NAMESPACE:NAME", as in Kubernetes.
const ServiceAccountPrefix = "system:serviceaccount:"

// binding is a RoleBinding or ClusterRoleBinding, resolved to its rules
// when the Authorizer is built.
type binding struct {
	// label names the binding and its role in reasons.
	label     string
	namespace string // "" for a ClusterRoleBinding
	subjects  []spec.Subject
	rules     []spec.PolicyRule
}

// Authorizer is an RBAC authorizer over a fixed set of objects. It is
// immutable once built and safe for concurrent use.
type Authorizer struct {
	cluster    index
	namespaced map[string]*index
	// clusterRoles and roles ("namespace/name") are the roles it was
	// built from, for the escalation check of a binding to a role another
	// application declares (changes.go).
	clusterRoles, roles map[string][]spec.PolicyRule
}

// index holds bindings by the user names and group names of their
// subjects (a ServiceAccount subject is its user name), so that a decision
// looks only at the bindings of the caller, in the order of their labels.
type index struct {
	byUser, byGroup map[string][]*binding
}

func (x *index) add(b *binding) {
	if x.byUser == nil {
		x.byUser, x.byGroup = map[string][]*binding{}, map[string][]*binding{}
	}
	seenU, seenG := map[string]bool{}, map[string]bool{}
	for _, s := range b.subjects {
		switch s.Kind {
		case spec.SubjectUser:
			if !seenU[s.Name] {
				seenU[s.Name] = true
				x.byUser[s.Name] = append(x.byUser[s.Name], b)
			}
		case spec.SubjectGroup:
			if !seenG[s.Name] {
				seenG[s.Name] = true
				x.byGroup[s.Name] = append(x.byGroup[s.Name], b)
			}
		case spec.SubjectServiceAccount:
			ns := s.Namespace
			if ns == "" {
				ns = b.namespace
			}
			n := ServiceAccountPrefix + ns + ":" + s.Name
			if !seenU[n] {
				seenU[n] = true
				x.byUser[n] = append(x.byUser[n], b)
			}
		}
	}
}

// allows returns the first binding of u's that allows at: by u's name,
// then by each of its groups, then system:authenticated's.
func (x *index) allows(u policy.User, at policy.Attributes) *binding {
	if x == nil || x.byUser == nil {
		return nil
	}
	check := func(bs []*binding) *binding {
		for _, b := range bs {
			if rulesAllow(b.rules, at) {
				return b
			}
		}
		return nil
	}
	if b := check(x.byUser[u.Name]); b != nil {
		return b
	}
	for _, g := range u.Groups {
		if g == policy.GroupAuthenticated {
			continue
		}
		if b := check(x.byGroup[g]); b != nil {
			return b
		}
	}
	return check(x.byGroup[policy.GroupAuthenticated])
}

var _ policy.Authorizer = (*Authorizer)(nil)

// New builds an Authorizer from the RBAC objects among objs (other kinds
// are ignored) plus the built-in ClusterRoles and ClusterRoleBindings
// (Builtins). A binding to a role that does not exist grants nothing. An
// object of the repository named like a built-in ClusterRole or
// ClusterRoleBinding does not replace it: the built-ins are what the
// cluster's own credentials need.
func New(objs ...spec.Object) *Authorizer {
	clusterRoles := map[string][]spec.PolicyRule{}
	roles := map[string][]spec.PolicyRule{} // "namespace/name"
	var crbs []*spec.ClusterRoleBinding
	var rbs []*spec.RoleBinding
	builtin := map[string]bool{}
	for _, o := range Builtins() {
		switch o := o.(type) {
		case *spec.ClusterRole:
			clusterRoles[o.Name] = o.Rules
			builtin[spec.KindClusterRole+"/"+o.Name] = true
		case *spec.ClusterRoleBinding:
			crbs = append(crbs, o)
			builtin[spec.KindClusterRoleBinding+"/"+o.Name] = true
		}
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *spec.ClusterRole:
			if !builtin[spec.KindClusterRole+"/"+o.Name] {
				clusterRoles[o.Name] = o.Rules
			}
		case *spec.Role:
			roles[o.Namespace+"/"+o.Name] = o.Rules
		case *spec.ClusterRoleBinding:
			if !builtin[spec.KindClusterRoleBinding+"/"+o.Name] {
				crbs = append(crbs, o)
			}
		case *spec.RoleBinding:
			rbs = append(rbs, o)
		}
	}
	var cluster []*binding
	namespaced := map[string][]*binding{}
	for _, b := range crbs {
		rules, ok := clusterRoles[b.RoleRef.Name]
		if !ok || b.RoleRef.Kind != spec.KindClusterRole {
			continue
		}
		cluster = append(cluster, &binding{
			label:    fmt.Sprintf("ClusterRoleBinding %s (ClusterRole %s)", b.Name, b.RoleRef.Name),
			subjects: b.Subjects, rules: rules,
		})
	}
	for _, b := range rbs {
		var rules []spec.PolicyRule
		var ok bool
		switch b.RoleRef.Kind {
		case spec.KindClusterRole:
			rules, ok = clusterRoles[b.RoleRef.Name]
		case spec.KindRole:
			rules, ok = roles[b.Namespace+"/"+b.RoleRef.Name]
		}
		if !ok {
			continue
		}
		namespaced[b.Namespace] = append(namespaced[b.Namespace], &binding{
			label:     fmt.Sprintf("RoleBinding %s/%s (%s %s)", b.Namespace, b.Name, b.RoleRef.Kind, b.RoleRef.Name),
			namespace: b.Namespace, subjects: b.Subjects, rules: rules,
		})
	}
	// Deterministic reasons: bindings are looked at in the order of their
	// labels.
	byLabel := func(bs []*binding) {
		sort.SliceStable(bs, func(i, j int) bool { return bs[i].label < bs[j].label })
	}
	a := &Authorizer{namespaced: map[string]*index{}, clusterRoles: clusterRoles, roles: roles}
	byLabel(cluster)
	for _, b := range cluster {
		a.cluster.add(b)
	}
	for ns, bs := range namespaced {
		byLabel(bs)
		x := &index{}
		for _, b := range bs {
			x.add(b)
		}
		a.namespaced[ns] = x
	}
	return a
}

// FromSets builds an Authorizer from the RBAC objects of several revisions
// (one per application; nil sets are skipped). It looks at each object
// once, without sorting the sets.
func FromSets(sets ...*spec.Set) *Authorizer {
	var objs []spec.Object
	for _, s := range sets {
		if s == nil {
			continue
		}
		for k, o := range s.Objects {
			switch k.Kind {
			case spec.KindClusterRole, spec.KindRole, spec.KindClusterRoleBinding, spec.KindRoleBinding:
				objs = append(objs, o)
			}
		}
	}
	return New(objs...)
}

// Authorize implements policy.Authorizer: whether a ClusterRoleBinding, or
// a RoleBinding of the request's namespace, binds u to a rule that allows
// a. The reason names the binding and its role, or says what nothing
// allows.
func (a *Authorizer) Authorize(u policy.User, at policy.Attributes) (bool, string) {
	if b := a.cluster.allows(u, at); b != nil {
		return true, "allowed by " + b.label
	}
	if at.Namespace != "" && at.NonResourcePath == "" {
		if b := a.namespaced[at.Namespace].allows(u, at); b != nil {
			return true, "allowed by " + b.label
		}
	}
	return false, Denial(u, at)
}

// Denial is the reason given when nothing allows u to do at: "no RBAC rule
// allows user X to VERB RESOURCE in namespace N".
func Denial(u policy.User, at policy.Attributes) string {
	return fmt.Sprintf("no RBAC rule allows user %s to %s", u, Describe(at))
}

// Describe renders at for messages: "get pods/log \"web-1\" in namespace
// a", "list pods in all namespaces", "get /metrics".
func Describe(at policy.Attributes) string {
	if at.NonResourcePath != "" {
		return at.Verb + " " + at.NonResourcePath
	}
	var b strings.Builder
	b.WriteString(at.Verb + " " + at.Resource)
	if at.Subresource != "" {
		b.WriteString("/" + at.Subresource)
	}
	if at.APIGroup != "" {
		b.WriteString("." + at.APIGroup)
	}
	if at.Name != "" {
		fmt.Fprintf(&b, " %q", at.Name)
	}
	switch {
	case at.Namespace != "":
		b.WriteString(" in namespace " + at.Namespace)
	case namespacedResource(at.APIGroup, at.Resource):
		b.WriteString(" in all namespaces")
	default:
		b.WriteString(" (cluster-scoped)")
	}
	return b.String()
}

// namespacedResource reports whether a resource lives in namespaces, for
// messages only.
func namespacedResource(group, resource string) bool {
	switch group + "/" + resource {
	case "/nodes", "/namespaces", "/persistentvolumes", "storage.k8s.io/storageclasses",
		"stevedore.dev/applications", "stevedore.dev/tokens", "metrics.k8s.io/nodes",
		"rbac.authorization.k8s.io/clusterroles", "rbac.authorization.k8s.io/clusterrolebindings":
		return false
	}
	return true
}

func rulesAllow(rules []spec.PolicyRule, at policy.Attributes) bool {
	for i := range rules {
		if RuleAllows(&rules[i], at) {
			return true
		}
	}
	return false
}

// RuleAllows reports whether r allows at, as Kubernetes' RBAC does: the
// verb, the API group, the resource ("*" is every resource and
// subresource, "pods/log" one subresource, "*/log" that subresource of any), the name (an empty resourceNames allows any; a
// request without a name, a list or a create, matches no resourceNames),
// or for a non-resource request its path ("*" or a trailing "*" prefix).
func RuleAllows(r *spec.PolicyRule, at policy.Attributes) bool {
	if !matchAny(r.Verbs, at.Verb) {
		return false
	}
	if at.NonResourcePath != "" {
		for _, u := range r.NonResourceURLs {
			if u == "*" || u == at.NonResourcePath ||
				strings.HasSuffix(u, "*") && strings.HasPrefix(at.NonResourcePath, strings.TrimSuffix(u, "*")) {
				return true
			}
		}
		return false
	}
	if !matchAny(r.APIGroups, at.APIGroup) {
		return false
	}
	if !resourceMatches(r.Resources, at.Resource, at.Subresource) {
		return false
	}
	if len(r.ResourceNames) == 0 {
		return true
	}
	for _, n := range r.ResourceNames {
		if at.Name != "" && n == at.Name {
			return true
		}
	}
	return false
}

func matchAny(list []string, s string) bool {
	for _, x := range list {
		if x == "*" || x == s {
			return true
		}
	}
	return false
}

func resourceMatches(list []string, resource, sub string) bool {
	combined := resource
	if sub != "" {
		combined += "/" + sub
	}
	for _, x := range list {
		switch {
		case x == "*":
			return true
		case x == combined:
			return true
		case sub != "" && x == "*/"+sub:
			return true
		}
	}
	return false
}
