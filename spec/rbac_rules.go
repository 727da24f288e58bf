package spec

import "strings"

// This file defaults and checks the RBAC kinds as Kubernetes'
// rbac/v1 defaults and pkg/apis/rbac/validation do: names are path
// segments, a rule has verbs and either resources of API groups or (in a
// ClusterRole only) non-resource URLs, a binding's roleRef and subjects
// name only what RBAC knows. Whether the role a binding names exists is not
// checked, as in Kubernetes: a binding to a missing role grants nothing.

// rbacObject validates the RBAC kinds; false when o is none of them.
func (v *validator) rbacObject(o Object) bool {
	switch o := o.(type) {
	case *Role:
		v.objectMeta(&o.ObjectMeta, true, isPathSegmentName)
		v.policyRules(o.Rules, true)
	case *ClusterRole:
		v.objectMeta(&o.ObjectMeta, false, isPathSegmentName)
		v.policyRules(o.Rules, false)
	case *RoleBinding:
		v.objectMeta(&o.ObjectMeta, true, isPathSegmentName)
		v.roleRef(&o.RoleRef, KindRole, KindClusterRole)
		v.subjects(o.Subjects, true)
	case *ClusterRoleBinding:
		v.objectMeta(&o.ObjectMeta, false, isPathSegmentName)
		v.roleRef(&o.RoleRef, KindClusterRole)
		v.subjects(o.Subjects, false)
	default:
		return false
	}
	return true
}

// isPathSegmentName returns why s cannot be an RBAC object's name (it is
// a segment of the object's URL path in Kubernetes), or "".
func isPathSegmentName(s string) string {
	switch {
	case s == "." || s == "..":
		return "may not be '.' or '..'"
	case strings.ContainsAny(s, "/%"):
		return "may not contain '/' or '%'"
	}
	return ""
}

func (v *validator) policyRules(rules []PolicyRule, namespaced bool) {
	for i := range rules {
		r := &rules[i]
		p := fieldPath("rules").index(i)
		if len(r.Verbs) == 0 {
			v.add(p.child("verbs"), "required: verbs must contain at least one value")
		}
		if len(r.NonResourceURLs) > 0 {
			switch {
			case namespaced:
				v.add(p.child("nonResourceURLs"), "namespaced rules cannot apply to non-resource URLs")
			case len(r.APIGroups) > 0 || len(r.Resources) > 0:
				v.add(p.child("nonResourceURLs"), "rules cannot apply to both regular resources and non-resource URLs")
			case len(r.ResourceNames) > 0:
				v.add(p.child("resourceNames"), "rules with non-resource URLs cannot name resources")
			}
			for j, u := range r.NonResourceURLs {
				if !strings.HasPrefix(u, "/") && u != "*" {
					v.add(p.child("nonResourceURLs").index(j), "invalid value %q: a non-resource URL starts with '/' (or is '*')", u)
				} else if k := strings.IndexByte(u, '*'); k >= 0 && k != len(u)-1 {
					v.add(p.child("nonResourceURLs").index(j), "invalid value %q: '*' may only end a non-resource URL", u)
				}
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			v.add(p.child("apiGroups"), "required: resource rules must supply at least one api group (\"\" is the core group)")
		}
		if len(r.Resources) == 0 {
			v.add(p.child("resources"), "required: resource rules must supply at least one resource")
		}
	}
}

func (v *validator) roleRef(r *RoleRef, kinds ...string) {
	p := fieldPath("roleRef")
	if r.APIGroup != RBACGroup {
		v.add(p.child("apiGroup"), "unsupported value %q: supported values: %q", r.APIGroup, RBACGroup)
	}
	switch {
	case r.Kind == "":
		v.add(p.child("kind"), "required")
	case !containsString(kinds, r.Kind):
		v.add(p.child("kind"), "unsupported value %q: supported values: %s", r.Kind, quoteAll(kinds))
	}
	if r.Name == "" {
		v.add(p.child("name"), "required")
	} else {
		v.check(p.child("name"), r.Name, isPathSegmentName(r.Name))
	}
}

var subjectKinds = []string{SubjectServiceAccount, SubjectUser, SubjectGroup}

func (v *validator) subjects(subjects []Subject, namespaced bool) {
	for i := range subjects {
		s := &subjects[i]
		p := fieldPath("subjects").index(i)
		if s.Name == "" {
			v.add(p.child("name"), "required")
		}
		switch s.Kind {
		case SubjectServiceAccount:
			if s.APIGroup != "" {
				v.add(p.child("apiGroup"), "unsupported value %q: supported values: \"\"", s.APIGroup)
			}
			if s.Name != "" {
				v.check(p.child("name"), s.Name, isDNS1123Subdomain(s.Name))
			}
			if s.Namespace == "" && !namespaced {
				v.add(p.child("namespace"), "required: a ServiceAccount subject of a ClusterRoleBinding names its namespace")
			} else if s.Namespace != "" {
				v.check(p.child("namespace"), s.Namespace, isDNS1123Label(s.Namespace))
			}
		case SubjectUser, SubjectGroup:
			if s.APIGroup != RBACGroup {
				v.add(p.child("apiGroup"), "unsupported value %q: supported values: %q", s.APIGroup, RBACGroup)
			}
			if s.Namespace != "" {
				v.add(p.child("namespace"), "forbidden: a %s subject has no namespace", s.Kind)
			}
		case "":
			v.add(p.child("kind"), "required")
		default:
			v.add(p.child("kind"), "unsupported value %q: supported values: %s", s.Kind, quoteAll(subjectKinds))
		}
	}
}

// defaultBinding applies rbac/v1's defaults: the roleRef's and User and
// Group subjects' apiGroup is rbac.authorization.k8s.io when left out.
func defaultBinding(ref *RoleRef, subjects []Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = RBACGroup
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == SubjectUser || s.Kind == SubjectGroup) {
			s.APIGroup = RBACGroup
		}
	}
}
