package api

// This file holds what a PodSet carries beside its pods for their volumes
// and environment: the ConfigMaps and Secrets they refer to, and the
// persistent volumes bound to their claims.

// ConfigObject is a ConfigMap or Secret that a pod of the set refers to
// (in env, envFrom or a volume). A set carries only the objects its own
// pods refer to, as Kubernetes' node authorizer lets a kubelet read only
// those. A Secret's Data is plaintext: an agent keeps it in memory and in
// tmpfs only, and GET /v1/podset never returns it.
type ConfigObject struct {
	// Kind is "ConfigMap" or "Secret".
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Data is the values by key: a ConfigMap's data and binaryData, a
	// Secret's data (stringData merged in).
	Data map[string][]byte `json:"data,omitempty"`
	// Type is a Secret's type.
	Type string `json:"type,omitempty"`
	// Version is a hash of Kind, Type and Data: the agent rewrites the
	// files projected from the object when it changes.
	Version string `json:"version"`
}

// Key returns "Kind/namespace/name".
func (c *ConfigObject) Key() string { return c.Kind + "/" + c.Namespace + "/" + c.Name }

// PersistentVolume is a volume bound to a claim that a pod of the set
// mounts, or (in PodSet.DeleteVolumes) one whose claim is gone and whose
// reclaim policy is Delete. The agent runs the driver: Provision (an
// idempotent create) and Stage when a pod first needs it on the node,
// Publish into each pod, Unpublish and Unstage when no pod uses it, and
// Delete for DeleteVolumes.
type PersistentVolume struct {
	// Name is the PersistentVolume's name (pvc-<claim UID> when
	// provisioned).
	Name string `json:"name"`
	// Claim is the bound claim, "namespace/name".
	Claim string `json:"claim,omitempty"`
	// Driver is the volume driver: a StorageClass provisioner
	// (stevedore.dev/local-dir…), or "hostPath"/"local" for a volume
	// declared with those sources.
	Driver string `json:"driver"`
	// Handle is the driver's identifier of the volume.
	Handle string `json:"handle"`
	// CapacityBytes is the volume's size.
	CapacityBytes int64 `json:"capacityBytes,omitempty"`
	// FSType is the file system of a block driver's volume.
	FSType string `json:"fsType,omitempty"`
	// AccessModes are the volume's access modes.
	AccessModes []string `json:"accessModes,omitempty"`
	// ReadOnly mounts it read-only in every pod.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Parameters are the StorageClass's parameters and the volume's
	// attributes (a hostPath or local volume's "path").
	Parameters map[string]string `json:"parameters,omitempty"`
	// MountOptions are passed to the driver's mount.
	MountOptions []string `json:"mountOptions,omitempty"`
}

// Volume phases an agent reports.
const (
	VolumeReady   = "Ready"   // provisioned and staged on the node
	VolumeDeleted = "Deleted" // deleted by the driver (DeleteVolumes)
	VolumeFailed  = "Failed"  // the driver failed; Message says why
)

// VolumeStatus is what an agent reports of a persistent volume of its set.
type VolumeStatus struct {
	Name    string `json:"name"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// UsedBytes is the volume's use, when the driver can tell.
	UsedBytes int64 `json:"usedBytes,omitempty"`
}
