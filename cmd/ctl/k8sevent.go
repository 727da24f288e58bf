package main

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Events: the reconciler's event list (GET /v1/events) as v1 Events.

// kindEvent is the Kubernetes kind of an event.
const kindEvent = "Event"

// eventSource is the component Stevedore's events come from.
const eventSource = "stevedore-reconciler"

// warningReasons are the event reasons that say something went wrong
// (type Warning); every other event is Normal.
var warningReasons = map[string]bool{
	api.EventFailedScheduling: true, api.EventNodeLost: true, api.EventEvicted: true,
	"FetchFailed": true, "LoadFailed": true, "ApplyFailed": true, "PodSetRefused": true,
	"NodeFailed": true, "ProgressDeadlineExceeded": true, "ClusterError": true, "RolledBack": true,
}

type k8sEvent struct {
	APIVersion         string         `json:"apiVersion"`
	Count              int32          `json:"count"`
	FirstTimestamp     *time.Time     `json:"firstTimestamp,omitempty"`
	InvolvedObject     objectRef      `json:"involvedObject"`
	Kind               string         `json:"kind"`
	LastTimestamp      *time.Time     `json:"lastTimestamp,omitempty"`
	Message            string         `json:"message"`
	Metadata           objectMeta     `json:"metadata"`
	Reason             string         `json:"reason"`
	ReportingComponent string         `json:"reportingComponent"`
	Source             map[string]any `json:"source"`
	Type               string         `json:"type"`
}

// objectRef is v1 ObjectReference.
type objectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// eventObject reads an event's Object: "Pod/namespace/name" for a pod,
// "node/NAME", "commit/HASH", "repo", "reconciler/NAME" for the rest. An
// object outside a namespace is listed in "default", as Kubernetes does
// with a Node's events.
func eventObject(obj string) (ref objectRef, namespace, display string) {
	if kind, ns, name, ok := splitOwner(obj); ok {
		return objectRef{APIVersion: apiVersionOf(kind), Kind: kind, Namespace: ns, Name: name}, ns, strings.ToLower(kind) + "/" + name
	}
	prefix, name, _ := strings.Cut(obj, "/")
	switch prefix {
	case "node":
		ref = objectRef{APIVersion: spec.CoreV1, Kind: spec.KindNode, Name: name}
	case "commit":
		ref = objectRef{Kind: "Commit", Name: name}
	case "reconciler":
		ref = objectRef{Kind: "Reconciler", Name: name}
	default:
		ref = objectRef{Kind: "Repository", Name: obj}
	}
	return ref, spec.DefaultNamespace, obj
}

func eventItem(e api.Event) *item {
	ref, ns, display := eventObject(e.Object)
	typ := "Normal"
	if warningReasons[e.Reason] {
		typ = "Warning"
	}
	at := timePtr(e.Time)
	name := fmt.Sprintf("%s.%x", ref.Name, e.Time.UnixNano())
	k := k8sEvent{
		APIVersion: spec.CoreV1, Kind: kindEvent, Count: 1, FirstTimestamp: at, LastTimestamp: at,
		InvolvedObject: ref, Message: e.Message, Reason: e.Reason, Type: typ,
		Metadata:           objectMeta{Name: name, Namespace: ns, CreationTimestamp: at},
		ReportingComponent: eventSource, Source: map[string]any{"component": eventSource},
	}
	it := &item{kind: kindEvent, namespace: ns, name: name, wire: eventRow{e, display, typ}, kube: k}
	it.fields = fields.Set{"metadata.name": name, "metadata.namespace": ns, "involvedObject.kind": ref.Kind,
		"involvedObject.name": ref.Name, "involvedObject.namespace": ref.Namespace, "reason": e.Reason, "type": typ}
	return it
}

// eventRow is what the events table prints.
type eventRow struct {
	api.Event
	object, typ string
}
