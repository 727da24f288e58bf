package spec

import "k8s.io/apimachinery/pkg/api/resource"

// This file holds a pod's volumes, its containers' mounts, environment
// sources and security contexts: the supported subset of Kubernetes' v1
// types of the same names, with the same field names and meaning.

// Volume is a named volume in a pod that its containers may mount.
// Exactly one source is set.
type Volume struct {
	// Name is the volume's name, unique in the pod: a DNS-1123 label.
	Name string `json:"name"`
	// VolumeSource is where the volume's content comes from.
	VolumeSource `json:",inline"`
}

// VolumeSource is the supported volume sources; exactly one is set.
type VolumeSource struct {
	// HostPath is a directory or file of the node. Refused unless the
	// cluster's policy allows host paths.
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
	// EmptyDir is a directory that starts empty and lives as long as the
	// pod on its node.
	EmptyDir *EmptyDirVolumeSource `json:"emptyDir,omitempty"`
	// Secret is a Secret's keys as files.
	Secret *SecretVolumeSource `json:"secret,omitempty"`
	// PersistentVolumeClaim is the volume bound to a claim in the pod's
	// namespace.
	PersistentVolumeClaim *PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
	// DownwardAPI is fields of the pod (labels, annotations, name…) and
	// its containers' resources as files.
	DownwardAPI *DownwardAPIVolumeSource `json:"downwardAPI,omitempty"`
	// ConfigMap is a ConfigMap's keys as files.
	ConfigMap *ConfigMapVolumeSource `json:"configMap,omitempty"`
	// Projected is several secret, configMap and downwardAPI sources in
	// one directory.
	Projected *ProjectedVolumeSource `json:"projected,omitempty"`
}

// Host path types, as Kubernetes names them.
const (
	HostPathUnset             = ""
	HostPathDirectoryOrCreate = "DirectoryOrCreate"
	HostPathDirectory         = "Directory"
	HostPathFileOrCreate      = "FileOrCreate"
	HostPathFile              = "File"
	HostPathSocket            = "Socket"
	HostPathCharDev           = "CharDevice"
	HostPathBlockDev          = "BlockDevice"
)

// HostPathVolumeSource is a path on the node.
type HostPathVolumeSource struct {
	// Path is the absolute path on the node.
	Path string `json:"path"`
	// Type is what must be at Path before the pod starts (Directory,
	// File, Socket…), or what to create there (DirectoryOrCreate,
	// FileOrCreate). Empty checks nothing.
	Type *string `json:"type,omitempty"`
}

// Storage media of an emptyDir.
const (
	StorageMediumDefault = ""       // the node's disk
	StorageMediumMemory  = "Memory" // tmpfs
)

// EmptyDirVolumeSource is a scratch directory for the pod's life.
type EmptyDirVolumeSource struct {
	// Medium is "" (the node's disk) or Memory (a tmpfs, counted against
	// the pod's memory).
	Medium string `json:"medium,omitempty"`
	// SizeLimit is the most the volume may hold: a tmpfs of that size for
	// Memory; on disk, a pod whose emptyDir exceeds it is evicted.
	SizeLimit *resource.Quantity `json:"sizeLimit,omitempty"`
}

// KeyToPath maps a key of a ConfigMap or Secret to a file.
type KeyToPath struct {
	// Key is the key to project.
	Key string `json:"key"`
	// Path is the file's path relative to the volume: no "..", not
	// absolute.
	Path string `json:"path"`
	// Mode is the file's permission bits (0-0777); defaults to the
	// volume's defaultMode.
	Mode *int32 `json:"mode,omitempty"`
}

// SecretVolumeSource projects a Secret's keys as files.
type SecretVolumeSource struct {
	// SecretName is the Secret, in the pod's namespace.
	SecretName string `json:"secretName,omitempty"`
	// Items, when set, projects only the keys listed, at the paths given;
	// otherwise every key is a file of its name.
	Items []KeyToPath `json:"items,omitempty"`
	// DefaultMode is the files' permission bits. Defaults to 0644.
	DefaultMode *int32 `json:"defaultMode,omitempty"`
	// Optional lets the pod start when the Secret (or a listed key) does
	// not exist.
	Optional *bool `json:"optional,omitempty"`
}

// ConfigMapVolumeSource projects a ConfigMap's keys as files.
type ConfigMapVolumeSource struct {
	// Name is the ConfigMap, in the pod's namespace.
	Name string `json:"name,omitempty"`
	// Items, when set, projects only the keys listed, at the paths given.
	Items []KeyToPath `json:"items,omitempty"`
	// DefaultMode is the files' permission bits. Defaults to 0644.
	DefaultMode *int32 `json:"defaultMode,omitempty"`
	// Optional lets the pod start when the ConfigMap (or a listed key)
	// does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// PersistentVolumeClaimVolumeSource names a claim in the pod's namespace.
type PersistentVolumeClaimVolumeSource struct {
	// ClaimName is the PersistentVolumeClaim's name.
	ClaimName string `json:"claimName"`
	// ReadOnly mounts the volume read-only in every container.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// ObjectFieldSelector selects a field of the pod.
type ObjectFieldSelector struct {
	// APIVersion is the version FieldPath is written in; defaults to "v1".
	APIVersion string `json:"apiVersion,omitempty"`
	// FieldPath is metadata.name, metadata.namespace, metadata.uid,
	// metadata.labels, metadata.annotations, metadata.labels['<key>'],
	// metadata.annotations['<key>'], spec.nodeName,
	// spec.serviceAccountName, status.podIP, status.podIPs, status.hostIP
	// or status.hostIPs. Volumes support only the metadata ones.
	FieldPath string `json:"fieldPath"`
}

// ResourceFieldSelector selects a container's resource request or limit.
type ResourceFieldSelector struct {
	// ContainerName is the container; required in volumes, defaults to the
	// container itself in env.
	ContainerName string `json:"containerName,omitempty"`
	// Resource is limits.cpu, limits.memory, limits.ephemeral-storage,
	// requests.cpu, requests.memory or requests.ephemeral-storage.
	Resource string `json:"resource"`
	// Divisor is the unit the value is given in (1m for millicores, 1Mi
	// for mebibytes). Defaults to 1.
	Divisor *resource.Quantity `json:"divisor,omitempty"`
}

// DownwardAPIVolumeFile is one file of a downwardAPI volume.
type DownwardAPIVolumeFile struct {
	// Path is the file's path relative to the volume.
	Path string `json:"path"`
	// FieldRef selects a field of the pod's metadata.
	FieldRef *ObjectFieldSelector `json:"fieldRef,omitempty"`
	// ResourceFieldRef selects a container's resource.
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	// Mode is the file's permission bits; defaults to the volume's
	// defaultMode.
	Mode *int32 `json:"mode,omitempty"`
}

// DownwardAPIVolumeSource projects fields of the pod as files.
type DownwardAPIVolumeSource struct {
	// Items are the files.
	Items []DownwardAPIVolumeFile `json:"items,omitempty"`
	// DefaultMode is the files' permission bits. Defaults to 0644.
	DefaultMode *int32 `json:"defaultMode,omitempty"`
}

// ProjectedVolumeSource is several sources in one directory.
type ProjectedVolumeSource struct {
	// Sources are projected in order; two may not write one path.
	Sources []VolumeProjection `json:"sources"`
	// DefaultMode is the files' permission bits. Defaults to 0644.
	DefaultMode *int32 `json:"defaultMode,omitempty"`
}

// VolumeProjection is one source of a projected volume; exactly one is set.
type VolumeProjection struct {
	// Secret projects a Secret's keys.
	Secret *SecretProjection `json:"secret,omitempty"`
	// DownwardAPI projects fields of the pod.
	DownwardAPI *DownwardAPIProjection `json:"downwardAPI,omitempty"`
	// ConfigMap projects a ConfigMap's keys.
	ConfigMap *ConfigMapProjection `json:"configMap,omitempty"`
}

// SecretProjection is a Secret in a projected volume.
type SecretProjection struct {
	// Name is the Secret, in the pod's namespace.
	Name string `json:"name,omitempty"`
	// Items, when set, projects only the keys listed.
	Items []KeyToPath `json:"items,omitempty"`
	// Optional lets the pod start when the Secret does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// ConfigMapProjection is a ConfigMap in a projected volume.
type ConfigMapProjection struct {
	// Name is the ConfigMap, in the pod's namespace.
	Name string `json:"name,omitempty"`
	// Items, when set, projects only the keys listed.
	Items []KeyToPath `json:"items,omitempty"`
	// Optional lets the pod start when the ConfigMap does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// DownwardAPIProjection is pod fields in a projected volume.
type DownwardAPIProjection struct {
	// Items are the files.
	Items []DownwardAPIVolumeFile `json:"items,omitempty"`
}

// Mount propagation modes; only None is supported.
const MountPropagationNone = "None"

// VolumeMount mounts a pod volume into a container.
type VolumeMount struct {
	// Name is the pod volume's name.
	Name string `json:"name"`
	// ReadOnly mounts it read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
	// MountPath is the absolute path in the container; no two mounts of a
	// container share one.
	MountPath string `json:"mountPath"`
	// SubPath mounts that path inside the volume instead of its root:
	// relative, without "..", and it may not leave the volume through a
	// symlink.
	SubPath string `json:"subPath,omitempty"`
	// SubPathExpr is SubPath with $(VAR) expanded from the container's
	// environment. At most one of SubPath and SubPathExpr.
	SubPathExpr string `json:"subPathExpr,omitempty"`
}

// EnvVarSource is where an environment variable's value comes from;
// exactly one is set.
type EnvVarSource struct {
	// FieldRef selects a field of the pod.
	FieldRef *ObjectFieldSelector `json:"fieldRef,omitempty"`
	// ResourceFieldRef selects a resource of a container.
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	// ConfigMapKeyRef selects a key of a ConfigMap in the pod's namespace.
	ConfigMapKeyRef *ConfigMapKeySelector `json:"configMapKeyRef,omitempty"`
	// SecretKeyRef selects a key of a Secret in the pod's namespace.
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// ConfigMapKeySelector selects a key of a ConfigMap.
type ConfigMapKeySelector struct {
	// Name is the ConfigMap's name.
	Name string `json:"name,omitempty"`
	// Key is the key.
	Key string `json:"key"`
	// Optional lets the container start without the variable when the
	// ConfigMap or key does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// SecretKeySelector selects a key of a Secret.
type SecretKeySelector struct {
	// Name is the Secret's name.
	Name string `json:"name,omitempty"`
	// Key is the key.
	Key string `json:"key"`
	// Optional lets the container start without the variable when the
	// Secret or key does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// EnvFromSource sets a variable for every key of a ConfigMap or Secret;
// exactly one of the two is set.
type EnvFromSource struct {
	// Prefix is prepended to every key.
	Prefix string `json:"prefix,omitempty"`
	// ConfigMapRef is the ConfigMap.
	ConfigMapRef *ConfigMapEnvSource `json:"configMapRef,omitempty"`
	// SecretRef is the Secret.
	SecretRef *SecretEnvSource `json:"secretRef,omitempty"`
}

// ConfigMapEnvSource names a ConfigMap for envFrom.
type ConfigMapEnvSource struct {
	// Name is the ConfigMap's name.
	Name string `json:"name,omitempty"`
	// Optional lets the container start when it does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// SecretEnvSource names a Secret for envFrom.
type SecretEnvSource struct {
	// Name is the Secret's name.
	Name string `json:"name,omitempty"`
	// Optional lets the container start when it does not exist.
	Optional *bool `json:"optional,omitempty"`
}

// Capabilities adds and drops Linux capabilities ("NET_ADMIN" or
// "CAP_NET_ADMIN"; "ALL" in drop drops every one).
type Capabilities struct {
	// Add are capabilities added to the runtime's default set.
	Add []string `json:"add,omitempty"`
	// Drop are capabilities removed from it.
	Drop []string `json:"drop,omitempty"`
}

// SecurityContext is a container's security settings; where a field is
// also in the pod's PodSecurityContext, the container's wins.
type SecurityContext struct {
	// Capabilities adds and drops capabilities.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// Privileged runs the container with every capability and the host's
	// devices. Refused unless the cluster's policy allows it.
	Privileged *bool `json:"privileged,omitempty"`
	// RunAsUser is the UID the container's process runs as. Defaults to
	// the image's user.
	RunAsUser *int64 `json:"runAsUser,omitempty"`
	// RunAsGroup is the primary GID. Defaults to the image's.
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	// RunAsNonRoot refuses to start the container (CreateContainerConfigError)
	// when it would run as UID 0.
	RunAsNonRoot *bool `json:"runAsNonRoot,omitempty"`
	// ReadOnlyRootFilesystem mounts the image's root file system read-only.
	ReadOnlyRootFilesystem *bool `json:"readOnlyRootFilesystem,omitempty"`
	// AllowPrivilegeEscalation false sets no_new_privs. Defaults to true.
	AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation,omitempty"`
	// SeccompProfile is the container's seccomp filter; overrides the
	// pod's.
	SeccompProfile *SeccompProfile `json:"seccompProfile,omitempty"`
}

// Seccomp profile types.
const (
	SeccompProfileRuntimeDefault = "RuntimeDefault"
	SeccompProfileUnconfined     = "Unconfined"
	SeccompProfileLocalhost      = "Localhost"
)

// SeccompProfile selects a seccomp filter.
type SeccompProfile struct {
	// Type is RuntimeDefault (containerd's default filter) or Unconfined;
	// Localhost is not supported.
	Type string `json:"type"`
	// LocalhostProfile is the profile's path for Localhost.
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// PodSecurityContext is the pod-wide security settings.
type PodSecurityContext struct {
	// RunAsUser is every container's UID unless it sets its own.
	RunAsUser *int64 `json:"runAsUser,omitempty"`
	// RunAsGroup is every container's primary GID unless it sets its own.
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	// RunAsNonRoot is every container's unless it sets its own.
	RunAsNonRoot *bool `json:"runAsNonRoot,omitempty"`
	// SupplementalGroups are GIDs added to every container's process.
	SupplementalGroups []int64 `json:"supplementalGroups,omitempty"`
	// FSGroup is a GID added to every container's process and given to
	// the pod's writable volumes (group-owned, setgid directories).
	FSGroup *int64 `json:"fsGroup,omitempty"`
	// FSGroupChangePolicy is OnRootMismatch or Always (the default).
	FSGroupChangePolicy *string `json:"fsGroupChangePolicy,omitempty"`
	// SeccompProfile is every container's seccomp filter unless it sets
	// its own.
	SeccompProfile *SeccompProfile `json:"seccompProfile,omitempty"`
	// Sysctls are namespaced sysctls set in the pod's sandbox (net.*,
	// kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*).
	Sysctls []Sysctl `json:"sysctls,omitempty"`
}

// Sysctl is one kernel parameter.
type Sysctl struct {
	// Name is the parameter's name, e.g. net.ipv4.ip_unprivileged_port_start.
	Name string `json:"name"`
	// Value is its value.
	Value string `json:"value"`
}
