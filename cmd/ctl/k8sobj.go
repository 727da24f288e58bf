package main

import (
	"net"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// The Kubernetes-shaped objects ctl prints for -o json|yaml|jsonpath|
// custom-columns. The reconciler's wire types (reconcile/api) are
// Stevedore's own; these follow Kubernetes' v1 and apps/v1 field names and
// meanings (k8s.io/api), so that jq and yq scripts written against
// `kubectl get -o json` work. Only what Stevedore knows is filled in; what
// it does not know (resourceVersion, a Deployment's uid) is left out rather
// than made up.

// objectMeta is metav1.ObjectMeta's subset Stevedore knows.
type objectMeta struct {
	Annotations       map[string]string `json:"annotations,omitempty"`
	CreationTimestamp *time.Time        `json:"creationTimestamp,omitempty"`
	DeletionTimestamp *time.Time        `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	OwnerReferences   []ownerReference  `json:"ownerReferences,omitempty"`
	UID               string            `json:"uid,omitempty"`
}

// ownerReference is metav1.OwnerReference; Stevedore's workloads have no
// UID, so uid is left out.
type ownerReference struct {
	APIVersion         string `json:"apiVersion"`
	BlockOwnerDeletion bool   `json:"blockOwnerDeletion"`
	Controller         bool   `json:"controller"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
}

type k8sPod struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   objectMeta   `json:"metadata"`
	Spec       spec.PodSpec `json:"spec"`
	Status     kPodStatus   `json:"status"`
}

type kPodStatus struct {
	Conditions            []condition       `json:"conditions,omitempty"`
	ContainerStatuses     []containerStatus `json:"containerStatuses,omitempty"`
	HostIP                string            `json:"hostIP,omitempty"`
	HostIPs               []ipEntry         `json:"hostIPs,omitempty"`
	InitContainerStatuses []containerStatus `json:"initContainerStatuses,omitempty"`
	Message               string            `json:"message,omitempty"`
	Phase                 string            `json:"phase"`
	PodIP                 string            `json:"podIP,omitempty"`
	PodIPs                []ipEntry         `json:"podIPs,omitempty"`
	QOSClass              string            `json:"qosClass,omitempty"`
	Reason                string            `json:"reason,omitempty"`
	StartTime             *time.Time        `json:"startTime,omitempty"`
}

type ipEntry struct {
	IP string `json:"ip"`
}

// condition is the common shape of Pod, Node and Deployment conditions.
type condition struct {
	LastHeartbeatTime  *time.Time `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
	LastUpdateTime     *time.Time `json:"lastUpdateTime,omitempty"`
	Message            string     `json:"message,omitempty"`
	Reason             string     `json:"reason,omitempty"`
	Status             string     `json:"status"`
	Type               string     `json:"type"`
}

type containerStatus struct {
	ContainerID  string         `json:"containerID,omitempty"`
	Image        string         `json:"image"`
	ImageID      string         `json:"imageID"`
	LastState    containerState `json:"lastState"`
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	RestartCount int32          `json:"restartCount"`
	Started      *bool          `json:"started,omitempty"`
	State        containerState `json:"state"`
}

type containerState struct {
	Running    *stateRunning    `json:"running,omitempty"`
	Terminated *stateTerminated `json:"terminated,omitempty"`
	Waiting    *stateWaiting    `json:"waiting,omitempty"`
}

type stateRunning struct {
	StartedAt *time.Time `json:"startedAt,omitempty"`
}

type stateTerminated struct {
	ContainerID string     `json:"containerID,omitempty"`
	ExitCode    int32      `json:"exitCode"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
	Message     string     `json:"message,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Signal      int32      `json:"signal,omitempty"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
}

type stateWaiting struct {
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second) // metav1.Time's RFC 3339 precision
	return &t
}

// kubePod converts a wire pod; hostIPs maps node names to their address.
func kubePod(p api.Pod, hostIPs map[string]string) k8sPod {
	o := k8sPod{APIVersion: spec.CoreV1, Kind: spec.KindPod, Spec: p.Spec}
	o.Metadata = objectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, Labels: p.Labels, CreationTimestamp: timePtr(podCreated(p))}
	if kind, ns, name, ok := splitOwner(p.Owner); ok && ns == p.Namespace {
		o.Metadata.OwnerReferences = []ownerReference{{APIVersion: apiVersionOf(kind), Kind: kind, Name: name, Controller: true, BlockOwnerDeletion: true}}
	}
	if o.Spec.NodeName == "" {
		o.Spec.NodeName = p.Node
	}
	st := &o.Status
	st.Phase = p.Phase
	if st.Phase == "" {
		st.Phase = agentapi.PodPending
	}
	if p.PodIP != "" {
		st.PodIP, st.PodIPs = p.PodIP, []ipEntry{{IP: p.PodIP}}
	}
	if ip := hostIPs[p.Node]; ip != "" {
		st.HostIP, st.HostIPs = ip, []ipEntry{{IP: ip}}
	}
	st.QOSClass = qosClass(&p.Spec)
	scheduled := condition{Type: "PodScheduled", Status: "True"}
	if p.Node == "" {
		scheduled.Status, scheduled.Reason, scheduled.Message = "False", p.Reason, p.Message
		if scheduled.Reason == "" {
			scheduled.Reason = api.ReasonUnschedulable
		}
	} else if p.Reason != "" && p.Phase != agentapi.PodRunning {
		st.Reason, st.Message = p.Reason, p.Message
	}
	if p.Status != nil {
		o.Metadata.DeletionTimestamp = timePtr(ptrTime(p.Status.DeletionTimestamp))
		st.StartTime = timePtr(ptrTime(p.Status.StartTime))
		for _, cs := range p.Status.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, kubeContainerStatus(cs))
		}
		for _, cs := range p.Status.InitContainers {
			st.InitContainerStatuses = append(st.InitContainerStatuses, kubeContainerStatus(cs))
		}
	}
	if p.Node == "" {
		st.Conditions = []condition{scheduled}
		return o
	}
	if p.Status != nil && len(p.Status.Conditions) > 0 {
		// The agent's, with their real transition times.
		for _, c := range p.Status.Conditions {
			st.Conditions = append(st.Conditions, condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: timePtr(c.LastTransitionTime)})
		}
		st.Conditions = append(st.Conditions, scheduled)
		return o
	}
	ready, total := podReady(p)
	readyCond := condition{Type: "Ready", Status: "True"}
	if p.Status == nil || ready < total || st.Phase != agentapi.PodRunning {
		var names []string
		for _, c := range p.Spec.Containers {
			if !containerReady(p.Status, c.Name) {
				names = append(names, c.Name)
			}
		}
		readyCond.Status, readyCond.Reason = "False", "ContainersNotReady"
		if st.Phase == agentapi.PodSucceeded || st.Phase == agentapi.PodFailed {
			readyCond.Reason = "PodCompleted"
		} else if len(names) > 0 {
			readyCond.Message = "containers with unready status: [" + strings.Join(names, " ") + "]"
		}
	}
	containersReady := readyCond
	containersReady.Type = "ContainersReady"
	initialized := condition{Type: "Initialized", Status: "True"}
	if p.Status == nil {
		initialized.Status = "False"
	}
	st.Conditions = []condition{initialized, readyCond, containersReady, scheduled}
	return o
}

func ptrTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func containerReady(st *agentapi.PodStatus, name string) bool {
	if st == nil {
		return false
	}
	for _, cs := range st.Containers {
		if cs.Name == name {
			return cs.Ready
		}
	}
	return false
}

func kubeContainerStatus(cs agentapi.ContainerStatus) containerStatus {
	started := cs.State.Running != nil
	return containerStatus{
		ContainerID: cs.ContainerID, Image: cs.Image, ImageID: cs.ImageID, Name: cs.Name, Ready: cs.Ready,
		RestartCount: cs.RestartCount, Started: &started,
		State: kubeContainerState(cs.State), LastState: kubeContainerState(cs.LastTerminationState),
	}
}

func kubeContainerState(s agentapi.ContainerState) containerState {
	var out containerState
	switch {
	case s.Running != nil:
		out.Running = &stateRunning{StartedAt: timePtr(s.Running.StartedAt)}
	case s.Terminated != nil:
		t := s.Terminated
		out.Terminated = &stateTerminated{ExitCode: t.ExitCode, Signal: t.Signal, Reason: t.Reason, Message: t.Message,
			StartedAt: timePtr(t.StartedAt), FinishedAt: timePtr(t.FinishedAt)}
	case s.Waiting != nil:
		out.Waiting = &stateWaiting{Reason: s.Waiting.Reason, Message: s.Waiting.Message}
	}
	return out
}

// qosClass is Kubernetes' QoS class: Guaranteed when every container's cpu
// and memory limits are set and equal to their requests, BestEffort when no
// container requests or limits anything, else Burstable.
func qosClass(ps *spec.PodSpec) string {
	guaranteed, none := true, true
	for _, c := range ps.Containers {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			none = false
		}
		for _, r := range []string{spec.ResourceCPU, spec.ResourceMemory} {
			l, ok := c.Resources.Limits[r]
			if !ok {
				guaranteed = false
				continue
			}
			if q, ok := c.Resources.Requests[r]; ok && q.Cmp(l) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case none:
		return "BestEffort"
	case guaranteed:
		return "Guaranteed"
	}
	return "Burstable"
}

// splitOwner splits "Kind/namespace/name".
func splitOwner(s string) (kind, ns, name string, ok bool) {
	parts := strings.SplitN(s, "/", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

func apiVersionOf(kind string) string {
	switch kind {
	case spec.KindDeployment, spec.KindStatefulSet, spec.KindReplicaSet:
		return spec.AppsV1
	}
	return spec.CoreV1
}

type k8sNode struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   objectMeta  `json:"metadata"`
	Spec       kNodeSpec   `json:"spec"`
	Status     kNodeStatus `json:"status"`
}

type kNodeSpec struct {
	PodCIDR       string       `json:"podCIDR,omitempty"`
	PodCIDRs      []string     `json:"podCIDRs,omitempty"`
	Taints        []spec.Taint `json:"taints,omitempty"`
	Unschedulable bool         `json:"unschedulable,omitempty"`
}

type kNodeStatus struct {
	Addresses   []nodeAddress                `json:"addresses,omitempty"`
	Allocatable map[string]resource.Quantity `json:"allocatable,omitempty"`
	Capacity    map[string]resource.Quantity `json:"capacity,omitempty"`
	Conditions  []condition                  `json:"conditions,omitempty"`
}

type nodeAddress struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

// hostIP is the host part of a node's gossip address.
func hostIP(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func kubeNode(n api.Node) k8sNode {
	o := k8sNode{APIVersion: spec.CoreV1, Kind: spec.KindNode}
	o.Metadata = objectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: timePtr(n.Since)}
	o.Spec = kNodeSpec{Taints: n.Taints, Unschedulable: n.Cordoned || n.Drained || n.Status == api.NodeSchedulingDisabled}
	if n.PodCIDR != "" {
		o.Spec.PodCIDR, o.Spec.PodCIDRs = n.PodCIDR, []string{n.PodCIDR}
	}
	res := map[string]resource.Quantity{
		spec.ResourceCPU:    *resource.NewMilliQuantity(n.Allocatable.MilliCPU, resource.DecimalSI),
		spec.ResourceMemory: *resource.NewQuantity(n.Allocatable.Memory, resource.BinarySI),
		spec.ResourcePods:   *resource.NewQuantity(n.Allocatable.Pods, resource.DecimalSI),
	}
	if n.Allocatable.EphemeralStorage > 0 {
		res[spec.ResourceEphemeralStorage] = *resource.NewQuantity(n.Allocatable.EphemeralStorage, resource.BinarySI)
	}
	// An agent advertises what it offers pods; Stevedore reserves nothing
	// for itself, so capacity is the same.
	o.Status.Allocatable, o.Status.Capacity = res, res
	if n.Addr != "" {
		o.Status.Addresses = append(o.Status.Addresses, nodeAddress{Type: "InternalIP", Address: hostIP(n.Addr)})
	}
	o.Status.Addresses = append(o.Status.Addresses, nodeAddress{Type: "Hostname", Address: n.Name})
	ready := condition{Type: "Ready", LastTransitionTime: timePtr(n.StatusSince)}
	switch {
	case n.State == api.NodeAlive:
		ready.Status, ready.Reason, ready.Message = "True", "AgentReady", "agent is alive in membership"
	case n.State == api.NodeLeft:
		ready.Status, ready.Reason, ready.Message = "False", "NodeLeft", "agent left membership"
	default:
		ready.Status, ready.Reason, ready.Message = "Unknown", "NodeStatusUnknown", "agent stopped answering membership probes"
	}
	if n.Error != "" {
		ready.Message += "; " + n.Error
	}
	o.Status.Conditions = []condition{ready}
	return o
}

type k8sNamespace struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Finalizers []string `json:"finalizers"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

func kubeNamespace(n api.Namespace, decl *spec.Namespace) k8sNamespace {
	o := k8sNamespace{APIVersion: spec.CoreV1, Kind: spec.KindNamespace, Metadata: objectMeta{Name: n.Name}}
	if decl != nil {
		o.Metadata.Labels, o.Metadata.Annotations = decl.Labels, decl.Annotations
	}
	o.Spec.Finalizers = []string{"kubernetes"}
	o.Status.Phase = n.Status
	return o
}
