package spec

// Kinds of storage objects.
const (
	KindPersistentVolumeClaim = "PersistentVolumeClaim"
	KindPersistentVolume      = "PersistentVolume"
	KindStorageClass          = "StorageClass"
)

// StorageV1 is the API group of StorageClass.
const StorageV1 = "storage.k8s.io/v1"

// Access modes.
const (
	ReadWriteOnce    = "ReadWriteOnce"
	ReadOnlyMany     = "ReadOnlyMany"
	ReadWriteMany    = "ReadWriteMany"
	ReadWriteOncePod = "ReadWriteOncePod"
)

// Reclaim policies.
const (
	ReclaimDelete = "Delete"
	ReclaimRetain = "Retain"
)

// Volume binding modes.
const (
	VolumeBindingImmediate            = "Immediate"
	VolumeBindingWaitForFirstConsumer = "WaitForFirstConsumer"
)

// Volume modes; only Filesystem is supported.
const VolumeModeFilesystem = "Filesystem"

// DefaultStorageClassAnnotation set to "true" on a StorageClass makes it
// the class of claims that name none.
const DefaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// PersistentVolumeClaim is a v1 PersistentVolumeClaim: a request for
// durable storage that pods mount by the claim's name.
type PersistentVolumeClaim struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the claim.
	Spec PersistentVolumeClaimSpec `json:"spec"`
}

// PersistentVolumeClaimSpec is what a claim asks for.
type PersistentVolumeClaimSpec struct {
	// AccessModes are the modes the volume must offer, at least one.
	AccessModes []string `json:"accessModes,omitempty"`
	// Selector restricts binding to PersistentVolumes with these labels.
	Selector *LabelSelector `json:"selector,omitempty"`
	// Resources.requests.storage is the size asked for; required.
	Resources VolumeResourceRequirements `json:"resources,omitempty"`
	// VolumeName binds the claim to that PersistentVolume.
	VolumeName string `json:"volumeName,omitempty"`
	// StorageClassName is the class to provision from; nil means the
	// default class, "" means no class (bind only to a volume without
	// one).
	StorageClassName *string `json:"storageClassName,omitempty"`
	// VolumeMode is Filesystem (the only one supported).
	VolumeMode *string `json:"volumeMode,omitempty"`
}

// VolumeResourceRequirements is a claim's storage request and limit.
type VolumeResourceRequirements struct {
	// Requests.storage is the size asked for.
	Requests ResourceList `json:"requests,omitempty"`
	// Limits.storage, when set, is the most the claim may be given.
	Limits ResourceList `json:"limits,omitempty"`
}

// PersistentVolume is a v1 PersistentVolume: a piece of storage, declared
// in Git (static) or made by a provisioner for a claim (dynamic; those are
// kept in the reconciler's store, not in Git).
type PersistentVolume struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the volume.
	Spec PersistentVolumeSpec `json:"spec"`
}

// PersistentVolumeSpec describes a volume.
type PersistentVolumeSpec struct {
	// Capacity.storage is the volume's size.
	Capacity ResourceList `json:"capacity,omitempty"`
	// PersistentVolumeSource is where the data lives; exactly one source.
	PersistentVolumeSource `json:",inline"`
	// AccessModes are the modes the volume offers.
	AccessModes []string `json:"accessModes,omitempty"`
	// ClaimRef pre-binds the volume to one claim.
	ClaimRef *ObjectReference `json:"claimRef,omitempty"`
	// PersistentVolumeReclaimPolicy is Retain or Delete: what happens to
	// the volume when its claim is deleted. Defaults to Retain for a
	// volume declared in Git.
	PersistentVolumeReclaimPolicy string `json:"persistentVolumeReclaimPolicy,omitempty"`
	// StorageClassName is the class the volume belongs to.
	StorageClassName string `json:"storageClassName,omitempty"`
	// MountOptions are passed to the driver's mount.
	MountOptions []string `json:"mountOptions,omitempty"`
	// VolumeMode is Filesystem.
	VolumeMode *string `json:"volumeMode,omitempty"`
	// NodeAffinity restricts the nodes that can reach the volume; a pod
	// using it is placed only there.
	NodeAffinity *VolumeNodeAffinity `json:"nodeAffinity,omitempty"`
}

// PersistentVolumeSource is the supported sources of a PersistentVolume.
type PersistentVolumeSource struct {
	// HostPath is a directory of one node (testing; policy must allow host
	// paths).
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
	// Local is a directory of one node; the volume needs NodeAffinity.
	Local *LocalVolumeSource `json:"local,omitempty"`
	// CSI is a volume of a Stevedore volume driver (a provisioner name)
	// and its handle: what dynamic provisioning makes.
	CSI *CSIPersistentVolumeSource `json:"csi,omitempty"`
}

// LocalVolumeSource is a directory of a node.
type LocalVolumeSource struct {
	// Path is the directory's absolute path on the node.
	Path string `json:"path"`
	// FSType is informational for a directory.
	FSType *string `json:"fsType,omitempty"`
}

// CSIPersistentVolumeSource is a volume of a volume driver.
type CSIPersistentVolumeSource struct {
	// Driver is the driver's name (a StorageClass's provisioner).
	Driver string `json:"driver"`
	// VolumeHandle is the driver's identifier of the volume.
	VolumeHandle string `json:"volumeHandle"`
	// ReadOnly mounts the volume read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
	// FSType is the file system (ext4, xfs) for block drivers.
	FSType string `json:"fsType,omitempty"`
	// VolumeAttributes are the driver's parameters of the volume.
	VolumeAttributes map[string]string `json:"volumeAttributes,omitempty"`
}

// ObjectReference points at an object (a PersistentVolume's claim).
type ObjectReference struct {
	// Kind is the referent's kind.
	Kind string `json:"kind,omitempty"`
	// Namespace is the referent's namespace.
	Namespace string `json:"namespace,omitempty"`
	// Name is the referent's name.
	Name string `json:"name,omitempty"`
	// UID is the referent's UID.
	UID string `json:"uid,omitempty"`
	// APIVersion is the referent's API version.
	APIVersion string `json:"apiVersion,omitempty"`
}

// VolumeNodeAffinity is the nodes a volume can be reached from.
type VolumeNodeAffinity struct {
	// Required is what a node must match.
	Required *NodeSelector `json:"required,omitempty"`
}

// StorageClass is a storage.k8s.io/v1 StorageClass: a kind of storage
// that claims are provisioned from.
type StorageClass struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata; the annotation
	// storageclass.kubernetes.io/is-default-class "true" makes it the
	// default class.
	ObjectMeta `json:"metadata,omitempty"`
	// Provisioner is the volume driver's name: stevedore.dev/local-dir,
	// stevedore.dev/local-block, stevedore.dev/sshfs, or an out-of-process
	// driver's.
	Provisioner string `json:"provisioner"`
	// Parameters are handed to the driver.
	Parameters map[string]string `json:"parameters,omitempty"`
	// ReclaimPolicy is Delete (the default) or Retain, for the volumes it
	// provisions.
	ReclaimPolicy *string `json:"reclaimPolicy,omitempty"`
	// MountOptions are passed to the driver's mount.
	MountOptions []string `json:"mountOptions,omitempty"`
	// AllowVolumeExpansion is accepted; expansion is not implemented.
	AllowVolumeExpansion *bool `json:"allowVolumeExpansion,omitempty"`
	// VolumeBindingMode is Immediate or WaitForFirstConsumer (the volume
	// is made where the first pod using it is placed). Defaults to
	// Immediate.
	VolumeBindingMode *string `json:"volumeBindingMode,omitempty"`
	// AllowedTopologies restricts where volumes are provisioned.
	AllowedTopologies []TopologySelectorTerm `json:"allowedTopologies,omitempty"`
}

// TopologySelectorTerm is a conjunction of label requirements on nodes.
type TopologySelectorTerm struct {
	// MatchLabelExpressions are the requirements.
	MatchLabelExpressions []TopologySelectorLabelRequirement `json:"matchLabelExpressions,omitempty"`
}

// TopologySelectorLabelRequirement is a label key and its allowed values.
type TopologySelectorLabelRequirement struct {
	// Key is the label's key.
	Key string `json:"key"`
	// Values are the allowed values.
	Values []string `json:"values"`
}
