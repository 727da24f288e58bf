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
	// APIVersion is the versioned schema of the object: "v1" for Namespace,
	// Pod, PodTemplate, ReplicationController, Service and Node, "apps/v1" for
	// Deployment. Every document must set it.
	// +required
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind is the type of the object, in CamelCase ("Deployment"). Every
	// document must set it.
	// +required
	Kind string `json:"kind,omitempty"`
}

// ObjectMeta is the subset of Kubernetes' metadata Stevedore supports.
type ObjectMeta struct {
	// Name is unique among objects of the same kind in a namespace: a
	// DNS-1123 subdomain. Required on every object (ignored in a workload's
	// pod template, whose pods are named after the workload).
	Name string `json:"name,omitempty"`
	// Namespace is where the object lives: a namespace the repository
	// declares, or "default" when empty. Cluster-scoped kinds (Namespace,
	// Node) must not set it.
	Namespace string `json:"namespace,omitempty"`
	// Labels are key/value pairs that selectors match (a Deployment's
	// selector, affinity terms, topology spread). On a Node they add to the
	// labels its agent reports.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are key/value pairs for tools and people; Stevedore
	// stores them and does not interpret them. At most 256 KiB in all.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Namespace is a v1 Namespace. Objects in a namespace the repository does not
// declare (other than "default") are rejected.
type Namespace struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is accepted so that what `kubectl get namespace -o yaml` prints
	// loads; it has no effect.
	Spec NamespaceSpec `json:"spec,omitzero"`
}

// NamespaceSpec is accepted so that `kubectl get namespace -o yaml` output
// loads. Its finalizers have no effect: Stevedore removes a namespace's
// objects when the commit that drops them is applied.
type NamespaceSpec struct {
	// Finalizers are qualified names ("kubernetes"); accepted and ignored.
	Finalizers []string `json:"finalizers,omitempty"`
}

// Pod is a v1 Pod: one or more containers that share a network namespace
// and run together on one node. The scheduler places it; the node's agent
// runs it. Most pods are made by a workload (Deployment,
// ReplicationController) rather than declared alone.
type Pod struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the pod: its containers and where
	// it may run.
	Spec PodSpec `json:"spec"`
}

// PodTemplate is a v1 PodTemplate: a named, reusable pod template.
type PodTemplate struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Template is the pod template: the metadata and spec of the pods made
	// from it.
	Template PodTemplateSpec `json:"template"`
}

// PodTemplateSpec is the metadata and spec of the pods a workload creates.
type PodTemplateSpec struct {
	// ObjectMeta is the metadata of the pods: their labels (which the
	// workload's selector must match) and annotations. A name or namespace
	// here is ignored, as in Kubernetes.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the pods.
	Spec PodSpec `json:"spec"`
}

// ReplicationController is a v1 ReplicationController: it keeps a number
// of pods of a template running. It is the Kubernetes 1.0 way, kept for
// manifests written for it; new configuration should use a Deployment.
type ReplicationController struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the replication controller.
	Spec ReplicationControllerSpec `json:"spec"`
}

// ReplicationControllerSpec keeps replicas copies of the template running.
type ReplicationControllerSpec struct {
	// Replicas is the number of pods to keep running. Defaults to 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector is the labels a pod must have to count as one of the
	// replicas. Defaults to the template's labels when empty.
	Selector map[string]string `json:"selector,omitempty"`
	// Template is the pod template the replicas are made from. Required.
	// +required
	Template *PodTemplateSpec `json:"template,omitempty"`
}

// Deployment is an apps/v1 Deployment: it keeps a number of pods of a
// template running and replaces them by a rolling update (or all at once)
// when the template changes.
type Deployment struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the Deployment.
	Spec DeploymentSpec `json:"spec"`
}

// DeploymentSpec keeps replicas copies of the template running.
type DeploymentSpec struct {
	// Replicas is the number of pods to keep running. Defaults to 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector is the label query over pods that counts them as this
	// Deployment's. Required (apps/v1): it must not be empty and must match
	// the template's labels.
	// +required
	Selector *LabelSelector `json:"selector,omitempty"`
	// Template is the pod template the Deployment's pods are made from; a
	// change to it starts a rollout.
	Template PodTemplateSpec `json:"template"`
	// Strategy is how pods of the old template are replaced by pods of the
	// new one.
	Strategy DeploymentStrategy `json:"strategy,omitempty"`
	// MinReadySeconds is how long a new pod must be ready, without any of
	// its containers crashing, before it counts as available. Defaults to 0
	// (available as soon as it is ready).
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is how many old revisions the reconciler keeps
	// in the Deployment's rollout history besides the current one. Git
	// keeps every commit; a rollback is a revert commit. Defaults to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// ProgressDeadlineSeconds is how long a rollout may make no progress
	// before it is reported as failed (ProgressDeadlineExceeded). Defaults
	// to 600; must be greater than minReadySeconds.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// Paused stops rolling out template changes: the Deployment keeps the
	// pods of the template it runs (still scaled to replicas) until it is
	// unpaused.
	Paused bool `json:"paused,omitempty"`
}

// Deployment strategy types.
const (
	RecreateDeploymentStrategyType      = "Recreate"
	RollingUpdateDeploymentStrategyType = "RollingUpdate"
)

// DeploymentStrategy says how pods are replaced when the template changes.
type DeploymentStrategy struct {
	// Type is "Recreate" (stop every old pod before starting new ones) or
	// "RollingUpdate" (replace them a few at a time). Defaults to
	// RollingUpdate.
	Type string `json:"type,omitempty"`
	// RollingUpdate bounds a rolling update; only with type RollingUpdate.
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDeployment bounds a rolling update. Values are an integer or a
// percentage string ("25%"); both default to 25%.
type RollingUpdateDeployment struct {
	// MaxUnavailable is how many of the desired pods may be unavailable
	// during the update: a number, or a percentage of replicas rounded down.
	// Defaults to 25%. It cannot be 0 when maxSurge is 0.
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is how many pods may be created above the desired number
	// during the update: a number, or a percentage of replicas rounded up.
	// Defaults to 25%.
	MaxSurge *IntOrString `json:"maxSurge,omitempty"`
}

// Node declares scheduling intent for a node that an agent runs: cordon
// (spec.unschedulable), labels and taints. Git is the API, so cordon and drain
// are commits too. Labels and taints here add to those from agent config.
type Node struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the declared scheduling intent for the node.
	Spec NodeSpec `json:"spec,omitempty"`
}

// NodeSpec is the declared part of a node.
type NodeSpec struct {
	// Unschedulable cordons the node: no new pods are placed on it; the
	// pods already there keep running.
	Unschedulable bool `json:"unschedulable,omitempty"`
	// Taints repel pods that do not tolerate them; they add to the taints
	// the node's agent reports.
	Taints []Taint `json:"taints,omitempty"`
}

// Taint effects.
const (
	TaintEffectNoSchedule       = "NoSchedule"
	TaintEffectPreferNoSchedule = "PreferNoSchedule"
	TaintEffectNoExecute        = "NoExecute"
)

// Taint repels pods that do not tolerate it.
type Taint struct {
	// Key is the taint key: a qualified name, as label keys are.
	Key string `json:"key"`
	// Value is the taint value a toleration with operator Equal matches.
	Value string `json:"value,omitempty"`
	// Effect is what the taint does to pods that do not tolerate it:
	// NoSchedule (not placed on the node), PreferNoSchedule (placed there
	// only when no other node fits) or NoExecute (not placed, and evicted
	// if already running).
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

// PodSpec is the supported subset of Kubernetes' v1 PodSpec: a pod's
// containers, volumes and where it may run. Kubernetes fields not listed
// (hostPID, ephemeralContainers…) are rejected at load.
type PodSpec struct {
	// Volumes are the pod's volumes, which its containers mount by name.
	Volumes []Volume `json:"volumes,omitempty"`
	// InitContainers run one after the other, each to completion, before
	// the app containers start; one that fails is restarted per
	// RestartPolicy (with Never, the pod fails).
	InitContainers []Container `json:"initContainers,omitempty"`
	// Containers are the pod's containers, at least one. They share the
	// pod's network namespace (one IP, one set of ports) and hostname.
	Containers []Container `json:"containers"`
	// SecurityContext is the pod-wide security settings.
	SecurityContext *PodSecurityContext `json:"securityContext,omitempty"`
	// ServiceAccountName is accepted and shown; Stevedore mounts no
	// service account token. "default" is stored as empty.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// RestartPolicy says when a container that exited is restarted: Always,
	// OnFailure (after a non-zero exit) or Never. Defaults to Always.
	RestartPolicy string `json:"restartPolicy,omitempty"`
	// TerminationGracePeriodSeconds is how long a stopping container has
	// between SIGTERM and SIGKILL. Defaults to 30.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// HostNetwork runs the pod in its node's network namespace, as in
	// Kubernetes: no pod IP of its own (its podIP is the node's address),
	// its containerPorts are ports of the node (the scheduler places two
	// pods using one port on different nodes), no bridge, no pod DNS
	// server address unless dnsPolicy is ClusterFirstWithHostNet (the
	// default for a host-network pod is the node's resolvers, Default). A
	// privileged capability: the baseline and restricted pod security
	// levels forbid it. hostPort, when set, must equal containerPort.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// Hostname is the pod's hostname: a DNS-1123 label. Defaults to the
	// pod's name.
	Hostname string `json:"hostname,omitempty"`
	// Subdomain, with Hostname, gives the pod the DNS name
	// <hostname>.<subdomain>.<namespace>.svc.<cluster domain> when a headless
	// Service of that name selects it: a DNS-1123 label.
	Subdomain string `json:"subdomain,omitempty"`
	// DNSPolicy is how the pod resolves names: ClusterFirst (the node's
	// cluster DNS server, which forwards other names upstream), Default
	// (the host's resolvers, no cluster names) or None (only DNSConfig).
	// A host-network pod's ClusterFirst is Default, as the kubelet has it:
	// ClusterFirstWithHostNet gives it the cluster DNS; for other pods it
	// means ClusterFirst. Empty means ClusterFirst, and loading stores
	// ClusterFirst (and ClusterFirstWithHostNet without hostNetwork) as
	// empty, so that writing the default does not change the pod
	// template's hash.
	DNSPolicy string `json:"dnsPolicy,omitempty"`
	// DNSConfig adds nameservers, search domains and options to what
	// DNSPolicy gives; with DNSPolicy None it is the whole configuration.
	DNSConfig *PodDNSConfig `json:"dnsConfig,omitempty"`
	// EnableServiceLinks gives every container, when it starts, the
	// Docker-links-style environment variables of each Service with a
	// cluster IP in the pod's namespace (REDIS_SERVICE_HOST,
	// REDIS_SERVICE_PORT, REDIS_PORT_6379_TCP_ADDR…), as the kubelet does;
	// a container's own env wins over them. Defaults to true; false turns
	// them off. Loading stores true as unset, so that writing the default
	// does not change the pod template's hash.
	EnableServiceLinks *bool `json:"enableServiceLinks,omitempty"`
	// NodeName, when set, pins the pod to that node and bypasses the
	// scheduler.
	NodeName string `json:"nodeName,omitempty"`
	// NodeSelector is labels a node must have (all of them) for the pod to
	// be placed on it.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Affinity is the pod's node affinity and pod (anti-)affinity rules.
	Affinity *Affinity `json:"affinity,omitempty"`
	// Tolerations let the pod be placed on nodes with matching taints.
	Tolerations []Toleration `json:"tolerations,omitempty"`
	// TopologySpreadConstraints spread the pods matching a label selector
	// across topology domains (zones, nodes). All are honoured together.
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// SchedulerName selects a scheduler profile. Defaults to
	// "default-scheduler".
	SchedulerName string `json:"schedulerName,omitempty"`
}

// Container is the supported subset of Kubernetes' v1 Container. Kubernetes
// fields not listed (volumeDevices, tty…) are rejected at load.
type Container struct {
	// Name is the container's name, unique in the pod: a DNS-1123 label.
	Name string `json:"name"`
	// Image is the image reference to run, e.g. "registry.local:5000/web:1.2".
	Image string `json:"image"`
	// Command replaces the image's ENTRYPOINT. Defaults to the image's.
	Command []string `json:"command,omitempty"`
	// Args replace the image's CMD (the entrypoint's arguments). Defaults
	// to the image's.
	Args []string `json:"args,omitempty"`
	// WorkingDir is the container's working directory. Defaults to the
	// image's.
	WorkingDir string `json:"workingDir,omitempty"`
	// Env is the environment variables to set in the container, in
	// addition to the image's; they win over EnvFrom's.
	Env []EnvVar `json:"env,omitempty"`
	// EnvFrom sets a variable for every key of ConfigMaps and Secrets; a
	// later source wins over an earlier one.
	EnvFrom []EnvFromSource `json:"envFrom,omitempty"`
	// VolumeMounts mount the pod's volumes into the container.
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
	// SecurityContext is the container's security settings; they win over
	// the pod's.
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
	// Ports are the ports the container listens on. Listing them is
	// informational apart from hostPort, but it names them, and a
	// (containerPort, protocol) pair may appear only once in the pod.
	Ports []ContainerPort `json:"ports,omitempty"`
	// Resources are the compute resources the container requests (to be
	// scheduled) and is limited to.
	Resources Resources `json:"resources,omitempty"`
	// ImagePullPolicy defaults to Always for a ":latest" or untagged image and
	// to IfNotPresent otherwise, as in Kubernetes.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
	// LivenessProbe is run periodically; when it fails failureThreshold
	// times in a row the container is killed and restarted per the pod's
	// restart policy.
	LivenessProbe *Probe `json:"livenessProbe,omitempty"`
	// ReadinessProbe is run periodically; the container is Ready (and the
	// pod among its Services' endpoints) only while it succeeds. Without
	// one, a running container is Ready.
	ReadinessProbe *Probe `json:"readinessProbe,omitempty"`
	// StartupProbe, when set, runs first: liveness and readiness probes
	// wait until it succeeds once, and its failing failureThreshold times
	// restarts the container.
	StartupProbe *Probe `json:"startupProbe,omitempty"`
	// Lifecycle is the container's postStart and preStop hooks.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	// TerminationMessagePath is the file in the container whose content
	// (at most 4096 bytes) becomes the message of its terminated state: an
	// absolute path without "..". Defaults to /dev/termination-log.
	TerminationMessagePath string `json:"terminationMessagePath,omitempty"`
	// TerminationMessagePolicy is File (the message is the file's content)
	// or FallbackToLogsOnError (the tail of the log when the file is empty
	// and the container failed). Defaults to File.
	TerminationMessagePolicy string `json:"terminationMessagePolicy,omitempty"`
}

// EnvVar is one environment variable: a literal value, or one taken from
// the pod, a ConfigMap or a Secret.
type EnvVar struct {
	// Name is the variable's name: letters, digits, "_", "-" and ".", not
	// starting with a digit.
	Name string `json:"name"`
	// Value is the variable's literal value, with $(VAR) references to
	// earlier variables expanded. Defaults to "".
	Value string `json:"value,omitempty"`
	// ValueFrom takes the value from elsewhere; not with Value.
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// Protocols.
const (
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolSCTP = "SCTP"
)

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	// Name is an IANA service name for the port (at most 15 characters),
	// unique in the container.
	Name string `json:"name,omitempty"`
	// ContainerPort is the port number on the pod's IP: 1-65535.
	ContainerPort int32 `json:"containerPort"`
	// HostPort, when non-zero, is reserved on the node: the scheduler does
	// not place two pods taking the same host port (and protocol and host
	// IP) on one node. The agent does not forward it to the pod: the pod is
	// reached on its own IP and containerPort.
	HostPort int32 `json:"hostPort,omitempty"`
	// Protocol is TCP, UDP or SCTP. Defaults to TCP.
	Protocol string `json:"protocol,omitempty"`
	// HostIP is the host address the hostPort is reserved on. Defaults to
	// all addresses.
	HostIP string `json:"hostIP,omitempty"`
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
	// Requests are the resources the container needs: the scheduler places
	// the pod only on a node with that much allocatable left. Names are
	// cpu, memory, ephemeral-storage, hugepages-<size> or extended
	// resources (example.com/gpu). Each defaults to its limit when only the
	// limit is set.
	Requests ResourceList `json:"requests,omitempty"`
	// Limits are the most the container may use: cpu and memory limits are
	// enforced by the runtime (cgroups). A request may not exceed its limit.
	Limits ResourceList `json:"limits,omitempty"`
}

// LabelSelector is Kubernetes' label selector.
type LabelSelector struct {
	// MatchLabels is labels a pod must have, each with that value.
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// MatchExpressions are requirements a pod's labels must all meet, in
	// addition to matchLabels.
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
	// Key is the label key the requirement applies to.
	Key string `json:"key"`
	// Operator is In, NotIn, Exists or DoesNotExist.
	Operator string `json:"operator"`
	// Values are the label values for In and NotIn (at least one); Exists
	// and DoesNotExist take none.
	Values []string `json:"values,omitempty"`
}

// Affinity groups the pod's node and pod (anti-)affinity rules.
type Affinity struct {
	// NodeAffinity is rules on the labels of the node the pod is placed on.
	NodeAffinity *NodeAffinity `json:"nodeAffinity,omitempty"`
	// PodAffinity places the pod in the same topology domain as other pods.
	PodAffinity *PodAffinity `json:"podAffinity,omitempty"`
	// PodAntiAffinity keeps the pod out of the topology domains of other
	// pods.
	PodAntiAffinity *PodAntiAffinity `json:"podAntiAffinity,omitempty"`
}

// NodeAffinity is Kubernetes' node affinity.
type NodeAffinity struct {
	// RequiredDuringSchedulingIgnoredDuringExecution is what a node must
	// match for the pod to be placed on it. A pod already running stays
	// when the node's labels change.
	RequiredDuringSchedulingIgnoredDuringExecution *NodeSelector `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// PreferredDuringSchedulingIgnoredDuringExecution are weighted
	// preferences: among the nodes that fit, the scheduler favours those
	// whose matching terms' weights sum highest.
	PreferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// NodeSelector is a disjunction of terms: a node matches if any term does.
type NodeSelector struct {
	// NodeSelectorTerms are ORed: a node matches if any term does. At least
	// one.
	NodeSelectorTerms []NodeSelectorTerm `json:"nodeSelectorTerms"`
}

// NodeSelectorTerm is a conjunction of requirements.
type NodeSelectorTerm struct {
	// MatchExpressions are requirements on the node's labels.
	MatchExpressions []NodeSelectorRequirement `json:"matchExpressions,omitempty"`
	// MatchFields are requirements on the node's fields: only
	// metadata.name, with In or NotIn and one value.
	MatchFields []NodeSelectorRequirement `json:"matchFields,omitempty"`
}

// Node selector operators (In, NotIn, Exists, DoesNotExist as for labels).
const (
	NodeSelectorOpGt = "Gt"
	NodeSelectorOpLt = "Lt"
)

// NodeSelectorRequirement is one expression of a NodeSelectorTerm.
type NodeSelectorRequirement struct {
	// Key is the label key (or, in matchFields, the field) the requirement
	// applies to.
	Key string `json:"key"`
	// Operator is In, NotIn, Exists, DoesNotExist, Gt or Lt.
	Operator string `json:"operator"`
	// Values are the values for In and NotIn (at least one), or the one
	// integer Gt and Lt compare the label's value with; Exists and
	// DoesNotExist take none.
	Values []string `json:"values,omitempty"`
}

// PreferredSchedulingTerm is a weighted (1-100) preference.
type PreferredSchedulingTerm struct {
	// Weight is added to a node's score when it matches the preference:
	// 1-100.
	Weight int32 `json:"weight"`
	// Preference is the node selector term a node must match to earn the
	// weight.
	Preference NodeSelectorTerm `json:"preference"`
}

// PodAffinity attracts a pod to nodes running matching pods.
type PodAffinity struct {
	// RequiredDuringSchedulingIgnoredDuringExecution are terms the pod's
	// node must meet: pods matching them must run in the node's topology
	// domain. A pod already running stays when they stop being met.
	RequiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// PreferredDuringSchedulingIgnoredDuringExecution are weighted
	// preferences for domains with matching pods.
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAntiAffinity repels a pod from nodes running matching pods.
type PodAntiAffinity struct {
	// RequiredDuringSchedulingIgnoredDuringExecution are terms the pod's
	// node must meet: no pod matching a term may run in the node's topology
	// domain. A pod already running stays when they stop being met.
	RequiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// PreferredDuringSchedulingIgnoredDuringExecution are weighted
	// preferences against domains with matching pods.
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAffinityTerm selects pods, in namespaces, within a topology domain.
type PodAffinityTerm struct {
	// LabelSelector selects the pods the term is about. Empty selects none.
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`
	// Namespaces are where the selected pods are looked for. Defaults to
	// the pod's own namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// TopologyKey is the node label whose value defines a topology domain
	// (kubernetes.io/hostname: one node; topology.kubernetes.io/zone: a
	// zone). Required.
	TopologyKey string `json:"topologyKey"`
}

// WeightedPodAffinityTerm is a weighted (1-100) preference.
type WeightedPodAffinityTerm struct {
	// Weight is added to (affinity) or taken from (anti-affinity) a node's
	// score when the term is met: 1-100.
	Weight int32 `json:"weight"`
	// PodAffinityTerm is the term.
	PodAffinityTerm PodAffinityTerm `json:"podAffinityTerm"`
}

// Toleration operators and the wildcard.
const (
	TolerationOpExists = "Exists"
	TolerationOpEqual  = "Equal"
)

// Toleration lets a pod be placed on a node with a matching taint.
type Toleration struct {
	// Key is the taint key the toleration matches. Empty, with operator
	// Exists, matches every taint.
	Key string `json:"key,omitempty"`
	// Operator is Equal (the taint's value must equal value) or Exists
	// (any value). Defaults to Equal.
	Operator string `json:"operator,omitempty"`
	// Value is the taint value to match with operator Equal; Exists takes
	// none.
	Value string `json:"value,omitempty"`
	// Effect is the taint effect to match: NoSchedule, PreferNoSchedule or
	// NoExecute. Empty matches all effects.
	Effect string `json:"effect,omitempty"`
	// TolerationSeconds, only with effect NoExecute, is how long Kubernetes
	// keeps the pod on a node after the taint appears. Stevedore accepts it
	// and does not honour it: eviction is at once.
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// whenUnsatisfiable values.
const (
	DoNotSchedule  = "DoNotSchedule"
	ScheduleAnyway = "ScheduleAnyway"
)

// TopologySpreadConstraint spreads matching pods across topology domains.
type TopologySpreadConstraint struct {
	// MaxSkew is the most the number of matching pods may differ between
	// any two eligible domains (or, with minDomains, from zero). At least 1.
	MaxSkew int32 `json:"maxSkew"`
	// TopologyKey is the node label whose value defines a domain
	// (kubernetes.io/hostname, topology.kubernetes.io/zone). Nodes without
	// the label are not in any domain.
	TopologyKey string `json:"topologyKey"`
	// WhenUnsatisfiable is DoNotSchedule (the pod stays pending rather than
	// exceed maxSkew) or ScheduleAnyway (the skew only lowers a node's
	// score).
	WhenUnsatisfiable string `json:"whenUnsatisfiable"`
	// LabelSelector selects the pods counted in each domain, in the pod's
	// namespace.
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`
	// MinDomains, only with DoNotSchedule, is the number of eligible
	// domains below which the global minimum counts as zero. At least 1.
	MinDomains *int32 `json:"minDomains,omitempty"`
}

// PodDNSConfig is a pod's DNS settings beyond its DNSPolicy.
type PodDNSConfig struct {
	// Nameservers are IP addresses added to the policy's (at most 3 in
	// all).
	Nameservers []string `json:"nameservers,omitempty"`
	// Searches are search domains added to the policy's (at most 32).
	Searches []string `json:"searches,omitempty"`
	// Options are resolver options; an option here replaces the policy's
	// option of the same name.
	Options []PodDNSConfigOption `json:"options,omitempty"`
}

// PodDNSConfigOption is one resolver option, such as ndots:2.
type PodDNSConfigOption struct {
	// Name is the option's name, e.g. "ndots".
	Name string `json:"name"`
	// Value is the option's value, if it takes one.
	Value *string `json:"value,omitempty"`
}
