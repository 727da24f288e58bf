package spec

// apps/v1 workload kinds besides Deployment. Field names and meanings follow
// Kubernetes' apps/v1 API.
const (
	KindReplicaSet  = "ReplicaSet"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
)

// ReplicaSet is an apps/v1 ReplicaSet: it keeps a number of pods of a
// template running. A template change replaces them all at once, as a
// ReplicationController does; a Deployment is what rolls a template out.
type ReplicaSet struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the ReplicaSet.
	Spec ReplicaSetSpec `json:"spec"`
}

// ReplicaSetSpec keeps replicas copies of the template running.
type ReplicaSetSpec struct {
	// Replicas is the number of pods to keep running. Defaults to 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// MinReadySeconds is how long a new pod must be ready before it
	// counts as available. Defaults to 0.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// Selector is the label query over pods that counts them as this
	// ReplicaSet's. Required: not empty, and it must match the template's
	// labels.
	// +required
	Selector *LabelSelector `json:"selector,omitempty"`
	// Template is the pod template the replicas are made from.
	Template PodTemplateSpec `json:"template"`
}

// StatefulSet pod management policies.
const (
	OrderedReadyPodManagement = "OrderedReady"
	ParallelPodManagement     = "Parallel"
)

// StatefulSet and DaemonSet update strategy types.
const (
	RollingUpdateStatefulSetStrategyType = "RollingUpdate"
	OnDeleteStatefulSetStrategyType      = "OnDelete"
	RollingUpdateDaemonSetStrategyType   = "RollingUpdate"
	OnDeleteDaemonSetStrategyType        = "OnDelete"
)

// PersistentVolumeClaim retention policy types.
const (
	RetainPersistentVolumeClaimRetentionPolicyType = "Retain"
	DeletePersistentVolumeClaimRetentionPolicyType = "Delete"
)

// StatefulSet is an apps/v1 StatefulSet: pods with stable ordinal names
// (web-0, web-1…), stable DNS names through a headless Service, and a
// PersistentVolumeClaim per ordinal that follows the pod across
// re-creation.
type StatefulSet struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the StatefulSet.
	Spec StatefulSetSpec `json:"spec"`
}

// StatefulSetSpec is the desired behaviour of a StatefulSet.
type StatefulSetSpec struct {
	// Replicas is the number of ordinals to run: pods <name>-0 …
	// <name>-(replicas-1). Defaults to 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector is the label query over pods that counts them as this
	// StatefulSet's. Required: not empty, and it must match the template's
	// labels.
	// +required
	Selector *LabelSelector `json:"selector,omitempty"`
	// Template is the pod template every ordinal is made from; a change
	// to it is rolled out as UpdateStrategy says.
	Template PodTemplateSpec `json:"template"`
	// VolumeClaimTemplates are claims made for every ordinal, named
	// <template name>-<statefulset name>-<ordinal>; the pod mounts its own
	// through a volume of the template's name. A claim outlives its pod, so
	// a re-created ordinal finds its data again.
	VolumeClaimTemplates []PersistentVolumeClaim `json:"volumeClaimTemplates,omitempty"`
	// ServiceName names the headless Service (clusterIP: None) that gives
	// each pod the DNS name <pod>.<serviceName>.<namespace>.svc.<domain>.
	// Required: the repository must declare that Service in the namespace.
	// +required
	ServiceName string `json:"serviceName"`
	// PodManagementPolicy is OrderedReady (create ordinals one at a time in
	// order, each once the previous is Running and Ready, and remove them
	// in reverse order) or Parallel (create and remove them all at once).
	// Defaults to OrderedReady.
	PodManagementPolicy string `json:"podManagementPolicy,omitempty"`
	// UpdateStrategy is how a template change replaces the pods.
	UpdateStrategy StatefulSetUpdateStrategy `json:"updateStrategy,omitempty"`
	// RevisionHistoryLimit is how many old revisions are kept in the
	// rollout history. Defaults to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// MinReadySeconds is how long a new pod must be ready before it counts
	// as available. Defaults to 0.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// PersistentVolumeClaimRetentionPolicy says whether the claims made
	// from VolumeClaimTemplates are deleted when the StatefulSet is deleted
	// or scaled down. Both default to Retain.
	PersistentVolumeClaimRetentionPolicy *StatefulSetPersistentVolumeClaimRetentionPolicy `json:"persistentVolumeClaimRetentionPolicy,omitempty"`
	// Ordinals sets the number of the first ordinal.
	Ordinals *StatefulSetOrdinals `json:"ordinals,omitempty"`
}

// StatefulSetOrdinals numbers a StatefulSet's pods.
type StatefulSetOrdinals struct {
	// Start is the first ordinal: pods are <name>-<start> …
	// <name>-<start+replicas-1>. Defaults to 0.
	Start int32 `json:"start,omitempty"`
}

// StatefulSetUpdateStrategy says how a StatefulSet's pods are replaced
// when its template changes.
type StatefulSetUpdateStrategy struct {
	// Type is RollingUpdate (replace the pods from the highest ordinal
	// down, each once the one before is Running and Ready) or OnDelete
	// (replace a pod only when it is deleted: its node dies or it is
	// evicted). Defaults to RollingUpdate.
	Type string `json:"type,omitempty"`
	// RollingUpdate bounds a rolling update; only with type RollingUpdate.
	RollingUpdate *RollingUpdateStatefulSetStrategy `json:"rollingUpdate,omitempty"`
}

// RollingUpdateStatefulSetStrategy bounds a StatefulSet's rolling update.
type RollingUpdateStatefulSetStrategy struct {
	// Partition is the lowest ordinal that is updated: ordinals below it
	// keep the template they run (a canary or staged rollout). Defaults
	// to 0.
	Partition *int32 `json:"partition,omitempty"`
	// MaxUnavailable is how many pods may be unavailable during the
	// update: a number, or a percentage of replicas rounded down (at least
	// 1); 0 is refused. Unset means 1.
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
}

// StatefulSetPersistentVolumeClaimRetentionPolicy says what becomes of the
// claims made from volumeClaimTemplates.
type StatefulSetPersistentVolumeClaimRetentionPolicy struct {
	// WhenDeleted is Retain (keep the claims when the StatefulSet is
	// removed from Git) or Delete. Defaults to Retain.
	WhenDeleted string `json:"whenDeleted,omitempty"`
	// WhenScaled is Retain (keep the claims of ordinals removed by a scale
	// down) or Delete. Defaults to Retain.
	WhenScaled string `json:"whenScaled,omitempty"`
}

// DaemonSet is an apps/v1 DaemonSet: one pod on every eligible node,
// following nodes as they join and leave.
type DaemonSet struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the DaemonSet.
	Spec DaemonSetSpec `json:"spec"`
}

// DaemonSetSpec is the desired behaviour of a DaemonSet.
type DaemonSetSpec struct {
	// Selector is the label query over pods that counts them as this
	// DaemonSet's. Required: not empty, and it must match the template's
	// labels.
	// +required
	Selector *LabelSelector `json:"selector,omitempty"`
	// Template is the pod template. A node is eligible when it is alive
	// and matches the template's nodeSelector and required node affinity,
	// and the pod tolerates its NoSchedule and NoExecute taints; a
	// cordoned node is eligible (the pods tolerate
	// node.kubernetes.io/unschedulable).
	Template PodTemplateSpec `json:"template"`
	// UpdateStrategy is how a template change replaces the pods.
	UpdateStrategy DaemonSetUpdateStrategy `json:"updateStrategy,omitempty"`
	// MinReadySeconds is how long a new pod must be ready before it counts
	// as available. Defaults to 0.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is how many old revisions are kept in the
	// rollout history. Defaults to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

// DaemonSetUpdateStrategy says how a DaemonSet's pods are replaced when
// its template changes.
type DaemonSetUpdateStrategy struct {
	// Type is RollingUpdate (replace the pods a few nodes at a time) or
	// OnDelete (replace a pod only when it is deleted). Defaults to
	// RollingUpdate.
	Type string `json:"type,omitempty"`
	// RollingUpdate bounds a rolling update; only with type RollingUpdate.
	RollingUpdate *RollingUpdateDaemonSet `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDaemonSet bounds a DaemonSet's rolling update.
type RollingUpdateDaemonSet struct {
	// MaxUnavailable is how many nodes may be without an available pod
	// during the update: a number or a percentage of the eligible nodes
	// (rounded up). Defaults to 1. Exactly one of maxUnavailable and
	// maxSurge is not 0, as in Kubernetes.
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is how many nodes may run an old and a new pod at once
	// during the update (the new one starts before the old one stops): a
	// number or a percentage of the eligible nodes (rounded up). Defaults
	// to 0; to surge, set maxUnavailable to 0.
	MaxSurge *IntOrString `json:"maxSurge,omitempty"`
}
