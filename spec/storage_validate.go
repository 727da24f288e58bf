package spec

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// This file checks PersistentVolumeClaims, PersistentVolumes and
// StorageClasses on their own, as Kubernetes'
// ValidatePersistentVolumeClaimSpec, ValidatePersistentVolumeSpec and
// ValidateStorageClass do, less what Stevedore does not implement (block
// volume mode, the Recycle reclaim policy). A claim's class, its size
// against the class's bound and the host-path policy depend on other
// objects: storage_rules.go checks them with the whole revision.

// ResourceStorage is the resource a claim requests and a volume offers.
const ResourceStorage = "storage"

// VolumeModeBlock is Kubernetes' raw block volume mode, not supported.
const VolumeModeBlock = "Block"

// ReclaimRecycle is Kubernetes' deprecated scrub-and-reuse policy, not
// supported.
const ReclaimRecycle = "Recycle"

var accessModes = []string{ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod}

// storageObject validates the storage and configuration kinds; false when
// o is none of them.
func (v *validator) storageObject(o Object) bool {
	switch o := o.(type) {
	case *ConfigMap:
		v.configMap(o)
	case *Secret:
		v.secret(o)
	case *ServiceAccount:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
	case *PersistentVolumeClaim:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.claimSpec(&o.Spec, "spec")
	case *PersistentVolume:
		v.objectMeta(&o.ObjectMeta, false, isDNS1123Subdomain)
		v.volumeSpec(&o.Spec, "spec")
	case *StorageClass:
		v.objectMeta(&o.ObjectMeta, false, isDNS1123Subdomain)
		v.storageClass(o)
	default:
		return false
	}
	return true
}

func (v *validator) accessModes(modes []string, p fieldPath) {
	if len(modes) == 0 {
		v.add(p, "required: at least 1 access mode is required (%s)", quoteAll(accessModes))
		return
	}
	for i, m := range modes {
		if !containsString(accessModes, m) {
			v.add(p.index(i), "unsupported value %q: supported values: %s", m, quoteAll(accessModes))
		}
	}
	if containsString(modes, ReadWriteOncePod) && len(modes) > 1 {
		v.add(p, "may not use ReadWriteOncePod with other access modes")
	}
}

func (v *validator) volumeMode(m *string, p fieldPath) {
	switch {
	case m == nil, *m == VolumeModeFilesystem:
	case *m == VolumeModeBlock:
		v.add(p, "unsupported value %q: raw block volumes are not supported by Stevedore; supported values: %q", *m, VolumeModeFilesystem)
	default:
		v.add(p, "unsupported value %q: supported values: %q", *m, VolumeModeFilesystem)
	}
}

// storageQuantity checks a resource list that may hold only storage, and
// returns its storage (nil when absent).
func (v *validator) storageQuantity(l ResourceList, p fieldPath) *resource.Quantity {
	for _, k := range sortedKeys(l) {
		if k != ResourceStorage {
			v.add(p.key(k), "unsupported resource %q: supported values: %q", k, ResourceStorage)
		}
	}
	q, ok := l[ResourceStorage]
	if !ok {
		return nil
	}
	if q.Sign() <= 0 {
		v.add(p.key(ResourceStorage), "invalid value %q: must be greater than zero", q.String())
		return nil
	}
	return &q
}

func (v *validator) claimSpec(s *PersistentVolumeClaimSpec, p fieldPath) {
	v.accessModes(s.AccessModes, p.child("accessModes"))
	v.labelSelector(s.Selector, p.child("selector"))
	rp := p.child("resources")
	req := v.storageQuantity(s.Resources.Requests, rp.child("requests"))
	if _, ok := s.Resources.Requests[ResourceStorage]; !ok {
		v.add(rp.child("requests").key(ResourceStorage), "required: the size the claim asks for, e.g. 1Gi")
	}
	if lim := v.storageQuantity(s.Resources.Limits, rp.child("limits")); lim != nil && req != nil && lim.Cmp(*req) < 0 {
		v.add(rp.child("limits").key(ResourceStorage), "invalid value %q: must be greater than or equal to requests.storage (%s)", lim.String(), req.String())
	}
	if s.VolumeName != "" {
		v.check(p.child("volumeName"), s.VolumeName, isDNS1123Subdomain(s.VolumeName))
	}
	if c := s.StorageClassName; c != nil && *c != "" {
		v.check(p.child("storageClassName"), *c, isDNS1123Subdomain(*c))
	}
	v.volumeMode(s.VolumeMode, p.child("volumeMode"))
}

func (v *validator) volumeSpec(s *PersistentVolumeSpec, p fieldPath) {
	v.accessModes(s.AccessModes, p.child("accessModes"))
	cp := p.child("capacity")
	if _, ok := s.Capacity[ResourceStorage]; !ok {
		v.add(cp.key(ResourceStorage), "required: the volume's size, e.g. 10Gi")
	}
	v.storageQuantity(s.Capacity, cp)
	src := &s.PersistentVolumeSource
	switch n := v.oneOf(p, "may not specify more than 1 volume type", "must specify a volume type: one of hostPath, local or csi",
		handlerSet{"hostPath", src.HostPath != nil}, handlerSet{"local", src.Local != nil}, handlerSet{"csi", src.CSI != nil}); n {
	case "hostPath":
		v.hostPath(src.HostPath, p.child(n))
		if len(s.MountOptions) > 0 {
			v.add(p.child("mountOptions"), "forbidden: may not specify mount options for this volume type")
		}
	case "local":
		v.absolutePath(src.Local.Path, p.child(n).child("path"))
		if len(s.MountOptions) > 0 {
			v.add(p.child("mountOptions"), "forbidden: may not specify mount options for this volume type")
		}
		if s.NodeAffinity == nil || s.NodeAffinity.Required == nil {
			v.add(p.child("nodeAffinity"), "required: a local volume needs nodeAffinity.required naming the node that holds it")
		}
	case "csi":
		cp := p.child(n)
		if src.CSI.Driver == "" {
			v.add(cp.child("driver"), "required")
		} else if reservedDriver(src.CSI.Driver) {
			v.add(cp.child("driver"), "invalid value %q: %s; declare a node's directory with a local source (or hostPath), which the host-path policy covers", src.CSI.Driver, reservedDriverWhy)
		} else {
			v.check(cp.child("driver"), src.CSI.Driver, isProvisionerName(src.CSI.Driver))
		}
		if src.CSI.VolumeHandle == "" {
			v.add(cp.child("volumeHandle"), "required")
		} else if strings.HasPrefix(src.CSI.VolumeHandle, ProvisionedHandlePrefix) {
			v.add(cp.child("volumeHandle"), "invalid value %q: handles starting with %q are reserved for provisioned volumes (the reconciler gives each the handle %q + its claim's UID): a declared volume with one could be a claim's provisioned volume, whose data its reclaim policy could delete", src.CSI.VolumeHandle, ProvisionedHandlePrefix, ProvisionedHandlePrefix)
		}
	}
	rp := p.child("persistentVolumeReclaimPolicy")
	switch s.PersistentVolumeReclaimPolicy {
	case ReclaimRetain, ReclaimDelete:
	case ReclaimRecycle:
		v.add(rp, "unsupported value %q: not supported by Stevedore (Kubernetes deprecated it); supported values: %q, %q", ReclaimRecycle, ReclaimRetain, ReclaimDelete)
	default:
		v.add(rp, "unsupported value %q: supported values: %q, %q", s.PersistentVolumeReclaimPolicy, ReclaimRetain, ReclaimDelete)
	}
	if s.StorageClassName != "" {
		v.check(p.child("storageClassName"), s.StorageClassName, isDNS1123Subdomain(s.StorageClassName))
	}
	v.volumeMode(s.VolumeMode, p.child("volumeMode"))
	if a := s.NodeAffinity; a != nil && a.Required != nil {
		ap := p.child("nodeAffinity.required")
		if len(a.Required.NodeSelectorTerms) == 0 {
			v.add(ap.child("nodeSelectorTerms"), "required: must have at least one node selector term")
		}
		for i := range a.Required.NodeSelectorTerms {
			v.nodeSelectorTerm(&a.Required.NodeSelectorTerms[i], ap.child("nodeSelectorTerms").index(i))
		}
	}
	if r := s.ClaimRef; r != nil {
		rp := p.child("claimRef")
		if r.Name == "" {
			v.add(rp.child("name"), "required")
		}
		if r.Namespace == "" {
			v.add(rp.child("namespace"), "required")
		}
		if r.Kind != "" && r.Kind != KindPersistentVolumeClaim {
			v.add(rp.child("kind"), "unsupported value %q: supported values: %q", r.Kind, KindPersistentVolumeClaim)
		}
	}
}

// The driver names of PersistentVolumes declared with a hostPath or local
// source: the agent's drivers for them expose any directory of the node
// that their parameters name, so only those sources, which the host-path
// policy covers (storage_rules.go), may reach them. A csi volume or a
// StorageClass naming them is refused, in any letter case.
const (
	HostPathDriver = "hostPath"
	LocalDriver    = "local"
)

const reservedDriverWhy = `the driver names "hostPath" and "local" are reserved for PersistentVolumes with a hostPath or local source`

// reservedDriver reports whether a csi driver or provisioner name is
// HostPathDriver or LocalDriver.
func reservedDriver(name string) bool {
	return strings.EqualFold(name, HostPathDriver) || strings.EqualFold(name, LocalDriver)
}

// ProvisionedHandlePrefix begins the name and volumeHandle of every
// volume the reconciler provisions ("pvc-" + the claim's UID, as
// Kubernetes' external provisioner names them). A declared csi volume may
// not have a handle that starts with it.
const ProvisionedHandlePrefix = "pvc-"

// isProvisionerName returns why s is not a provisioner or driver name
// ("stevedore.dev/local-dir"), or "": Kubernetes checks a qualified name,
// lower-cased, of at most 63 characters.
func isProvisionerName(s string) string {
	if len(s) > qualifiedNameMaxLength {
		return "must be no more than 63 characters"
	}
	return isQualifiedName(strings.ToLower(s))
}

func (v *validator) storageClass(c *StorageClass) {
	if c.Provisioner == "" {
		v.add("provisioner", "required: the volume driver's name, e.g. %s", LocalDirProvisioner)
	} else if reservedDriver(c.Provisioner) {
		v.add("provisioner", "invalid value %q: %s; a class provisions with a volume driver, e.g. %s", c.Provisioner, reservedDriverWhy, LocalDirProvisioner)
	} else {
		v.check("provisioner", c.Provisioner, isProvisionerName(c.Provisioner))
	}
	size := 0
	for _, k := range sortedKeys(c.Parameters) {
		size += len(k) + len(c.Parameters[k])
	}
	if size > totalAnnotationSizeLimit {
		v.add("parameters", "too long: must have at most %d bytes", totalAnnotationSizeLimit)
	}
	if s, ok := c.Parameters[MaxSizeParameter]; ok {
		if q, err := resource.ParseQuantity(s); err != nil || q.Sign() <= 0 {
			v.add(fieldPath("parameters").key(MaxSizeParameter), "invalid value %q: must be a positive quantity such as 10Gi", s)
		}
	}
	switch p := *c.ReclaimPolicy; p {
	case ReclaimDelete, ReclaimRetain:
	case ReclaimRecycle:
		v.add("reclaimPolicy", "unsupported value %q: not supported by Stevedore; supported values: %q, %q", p, ReclaimDelete, ReclaimRetain)
	default:
		v.add("reclaimPolicy", "unsupported value %q: supported values: %q, %q", p, ReclaimDelete, ReclaimRetain)
	}
	switch m := *c.VolumeBindingMode; m {
	case VolumeBindingImmediate, VolumeBindingWaitForFirstConsumer:
	default:
		v.add("volumeBindingMode", "unsupported value %q: supported values: %q, %q", m, VolumeBindingImmediate, VolumeBindingWaitForFirstConsumer)
	}
	for i, t := range c.AllowedTopologies {
		tp := fieldPath("allowedTopologies").index(i)
		if len(t.MatchLabelExpressions) == 0 {
			v.add(tp.child("matchLabelExpressions"), "required: must have at least one label requirement")
		}
		keys := map[string]bool{}
		for j, r := range t.MatchLabelExpressions {
			rp := tp.child("matchLabelExpressions").index(j)
			if msg := isQualifiedName(r.Key); msg != "" {
				v.add(rp.child("key"), "invalid label key %q: %s", r.Key, msg)
			} else if keys[r.Key] {
				v.add(rp.child("key"), "duplicate value %q", r.Key)
			}
			keys[r.Key] = true
			if len(r.Values) == 0 {
				v.add(rp.child("values"), "required: must specify at least one value")
			}
			for k, val := range r.Values {
				v.check(rp.child("values").index(k), val, isLabelValue(val))
			}
		}
	}
}
