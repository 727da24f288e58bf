package rbac

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/spec"
)

// Resource returns the API group and resource (plural, lower case) of a
// kind, as RBAC rules name them: Deployment → ("apps", "deployments").
func Resource(apiVersion, kind string) (group, resource string) {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group = apiVersion[:i]
	}
	l := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(l, "s"):
		resource = l + "es"
	case strings.HasSuffix(l, "y"):
		resource = l[:len(l)-1] + "ies"
	default:
		resource = l + "s"
	}
	return group, resource
}

// Changes returns what next creates, updates and deletes against prev
// (nil: nothing applied yet), sorted by file and line: created and updated
// objects where next declares them, deleted ones where prev did. An
// object is updated when it differs (the loader reuses an unchanged
// document's object, which is not compared).
func Changes(prev, next *spec.Set) []policy.Change {
	var out []policy.Change
	add := func(verb string, o spec.Object, src spec.Source) {
		tm, m := o.GetTypeMeta(), o.GetObjectMeta()
		g, r := Resource(tm.APIVersion, tm.Kind)
		out = append(out, policy.Change{File: src.File, Line: src.Line, Kind: tm.Kind,
			Attrs: policy.Attributes{Verb: verb, APIGroup: g, Resource: r, Namespace: m.Namespace, Name: m.Name}})
	}
	if next != nil {
		for k, o := range next.Objects {
			var old spec.Object
			if prev != nil {
				old = prev.Objects[k]
			}
			switch {
			case old == nil:
				add("create", o, next.Sources[k])
			case old != o && !reflect.DeepEqual(old, o):
				add("update", o, next.Sources[k])
			}
		}
	}
	if prev != nil {
		for k, o := range prev.Objects {
			if next == nil || next.Objects[k] == nil {
				add("delete", o, prev.Sources[k])
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Attrs.Name < b.Attrs.Name
	})
	return out
}

// Refusal is a change none of its file's approvers may make.
type Refusal struct {
	Change policy.Change
	// Message names the file, line, object, approvers and what they lack;
	// Reason is Message without the file, line and object.
	Message, Reason string
}

// CheckChanges returns the changes that no approver of their file may
// make under applied, the Authorizer of the RBAC of the revision applied
// before (so that a revision cannot grant itself the rights it needs).
// approvers maps a file to who approved it; a file with none refuses
// every change it makes. Members of policy.GroupMasters may make any
// change.
//
// A change to an RBAC object is also checked for escalation, as
// Kubernetes does: creating or updating a Role or ClusterRole needs either
// the verb "escalate" on it or every permission it grants; a RoleBinding
// or ClusterRoleBinding needs either the verb "bind" on its role or every
// permission of the role it binds (looked up in next, then the
// built-ins), in the binding's namespace (everywhere for a
// ClusterRoleBinding).
func CheckChanges(applied *Authorizer, next *spec.Set, changes []policy.Change, approvers map[string][]policy.User) []Refusal {
	var out []Refusal
	for _, c := range changes {
		users := approvers[c.File]
		var why []string
		ok := false
		for _, u := range users {
			if u.InGroup(policy.GroupMasters) {
				ok = true
				break
			}
			allowed, reason := applied.Authorize(u, c.Attrs)
			if allowed && c.Attrs.Verb != "delete" {
				allowed, reason = applied.noEscalation(u, c, next)
			}
			if allowed {
				ok = true
				break
			}
			why = append(why, reason)
		}
		if ok {
			continue
		}
		var reason string
		if len(users) == 0 {
			reason = fmt.Sprintf("no approver of %s: cannot %s it", c.File, c.Attrs.Verb)
		} else {
			reason = fmt.Sprintf("no approver of %s may %s it: %s", c.File, c.Attrs.Verb, strings.Join(why, "; "))
		}
		out = append(out, Refusal{Change: c, Reason: reason,
			Message: fmt.Sprintf("%s:%d: %s: %s", c.File, c.Line, objectLabel(c), reason)})
	}
	return out
}

// ObjectLabel names a change's object: "Kind namespace/name" or "Kind name".
func ObjectLabel(c policy.Change) string {
	return objectLabel(c)
}

func objectLabel(c policy.Change) string {
	if c.Attrs.Namespace != "" {
		return c.Kind + " " + c.Attrs.Namespace + "/" + c.Attrs.Name
	}
	return c.Kind + " " + c.Attrs.Name
}

// noEscalation checks that u, allowed to create or update an RBAC object,
// does not grant more than it holds (see CheckChanges).
func (a *Authorizer) noEscalation(u policy.User, c policy.Change, next *spec.Set) (bool, string) {
	if next == nil {
		return true, ""
	}
	o := next.Objects[spec.ObjectKey{Kind: c.Kind, Namespace: c.Attrs.Namespace, Name: c.Attrs.Name}]
	var rules []spec.PolicyRule
	ns := c.Attrs.Namespace
	var shortcut policy.Attributes
	found := true
	switch o := o.(type) {
	case *spec.Role:
		rules = o.Rules
		shortcut = policy.Attributes{Verb: "escalate", APIGroup: spec.RBACGroup, Resource: "roles", Namespace: ns, Name: o.Name}
	case *spec.ClusterRole:
		rules = o.Rules
		shortcut = policy.Attributes{Verb: "escalate", APIGroup: spec.RBACGroup, Resource: "clusterroles", Name: o.Name}
	case *spec.RoleBinding:
		rules, found = a.roleRules(next, o.RoleRef, ns)
		res := "roles"
		if o.RoleRef.Kind == spec.KindClusterRole {
			res = "clusterroles"
		}
		shortcut = policy.Attributes{Verb: "bind", APIGroup: spec.RBACGroup, Resource: res, Namespace: ns, Name: o.RoleRef.Name}
	case *spec.ClusterRoleBinding:
		rules, found = a.roleRules(next, o.RoleRef, "")
		shortcut = policy.Attributes{Verb: "bind", APIGroup: spec.RBACGroup, Resource: "clusterroles", Name: o.RoleRef.Name}
	default:
		return true, ""
	}
	if ok, _ := a.Authorize(u, shortcut); ok {
		return true, ""
	}
	if !found {
		// It would grant whatever the role becomes once someone declares
		// it: only bind (above) may take that on trust.
		return false, fmt.Sprintf("%s binds a role that neither this revision nor any applied one declares: user %s needs %s",
			objectLabel(c), u.Name, Describe(shortcut))
	}
	budget := maxEscalationChecks
	for _, r := range rules {
		at, ok := a.covers(u, r, ns, &budget)
		if budget < 0 {
			return false, fmt.Sprintf("%s grants more than %d verb, group, resource and name combinations: too many to check that user %s holds them all (%s)",
				objectLabel(c), maxEscalationChecks, u.Name, Describe(shortcut))
		}
		if !ok {
			return false, fmt.Sprintf("%s would grant what user %s does not hold (%s; or %s)", objectLabel(c), u.Name, Describe(at), Describe(shortcut))
		}
	}
	return true, ""
}

// maxEscalationChecks bounds the decisions the escalation check of one
// object makes (its rules' verbs × groups × resources × names), so that a
// Role of a few hundred long lists cannot hold a sync for hours. Past it
// the change needs the verb escalate or bind, or system:masters.
const maxEscalationChecks = 100000

// roleRules returns the rules of the role ref names, and whether it
// exists: from next (the changing application's revision), the built-ins,
// or the roles a was built from (every application's applied RBAC), so a
// binding to a role another application declares is checked against that
// role's rules, not taken for a binding to nothing.
func (a *Authorizer) roleRules(next *spec.Set, ref spec.RoleRef, ns string) ([]spec.PolicyRule, bool) {
	if ref.Kind == spec.KindRole {
		if r, ok := next.Objects[spec.ObjectKey{Kind: spec.KindRole, Namespace: ns, Name: ref.Name}].(*spec.Role); ok {
			return r.Rules, true
		}
		rules, ok := a.roles[ns+"/"+ref.Name]
		return rules, ok
	}
	for _, o := range Builtins() {
		if r, ok := o.(*spec.ClusterRole); ok && r.Name == ref.Name {
			return r.Rules, true
		}
	}
	if r, ok := next.Objects[spec.ObjectKey{Kind: spec.KindClusterRole, Name: ref.Name}].(*spec.ClusterRole); ok {
		return r.Rules, true
	}
	rules, ok := a.clusterRoles[ref.Name]
	return rules, ok
}

// covers reports whether u holds every permission r grants in ns ("" for
// everywhere), returning the first it lacks. A wildcard in r is a literal
// that only a wildcard of u's rules matches.
func (a *Authorizer) covers(u policy.User, r spec.PolicyRule, ns string, budget *int) (policy.Attributes, bool) {
	names := r.ResourceNames
	if len(names) == 0 {
		names = []string{""}
	}
	if *budget -= len(r.Verbs) * (len(r.NonResourceURLs) + len(r.APIGroups)*len(r.Resources)*len(names)); *budget < 0 {
		return policy.Attributes{}, false
	}
	for _, verb := range r.Verbs {
		for _, p := range r.NonResourceURLs {
			at := policy.Attributes{Verb: verb, NonResourcePath: p}
			if ok, _ := a.Authorize(u, at); !ok {
				return at, false
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				resource, sub, _ := strings.Cut(res, "/")
				for _, n := range names {
					at := policy.Attributes{Verb: verb, APIGroup: g, Resource: resource, Subresource: sub, Namespace: ns, Name: n}
					if ok, _ := a.Authorize(u, at); !ok {
						return at, false
					}
				}
			}
		}
	}
	return policy.Attributes{}, true
}
