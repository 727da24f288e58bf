package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// DaemonSets: `ctl get daemonsets` with kubectl's columns, their
// Kubernetes shape for -o json|yaml, and `ctl describe daemonset`. The
// reconciler lists them with the other workloads (GET /v1/deployments).

// resDaemonSets is the resource type of DaemonSets (see resources in
// getcmd.go).
const resDaemonSets = "daemonsets"

// daemonSetHeader is kubectl's DaemonSet table header.
func daemonSetHeader(wide bool) []string {
	h := []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"}
	if wide {
		h = append(h, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	return h
}

// daemonSetRow is a DaemonSet's row: DESIRED is the number of nodes it
// runs on, CURRENT the pods the reconciler keeps for it (an old and a new
// one on a node during a surge).
func daemonSetRow(name string, w api.Workload, wide bool) []string {
	i := func(n int32) string { return strconv.Itoa(int(n)) }
	vals := []string{name, i(w.Replicas), i(w.Current), i(w.Ready), i(w.UpToDate), i(w.Available), orNone(labelString(w.NodeSelector)), age(w.Created)}
	if wide {
		vals = append(vals, strings.Join(w.Containers, ","), strings.Join(w.Images, ","), orNone(labelString(w.Selector)))
	}
	return vals
}

// k8sDaemonSet is an apps/v1 DaemonSet.
type k8sDaemonSet struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   objectMeta         `json:"metadata"`
	Spec       spec.DaemonSetSpec `json:"spec"`
	Status     daemonSetStatus    `json:"status"`
}

// daemonSetStatus is apps/v1 DaemonSetStatus: its four required counts
// always, the others when not zero, as Kubernetes prints them.
type daemonSetStatus struct {
	Conditions             []condition `json:"conditions,omitempty"`
	CurrentNumberScheduled int32       `json:"currentNumberScheduled"`
	DesiredNumberScheduled int32       `json:"desiredNumberScheduled"`
	NumberAvailable        int32       `json:"numberAvailable,omitempty"`
	NumberMisscheduled     int32       `json:"numberMisscheduled"`
	NumberReady            int32       `json:"numberReady"`
	NumberUnavailable      int32       `json:"numberUnavailable,omitempty"`
	UpdatedNumberScheduled int32       `json:"updatedNumberScheduled,omitempty"`
}

// kubeDaemonSet converts a DaemonSet's view; decl is its object in the
// applied revision (nil when ctl does not have it: the spec then holds
// the selectors the reconciler reports).
func kubeDaemonSet(w api.Workload, meta objectMeta, decl spec.Object) k8sDaemonSet {
	o := k8sDaemonSet{APIVersion: spec.AppsV1, Kind: spec.KindDaemonSet, Metadata: meta}
	if ds, ok := decl.(*spec.DaemonSet); ok {
		o.Spec = ds.Spec
	} else {
		if len(w.Selector) > 0 {
			o.Spec.Selector = &spec.LabelSelector{MatchLabels: w.Selector}
		}
		o.Spec.Template.Spec.NodeSelector = w.NodeSelector
		o.Spec.UpdateStrategy.Type = w.Strategy
	}
	o.Status = daemonSetStatus{
		CurrentNumberScheduled: min(w.Current, w.Replicas),
		DesiredNumberScheduled: w.Replicas,
		NumberReady:            w.Ready,
		NumberAvailable:        w.Available,
		UpdatedNumberScheduled: w.UpToDate,
		NumberUnavailable:      max(w.Replicas-w.Available, 0),
	}
	for _, c := range w.Conditions {
		o.Status.Conditions = append(o.Status.Conditions, condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message,
			LastTransitionTime: timePtr(c.LastTransitionTime)})
	}
	return o
}

// daemonSetDescription is what ctl describe daemonset shows; -o json|yaml
// prints it whole.
type daemonSetDescription struct {
	// DaemonSet is the reconciler's view of it.
	DaemonSet api.Workload `json:"daemonSet"`
	// Labels, Annotations and Spec are the applied revision's object,
	// when ctl could load it.
	Labels      map[string]string   `json:"labels,omitempty"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	Spec        *spec.DaemonSetSpec `json:"spec,omitempty"`
	// Pods are its pods, by name.
	Pods []api.Pod `json:"pods"`
	// Events are the reconciler's about it and its pods, oldest first.
	Events []api.Event `json:"events"`
}

// describeDaemonSet gathers a DaemonSet's view, applied object, pods and
// events. Only the view is required.
func (c *cli) describeDaemonSet(ctx context.Context, cl *api.Client, namespace, name, output string) error {
	key := spec.ObjectKey{Kind: spec.KindDaemonSet, Namespace: namespace, Name: name}
	w, err := findWorkload(ctx, cl, key.Kind, namespace, name)
	if err != nil {
		return err
	}
	d := &daemonSetDescription{DaemonSet: w, Pods: []api.Pod{}}
	if o, ok := appliedObject(ctx, cl, key).(*spec.DaemonSet); ok {
		d.Labels, d.Annotations, d.Spec = o.Labels, o.Annotations, &o.Spec
	}
	if pods, err := cl.Pods(ctx, namespace); err == nil {
		for _, p := range pods {
			if p.Owner == key.String() {
				d.Pods = append(d.Pods, p)
			}
		}
	} else if !errors.Is(err, api.ErrNotFound) {
		fmt.Fprintf(c.errOut, "warning: failed to read the pods: %v\n", err)
	}
	d.Events = c.workloadEvents(ctx, cl, key.Kind, namespace, name)
	return c.emit(output, d, func(w io.Writer) { printDaemonSet(w, d) })
}

func printDaemonSet(w io.Writer, d *daemonSetDescription) {
	p := describer{w}
	wl := d.DaemonSet
	p.line(0, "Name", wl.Name)
	p.line(0, "Namespace", wl.Namespace)
	p.line(0, "Selector", orNone(labelString(wl.Selector)))
	p.line(0, "Node-Selector", orNone(labelString(wl.NodeSelector)))
	printMap(p, "Labels", d.Labels)
	printMap(p, "Annotations", d.Annotations)
	if !wl.Created.IsZero() {
		p.line(0, "CreationTimestamp", fmt.Sprintf("%s (%s ago)", stamp(wl.Created), age(wl.Created)))
	}
	p.line(0, "Desired Number of Nodes Scheduled", strconv.Itoa(int(wl.Replicas)))
	p.line(0, "Current Number of Nodes Scheduled", strconv.Itoa(int(min(wl.Current, wl.Replicas))))
	p.line(0, "Number of Nodes Scheduled with Up-to-date Pods", strconv.Itoa(int(wl.UpToDate)))
	p.line(0, "Number of Nodes Scheduled with Available Pods", strconv.Itoa(int(wl.Available)))
	phases := map[string]int{}
	for _, pod := range d.Pods {
		phases[pod.Phase]++
	}
	p.line(0, "Pods Status", fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed",
		phases["Running"], phases["Pending"]+phases["Unknown"], phases["Succeeded"], phases["Failed"]))
	p.line(0, "StrategyType", orNone(wl.Strategy))
	if wl.Strategy == spec.RollingUpdateDaemonSetStrategyType {
		p.line(0, "RollingUpdateStrategy", fmt.Sprintf("%d max unavailable, %d max surge (of %d nodes)", wl.MaxUnavailable, wl.MaxSurge, wl.Replicas))
	}
	if d.Spec != nil {
		p.line(0, "MinReadySeconds", strconv.Itoa(int(d.Spec.MinReadySeconds)))
	}
	p.line(0, "Revision", orNone(wl.Revision))
	p.line(0, "Progress", progressText(wl))
	// The pod template, printed as a Deployment's is.
	tmpl := &deploymentDescription{Deployment: wl}
	if d.Spec != nil {
		tmpl.Spec = &spec.DeploymentSpec{Template: d.Spec.Template}
	}
	printPodTemplate(w, tmpl)
	var conds []condition
	for _, c := range wl.Conditions {
		conds = append(conds, condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message})
	}
	if len(conds) > 0 {
		printConditions(w, conds)
	}
	if len(d.Pods) > 0 {
		fmt.Fprintln(w, "Pods:")
		tw := newTable(w)
		row(tw, "  NAME", "NODE", "STATUS", "AGE")
		for _, pod := range d.Pods {
			row(tw, "  "+pod.Name, orNone(pod.Node), podStatus(pod), age(podCreated(pod)))
		}
		tw.Flush()
	}
	printDeploymentEvents(w, d.Events)
}
