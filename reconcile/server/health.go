package server

import (
	"fmt"
	"slices"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Health of an application is the worst of its workloads', computed from
// the last plan's views as Argo CD's health checks do for Deployments and
// Pods: Degraded when something failed and will not recover by waiting
// (a progress deadline exceeded, a pod that failed or crash-loops, an
// image that cannot be pulled), Progressing while pods are being created,
// started or replaced, Healthy otherwise.

// degradedReasons are container waiting reasons that waiting does not cure.
var degradedReasons = map[string]bool{
	"CrashLoopBackOff": true, "ErrImagePull": true, "ImagePullBackOff": true,
	"CreateContainerError": true, "CreateContainerConfigError": true, "InvalidImageName": true, "RunContainerError": true,
}

// healthRank orders health from best to worst.
var healthRank = map[string]int{api.HealthHealthy: 0, api.HealthProgressing: 1, api.HealthDegraded: 2}

// podHealth is one pod's health and why.
func podHealth(p *reconcile.PodView) (string, string) {
	switch p.Phase {
	case agentapi.PodSucceeded:
		return api.HealthHealthy, ""
	case agentapi.PodFailed:
		return api.HealthDegraded, fmt.Sprintf("pod %s/%s failed: %s", p.Namespace, p.Name, firstNonEmpty(p.Message, p.Reason))
	}
	if p.Status != nil {
		// Init containers first: a crash-looping one holds the others.
		for _, c := range slices.Concat(p.Status.InitContainers, p.Status.Containers) {
			if w := c.State.Waiting; w != nil && degradedReasons[w.Reason] {
				return api.HealthDegraded, fmt.Sprintf("pod %s/%s: container %s: %s", p.Namespace, p.Name, c.Name, w.Reason)
			}
		}
	}
	if p.Phase != agentapi.PodRunning || p.Status == nil {
		return api.HealthProgressing, fmt.Sprintf("pod %s/%s is %s", p.Namespace, p.Name, firstNonEmpty(p.Reason, p.Phase))
	}
	for _, c := range p.Status.Containers {
		if !c.Ready {
			return api.HealthProgressing, fmt.Sprintf("pod %s/%s: container %s is not ready", p.Namespace, p.Name, c.Name)
		}
	}
	return api.HealthHealthy, ""
}

// workloadHealth is a Deployment's or ReplicationController's health.
func workloadHealth(w *reconcile.WorkloadView, pods []*reconcile.PodView) (string, string) {
	label := w.Kind + " " + w.Namespace + "/" + w.Name
	if w.Progress == reconcile.ProgressDeadlineExceeded {
		return api.HealthDegraded, label + ": " + firstNonEmpty(w.Message, "progress deadline exceeded")
	}
	for _, p := range pods {
		if h, msg := podHealth(p); h == api.HealthDegraded {
			return h, label + ": " + msg
		}
	}
	if w.Progress == reconcile.ProgressPaused {
		return api.HealthHealthy, label + " is paused"
	}
	if w.Progress != reconcile.ProgressComplete || w.Available < w.Replicas {
		return api.HealthProgressing, fmt.Sprintf("%s: %d/%d replicas available, %d up to date", label, w.Available, w.Replicas, w.UpToDate)
	}
	return api.HealthHealthy, ""
}

// healthIndex is a plan's views by object, built once for every
// application of a request.
type healthIndex struct {
	wl      map[spec.ObjectKey]*reconcile.WorkloadView
	byOwner map[string][]*reconcile.PodView
	bare    map[spec.ObjectKey]*reconcile.PodView
}

// objectHealth computes the health of every workload and bare pod of owned
// (the objects of one application) from a plan's views, and the
// application's: the worst, with the first reason found for it.
func objectHealth(owned []spec.ObjectKey, workloads []reconcile.WorkloadView, pods []reconcile.PodView) (string, string, map[spec.ObjectKey][2]string) {
	return newHealthIndex(workloads, pods).health(owned)
}

func newHealthIndex(workloads []reconcile.WorkloadView, pods []reconcile.PodView) *healthIndex {
	wl := make(map[spec.ObjectKey]*reconcile.WorkloadView, len(workloads))
	for i := range workloads {
		w := &workloads[i]
		wl[spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}] = w
	}
	byOwner := map[string][]*reconcile.PodView{}
	bare := map[spec.ObjectKey]*reconcile.PodView{}
	for i := range pods {
		p := &pods[i]
		if p.Terminating() {
			continue // an incarnation being stopped: no object's health
		}
		if p.Owner == "" {
			bare[spec.ObjectKey{Kind: spec.KindPod, Namespace: p.Namespace, Name: p.Name}] = p
		} else {
			byOwner[p.Owner] = append(byOwner[p.Owner], p)
		}
	}
	return &healthIndex{wl: wl, byOwner: byOwner, bare: bare}
}

func (x *healthIndex) health(owned []spec.ObjectKey) (string, string, map[spec.ObjectKey][2]string) {
	wl, byOwner, bare := x.wl, x.byOwner, x.bare
	health, msg := api.HealthHealthy, ""
	per := map[spec.ObjectKey][2]string{}
	for _, k := range owned {
		var h, m string
		switch {
		case wl[k] != nil:
			h, m = workloadHealth(wl[k], byOwner[k.String()])
		case bare[k] != nil:
			h, m = podHealth(bare[k])
		default:
			continue
		}
		per[k] = [2]string{h, m}
		if healthRank[h] > healthRank[health] {
			health, msg = h, m
		}
	}
	return health, msg, per
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
