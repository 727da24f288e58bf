// Package reconcile is Stevedore's control-plane core: a pure function from
// desired objects, observed pods and remembered placements to one desired
// pod set per node, with events. It does no I/O and reads no clock: the
// daemon around it (reconcile/server) supplies time, UIDs and state.
package reconcile

import (
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// NodeState is one node as membership sees it.
type NodeState struct {
	Info api.NodeInfo
	// Alive is false once membership has declared the node failed or left.
	Alive bool
}

// PodRecord is what the core remembers of one pod it created, so that a
// restarted reconciler neither forgets nor duplicates pods.
type PodRecord struct {
	UID       string `json:"uid"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Owner is the workload's key ("Deployment/ns/name"), empty for a bare Pod.
	Owner string `json:"owner,omitempty"`
	// Node is where the pod was placed; empty while Pending.
	Node    string    `json:"node,omitempty"`
	Created time.Time `json:"created"`
}

// Memory is the core's remembered state (the inventory): persisted by the
// daemon after every plan and handed back on the next.
type Memory struct {
	// Pods by "namespace/name".
	Pods map[string]PodRecord `json:"pods"`
}

// Input is everything a plan depends on.
type Input struct {
	// Desired is the last good revision's objects; nil means nothing applied yet.
	Desired *spec.Set
	Nodes   []NodeState
	// Observed pod statuses by node name.
	Observed map[string][]api.PodStatus
	Memory   Memory
	Now      time.Time
	// NewUID returns a fresh pod UID; injected so tests are deterministic.
	NewUID func() string
}

// PodView is one desired pod as the reconciler API shows it: the desired
// side merged with what its node reports.
type PodView struct {
	UID       string            `json:"uid"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Owner     string            `json:"owner,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Node      string            `json:"node,omitempty"`
	// Phase is the node's report, or Pending (with Reason) while unscheduled
	// or not yet reported.
	Phase   string `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	PodIP   string `json:"podIP,omitempty"`
	// Status is the node's full report, when there is one.
	Status *api.PodStatus `json:"status,omitempty"`
	Spec   spec.PodSpec   `json:"spec"`
}

// Event records something the core decided.
type Event struct {
	Time    time.Time `json:"time"`
	Object  string    `json:"object"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// Output is a plan.
type Output struct {
	// PodSets holds every alive node's full desired pod set (possibly empty).
	PodSets map[string][]api.Pod
	// Pods lists every desired pod, sorted by namespace and name.
	Pods   []PodView
	Memory Memory
	Events []Event
}

// Plan computes the desired pod set of every node.
func Plan(in Input) Output {
	_ = in
	return Output{PodSets: map[string][]api.Pod{}}
}
