package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// ConfigMaps, Secrets, PersistentVolumeClaims, PersistentVolumes and
// StorageClasses: their tables (kubectl's columns) and their Kubernetes
// shapes for -o json|yaml. A Secret's values never reach ctl (the
// reconciler sends keys and sizes), so its -o yaml shows every key with an
// empty value and the annotation stevedore.dev/redacted: "true".

// Resource types of this file (see resources in getcmd.go).
const (
	resConfigMaps     = "configmaps"
	resSecrets        = "secrets"
	resClaims         = "persistentvolumeclaims"
	resVolumes        = "persistentvolumes"
	resStorageClasses = "storageclasses"
)

// RedactedAnnotation marks a Kubernetes-shaped object ctl printed without
// values it does not have: a Secret's data (every key shown with ""), a
// ConfigMap's binaryData.
const RedactedAnnotation = "stevedore.dev/redacted"

// builtinAnnotation marks the reconciler's own default StorageClass, in
// force because the repository declares none.
const builtinAnnotation = "stevedore.dev/builtin"

// storageResource maps kubectl's names of these kinds to a resource type,
// or "".
func storageResource(s string) string {
	switch s {
	case "configmap", "configmaps", "cm":
		return resConfigMaps
	case "secret", "secrets":
		return resSecrets
	case "persistentvolumeclaim", "persistentvolumeclaims", "pvc":
		return resClaims
	case "persistentvolume", "persistentvolumes", "pv":
		return resVolumes
	case "storageclass", "storageclasses", "sc", "storageclass.storage.k8s.io", "storageclasses.storage.k8s.io":
		return resStorageClasses
	}
	return ""
}

// storageKinds are the kinds of these resource types' tables.
var storageKinds = map[string]string{
	resConfigMaps:     spec.KindConfigMap,
	resSecrets:        spec.KindSecret,
	resClaims:         spec.KindPersistentVolumeClaim,
	resVolumes:        spec.KindPersistentVolume,
	resStorageClasses: spec.KindStorageClass,
}

// clusterScoped reports whether kind's objects have no namespace (no
// NAMESPACE column with -A).
func clusterScoped(kind string) bool {
	switch kind {
	case spec.KindNode, spec.KindNamespace, spec.KindPersistentVolume, spec.KindStorageClass:
		return true
	}
	return false
}

// fetchStorage lists one of this file's resource types.
func (fe *fetcher) fetchStorage(ctx context.Context, res string) ([]*item, error) {
	var items []*item
	switch res {
	case resConfigMaps:
		cms, err := fe.cl.ConfigMaps(ctx, fe.ns)
		if err != nil {
			return nil, err
		}
		for _, cm := range cms {
			items = append(items, &item{kind: spec.KindConfigMap, namespace: cm.Namespace, name: cm.Name, labels: cm.Labels, wire: cm,
				kube: kubeConfigMap(cm), fields: fields.Set{"metadata.name": cm.Name, "metadata.namespace": cm.Namespace}})
		}
	case resSecrets:
		secs, err := fe.cl.Secrets(ctx, fe.ns)
		if err != nil {
			return nil, err
		}
		for _, s := range secs {
			items = append(items, &item{kind: spec.KindSecret, namespace: s.Namespace, name: s.Name, labels: s.Labels, wire: s,
				kube: kubeSecret(s), fields: fields.Set{"metadata.name": s.Name, "metadata.namespace": s.Namespace, "type": s.Type}})
		}
	case resClaims:
		claims, err := fe.cl.Claims(ctx, fe.ns)
		if err != nil {
			return nil, err
		}
		for _, c := range claims {
			items = append(items, &item{kind: spec.KindPersistentVolumeClaim, namespace: c.Namespace, name: c.Name, labels: c.Labels, wire: c,
				kube: kubeClaim(c), fields: fields.Set{"metadata.name": c.Name, "metadata.namespace": c.Namespace}})
		}
	case resVolumes:
		vols, err := fe.cl.Volumes(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			items = append(items, &item{kind: spec.KindPersistentVolume, name: v.Name, labels: v.Labels, wire: v,
				kube: kubeVolume(v), fields: fields.Set{"metadata.name": v.Name}})
		}
	case resStorageClasses:
		scs, err := fe.cl.StorageClasses(ctx)
		if err != nil {
			return nil, err
		}
		for _, sc := range scs {
			items = append(items, &item{kind: spec.KindStorageClass, name: sc.Name, labels: sc.Labels, wire: sc,
				kube: kubeStorageClass(sc), fields: fields.Set{"metadata.name": sc.Name}})
		}
	default:
		return nil, fmt.Errorf("unknown resource %q", res)
	}
	return items, nil
}

// storageHeader is the table header of one of these kinds (nil for
// another kind).
func storageHeader(kind string, wide bool) []string {
	var h []string
	switch kind {
	case spec.KindConfigMap:
		h = []string{"NAME", "DATA", "AGE"}
		if wide {
			h = append(h, "SOURCE")
		}
	case spec.KindSecret:
		h = []string{"NAME", "TYPE", "DATA", "AGE"}
		if wide {
			h = append(h, "SOURCE")
		}
	case spec.KindPersistentVolumeClaim:
		h = []string{"NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"}
		if wide {
			h = append(h, "VOLUMEMODE", "NODE", "USED BY", "OWNER")
		}
	case spec.KindPersistentVolume:
		h = []string{"NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "REASON", "AGE"}
		if wide {
			h = append(h, "VOLUMEMODE", "DRIVER", "NODE")
		}
	case spec.KindStorageClass:
		h = []string{"NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"}
	}
	return h
}

// storageRow is the table row of one of these objects; ok is false for
// another.
func storageRow(name string, wire any, wide bool) (vals []string, ok bool) {
	switch w := wire.(type) {
	case api.ConfigMap:
		vals = []string{name, strconv.Itoa(len(w.Data) + len(w.BinaryData)), age(time.Time{})}
		if wide {
			vals = append(vals, sourceString(w.Source))
		}
	case api.Secret:
		vals = []string{name, w.Type, strconv.Itoa(len(w.Keys)), age(time.Time{})}
		if wide {
			vals = append(vals, sourceString(w.Source))
		}
	case api.Claim:
		capacity := ""
		if w.Phase == "Bound" && w.Capacity > 0 {
			capacity = storageSize(w.Capacity)
		}
		modes := ""
		if w.Phase == "Bound" {
			modes = accessModes(w.AccessModes)
		}
		vals = []string{name, w.Phase, w.Volume, capacity, modes, w.StorageClass, age(w.Created)}
		if wide {
			vals = append(vals, spec.VolumeModeFilesystem, orNone(w.Node), orNone(strings.Join(w.UsedBy, ",")), orNone(w.Owner))
		}
	case api.Volume:
		vals = []string{name, storageSize(w.Capacity), accessModes(w.AccessModes), w.ReclaimPolicy, w.Phase, w.Claim, w.StorageClass, w.Reason, age(w.Created)}
		if wide {
			vals = append(vals, spec.VolumeModeFilesystem, orNone(w.Driver), orNone(w.Node))
		}
	case api.StorageClass:
		if w.Default {
			name += " (default)"
		}
		vals = []string{name, w.Provisioner, w.ReclaimPolicy, w.VolumeBindingMode, strconv.FormatBool(w.AllowVolumeExpansion), age(time.Time{})}
	default:
		return nil, false
	}
	return vals, true
}

func sourceString(s *spec.Source) string {
	if s == nil || s.File == "" {
		return "<none>"
	}
	return s.File + ":" + strconv.Itoa(s.Line)
}

// storageSize renders bytes as a Kubernetes quantity ("1Gi", "500Mi").
func storageSize(n int64) string {
	if n <= 0 {
		return ""
	}
	return resource.NewQuantity(n, resource.BinarySI).String()
}

// accessModes is kubectl's ACCESS MODES column: RWO, ROX, RWX, RWOP.
func accessModes(modes []string) string {
	short := make([]string, 0, len(modes))
	for _, m := range modes {
		switch m {
		case spec.ReadWriteOnce:
			m = "RWO"
		case spec.ReadOnlyMany:
			m = "ROX"
		case spec.ReadWriteMany:
			m = "RWX"
		case spec.ReadWriteOncePod:
			m = "RWOP"
		}
		short = append(short, m)
	}
	return strings.Join(short, ",")
}

// The Kubernetes shapes (fields in alphabetical order of their JSON names,
// as kubectl prints them).

type k8sConfigMap struct {
	APIVersion string            `json:"apiVersion"`
	BinaryData map[string]string `json:"binaryData,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	Immutable  *bool             `json:"immutable,omitempty"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
}

func kubeConfigMap(cm api.ConfigMap) k8sConfigMap {
	o := k8sConfigMap{APIVersion: spec.CoreV1, Kind: spec.KindConfigMap, Data: cm.Data,
		Metadata: objectMeta{Name: cm.Name, Namespace: cm.Namespace, Labels: cm.Labels, Annotations: cm.Annotations}}
	if cm.Immutable {
		o.Immutable = &cm.Immutable
	}
	if len(cm.BinaryData) > 0 {
		// Sizes only came: the keys, with values left empty and said so.
		o.BinaryData = make(map[string]string, len(cm.BinaryData))
		for k := range cm.BinaryData {
			o.BinaryData[k] = ""
		}
		o.Metadata.Annotations = withAnnotation(cm.Annotations, RedactedAnnotation, "true")
	}
	return o
}

type k8sSecret struct {
	APIVersion string            `json:"apiVersion"`
	Data       map[string]string `json:"data,omitempty"`
	Immutable  *bool             `json:"immutable,omitempty"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Type       string            `json:"type"`
}

// kubeSecret is a v1 Secret whose every data key has an empty value:
// kubectl shows base64 values, ctl has none to show.
func kubeSecret(s api.Secret) k8sSecret {
	o := k8sSecret{APIVersion: spec.CoreV1, Kind: spec.KindSecret, Type: s.Type,
		Metadata: objectMeta{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels,
			Annotations: withAnnotation(s.Annotations, RedactedAnnotation, "true")}}
	if s.Immutable {
		o.Immutable = &s.Immutable
	}
	if len(s.Keys) > 0 {
		o.Data = make(map[string]string, len(s.Keys))
		for _, k := range s.Keys {
			o.Data[k.Name] = ""
		}
	}
	return o
}

// withAnnotation returns a copy of m with k set to v.
func withAnnotation(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

type k8sClaim struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Metadata   objectMeta                     `json:"metadata"`
	Spec       spec.PersistentVolumeClaimSpec `json:"spec"`
	Status     kVolumeStatus                  `json:"status"`
}

// kVolumeStatus is the status of a v1 PersistentVolumeClaim or
// PersistentVolume.
type kVolumeStatus struct {
	AccessModes []string                     `json:"accessModes,omitempty"`
	Capacity    map[string]resource.Quantity `json:"capacity,omitempty"`
	Message     string                       `json:"message,omitempty"`
	Phase       string                       `json:"phase"`
	Reason      string                       `json:"reason,omitempty"`
}

// kubeClaim is the v1 PersistentVolumeClaim: the committed spec with what
// Kubernetes fills in (storageClassName, volumeName, volumeMode), and its
// status.
func kubeClaim(c api.Claim) k8sClaim {
	o := k8sClaim{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolumeClaim,
		Metadata: objectMeta{Name: c.Name, Namespace: c.Namespace, Labels: c.Labels, Annotations: c.Annotations, CreationTimestamp: timePtr(c.Created)}}
	if c.Spec != nil {
		o.Spec = *c.Spec
	} else {
		o.Spec.AccessModes = c.AccessModes
		if c.Requested > 0 {
			o.Spec.Resources.Requests = spec.ResourceList{resourceStorage: *resource.NewQuantity(c.Requested, resource.BinarySI)}
		}
	}
	if o.Spec.StorageClassName == nil && c.StorageClass != "" {
		sc := c.StorageClass
		o.Spec.StorageClassName = &sc
	}
	if o.Spec.VolumeName == "" {
		o.Spec.VolumeName = c.Volume
	}
	if o.Spec.VolumeMode == nil {
		m := spec.VolumeModeFilesystem
		o.Spec.VolumeMode = &m
	}
	o.Status.Phase = c.Phase
	if c.Phase == "Bound" {
		o.Status.AccessModes = c.AccessModes
		if c.Capacity > 0 {
			o.Status.Capacity = map[string]resource.Quantity{resourceStorage: *resource.NewQuantity(c.Capacity, resource.BinarySI)}
		}
	}
	return o
}

type k8sVolume struct {
	APIVersion string                    `json:"apiVersion"`
	Kind       string                    `json:"kind"`
	Metadata   objectMeta                `json:"metadata"`
	Spec       spec.PersistentVolumeSpec `json:"spec"`
	Status     kVolumeStatus             `json:"status"`
}

// resourceStorage is the resource name of a claim's request and a
// volume's capacity.
const resourceStorage = spec.ResourceStorage

// hostnameLabel is the node label a node-local volume's affinity names.
const hostnameLabel = "kubernetes.io/hostname"

// kubeVolume is the v1 PersistentVolume: the committed spec of a volume
// declared in Git, or one built from the view of a provisioned one (a csi
// source with the driver and handle, the claim it is bound to, and the
// node a node-local one is on).
func kubeVolume(v api.Volume) k8sVolume {
	o := k8sVolume{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolume,
		Metadata: objectMeta{Name: v.Name, Labels: v.Labels, Annotations: v.Annotations, CreationTimestamp: timePtr(v.Created)}}
	if v.Spec != nil {
		o.Spec = *v.Spec
	} else {
		o.Spec.AccessModes = v.AccessModes
		o.Spec.StorageClassName = v.StorageClass
		if v.Driver != "" {
			o.Spec.CSI = &spec.CSIPersistentVolumeSource{Driver: v.Driver, VolumeHandle: v.Handle}
		}
	}
	if len(o.Spec.Capacity) == 0 && v.Capacity > 0 {
		o.Spec.Capacity = spec.ResourceList{resourceStorage: *resource.NewQuantity(v.Capacity, resource.BinarySI)}
	}
	if o.Spec.PersistentVolumeReclaimPolicy == "" {
		o.Spec.PersistentVolumeReclaimPolicy = v.ReclaimPolicy
	}
	if o.Spec.ClaimRef == nil && v.Claim != "" {
		ns, name, _ := strings.Cut(v.Claim, "/")
		o.Spec.ClaimRef = &spec.ObjectReference{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolumeClaim, Namespace: ns, Name: name}
	}
	if o.Spec.NodeAffinity == nil && v.Node != "" {
		o.Spec.NodeAffinity = &spec.VolumeNodeAffinity{Required: &spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
			MatchExpressions: []spec.NodeSelectorRequirement{{Key: hostnameLabel, Operator: "In", Values: []string{v.Node}}}}}}}
	}
	if o.Spec.VolumeMode == nil {
		m := spec.VolumeModeFilesystem
		o.Spec.VolumeMode = &m
	}
	o.Status = kVolumeStatus{Phase: v.Phase, Reason: v.Reason, Message: v.Message}
	return o
}

type k8sStorageClass struct {
	AllowVolumeExpansion *bool             `json:"allowVolumeExpansion,omitempty"`
	APIVersion           string            `json:"apiVersion"`
	Kind                 string            `json:"kind"`
	Metadata             objectMeta        `json:"metadata"`
	MountOptions         []string          `json:"mountOptions,omitempty"`
	Parameters           map[string]string `json:"parameters,omitempty"`
	Provisioner          string            `json:"provisioner"`
	ReclaimPolicy        string            `json:"reclaimPolicy"`
	VolumeBindingMode    string            `json:"volumeBindingMode"`
}

func kubeStorageClass(sc api.StorageClass) k8sStorageClass {
	o := k8sStorageClass{APIVersion: spec.StorageV1, Kind: spec.KindStorageClass, Provisioner: sc.Provisioner,
		Parameters: sc.Parameters, MountOptions: sc.MountOptions, ReclaimPolicy: sc.ReclaimPolicy, VolumeBindingMode: sc.VolumeBindingMode,
		Metadata: objectMeta{Name: sc.Name, Labels: sc.Labels, Annotations: sc.Annotations}}
	if sc.AllowVolumeExpansion {
		o.AllowVolumeExpansion = &sc.AllowVolumeExpansion
	}
	if sc.Default && sc.Annotations[spec.DefaultStorageClassAnnotation] != "true" {
		o.Metadata.Annotations = withAnnotation(o.Metadata.Annotations, spec.DefaultStorageClassAnnotation, "true")
	}
	if sc.Builtin {
		o.Metadata.Annotations = withAnnotation(o.Metadata.Annotations, builtinAnnotation, "true")
	}
	return o
}

// storageNames lists the names of res's objects for completion.
func storageNames(ctx context.Context, cl *api.Client, res, ns string) []string {
	var names []string
	switch res {
	case resConfigMaps:
		l, _ := cl.ConfigMaps(ctx, ns)
		for _, o := range l {
			names = append(names, o.Name)
		}
	case resSecrets:
		l, _ := cl.Secrets(ctx, ns)
		for _, o := range l {
			names = append(names, o.Name)
		}
	case resClaims:
		l, _ := cl.Claims(ctx, ns)
		for _, o := range l {
			names = append(names, o.Name)
		}
	case resVolumes:
		l, _ := cl.Volumes(ctx)
		for _, o := range l {
			names = append(names, o.Name)
		}
	case resStorageClasses:
		l, _ := cl.StorageClasses(ctx)
		for _, o := range l {
			names = append(names, o.Name)
		}
	}
	sort.Strings(names)
	return names
}

// The fields --field-selector may name for these kinds, as the Kubernetes
// API server selects them.
func init() {
	fieldLabels[spec.KindConfigMap] = []string{"metadata.name", "metadata.namespace"}
	fieldLabels[spec.KindSecret] = []string{"metadata.name", "metadata.namespace", "type"}
	fieldLabels[spec.KindPersistentVolumeClaim] = []string{"metadata.name", "metadata.namespace"}
	fieldLabels[spec.KindPersistentVolume] = []string{"metadata.name"}
	fieldLabels[spec.KindStorageClass] = []string{"metadata.name"}
}
