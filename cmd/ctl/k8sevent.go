package main

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Events: the reconciler's event list (GET /v1/events) as v1 Events.

// kindEvent is the Kubernetes kind of an event.
const kindEvent = "Event"

// The components Stevedore's events come from: the reconciler, or a node's
// agent (whose events are the kubelet's, source.host naming the node).
const (
	eventSource      = "stevedore-reconciler"
	eventAgentSource = "stevedore-agent"
)

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
	ReportingInstance  string         `json:"reportingInstance,omitempty"`
	Source             map[string]any `json:"source"`
	Type               string         `json:"type"`
}

// objectRef is v1 ObjectReference.
type objectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	FieldPath  string `json:"fieldPath,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// eventObject reads an event's Object (api.SplitEventObject): "Pod/shop/web-0"
// for a namespaced object, "node/NAME", "commit/HASH", "repo",
// "reconciler/NAME", "application/APP[/commit/HASH]" for the rest. It
// returns the reference, the namespace the event is listed in ("default"
// for a cluster-level object, as Kubernetes lists a Node's events) and
// the OBJECT column (kind/name, lower case).
func eventObject(obj string) (ref objectRef, namespace, display string) {
	kind, ns, name := api.SplitEventObject(obj)
	if ns != "" {
		return objectRef{APIVersion: apiVersionOf(kind), Kind: kind, Namespace: ns, Name: name}, ns, strings.ToLower(kind) + "/" + name
	}
	switch kind {
	case "node":
		ref = objectRef{APIVersion: spec.CoreV1, Kind: spec.KindNode, Name: name}
	case "commit":
		ref = objectRef{Kind: "Commit", Name: name}
	case "reconciler":
		ref = objectRef{Kind: "Reconciler", Name: name}
	case "application":
		app, rest, _ := strings.Cut(name, "/")
		ref = objectRef{APIVersion: appAPIVersion, Kind: kindApplication, Name: app, FieldPath: rest}
	default:
		ref = objectRef{Kind: "Repository", Name: obj}
	}
	return ref, spec.DefaultNamespace, obj
}

// eventType is the event's type; an older reconciler sent none.
func eventType(e api.Event) string {
	if e.Type != "" {
		return e.Type
	}
	return api.EventType(e.Reason)
}

// eventTimes are an event's first and last occurrences and its count.
func eventTimes(e api.Event) (first, last time.Time, count int32) {
	first, last, count = e.FirstTime, e.Time, e.Count
	if first.IsZero() {
		first = last
	}
	if count < 1 {
		count = 1
	}
	return first, last, count
}

// eventName names an event as Kubernetes does (its object's name and the
// time it was first seen, in hex), with a hash of what makes it distinct:
// the reconciler records several events about one object at one time.
// It stays the same while repeats bump the count.
func eventName(e api.Event, ref objectRef) string {
	first, _, _ := eventTimes(e)
	h := fnv.New32a()
	for _, s := range []string{eventType(e), e.Source, e.Object, e.UID, e.Container, e.Reason, e.Message} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	name := strings.ToLower(strings.ReplaceAll(ref.Name, "/", "."))
	if name == "" {
		name = strings.ToLower(ref.Kind)
	}
	return fmt.Sprintf("%s.%x%04x", name, first.UnixNano(), h.Sum32()&0xffff)
}

// eventFrom is the FROM of describe: the node's agent, or the reconciler.
func eventFrom(e api.Event) string {
	if e.Source != "" {
		return "agent/" + e.Source
	}
	return "reconciler"
}

func eventItem(e api.Event) *item {
	ref, ns, display := eventObject(e.Object)
	ref.UID = e.UID
	if e.Container != "" {
		ref.FieldPath = "spec.containers{" + e.Container + "}"
	}
	typ := eventType(e)
	first, last, count := eventTimes(e)
	name := eventName(e, ref)
	k := k8sEvent{
		APIVersion: spec.CoreV1, Kind: kindEvent, Count: count, FirstTimestamp: timePtr(first), LastTimestamp: timePtr(last),
		InvolvedObject: ref, Message: e.Message, Reason: e.Reason, Type: typ,
		Metadata:           objectMeta{Name: name, Namespace: ns, CreationTimestamp: timePtr(first)},
		ReportingComponent: eventSource, Source: map[string]any{"component": eventSource},
	}
	if e.Source != "" {
		k.ReportingComponent, k.ReportingInstance = eventAgentSource, e.Source
		k.Source = map[string]any{"component": eventAgentSource, "host": e.Source}
	}
	it := &item{kind: kindEvent, namespace: ns, name: name, wire: eventRow{e, display, typ}, kube: k}
	it.fields = fields.Set{"metadata.name": name, "metadata.namespace": ns, "involvedObject.kind": ref.Kind,
		"involvedObject.name": ref.Name, "involvedObject.namespace": ref.Namespace, "involvedObject.uid": ref.UID,
		"involvedObject.fieldPath": ref.FieldPath, "reason": e.Reason, "type": typ,
		"source": k.Source["component"].(string), "reportingComponent": k.ReportingComponent}
	return it
}

// eventRow is what the events table prints.
type eventRow struct {
	api.Event
	object, typ string
}

// lastSeen is the LAST SEEN column, as kubectl prints it: the age of the
// last occurrence and, for a repeated event, "(x4 over 2m)".
func lastSeen(e api.Event) string {
	first, last, count := eventTimes(e)
	if count > 1 {
		return fmt.Sprintf("%s (x%d over %s)", age(last), count, age(first))
	}
	return age(last)
}

// sortEventItems orders events by last occurrence, oldest first, as
// kubectl events does.
func sortEventItems(items []*item) {
	sort.SliceStable(items, func(i, j int) bool {
		a, _ := items[i].wire.(eventRow)
		b, _ := items[j].wire.(eventRow)
		return a.Time.Before(b.Time)
	})
}

// eventsFor turns --for KIND/NAME into the object filter of GET
// /v1/events: "Pod/shop/web-0", "Deployment/shop/web" (its pods
// included), "node/node-a".
func eventsFor(arg, namespace string) (string, error) {
	typ, name, ok := strings.Cut(arg, "/")
	if !ok || typ == "" || name == "" || strings.Contains(name, "/") {
		return "", usageErr("--for %q: want KIND/NAME (pod/web-0, deployment/web, node/node-a)", arg)
	}
	res, err := resources(typ)
	if err != nil || len(res) != 1 {
		return "", usageErr("--for %q: unknown kind %q", arg, typ)
	}
	switch res[0] {
	case resPods:
		return spec.KindPod + "/" + namespace + "/" + name, nil
	case resWorkloads:
		return spec.KindDeployment + "/" + namespace + "/" + name, nil
	case resRCs:
		return spec.KindReplicationController + "/" + namespace + "/" + name, nil
	case resStatefulSets, resReplicaSets, resDaemonSets:
		return appsKinds[res[0]] + "/" + namespace + "/" + name, nil
	case resServices:
		return spec.KindService + "/" + namespace + "/" + name, nil
	case resNodes:
		return "node/" + name, nil
	case resApps:
		return "application/" + name, nil
	}
	return "", usageErr("--for %q: events are about pods, deployments, replicationcontrollers, daemonsets, services, nodes or applications", arg)
}
