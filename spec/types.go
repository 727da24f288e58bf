package spec

import (
	"k8s.io/apimachinery/pkg/api/resource"
)

// API groups and versions this package understands. The field names and
// meanings follow Kubernetes so that existing manifests for these kinds work
// unchanged; fields Stevedore does not support are rejected by the decoder
// rather than silently ignored.
const (
	CoreV1 = "v1"
	AppsV1 = "apps/v1"
)

// Kinds.
const (
	KindNamespace             = "Namespace"
	KindPod                   = "Pod"
	KindPodTemplate           = "PodTemplate"
	KindReplicationController = "ReplicationController"
	KindDeployment            = "Deployment"
	KindNode                  = "Node"
)

// DefaultNamespace is the namespace of an object that names none. It exists
// without being declared in the repository, as in Kubernetes.
const DefaultNamespace = "default"

// TypeMeta is the apiVersion and kind of every document.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// ObjectMeta is the subset of Kubernetes' metadata Stevedore supports.
type ObjectMeta struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Namespace is a v1 Namespace. Objects in a namespace the repository does not
// declare (other than "default") are rejected.
type Namespace struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
}

// Pod is a v1 Pod.
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PodSpec `json:"spec"`
}

// PodTemplate is a v1 PodTemplate: a named, reusable pod template.
type PodTemplate struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Template   PodTemplateSpec `json:"template"`
}

// PodTemplateSpec is the metadata and spec of the pods a workload creates.
type PodTemplateSpec struct {
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PodSpec `json:"spec"`
}

// ReplicationController is a v1 ReplicationController.
type ReplicationController struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ReplicationControllerSpec `json:"spec"`
}

// ReplicationControllerSpec keeps Replicas copies of Template running.
type ReplicationControllerSpec struct {
	// Replicas defaults to 1 when nil.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector defaults to the template's labels when empty.
	Selector map[string]string `json:"selector,omitempty"`
	Template *PodTemplateSpec  `json:"template,omitempty"`
}

// Deployment is an apps/v1 Deployment.
type Deployment struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       DeploymentSpec `json:"spec"`
}

// DeploymentSpec keeps Replicas copies of Template running.
type DeploymentSpec struct {
	// Replicas defaults to 1 when nil.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector is required (apps/v1) and must match the template's labels.
	Selector *LabelSelector     `json:"selector,omitempty"`
	Template PodTemplateSpec    `json:"template"`
	Strategy DeploymentStrategy `json:"strategy,omitempty"`
	// MinReadySeconds defaults to 0.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is accepted for compatibility; Git is the history.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// ProgressDeadlineSeconds defaults to 600.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	Paused                  bool   `json:"paused,omitempty"`
}

// Deployment strategy types.
const (
	RecreateDeploymentStrategyType      = "Recreate"
	RollingUpdateDeploymentStrategyType = "RollingUpdate"
)

// DeploymentStrategy says how pods are replaced when the template changes.
type DeploymentStrategy struct {
	// Type defaults to RollingUpdate.
	Type          string                   `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDeployment bounds a rolling update. Values are an integer or a
// percentage string ("25%"); both default to 25%.
type RollingUpdateDeployment struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// Node declares scheduling intent for a node that an agent runs: cordon
// (spec.unschedulable), labels and taints. Git is the API, so cordon and drain
// are commits too. Labels and taints here add to those from agent config.
type Node struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       NodeSpec `json:"spec,omitempty"`
}

// NodeSpec is the declared part of a node.
type NodeSpec struct {
	Unschedulable bool    `json:"unschedulable,omitempty"`
	Taints        []Taint `json:"taints,omitempty"`
}

// Taint effects.
const (
	TaintEffectNoSchedule       = "NoSchedule"
	TaintEffectPreferNoSchedule = "PreferNoSchedule"
	TaintEffectNoExecute        = "NoExecute"
)

// Taint repels pods that do not tolerate it.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Restart policies.
const (
	RestartPolicyAlways    = "Always"
	RestartPolicyOnFailure = "OnFailure"
	RestartPolicyNever     = "Never"
)

// Image pull policies.
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// PodSpec is the supported subset of Kubernetes' v1 PodSpec.
type PodSpec struct {
	Containers []Container `json:"containers"`
	// RestartPolicy defaults to Always.
	RestartPolicy string `json:"restartPolicy,omitempty"`
	// TerminationGracePeriodSeconds defaults to 30.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// Hostname defaults to the pod's name.
	Hostname string `json:"hostname,omitempty"`
	// NodeName, when set, pins the pod to that node and bypasses the scheduler.
	NodeName                  string                     `json:"nodeName,omitempty"`
	NodeSelector              map[string]string          `json:"nodeSelector,omitempty"`
	Affinity                  *Affinity                  `json:"affinity,omitempty"`
	Tolerations               []Toleration               `json:"tolerations,omitempty"`
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// SchedulerName selects a scheduler profile; defaults to "default-scheduler".
	SchedulerName string `json:"schedulerName,omitempty"`
}

// Container is the supported subset of Kubernetes' v1 Container.
type Container struct {
	Name       string          `json:"name"`
	Image      string          `json:"image"`
	Command    []string        `json:"command,omitempty"`
	Args       []string        `json:"args,omitempty"`
	WorkingDir string          `json:"workingDir,omitempty"`
	Env        []EnvVar        `json:"env,omitempty"`
	Ports      []ContainerPort `json:"ports,omitempty"`
	Resources  Resources       `json:"resources,omitempty"`
	// ImagePullPolicy defaults to Always for a ":latest" or untagged image and
	// to IfNotPresent otherwise, as in Kubernetes.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
}

// EnvVar is one environment variable. Only literal values are supported.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Protocols.
const (
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolSCTP = "SCTP"
)

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	// HostPort, when non-zero, is reserved on the node (a scheduling
	// constraint: two pods can't take the same host port on one node).
	HostPort int32 `json:"hostPort,omitempty"`
	// Protocol defaults to TCP.
	Protocol string `json:"protocol,omitempty"`
	HostIP   string `json:"hostIP,omitempty"`
}

// Resource names.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceEphemeralStorage = "ephemeral-storage"
	ResourcePods             = "pods"
)

// ResourceList maps a resource name to a quantity in Kubernetes' notation
// ("500m", "128Mi").
type ResourceList map[string]resource.Quantity

// Resources are a container's requests (used to schedule) and limits
// (enforced by the runtime). A request defaults to its limit when only the
// limit is set, as in Kubernetes.
type Resources struct {
	Requests ResourceList `json:"requests,omitempty"`
	Limits   ResourceList `json:"limits,omitempty"`
}

// LabelSelector is Kubernetes' label selector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// Label selector operators.
const (
	LabelSelectorOpIn           = "In"
	LabelSelectorOpNotIn        = "NotIn"
	LabelSelectorOpExists       = "Exists"
	LabelSelectorOpDoesNotExist = "DoesNotExist"
)

// LabelSelectorRequirement is one expression of a LabelSelector.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Affinity groups the pod's node and pod (anti-)affinity rules.
type Affinity struct {
	NodeAffinity    *NodeAffinity    `json:"nodeAffinity,omitempty"`
	PodAffinity     *PodAffinity     `json:"podAffinity,omitempty"`
	PodAntiAffinity *PodAntiAffinity `json:"podAntiAffinity,omitempty"`
}

// NodeAffinity is Kubernetes' node affinity.
type NodeAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  *NodeSelector             `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// NodeSelector is a disjunction of terms: a node matches if any term does.
type NodeSelector struct {
	NodeSelectorTerms []NodeSelectorTerm `json:"nodeSelectorTerms"`
}

// NodeSelectorTerm is a conjunction of requirements.
type NodeSelectorTerm struct {
	MatchExpressions []NodeSelectorRequirement `json:"matchExpressions,omitempty"`
	MatchFields      []NodeSelectorRequirement `json:"matchFields,omitempty"`
}

// Node selector operators (In, NotIn, Exists, DoesNotExist as for labels).
const (
	NodeSelectorOpGt = "Gt"
	NodeSelectorOpLt = "Lt"
)

// NodeSelectorRequirement is one expression of a NodeSelectorTerm.
type NodeSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// PreferredSchedulingTerm is a weighted (1-100) preference.
type PreferredSchedulingTerm struct {
	Weight     int32            `json:"weight"`
	Preference NodeSelectorTerm `json:"preference"`
}

// PodAffinity attracts a pod to nodes running matching pods.
type PodAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  []PodAffinityTerm         `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAntiAffinity repels a pod from nodes running matching pods.
type PodAntiAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  []PodAffinityTerm         `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAffinityTerm selects pods, in namespaces, within a topology domain.
type PodAffinityTerm struct {
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`
	// Namespaces defaults to the pod's own namespace.
	Namespaces  []string `json:"namespaces,omitempty"`
	TopologyKey string   `json:"topologyKey"`
}

// WeightedPodAffinityTerm is a weighted (1-100) preference.
type WeightedPodAffinityTerm struct {
	Weight          int32           `json:"weight"`
	PodAffinityTerm PodAffinityTerm `json:"podAffinityTerm"`
}

// Toleration operators and the wildcard.
const (
	TolerationOpExists = "Exists"
	TolerationOpEqual  = "Equal"
)

// Toleration lets a pod be placed on a node with a matching taint.
type Toleration struct {
	Key string `json:"key,omitempty"`
	// Operator defaults to Equal.
	Operator string `json:"operator,omitempty"`
	Value    string `json:"value,omitempty"`
	// Effect empty matches all effects.
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// whenUnsatisfiable values.
const (
	DoNotSchedule  = "DoNotSchedule"
	ScheduleAnyway = "ScheduleAnyway"
)

// TopologySpreadConstraint spreads matching pods across topology domains.
type TopologySpreadConstraint struct {
	MaxSkew           int32          `json:"maxSkew"`
	TopologyKey       string         `json:"topologyKey"`
	WhenUnsatisfiable string         `json:"whenUnsatisfiable"`
	LabelSelector     *LabelSelector `json:"labelSelector,omitempty"`
	MinDomains        *int32         `json:"minDomains,omitempty"`
}
