package spec

import (
	"fmt"
	"reflect"
	"sort"
)

// This file loads the older apiVersions of the workload kinds that real
// manifests still carry (extensions/v1beta1, apps/v1beta1, apps/v1beta2),
// as Kubernetes served them until v1.16: a document of an older version is
// decoded strictly into that version's Go type (the same field names as
// apps/v1, plus the fields only it had), given that version's defaults,
// and converted to the apps/v1 object the rest of Stevedore knows. Field
// paths are the same in every version, so an error in an old manifest
// names the file, line, object and field the author wrote. The Set holds
// the apps/v1 object, as Kubernetes serves the storage version; its Source
// remembers the apiVersion written in Git, and Set.Warnings carries a
// deprecation warning for it.

// The older API groups and versions Stevedore converts from.
const (
	ExtensionsV1beta1 = "extensions/v1beta1"
	AppsV1beta1       = "apps/v1beta1"
	AppsV1beta2       = "apps/v1beta2"
)

// legacyKind is an older apiVersion of a supported kind.
type legacyKind struct {
	apiVersion, kind string
	// newObject returns the Go value a document decodes into: the version's
	// own type where its fields differ from apps/v1's, else apps/v1's.
	newObject func() Object
}

// legacyKinds are the older apiVersions that load by conversion: those of
// Kubernetes 1.15, the last release that served them.
var legacyKinds = []legacyKind{
	{ExtensionsV1beta1, KindDeployment, func() Object { return &legacyDeployment{} }},
	{ExtensionsV1beta1, KindDaemonSet, func() Object { return &legacyDaemonSet{} }},
	{ExtensionsV1beta1, KindReplicaSet, func() Object { return &ReplicaSet{} }},
	{AppsV1beta1, KindDeployment, func() Object { return &legacyDeployment{} }},
	{AppsV1beta1, KindStatefulSet, func() Object { return &StatefulSet{} }},
	{AppsV1beta2, KindDeployment, func() Object { return &Deployment{} }},
	{AppsV1beta2, KindDaemonSet, func() Object { return &DaemonSet{} }},
	{AppsV1beta2, KindReplicaSet, func() Object { return &ReplicaSet{} }},
	{AppsV1beta2, KindStatefulSet, func() Object { return &StatefulSet{} }},
}

// Kubernetes' releases for the deprecation warning: the older workload
// versions were deprecated in v1.9 (apps/v1 went GA) and no longer served
// from v1.16.
const (
	legacyDeprecatedIn = "v1.9"
	legacyRemovedIn    = "v1.16"
)

func lookupLegacyKind(apiVersion, kind string) *legacyKind {
	for i := range legacyKinds {
		if legacyKinds[i].apiVersion == apiVersion && legacyKinds[i].kind == kind {
			return &legacyKinds[i]
		}
	}
	return nil
}

// LegacyKinds returns the older "apiVersion Kind" pairs that load by
// conversion to apps/v1, e.g. "extensions/v1beta1 Deployment".
func LegacyKinds() []string {
	out := make([]string, len(legacyKinds))
	for i, k := range legacyKinds {
		out[i] = k.apiVersion + " " + k.kind
	}
	return out
}

// DeprecationWarning is the warning for an object written in an older
// apiVersion, in Kubernetes' words ("extensions/v1beta1 Deployment is
// deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment"), or
// "" when apiVersion/kind is current.
func DeprecationWarning(apiVersion, kind string) string {
	if lookupLegacyKind(apiVersion, kind) == nil {
		return ""
	}
	return fmt.Sprintf("%s %s is deprecated in %s+, unavailable in %s+; use %s %s",
		apiVersion, kind, legacyDeprecatedIn, legacyRemovedIn, AppsV1, kind)
}

// legacyDeployment is a Deployment of extensions/v1beta1 or apps/v1beta1:
// apps/v1's fields and the deprecated rollbackTo.
type legacyDeployment struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       legacyDeploymentSpec `json:"spec"`
}

// legacyDeploymentSpec is apps/v1's DeploymentSpec and rollbackTo.
type legacyDeploymentSpec struct {
	DeploymentSpec `json:",inline"`
	// RollbackTo asked the controller to roll back once: an imperative
	// request written into the desired state, deprecated and gone from
	// apps/v1. Stevedore refuses it (see refuseLegacyFields).
	RollbackTo *RollbackConfig `json:"rollbackTo,omitempty"`
}

// RollbackConfig is the deprecated spec.rollbackTo of an extensions/v1beta1
// or apps/v1beta1 Deployment.
type RollbackConfig struct {
	// Revision is the revision to roll back to; 0 meant the last one.
	Revision int64 `json:"revision,omitempty"`
}

// legacyDaemonSet is an extensions/v1beta1 DaemonSet: apps/v1's fields and
// templateGeneration.
type legacyDaemonSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       legacyDaemonSetSpec `json:"spec"`
}

// legacyDaemonSetSpec is apps/v1's DaemonSetSpec and templateGeneration.
type legacyDaemonSetSpec struct {
	DaemonSetSpec `json:",inline"`
	// TemplateGeneration was the API server's counter of template changes
	// (it set 1 on create, whatever the manifest said): read-only, so it is
	// accepted and dropped, as a status is.
	TemplateGeneration int64 `json:"templateGeneration,omitempty"`
}

var (
	_ Object = (*legacyDeployment)(nil)
	_ Object = (*legacyDaemonSet)(nil)
)

// legacyTypeNames maps the older versions' Go types to the apps/v1 type
// whose entries of the field tables (fields.go) they share.
var legacyTypeNames = map[string]string{
	"legacyDeployment":     "Deployment",
	"legacyDeploymentSpec": "DeploymentSpec",
	"legacyDaemonSet":      "DaemonSet",
	"legacyDaemonSetSpec":  "DaemonSetSpec",
}

// tableName is the name t's fields are listed under in the field tables.
func tableName(t reflect.Type) string {
	if n, ok := legacyTypeNames[t.Name()]; ok {
		return n
	}
	return t.Name()
}

// refuseLegacyFields reports the fields of an older version that Stevedore
// does not carry over, by name.
func (d *decoder) refuseLegacyFields(doc *document) {
	if o, ok := doc.obj.(*legacyDeployment); ok && o.Spec.RollbackTo != nil {
		p := fieldPath("spec.rollbackTo")
		d.errorf(doc.lineOf(p), doc.label, p, "field not supported by Stevedore: rollbackTo was a deprecated imperative request (gone from apps/v1); roll back with `ctl rollout undo`, which commits the old template, or revert the commit")
	}
}

// toAppsV1 converts an object decoded from an older apiVersion to apps/v1,
// first filling the defaults that version had where they differ from
// apps/v1's (defaultLegacy): what the older version left unset must mean
// what it meant there. The result's apiVersion is apps/v1.
func toAppsV1(apiVersion string, o Object) Object {
	var out Object
	switch o := o.(type) {
	case *legacyDeployment:
		out = &Deployment{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta, Spec: o.Spec.DeploymentSpec}
	case *legacyDaemonSet:
		out = &DaemonSet{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta, Spec: o.Spec.DaemonSetSpec}
	default:
		out = o
	}
	defaultLegacy(apiVersion, out)
	out.GetTypeMeta().APIVersion = AppsV1
	return out
}

// fromAppsV1 converts an apps/v1 object to an older apiVersion's Go type,
// as Kubernetes served a stored object through an older version: every
// field both versions have is copied; rollbackTo and templateGeneration,
// which apps/v1 does not have, are left unset.
func fromAppsV1(o Object, apiVersion string) (Object, error) {
	lk := lookupLegacyKind(apiVersion, o.GetTypeMeta().Kind)
	if lk == nil {
		return nil, fmt.Errorf("failed to convert %s to %s: not a version Stevedore converts", keyLabel(KeyOf(o)), apiVersion)
	}
	var out Object
	switch o := o.(type) {
	case *Deployment:
		if _, ok := lk.newObject().(*legacyDeployment); ok {
			out = &legacyDeployment{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta, Spec: legacyDeploymentSpec{DeploymentSpec: o.Spec}}
		} else {
			c := *o
			out = &c
		}
	case *DaemonSet:
		if _, ok := lk.newObject().(*legacyDaemonSet); ok {
			out = &legacyDaemonSet{TypeMeta: o.TypeMeta, ObjectMeta: o.ObjectMeta, Spec: legacyDaemonSetSpec{DaemonSetSpec: o.Spec}}
		} else {
			c := *o
			out = &c
		}
	case *ReplicaSet:
		c := *o
		out = &c
	case *StatefulSet:
		c := *o
		out = &c
	default:
		return nil, fmt.Errorf("failed to convert %s to %s: not a version Stevedore converts", keyLabel(KeyOf(o)), apiVersion)
	}
	out.GetTypeMeta().APIVersion = apiVersion
	return out, nil
}

// Warning is a problem that does not stop a revision from loading, placed
// as an Error is: today, an object written in a deprecated apiVersion.
type Warning struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
}

// String renders the warning as "file:line: Object: message".
func (w Warning) String() string {
	return (&Error{File: w.File, Line: w.Line, Object: w.Object, Message: w.Message}).Error()
}

// legacyWarnings returns the deprecation warnings of the documents written
// in an older apiVersion, sorted by file and line.
func legacyWarnings(docs []*document) []Warning {
	var out []Warning
	for _, doc := range docs {
		if doc.apiVersion == "" {
			continue
		}
		out = append(out, Warning{File: doc.file, Line: doc.line, Object: doc.label,
			Message: DeprecationWarning(doc.apiVersion, doc.obj.GetTypeMeta().Kind)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}
