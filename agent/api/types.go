// Package api holds the agent's versioned HTTP/JSON wire types and its
// client. It is what reconcile/ imports to talk to agents, and what the agent
// serves. Paths are under /v1; changing a field's meaning needs a /v2.
//
// The contract: the reconciler PUTs a node's full desired pod set, tagged
// with the leader's term (fencing token) and a generation. Applying the same
// set twice changes nothing. An agent refuses a set from a lower term than it
// has seen, and a set from the same term with a lower generation than it has
// applied, with 409 Conflict (ErrStale), telling the term it has seen
// (StaleTerm). GET /v1/podset returns the set last applied, so that a
// reconciler that lost its inventory adopts running pods.
package api

import (
	"maps"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// Paths served by an agent.
const (
	PathPodSet    = "/v1/podset"     // PUT PodSet → ApplyResult; GET → PodSet (the set last applied, with each pod's Owner and Hash)
	PathPods      = "/v1/pods"       // GET → PodStatusList
	PathPodsWatch = "/v1/pods/watch" // GET → stream of PodStatusList, one JSON document per line
	PathInfo      = "/v1/info"       // GET → NodeInfo
	PathLogs      = "/v1/logs"       // GET ?namespace=&pod=&container=&tail= → text
)

// PodSet is a node's full desired pod set. Pods absent from it are stopped
// and removed.
type PodSet struct {
	Node string `json:"node"`
	// Term is the leader's term; an agent refuses lower terms than it has seen.
	Term uint64 `json:"term"`
	// Generation increases with every new set within a term.
	Generation uint64 `json:"generation"`
	Pods       []Pod  `json:"pods"`
	// Cluster is the control plane's cluster ID. An agent that took sets
	// from one cluster takes another's only from a strictly higher term,
	// so that two control planes never share a (term, generation).
	Cluster string `json:"cluster,omitempty"`
	// Network is the pod network, Services and endpoints the node serves
	// (network.go). Nil from a leader that predates it: the agent then keeps
	// the network it has.
	Network *Network `json:"network,omitempty"`
	// Config is the ConfigMaps and Secrets the set's pods refer to
	// (volumes.go), sorted by Key. GET /v1/podset leaves it out.
	Config []ConfigObject `json:"config,omitempty"`
	// Volumes is the persistent volumes bound to the claims of the set's
	// pods, sorted by Name.
	Volumes []PersistentVolume `json:"volumes,omitempty"`
	// DeleteVolumes is volumes this node is to delete with their driver
	// (their claim is gone and their reclaim policy is Delete); the agent
	// reports each as VolumeDeleted once done.
	DeleteVolumes []PersistentVolume `json:"deleteVolumes,omitempty"`
}

// Pod is one desired pod.
type Pod struct {
	// UID identifies this incarnation of the pod: a pod deleted and
	// re-created under the same name gets a new UID.
	UID         string            `json:"uid"`
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Spec        spec.PodSpec      `json:"spec"`
	// Owner is the owning workload's key ("Deployment/ns/name"), empty for a
	// bare Pod; Hash is the template hash of a workload's pod or the spec
	// hash of a bare Pod. The agent keeps both with the pod and reports
	// them back in GET /v1/podset, so that a reconciler that lost its
	// inventory adopts running pods instead of re-creating them.
	Owner string `json:"owner,omitempty"`
	Hash  string `json:"hash,omitempty"`
	// Created is when the reconciler created this incarnation (UID).
	Created time.Time `json:"created,omitzero"`
}

// ApplyResult acknowledges a PodSet.
type ApplyResult struct {
	Term       uint64 `json:"term"`
	Generation uint64 `json:"generation"`
}

// Pod phases, as in Kubernetes.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Container waiting and termination reasons, as Kubernetes names them.
const (
	ReasonContainerCreating  = "ContainerCreating"
	ReasonPodInitializing    = "PodInitializing"
	ReasonErrImagePull       = "ErrImagePull"
	ReasonImagePullBackOff   = "ImagePullBackOff"
	ReasonCrashLoopBackOff   = "CrashLoopBackOff"
	ReasonContainerCannotRun = "ContainerCannotRun"
	ReasonCreateContainerErr = "CreateContainerError"
	// ReasonCreateConfigErr: the container's env or volumes name a
	// ConfigMap, Secret or key that does not exist (and is not optional),
	// or its securityContext cannot be met (runAsNonRoot with UID 0).
	ReasonCreateConfigErr = "CreateContainerConfigError"
	// ReasonInitError: an init container failed (Init:Error).
	ReasonInitError = "Init:Error"
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
)

// PodStatus is what an agent observes of one pod.
type PodStatus struct {
	UID       string `json:"uid"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node"`
	Phase     string `json:"phase"`
	// Reason and Message explain the phase (for example why a pod is Pending).
	Reason     string            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	PodIP      string            `json:"podIP,omitempty"`
	StartTime  *time.Time        `json:"startTime,omitempty"`
	Containers []ContainerStatus `json:"containers,omitempty"`
	// InitContainers are the init containers' statuses, in spec order
	// (Kubernetes' initContainerStatuses). An init container is Ready once
	// it has succeeded.
	InitContainers []ContainerStatus `json:"initContainerStatuses,omitempty"`
	// Conditions are the pod's Initialized, ContainersReady and Ready
	// conditions, as the kubelet reports them: Ready is True when every
	// container is Ready (running, started, and passing its readiness
	// probe); its LastTransitionTime is what minReadySeconds counts from.
	Conditions []Condition `json:"conditions,omitempty"`
	// DeletionTimestamp is set on a pod the agent is stopping because it
	// left the desired set: it shows Terminating until its containers are
	// gone (preStop hooks and the grace period), then leaves the list.
	DeletionTimestamp *time.Time `json:"deletionTimestamp,omitempty"`
	// Owner and Hash are the pod's (api.Pod's), so that the reconciler
	// can tell whose a terminating pod it no longer remembers is (a
	// Recreate rollout waits for the old pods to be gone).
	Owner string `json:"owner,omitempty"`
	Hash  string `json:"hash,omitempty"`
}

// Pod condition types, as Kubernetes names them.
const (
	PodInitialized     = "Initialized"
	PodContainersReady = "ContainersReady"
	PodReady           = "Ready"
)

// Condition statuses.
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// Condition is one condition of a pod (or, in the reconciler's views, of
// a workload).
type Condition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	// LastTransitionTime is when Status last changed.
	LastTransitionTime time.Time `json:"lastTransitionTime,omitzero"`
	// Reason (ContainersNotReady…) and Message say why it is not True.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Condition returns the pod's condition of type t, or nil.
func (ps *PodStatus) Condition(t string) *Condition {
	for i := range ps.Conditions {
		if ps.Conditions[i].Type == t {
			return &ps.Conditions[i]
		}
	}
	return nil
}

// ContainerStatus is what an agent observes of one container.
type ContainerStatus struct {
	Name        string `json:"name"`
	Image       string `json:"image"`
	ImageID     string `json:"imageID,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
	// State is the current state; LastTerminationState the one before the
	// last restart.
	State                ContainerState `json:"state"`
	LastTerminationState ContainerState `json:"lastState,omitempty"`
	RestartCount         int32          `json:"restartCount"`
	// Ready is true while the container runs, has started (its startup
	// probe, if any, succeeded) and passes its readiness probe (or has
	// none).
	Ready bool `json:"ready"`
	// Started is true once the container's startup probe succeeded (at
	// once without one, after its postStart hook); false while it runs
	// unstarted; nil when not running.
	Started *bool `json:"started,omitempty"`
}

// ContainerState holds exactly one of its members, or none when unknown.
type ContainerState struct {
	Waiting    *StateWaiting    `json:"waiting,omitempty"`
	Running    *StateRunning    `json:"running,omitempty"`
	Terminated *StateTerminated `json:"terminated,omitempty"`
}

// StateWaiting is a container not yet (or not again) running.
type StateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StateRunning is a running container.
type StateRunning struct {
	StartedAt time.Time `json:"startedAt"`
}

// StateTerminated is a container that exited.
type StateTerminated struct {
	ExitCode int32 `json:"exitCode"`
	// Signal is the signal that killed it, if any (exit code 128+Signal).
	Signal     int32     `json:"signal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
}

// PodStatusList is a node's whole observed state at one moment. The watch
// stream sends one after every change (coalesced), always complete: a
// consumer never has to merge deltas.
type PodStatusList struct {
	Node string `json:"node"`
	// Term and Generation of the last applied PodSet.
	Term       uint64      `json:"term"`
	Generation uint64      `json:"generation"`
	Pods       []PodStatus `json:"pods"`
	// Volumes is the state of the set's Volumes and DeleteVolumes.
	Volumes []VolumeStatus `json:"volumes,omitempty"`
	// Events are the agent's events with a Seq above the last one this
	// stream sent (at connect: above the watch's eventsAfter query, all
	// the agent keeps when Epoch differs from the query's epoch).
	Events []Event `json:"events,omitempty"`
	// Epoch identifies the agent process that numbers Events: a restarted
	// agent numbers from 1 again under a new epoch.
	Epoch string `json:"epoch,omitempty"`
	// Time is the agent's clock when it made the list: the reconciler
	// compares it with its own and reports a skew (container start times
	// come from the agent's clock, minReadySeconds and deadlines are judged
	// by the reconciler's).
	Time time.Time `json:"time,omitzero"`
	// Unchanged marks a heartbeat that repeats the stream's previous list
	// (pods, volumes, term and generation) with no new events: it carries
	// Node, Term, Generation, Epoch and Time only. Agents send it only to
	// a watch that asked (QueryHeartbeat); Client.WatchFrom expands it
	// back into the previous list, so callers never see one.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Event types, as in Kubernetes.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reasons the agent records about pods and containers, with the
// kubelet's names.
const (
	EventPulling          = "Pulling"
	EventPulled           = "Pulled"
	EventFailed           = "Failed" // image pull or container create/start failed
	EventCreated          = "Created"
	EventStarted          = "Started"
	EventKilling          = "Killing"
	EventUnhealthy        = "Unhealthy"
	EventBackOff          = "BackOff"
	EventFailedPostStart  = "FailedPostStartHook"
	EventFailedPreStop    = "FailedPreStopHook"
	EventProbeWarning     = "ProbeWarning"
	EventSandboxFailed    = "FailedCreatePodSandBox"
	EventContainersKilled = "Stopped" // every container of a removed pod is gone
)

// Event is something that happened on a node to a pod or container.
type Event struct {
	// Seq numbers the agent's events within its Epoch, from 1.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Object is "Pod/namespace/name"; UID the pod's incarnation and
	// Container the container's name, when the event is about one.
	Object    string `json:"object"`
	UID       string `json:"uid,omitempty"`
	Container string `json:"container,omitempty"`
	// Type is EventNormal or EventWarning.
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// QueryEventsAfter and QueryEpoch are the watch's query parameters: send
// the events after that Seq of that epoch (all kept events if the epoch is
// not the agent's own).
const (
	QueryEventsAfter = "eventsAfter"
	QueryEpoch       = "epoch"
	// QueryHeartbeat set to HeartbeatUnchanged asks the agent to send a
	// heartbeat that repeats the previous list as an Unchanged frame of a
	// hundred bytes instead of the whole list: at thousands of nodes the
	// repeated lists were most of what the reconciler decoded.
	QueryHeartbeat     = "heartbeat"
	HeartbeatUnchanged = "unchanged"
)

// Resources is a node's capacity in scheduler units.
type Resources struct {
	MilliCPU         int64 `json:"milliCPU"`
	Memory           int64 `json:"memory"`
	EphemeralStorage int64 `json:"ephemeralStorage,omitempty"`
	Pods             int64 `json:"pods"`
	// Extended are extended resources (nvidia.com/gpu: 2, as a count) and
	// hugepages (hugepages-2Mi, in bytes) by Kubernetes resource name. A
	// node without an entry has none of that resource.
	Extended map[string]int64 `json:"extended,omitempty"`
}

// Equal reports whether r and o offer the same; a nil and an empty
// Extended are the same.
func (r Resources) Equal(o Resources) bool {
	return r.MilliCPU == o.MilliCPU && r.Memory == o.Memory && r.EphemeralStorage == o.EphemeralStorage &&
		r.Pods == o.Pods && maps.Equal(r.Extended, o.Extended)
}

// NodeInfo describes a node: what it offers the scheduler and where its API is.
type NodeInfo struct {
	Name        string            `json:"name"`
	APIAddr     string            `json:"apiAddr"`
	Allocatable Resources         `json:"allocatable"`
	Labels      map[string]string `json:"labels,omitempty"`
	Taints      []spec.Taint      `json:"taints,omitempty"`
	// PodCIDR is the subnet pod IPs come from on this node.
	PodCIDR string `json:"podCIDR,omitempty"`
	// Version is the agent's release (TagVersion); empty for an agent from
	// before v0.16, which did not say.
	Version string `json:"version,omitempty"`
	// Protocol is the range of reconciler↔agent protocols the agent speaks
	// (TagProtocol); an agent from before v0.16 advertised none and speaks
	// Protocol1 alone, which DecodeTags fills in.
	Protocol ProtocolRange `json:"protocol,omitzero"`
}

// Error is the body of every non-2xx response (written and read by
// internal/errs, which maps codes to errdefs categories).
type Error struct {
	Error string `json:"error"`
	// Code is a machine-readable category: "stale", "invalid", "not_found",
	// "internal".
	Code string `json:"code"`
	// Term is, in a 409 "stale" answer to a PodSet, the highest term the
	// agent has seen (StaleTerm): a leader learns by how much it is behind.
	Term uint64 `json:"term,omitempty"`
	// Cluster is, in a 409 "stale" answer, the cluster ID of the control
	// plane whose sets the agent takes (StaleCluster).
	Cluster string `json:"cluster,omitempty"`
}
