package api

import (
	"strings"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Event types, as in Kubernetes (Event.Type).
const (
	EventNormal  = agentapi.EventNormal
	EventWarning = agentapi.EventWarning
)

// QueryObject is GET PathEvents' object filter: "Kind/namespace/name"
// (see EventAbout) or a cluster-level object ("node/NAME").
const QueryObject = "object"

// EventVersionSkew is the reason of the event of an agent the reconciler
// refuses because they speak no protocol in common (docs/versions.md).
const EventVersionSkew = "VersionSkew"

// warningReasons are the reasons that say something went wrong: the
// reconciler's, and the kubelet's that an agent records.
var warningReasons = map[string]bool{
	// The reconciler's.
	EventFailedScheduling:      true,
	EventNodeLost:              true,
	EventEvicted:               true,
	"PodSetRefused":            true,
	"PodCIDRRefused":           true,
	"NodeFailed":               true,
	"ClusterError":             true,
	"FetchFailed":              true,
	"LoadFailed":               true,
	"ApplyFailed":              true,
	"OwnershipConflict":        true,
	"ProgressDeadlineExceeded": true,
	"RolledBack":               true,
	"PodSecurityWarning":       true,
	"DeprecatedAPIVersion":     true,
	EventVersionSkew:           true,
	// The kubelet's, as agents record them.
	agentapi.EventFailed:          true,
	agentapi.EventBackOff:         true,
	agentapi.EventUnhealthy:       true,
	agentapi.EventFailedPostStart: true,
	agentapi.EventFailedPreStop:   true,
	agentapi.EventProbeWarning:    true,
	agentapi.EventSandboxFailed:   true,
}

// EventType is the type of an event of this reason whose recorder gave
// none (the core's events, or an older reconciler's): Warning for the
// reasons that say something went wrong (FailedScheduling, NodeLost,
// Evicted, LoadFailed, PodSetRefused, ProgressDeadlineExceeded, the
// kubelet's Failed, BackOff, Unhealthy…), Normal otherwise.
func EventType(reason string) string {
	if warningReasons[reason] {
		return EventWarning
	}
	return EventNormal
}

// SplitEventObject reads an event's Object. A namespaced object is
// "Kind/namespace/name" with a capitalised kind ("Pod/shop/web-0",
// "Deployment/shop/web"); anything else is one of Stevedore's cluster-level
// objects ("node/NAME", "commit/HASH", "repo", "reconciler/NAME",
// "application/APP/commit/HASH"): kind is its first segment, name the rest,
// namespace empty.
func SplitEventObject(obj string) (kind, namespace, name string) {
	kind, rest, _ := strings.Cut(obj, "/")
	if kind != "" && kind[0] >= 'A' && kind[0] <= 'Z' {
		if ns, n, ok := strings.Cut(rest, "/"); ok {
			return kind, ns, n
		}
	}
	return kind, "", rest
}

// EventNamespace is the namespace an event is listed in: its object's, or
// "default" for a cluster-level object, as Kubernetes records a Node's
// events in "default".
func EventNamespace(obj string) string {
	if _, ns, _ := SplitEventObject(obj); ns != "" {
		return ns
	}
	return spec.DefaultNamespace
}

// EventAbout reports whether an event's object is what filter names: the
// same object, or, for a Deployment, ReplicationController or ReplicaSet
// ("Deployment/shop/web"), one of its pods ("Pod/shop/web-HASH-0": the
// workload's name, a template hash and a replica index), for a
// StatefulSet one of its pods ("Pod/shop/db-0": its name and an ordinal),
// for a DaemonSet one of its pods ("Pod/shop/agent-HASH-NODE": a 10-digit
// template hash and its node's name, or a hash of it).
func EventAbout(obj, filter string) bool {
	if obj == filter {
		return true
	}
	kind, ns, name := SplitEventObject(filter)
	if ns == "" {
		return false
	}
	switch kind {
	case spec.KindDaemonSet:
		return daemonPodOf(obj, ns, name)
	case spec.KindDeployment, spec.KindReplicationController, spec.KindReplicaSet, spec.KindStatefulSet:
	default:
		return false
	}
	pod, ok := strings.CutPrefix(obj, spec.KindPod+"/"+ns+"/"+name+"-")
	if !ok {
		return false
	}
	if kind == spec.KindStatefulSet {
		return digits(pod)
	}
	hash, index, ok := strings.Cut(pod, "-")
	if !ok || hash == "" || index == "" {
		return false
	}
	for _, c := range index {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// EventMatches reports whether e is in namespace ("" for every one) and
// about object ("" for any; see EventAbout).
func EventMatches(e *Event, namespace, object string) bool {
	return (namespace == "" || EventNamespace(e.Object) == namespace) && (object == "" || EventAbout(e.Object, object))
}

// digits reports whether s is a non-empty run of decimal digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// daemonPodOf says whether obj is a pod of the DaemonSet ns/name:
// "Pod/ns/name-HASH-NODE" with HASH 10 hex digits and NODE not empty.
func daemonPodOf(obj, ns, name string) bool {
	pod, ok := strings.CutPrefix(obj, spec.KindPod+"/"+ns+"/"+name+"-")
	if !ok {
		return false
	}
	hash, node, ok := strings.Cut(pod, "-")
	if !ok || len(hash) != 10 || node == "" {
		return false
	}
	for _, c := range hash {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
