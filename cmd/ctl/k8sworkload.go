package main

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Deployments and ReplicationControllers, Kubernetes-shaped: the spec as
// applied (from the applied revision's object, when ctl has it) and a
// status computed from the reconciler's counts.

type k8sDeployment struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   objectMeta          `json:"metadata"`
	Spec       spec.DeploymentSpec `json:"spec"`
	Status     deploymentStatus    `json:"status"`
}

// deploymentStatus is apps/v1 DeploymentStatus: zero counts are left out,
// as Kubernetes does.
type deploymentStatus struct {
	AvailableReplicas   int32       `json:"availableReplicas,omitempty"`
	Conditions          []condition `json:"conditions,omitempty"`
	ReadyReplicas       int32       `json:"readyReplicas,omitempty"`
	Replicas            int32       `json:"replicas,omitempty"`
	UnavailableReplicas int32       `json:"unavailableReplicas,omitempty"`
	UpdatedReplicas     int32       `json:"updatedReplicas,omitempty"`
}

type k8sReplicationController struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Metadata   objectMeta                     `json:"metadata"`
	Spec       spec.ReplicationControllerSpec `json:"spec"`
	Status     rcStatus                       `json:"status"`
}

// rcStatus is v1 ReplicationControllerStatus (replicas is required there).
type rcStatus struct {
	AvailableReplicas    int32 `json:"availableReplicas,omitempty"`
	FullyLabeledReplicas int32 `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32 `json:"readyReplicas,omitempty"`
	Replicas             int32 `json:"replicas"`
}

// kubeWorkload converts a wire workload; decl is its object in the applied
// revision (nil when ctl does not have it: the spec then holds only the
// replicas and selector the reconciler reports).
func kubeWorkload(w api.Workload, decl spec.Object) any {
	meta := objectMeta{Name: w.Name, Namespace: w.Namespace, CreationTimestamp: timePtr(w.Created)}
	if decl != nil {
		m := decl.GetObjectMeta()
		meta.Labels, meta.Annotations = m.Labels, m.Annotations
	}
	if w.Kind == spec.KindDaemonSet {
		return kubeDaemonSet(w, meta, decl)
	}
	if o, ok := kubeApps(w, meta, decl); ok {
		return o
	}
	replicas := w.Replicas
	if w.Kind == spec.KindReplicationController {
		o := k8sReplicationController{APIVersion: spec.CoreV1, Kind: w.Kind, Metadata: meta}
		if rc, ok := decl.(*spec.ReplicationController); ok {
			o.Spec = rc.Spec
		} else {
			o.Spec = spec.ReplicationControllerSpec{Replicas: &replicas, Selector: w.Selector}
		}
		o.Status = rcStatus{Replicas: w.Current, FullyLabeledReplicas: w.Current, ReadyReplicas: w.Ready, AvailableReplicas: w.Available}
		return o
	}
	o := k8sDeployment{APIVersion: spec.AppsV1, Kind: spec.KindDeployment, Metadata: meta}
	if d, ok := decl.(*spec.Deployment); ok {
		o.Spec = d.Spec
	} else {
		o.Spec = spec.DeploymentSpec{Replicas: &replicas}
		if len(w.Selector) > 0 {
			o.Spec.Selector = &spec.LabelSelector{MatchLabels: w.Selector}
		}
	}
	o.Status = deploymentStatus{Replicas: w.Current, UpdatedReplicas: w.UpToDate, ReadyReplicas: w.Ready, AvailableReplicas: w.Available}
	if u := w.Current - w.Available; u > 0 {
		o.Status.UnavailableReplicas = u
	}
	o.Status.Conditions = deploymentConditions(w, &o.Spec)
	return o
}

// deploymentConditions are apps/v1's Available and Progressing conditions,
// with Kubernetes' reasons: the reconciler's, or, from a reconciler that
// reports none, derived from its counts and progress.
func deploymentConditions(w api.Workload, ds *spec.DeploymentSpec) []condition {
	if len(w.Conditions) > 0 {
		out := make([]condition, len(w.Conditions))
		for i, c := range w.Conditions {
			out[i] = condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: timePtr(c.LastTransitionTime)}
		}
		return out
	}
	avail := condition{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."}
	if w.Available < w.Replicas-maxUnavailable(ds, w.Replicas) {
		avail.Status, avail.Reason, avail.Message = "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
	}
	prog := condition{Type: "Progressing"}
	switch w.Progress {
	case api.ProgressComplete:
		prog.Status, prog.Reason, prog.Message = "True", "NewReplicaSetAvailable", fmt.Sprintf("Deployment %q has successfully progressed.", w.Name)
	case api.ProgressDeadlineExceeded:
		prog.Status, prog.Reason, prog.Message = "False", "ProgressDeadlineExceeded", w.Message
	case api.ProgressPaused:
		prog.Status, prog.Reason, prog.Message = "Unknown", "DeploymentPaused", "Deployment is paused"
	default:
		prog.Status, prog.Reason, prog.Message = "True", "ReplicaSetUpdated", w.Message
		if prog.Message == "" {
			prog.Message = fmt.Sprintf("Deployment %q is progressing.", w.Name)
		}
	}
	return []condition{avail, prog}
}

// maxUnavailable resolves the rolling update's maxUnavailable (default 25%,
// rounded down, as Kubernetes does) against replicas.
func maxUnavailable(ds *spec.DeploymentSpec, replicas int32) int32 {
	if ds.Strategy.Type == spec.RecreateDeploymentStrategyType {
		return 0
	}
	ru := ds.Strategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil {
		return replicas * 25 / 100
	}
	n, err := ru.MaxUnavailable.Scaled(int(replicas), false)
	if err != nil {
		return 0
	}
	return int32(n)
}
