package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// appsDescription is what ctl describe statefulset|replicaset shows; -o
// json|yaml prints it whole.
type appsDescription struct {
	// Workload is the reconciler's view of it.
	Workload api.Workload `json:"workload"`
	// Object is the applied revision's object, when ctl could load it.
	Object spec.Object `json:"object,omitempty"`
	// Events are the reconciler's about it and its pods, oldest first.
	Events []api.Event `json:"events"`
}

// describeApps gathers a StatefulSet's or ReplicaSet's view, applied
// object and events.
func (c *cli) describeApps(ctx context.Context, cl *api.Client, kind, namespace, name, output string) error {
	w, err := findWorkload(ctx, cl, kind, namespace, name)
	if err != nil {
		return err
	}
	d := &appsDescription{Workload: w, Object: appliedObject(ctx, cl, spec.ObjectKey{Kind: kind, Namespace: namespace, Name: name})}
	d.Events = c.workloadEvents(ctx, cl, kind, namespace, name)
	return c.emit(output, d, func(w io.Writer) { printApps(w, d) })
}

// findWorkload returns the reconciler's view of a workload of kind; one
// it does not list is kubectl's NotFound (exit 1).
func findWorkload(ctx context.Context, cl *api.Client, kind, namespace, name string) (api.Workload, error) {
	wls, err := cl.Deployments(ctx, namespace)
	if err != nil {
		return api.Workload{}, &exitErr{code: exitError, err: err}
	}
	for _, w := range wls {
		if w.Kind == kind && w.Name == name && w.Namespace == namespace {
			return w, nil
		}
	}
	return api.Workload{}, &exitErr{code: exitChanges, err: fmt.Errorf("%s %s/%s not found", strings.ToLower(kind), namespace, name)}
}

// appliedObject is the applied revision's object of key, nil when ctl
// cannot load it (SOPS files are read without keys).
func appliedObject(ctx context.Context, cl *api.Client, key spec.ObjectKey) spec.Object {
	rev, err := cl.Revision(ctx)
	if err != nil {
		return nil
	}
	set, err := (render.Loader{Decrypt: sops.WithoutKeys{}}).Load(rev.Files)
	if err != nil {
		return nil
	}
	return set.Objects[key]
}

// workloadEvents are the events about a workload and its pods (by their
// names, pods long gone included: api.EventAbout), oldest first; a
// failure to read them is a warning.
func (c *cli) workloadEvents(ctx context.Context, cl *api.Client, kind, namespace, name string) []api.Event {
	out := []api.Event{}
	evs, err := cl.Events(ctx)
	if err != nil {
		fmt.Fprintf(c.errOut, "warning: failed to read the events: %v\n", err)
		return out
	}
	self := kind + "/" + namespace + "/" + name
	for _, e := range evs {
		if api.EventAbout(e.Object, self) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// printApps prints what kubectl describe prints of these kinds, with the
// reconciler's progress.
func printApps(w io.Writer, d *appsDescription) {
	p := describer{w}
	wl := d.Workload
	p.line(0, "Name", wl.Name)
	p.line(0, "Namespace", wl.Namespace)
	if !wl.Created.IsZero() {
		p.line(0, "CreationTimestamp", fmt.Sprintf("%s (%s ago)", stamp(wl.Created), age(wl.Created)))
	}
	p.line(0, "Selector", orNone(labelString(wl.Selector)))
	var labels, annotations map[string]string
	if d.Object != nil {
		m := d.Object.GetObjectMeta()
		labels, annotations = m.Labels, m.Annotations
	}
	printMap(p, "Labels", labels)
	printMap(p, "Annotations", annotations)
	var tmpl *spec.PodTemplateSpec
	var claims []spec.PersistentVolumeClaim
	switch o := d.Object.(type) {
	case *spec.StatefulSet:
		tmpl, claims = &o.Spec.Template, o.Spec.VolumeClaimTemplates
	case *spec.ReplicaSet:
		tmpl = &o.Spec.Template
	}
	if wl.Kind == spec.KindStatefulSet {
		p.line(0, "Replicas", fmt.Sprintf("%d desired | %d total", wl.Replicas, wl.Current))
		p.line(0, "Update Strategy", orNone(wl.Strategy))
		if wl.Strategy == spec.RollingUpdateStatefulSetStrategyType {
			p.line(1, "Partition", strconv.Itoa(int(wl.Partition)))
			p.line(1, "MaxUnavailable", strconv.Itoa(int(wl.MaxUnavailable)))
		}
		p.line(0, "Service Name", orNone(wl.ServiceName))
		if s, ok := d.Object.(*spec.StatefulSet); ok {
			p.line(0, "Pod Management", orNone(s.Spec.PodManagementPolicy))
		}
	} else {
		p.line(0, "Replicas", fmt.Sprintf("%d current / %d desired", wl.Current, wl.Replicas))
	}
	p.line(0, "Pods Status", fmt.Sprintf("%d Running / %d Waiting / %d Ready / %d Available", wl.Running, max(wl.Current-wl.Running, 0), wl.Ready, wl.Available))
	p.line(0, "Revision", orNone(wl.Revision))
	p.line(0, "Progress", progressText(wl))
	dd := &deploymentDescription{Deployment: wl}
	if tmpl != nil {
		dd.Spec = &spec.DeploymentSpec{Template: *tmpl}
	}
	printPodTemplate(w, dd)
	if len(claims) > 0 {
		p.head(0, "Volume Claims")
		for _, c := range claims {
			p.line(1, "Name", c.Name)
			class := ""
			if c.Spec.StorageClassName != nil {
				class = *c.Spec.StorageClassName
			}
			p.line(1, "StorageClass", class)
			size := ""
			if q, ok := c.Spec.Resources.Requests["storage"]; ok {
				size = q.String()
			}
			p.line(1, "Capacity", size)
			p.line(1, "Access Modes", fmt.Sprint(c.Spec.AccessModes))
		}
	} else if wl.Kind == spec.KindStatefulSet {
		p.line(0, "Volume Claims", "<none>")
	}
	printDeploymentEvents(w, d.Events)
}
