package main

import (
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// StatefulSets and ReplicaSets: their resource names, kubectl's table
// columns and their Kubernetes shapes. The reconciler lists them among its
// workloads (GET /v1/deployments, api.Workload with their kind).

// Resource types of these kinds.
const (
	resStatefulSets = "statefulsets"
	resReplicaSets  = "replicasets"
)

// appsResource maps kubectl's names and abbreviations of these kinds to
// their resource type, "" for another.
func appsResource(s string) string {
	switch s {
	case "statefulset", "statefulsets", "sts", "statefulset.apps", "statefulsets.apps":
		return resStatefulSets
	case "replicaset", "replicasets", "rs", "replicaset.apps", "replicasets.apps":
		return resReplicaSets
	case "daemonset", "daemonsets", "ds", "daemonset.apps", "daemonsets.apps":
		return resDaemonSets
	}
	return ""
}

// appsKinds are the kinds of these resource types' tables.
var appsKinds = map[string]string{
	resStatefulSets: spec.KindStatefulSet,
	resReplicaSets:  spec.KindReplicaSet,
	resDaemonSets:   spec.KindDaemonSet,
}

// appsHeader is kubectl's header of a kind's table, nil for another kind:
// statefulsets NAME READY AGE, replicasets NAME DESIRED CURRENT READY AGE;
// -o wide adds CONTAINERS IMAGES (and SELECTOR for ReplicaSets).
func appsHeader(kind string, wide bool) []string {
	var h []string
	switch kind {
	case spec.KindStatefulSet:
		h = []string{"NAME", "READY", "AGE"}
		if wide {
			h = append(h, "CONTAINERS", "IMAGES")
		}
	case spec.KindReplicaSet:
		h = []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"}
		if wide {
			h = append(h, "CONTAINERS", "IMAGES", "SELECTOR")
		}
	}
	return h
}

// appsRow is a table row of a StatefulSet or ReplicaSet; ok is false for
// another kind.
func appsRow(name string, w api.Workload, wide bool) (vals []string, ok bool) {
	switch w.Kind {
	case spec.KindStatefulSet:
		vals = []string{name, strconv.Itoa(int(w.Ready)) + "/" + strconv.Itoa(int(w.Replicas)), age(w.Created)}
		if wide {
			vals = append(vals, strings.Join(w.Containers, ","), strings.Join(w.Images, ","))
		}
	case spec.KindReplicaSet:
		vals = []string{name, strconv.Itoa(int(w.Replicas)), strconv.Itoa(int(w.Current)), strconv.Itoa(int(w.Ready)), age(w.Created)}
		if wide {
			vals = append(vals, strings.Join(w.Containers, ","), strings.Join(w.Images, ","), orNone(labelString(w.Selector)))
		}
	default:
		return nil, false
	}
	return vals, true
}

type k8sStatefulSet struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Metadata   objectMeta           `json:"metadata"`
	Spec       spec.StatefulSetSpec `json:"spec"`
	Status     statefulSetStatus    `json:"status"`
}

// statefulSetStatus is apps/v1 StatefulSetStatus (replicas is required
// there; the revisions are the template hashes).
type statefulSetStatus struct {
	AvailableReplicas int32  `json:"availableReplicas,omitempty"`
	CurrentReplicas   int32  `json:"currentReplicas,omitempty"`
	ReadyReplicas     int32  `json:"readyReplicas,omitempty"`
	Replicas          int32  `json:"replicas"`
	UpdateRevision    string `json:"updateRevision,omitempty"`
	UpdatedReplicas   int32  `json:"updatedReplicas,omitempty"`
}

type k8sReplicaSet struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   objectMeta          `json:"metadata"`
	Spec       spec.ReplicaSetSpec `json:"spec"`
	Status     rsStatus            `json:"status"`
}

// rsStatus is apps/v1 ReplicaSetStatus.
type rsStatus struct {
	AvailableReplicas    int32 `json:"availableReplicas,omitempty"`
	FullyLabeledReplicas int32 `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32 `json:"readyReplicas,omitempty"`
	Replicas             int32 `json:"replicas"`
}

// kubeApps is kubeWorkload for these kinds; ok is false for another.
func kubeApps(w api.Workload, meta objectMeta, decl spec.Object) (any, bool) {
	replicas := w.Replicas
	var sel *spec.LabelSelector
	if len(w.Selector) > 0 {
		sel = &spec.LabelSelector{MatchLabels: w.Selector}
	}
	switch w.Kind {
	case spec.KindStatefulSet:
		o := k8sStatefulSet{APIVersion: spec.AppsV1, Kind: w.Kind, Metadata: meta}
		if s, ok := decl.(*spec.StatefulSet); ok {
			o.Spec = s.Spec
		} else {
			o.Spec = spec.StatefulSetSpec{Replicas: &replicas, Selector: sel, ServiceName: w.ServiceName}
		}
		o.Status = statefulSetStatus{Replicas: w.Current, ReadyReplicas: w.Ready, AvailableReplicas: w.Available,
			CurrentReplicas: w.Current, UpdatedReplicas: w.UpToDate, UpdateRevision: revisionName(w)}
		return o, true
	case spec.KindReplicaSet:
		o := k8sReplicaSet{APIVersion: spec.AppsV1, Kind: w.Kind, Metadata: meta}
		if r, ok := decl.(*spec.ReplicaSet); ok {
			o.Spec = r.Spec
		} else {
			o.Spec = spec.ReplicaSetSpec{Replicas: &replicas, Selector: sel}
		}
		o.Status = rsStatus{Replicas: w.Current, FullyLabeledReplicas: w.Current, ReadyReplicas: w.Ready, AvailableReplicas: w.Available}
		return o, true
	}
	return nil, false
}

// revisionName is a StatefulSet's revision as Kubernetes names its
// ControllerRevisions: NAME-HASH.
func revisionName(w api.Workload) string {
	if w.Revision == "" {
		return ""
	}
	return w.Name + "-" + w.Revision
}

// workloadOfResource reports whether a workload of kind is listed under
// res: "deployments" lists Deployments and ReplicationControllers (as it
// always has), the others their own kind.
func workloadOfResource(res, kind string) bool {
	switch res {
	case resWorkloads:
		return kind == spec.KindDeployment || kind == spec.KindReplicationController
	case resDeployOnly:
		return kind == spec.KindDeployment
	case resRCs:
		return kind == spec.KindReplicationController
	}
	return appsKinds[res] == kind
}
