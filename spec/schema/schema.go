// Package schema describes the fields of the kinds package spec loads: JSON
// names, types, required-ness and descriptions, taken from the Go doc
// comments of spec's types by a go generate step (./gen) and checked in as
// zz_generated.go. It is what `ctl explain` prints, so the documentation a
// user reads is the documentation a maintainer edits beside the type.
//
// Only fields Stevedore supports are listed: a Kubernetes field that spec
// rejects at load (hostNetwork, nfs volumes…) is named in Type.Unsupported instead,
// so that explain can say so rather than claim it does not exist.
//
// The package imports nothing of the project, so ctl can use it without
// the reconciler.
package schema

//go:generate go run ./gen -o zz_generated.go

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Kind is one kind spec loads.
type Kind struct {
	Kind       string // "Deployment"
	APIVersion string // "apps/v1"
	Namespaced bool
	Type       string // the Go type describing it, a key of Types
}

// Group is the API group of the kind's apiVersion ("" for the core group).
func (k *Kind) Group() string {
	g, _, ok := strings.Cut(k.APIVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// Version is the version part of the kind's apiVersion ("v1").
func (k *Kind) Version() string {
	_, v, ok := strings.Cut(k.APIVersion, "/")
	if !ok {
		return k.APIVersion
	}
	return v
}

// Type is an object type: a struct of fields.
type Type struct {
	Name   string // the Go type name, as kubectl explain names types
	Doc    string // paragraphs separated by a blank line
	Fields []Field
	// Unsupported lists the Kubernetes fields of this type that spec
	// rejects at load.
	Unsupported []string
	// Dropped lists the Kubernetes fields of this type that the API server
	// writes (`kubectl get -o yaml` prints them): spec accepts and ignores
	// them.
	Dropped []string
	// Defaults are, for some Unsupported fields, the value Kubernetes
	// defaults them to, which spec accepts (and ignores): set to it, the
	// field asks for nothing more than leaving it out.
	Defaults map[string]string
}

// Field is one field of a Type.
type Field struct {
	Name     string // JSON name
	Type     string // "string", "integer", "boolean", "[]Container", "map[string]string", "Quantity"…
	Ref      string // the Type its values are (for objects and lists of objects), or ""
	Required bool
	Doc      string
}

// Kinds returns every kind spec loads, in spec's order.
func Kinds() []Kind { return slices.Clone(kinds) }

// TypeOf returns the named type, or nil.
func TypeOf(name string) *Type { return types[name] }

// shortNames are kubectl's abbreviations of the kinds.
var shortNames = map[string]string{
	"po":     "Pod",
	"deploy": "Deployment",
	"rc":     "ReplicationController",
	"no":     "Node",
	"ns":     "Namespace",
	"svc":    "Service",
	"cm":     "ConfigMap",
	"sa":     "ServiceAccount",
	"pvc":    "PersistentVolumeClaim",
	"pv":     "PersistentVolume",
	"sc":     "StorageClass",
	"rs":     "ReplicaSet",
	"quota":  "ResourceQuota",
	"limits": "LimitRange",
	"sts":    "StatefulSet",
	"ds":     "DaemonSet",
	"cj":     "CronJob",
}

// Resources returns the names a kind is known by on the command line:
// singular and plural lower case, and kubectl's short name if it has one.
func (k *Kind) Resources() []string {
	l := strings.ToLower(k.Kind)
	out := []string{plural(l), l}
	for s, kind := range shortNames {
		if kind == k.Kind {
			out = append(out, s)
		}
	}
	return out
}

func plural(s string) string {
	if strings.HasSuffix(s, "s") {
		return s + "es"
	}
	return s + "s"
}

// LookupKind finds a kind by any of the names kubectl accepts for it:
// "Deployment", "deployment", "deployments", "deploy", and the same with a
// group suffix ("deployments.apps").
func LookupKind(name string) (*Kind, error) {
	n := strings.ToLower(name)
	n, group, _ := strings.Cut(n, ".")
	for i := range kinds {
		k := &kinds[i]
		if group != "" && group != k.Group() {
			continue
		}
		if slices.Contains(k.Resources(), n) {
			return k, nil
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = plural(strings.ToLower(k.Kind))
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q: Stevedore knows %s", name, strings.Join(names, ", "))
}

// Target is what a path such as "deployment.spec.strategy" names.
type Target struct {
	Kind *Kind
	// Path is the field path below the kind ("spec.strategy"), empty for the
	// kind itself.
	Path string
	// Field is the last field of Path, nil for the kind itself.
	Field *Field
	// Type is the object type of the target (the kind's type, or the
	// field's Ref), nil for a field of a scalar, list-of-scalar or map type.
	Type *Type
}

// Resolve parses KIND[.FIELD…] and walks the fields.
func Resolve(path string) (*Target, error) {
	parts := strings.Split(path, ".")
	if path == "" || slices.Contains(parts, "") {
		return nil, fmt.Errorf("invalid path %q: want KIND[.FIELD…], e.g. deployment.spec.strategy", path)
	}
	k, err := LookupKind(parts[0])
	if err != nil {
		return nil, err
	}
	rest := parts[1:]
	if len(rest) > 0 && k.Group() != "" && rest[0] == k.Group() {
		// "deployments.apps.spec": a group suffix.
		rest = rest[1:]
	}
	t := &Target{Kind: k, Type: types[k.Type]}
	for i, name := range rest {
		if t.Type == nil {
			return nil, fmt.Errorf("field %q does not exist: %s is %s, which has no fields", strings.Join(rest[:i+1], "."), strings.Join(rest[:i], "."), t.Field.Type)
		}
		f := t.Type.field(name)
		if f == nil {
			where := k.Kind
			if i > 0 {
				where += "." + strings.Join(rest[:i], ".")
			}
			if slices.Contains(t.Type.Unsupported, name) {
				if def, ok := t.Type.Defaults[name]; ok {
					return nil, fmt.Errorf("field %q of %s is a Kubernetes field that Stevedore does not support: a manifest that sets it to anything but Kubernetes' default, %s, is rejected at load", name, where, def)
				}
				return nil, fmt.Errorf("field %q of %s is a Kubernetes field that Stevedore does not support: a manifest that sets it is rejected at load", name, where)
			}
			if slices.Contains(t.Type.Dropped, name) {
				return nil, fmt.Errorf("field %q of %s is written by Kubernetes' API server (kubectl get -o yaml prints it): Stevedore accepts it and ignores it", name, where)
			}
			return nil, fmt.Errorf("field %q does not exist in %s; its fields are: %s", name, where, strings.Join(t.Type.fieldNames(), ", "))
		}
		t.Field, t.Type = f, types[f.Ref]
	}
	t.Path = strings.Join(rest, ".")
	return t, nil
}

func (t *Type) field(name string) *Field {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	// kubectl matches field names exactly; a case slip gets the same
	// answer rather than an error.
	for i := range t.Fields {
		if strings.EqualFold(t.Fields[i].Name, name) {
			return &t.Fields[i]
		}
	}
	return nil
}

func (t *Type) fieldNames() []string {
	out := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		out[i] = f.Name
	}
	sort.Strings(out)
	return out
}
