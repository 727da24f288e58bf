package spec

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"
)

// This file checks, once the whole revision is known, what a pod's volumes
// and a claim depend on: the claims a pod mounts, the StorageClass a claim
// names and the size it allows, at most one default class, and the
// policy a Namespace states for host paths and privileged containers. In
// GitOps the repository is the whole truth, so a claim or class that is
// not declared is an error here, not a pod stuck Pending later. A missing
// ConfigMap or Secret is not: as in Kubernetes, the pod waits in
// CreateContainerConfigError (or starts without it when the reference is
// optional), so a revision may add it later.

// Policy annotations of a Namespace (and, for host paths, of a
// PersistentVolume), each allowing something only when set to "true".
const (
	// AllowHostPathsAnnotation lets the pods of a namespace use hostPath
	// volumes; on a PersistentVolume, lets it be a hostPath or local
	// volume.
	AllowHostPathsAnnotation = "stevedore.dev/allow-host-paths"
	// AllowPrivilegedAnnotation lets the pods of a namespace run
	// privileged containers and add capabilities beyond
	// BaselineCapabilities.
	AllowPrivilegedAnnotation = "stevedore.dev/allow-privileged"
)

// MaxSizeParameter, a StorageClass parameter holding a quantity ("10Gi"),
// is the most storage a claim of the class may request.
const MaxSizeParameter = "stevedore.dev/max-size"

// The built-in StorageClass: node-local directories, the default class of
// a repository that declares no default class of its own.
const (
	BuiltinStorageClassName = "local"
	LocalDirProvisioner     = "stevedore.dev/local-dir"
)

// BuiltinStorageClass returns the class the reconciler adds when the
// repository declares no default StorageClass (and none named "local"):
// "local", provisioner stevedore.dev/local-dir, annotated default, reclaim
// policy Delete, binding mode WaitForFirstConsumer (a node-local volume is
// made where its first pod is placed). Each call returns a new object.
func BuiltinStorageClass() *StorageClass {
	c := &StorageClass{
		TypeMeta: TypeMeta{APIVersion: StorageV1, Kind: KindStorageClass},
		ObjectMeta: ObjectMeta{Name: BuiltinStorageClassName,
			Annotations: map[string]string{DefaultStorageClassAnnotation: "true"}},
		Provisioner: LocalDirProvisioner,
	}
	m := VolumeBindingWaitForFirstConsumer
	c.VolumeBindingMode = &m
	SetDefaults(c)
	return c
}

// IsDefaultStorageClass reports whether c is annotated as the default
// class.
func IsDefaultStorageClass(c *StorageClass) bool {
	return c.Annotations[DefaultStorageClassAnnotation] == "true"
}

// StorageClasses returns the classes claims may use, by name: the
// repository's, plus BuiltinStorageClass when the repository declares no
// default class and no class named "local".
func (s *Set) StorageClasses() map[string]*StorageClass {
	out := map[string]*StorageClass{}
	hasDefault := false
	for _, o := range s.OfKind(KindStorageClass) {
		c := o.(*StorageClass)
		out[c.Name] = c
		hasDefault = hasDefault || IsDefaultStorageClass(c)
	}
	if _, taken := out[BuiltinStorageClassName]; !hasDefault && !taken {
		out[BuiltinStorageClassName] = BuiltinStorageClass()
	}
	return out
}

// DefaultStorageClass returns the class of a claim that names none: the
// repository's default class (the first by name if a set was built by hand
// with two), or the built-in one; nil when there is none.
func (s *Set) DefaultStorageClass() *StorageClass {
	classes := s.StorageClasses()
	names := sortedKeys(classes)
	for _, n := range names {
		if IsDefaultStorageClass(classes[n]) {
			return classes[n]
		}
	}
	return nil
}

// ClaimStorageClass returns the class a claim is provisioned from: the one
// it names, or the default class when it names none; nil for a claim with
// storageClassName "" (bound only to a PersistentVolume without a class)
// or a class the set does not have.
func (s *Set) ClaimStorageClass(c *PersistentVolumeClaim) *StorageClass {
	if c.Spec.StorageClassName == nil {
		return s.DefaultStorageClass()
	}
	if *c.Spec.StorageClassName == "" {
		return nil
	}
	return s.StorageClasses()[*c.Spec.StorageClassName]
}

// ConfigRefs returns the ConfigMaps and Secrets a pod spec in namespace ns
// refers to (volumes, projected sources, env valueFrom and envFrom of its
// init and app containers), sorted and without duplicates, whether or not
// they are declared: the reconciler sends those that exist to the pod's
// node, and the agent holds the pod in CreateContainerConfigError while a
// non-optional one is missing.
func ConfigRefs(ns string, ps *PodSpec) []ObjectKey {
	seen := map[ObjectKey]bool{}
	add := func(kind, name string) {
		if name != "" {
			seen[ObjectKey{Kind: kind, Namespace: ns, Name: name}] = true
		}
	}
	for _, v := range ps.Volumes {
		if v.ConfigMap != nil {
			add(KindConfigMap, v.ConfigMap.Name)
		}
		if v.Secret != nil {
			add(KindSecret, v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					add(KindConfigMap, src.ConfigMap.Name)
				}
				if src.Secret != nil {
					add(KindSecret, src.Secret.Name)
				}
			}
		}
	}
	for _, list := range [][]Container{ps.InitContainers, ps.Containers} {
		for _, c := range list {
			for _, e := range c.Env {
				if vf := e.ValueFrom; vf != nil && vf.ConfigMapKeyRef != nil {
					add(KindConfigMap, vf.ConfigMapKeyRef.Name)
				} else if vf != nil && vf.SecretKeyRef != nil {
					add(KindSecret, vf.SecretKeyRef.Name)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					add(KindConfigMap, ef.ConfigMapRef.Name)
				}
				if ef.SecretRef != nil {
					add(KindSecret, ef.SecretRef.Name)
				}
			}
		}
	}
	out := make([]ObjectKey, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ConfigObjects splits ConfigRefs(ns, ps) into the objects the set
// declares and the keys it does not.
func (s *Set) ConfigObjects(ns string, ps *PodSpec) (found []Object, missing []ObjectKey) {
	for _, k := range ConfigRefs(ns, ps) {
		if o, ok := s.Objects[k]; ok {
			found = append(found, o)
		} else {
			missing = append(missing, k)
		}
	}
	return found, missing
}

// ClaimNames returns the PersistentVolumeClaims a pod spec mounts, in
// volume order, without duplicates.
func ClaimNames(ps *PodSpec) []string {
	var out []string
	for _, v := range ps.Volumes {
		if c := v.PersistentVolumeClaim; c != nil && c.ClaimName != "" && !containsString(out, c.ClaimName) {
			out = append(out, c.ClaimName)
		}
	}
	return out
}

// PodSpecOf returns the pod spec of a Pod, PodTemplate,
// ReplicationController, Deployment, ReplicaSet, StatefulSet, DaemonSet,
// Job or CronJob (its jobTemplate's) and its field path, or nil.
func PodSpecOf(o Object) (*PodSpec, string) {
	switch o := o.(type) {
	case *ReplicaSet:
		return &o.Spec.Template.Spec, "spec.template.spec"
	case *StatefulSet:
		return &o.Spec.Template.Spec, "spec.template.spec"
	case *DaemonSet:
		return &o.Spec.Template.Spec, "spec.template.spec"
	case *Job:
		return &o.Spec.Template.Spec, "spec.template.spec"
	case *CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec"
	case *Pod:
		return &o.Spec, "spec"
	case *PodTemplate:
		return &o.Template.Spec, "template.spec"
	case *ReplicationController:
		if o.Spec.Template != nil {
			return &o.Spec.Template.Spec, "spec.template.spec"
		}
	case *Deployment:
		return &o.Spec.Template.Spec, "spec.template.spec"
	}
	return nil, ""
}

// annotatedTrue reports whether m has annotation a set to "true".
func annotatedTrue(m *ObjectMeta, a string) bool {
	return m != nil && m.Annotations[a] == "true"
}

// checkStorage runs this file's checks over a loaded revision.
func checkStorage(docs []*document, set *Set, errs *errorSink) {
	add := func(doc *document, p fieldPath, format string, args ...any) {
		errs.add(&Error{File: doc.file, Line: doc.lineOf(p), Object: keyLabel(KeyOf(doc.obj)), Field: string(p), Message: fmt.Sprintf(format, args...)})
	}
	var defaults []*document
	handles := map[[2]string]string{}
	for _, doc := range docs {
		if set.Objects[KeyOf(doc.obj)] != doc.obj {
			continue // invalid, or declared twice (reported)
		}
		switch o := doc.obj.(type) {
		case *StorageClass:
			if IsDefaultStorageClass(o) {
				defaults = append(defaults, doc)
			}
		case *PersistentVolumeClaim:
			checkClaim(doc, o, "spec", set, add)
		case *StatefulSet:
			for i := range o.Spec.VolumeClaimTemplates {
				checkClaim(doc, &o.Spec.VolumeClaimTemplates[i], fieldPath("spec.volumeClaimTemplates").index(i).child("spec"), set, add)
			}
			names := map[string]bool{}
			for _, c := range o.Spec.VolumeClaimTemplates {
				names[c.Name] = true
			}
			checkPodStorage(doc, &o.Spec.Template.Spec, "spec.template.spec", names, set, add)
		case *PersistentVolume:
			checkPV(doc, o, handles, add)
		default:
			if ps, p := PodSpecOf(doc.obj); ps != nil {
				checkPodStorage(doc, ps, fieldPath(p), nil, set, add)
			}
		}
	}
	if len(defaults) > 1 {
		// Docs are in file order; name the classes by name, sorted.
		names := make([]string, len(defaults))
		for i, d := range defaults {
			names[i] = d.obj.GetObjectMeta().Name
		}
		sort.Strings(names)
		for _, d := range defaults[1:] {
			add(d, fieldPath("metadata.annotations").key(DefaultStorageClassAnnotation),
				"two default StorageClasses: %s and %s: at most one class may be annotated %s: \"true\"", names[0], names[1], DefaultStorageClassAnnotation)
		}
	}
}

// checkPV checks a PersistentVolume against the host-path policy and, for
// a csi volume, that no volume before it in the revision has its driver
// and volumeHandle: handles maps each (driver, volumeHandle) seen to the
// first volume's name.
func checkPV(doc *document, o *PersistentVolume, handles map[[2]string]string, add func(*document, fieldPath, string, ...any)) {
	if !annotatedTrue(&o.ObjectMeta, AllowHostPathsAnnotation) {
		if o.Spec.HostPath != nil {
			add(doc, "spec.hostPath", "forbidden: a hostPath PersistentVolume exposes a directory of whichever node runs the pod; annotate the PersistentVolume with %s: \"true\" to allow it", AllowHostPathsAnnotation)
		}
		if o.Spec.Local != nil {
			add(doc, "spec.local", "forbidden: a local PersistentVolume exposes a directory of its node; annotate the PersistentVolume with %s: \"true\" to allow it", AllowHostPathsAnnotation)
		}
	}
	c := o.Spec.CSI
	if c == nil || c.Driver == "" || c.VolumeHandle == "" {
		return
	}
	k := [2]string{c.Driver, c.VolumeHandle}
	if first, ok := handles[k]; ok {
		add(doc, "spec.csi.volumeHandle", "duplicate value %q: PersistentVolume %q has the same driver (%s) and volumeHandle: two volumes on one volume of a driver share its data, and reclaim Delete of one would delete the other's", c.VolumeHandle, first, c.Driver)
		return
	}
	handles[k] = o.Name
}

// checkClaim checks a claim, or a StatefulSet's claim template, whose
// spec is at sp, against the volumes and classes of the set.
func checkClaim(doc *document, c *PersistentVolumeClaim, sp fieldPath, set *Set, add func(*document, fieldPath, string, ...any)) {
	if n := c.Spec.VolumeName; n != "" {
		if _, ok := set.Objects[ObjectKey{Kind: KindPersistentVolume, Name: n}]; !ok {
			add(doc, sp.child("volumeName"), "PersistentVolume %q is not declared in the repository", n)
		}
	}
	var class *StorageClass
	switch n := c.Spec.StorageClassName; {
	case n == nil:
		if class = set.DefaultStorageClass(); class == nil {
			add(doc, sp.child("storageClassName"), "required: the repository declares no default StorageClass (annotated %s: \"true\") and a class named %q that is not the default hides the built-in one: name a class", DefaultStorageClassAnnotation, BuiltinStorageClassName)
		}
	case *n == "", isDNS1123Subdomain(*n) != "":
		// Bound only to a PersistentVolume without a class, or an
		// invalid name (reported).
	default:
		if class = set.StorageClasses()[*n]; class == nil {
			add(doc, sp.child("storageClassName"), "StorageClass %q is not declared in the repository%s", *n, builtinHint(set))
		}
	}
	if class == nil {
		return
	}
	maxSize, ok := class.Parameters[MaxSizeParameter]
	if !ok {
		return
	}
	lim, err := resource.ParseQuantity(maxSize)
	req, has := c.Spec.Resources.Requests[ResourceStorage]
	if err != nil || !has || req.Cmp(lim) <= 0 {
		return
	}
	add(doc, sp.child("resources.requests").key(ResourceStorage), "invalid value %q: more than StorageClass %q allows (%s: %s)", req.String(), class.Name, MaxSizeParameter, maxSize)
}

func builtinHint(set *Set) string {
	if _, ok := set.StorageClasses()[BuiltinStorageClassName]; ok {
		return fmt.Sprintf(" (the built-in class is %q)", BuiltinStorageClassName)
	}
	return ""
}

// checkPodStorage checks the pod spec at p; claimTemplates are a
// StatefulSet's claim templates, whose claims replace the volumes of the
// same name.
func checkPodStorage(doc *document, ps *PodSpec, p fieldPath, claimTemplates map[string]bool, set *Set, add func(*document, fieldPath, string, ...any)) {
	ns := doc.obj.GetObjectMeta().Namespace
	var nsMeta *ObjectMeta
	if o, ok := set.Objects[ObjectKey{Kind: KindNamespace, Name: ns}]; ok {
		nsMeta = o.GetObjectMeta()
	}
	// A pod security level decides instead of the annotations
	// (podsecurity_label.go), at sync.
	podSecurity := podSecurityDecides(nsMeta)
	for i, v := range ps.Volumes {
		vp := p.child("volumes").index(i)
		if c := v.PersistentVolumeClaim; c != nil && c.ClaimName != "" && !claimTemplates[v.Name] {
			if _, ok := set.Objects[ObjectKey{Kind: KindPersistentVolumeClaim, Namespace: ns, Name: c.ClaimName}]; !ok {
				add(doc, vp.child("persistentVolumeClaim.claimName"), "persistentVolumeClaim %q is not declared in namespace %q", c.ClaimName, ns)
			}
		}
		if v.HostPath != nil && !podSecurity && !annotatedTrue(nsMeta, AllowHostPathsAnnotation) {
			add(doc, vp.child("hostPath"), "forbidden: hostPath volumes are not allowed in namespace %q: annotate its Namespace with %s: \"true\" to allow them%s", ns, AllowHostPathsAnnotation, declareHint(nsMeta, ns))
		}
	}
	if podSecurity || annotatedTrue(nsMeta, AllowPrivilegedAnnotation) {
		return
	}
	if ps.HostNetwork {
		add(doc, p.child("hostNetwork"), "forbidden: hostNetwork is not allowed in namespace %q: annotate its Namespace with %s: \"true\" to allow it%s", ns, AllowPrivilegedAnnotation, declareHint(nsMeta, ns))
	}
	for _, list := range []struct {
		name string
		cs   []Container
	}{{"initContainers", ps.InitContainers}, {"containers", ps.Containers}} {
		for i, c := range list.cs {
			sc := c.SecurityContext
			if sc == nil {
				continue
			}
			cp := p.child(list.name).index(i).child("securityContext")
			if sc.Privileged != nil && *sc.Privileged {
				add(doc, cp.child("privileged"), "forbidden: privileged containers are not allowed in namespace %q: annotate its Namespace with %s: \"true\" to allow them%s", ns, AllowPrivilegedAnnotation, declareHint(nsMeta, ns))
			}
			if sc.Capabilities == nil {
				continue
			}
			for j, name := range sc.Capabilities.Add {
				if n, ok := CapabilityName(name); ok && !containsString(BaselineCapabilities, n) {
					add(doc, cp.child("capabilities.add").index(j), "forbidden: adding %s is not allowed in namespace %q (beyond Kubernetes' baseline pod security standard): annotate its Namespace with %s: \"true\" to allow it%s", n, ns, AllowPrivilegedAnnotation, declareHint(nsMeta, ns))
				}
			}
		}
	}
}

// declareHint says how to annotate a namespace the repository does not
// declare ("default").
func declareHint(m *ObjectMeta, ns string) string {
	if m == nil {
		return fmt.Sprintf(" (declare a Namespace named %q to annotate it)", ns)
	}
	return ""
}
