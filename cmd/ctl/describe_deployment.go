package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// deploymentDescription is what ctl describe deployment shows; -o json|yaml
// prints it whole.
type deploymentDescription struct {
	// Deployment is the reconciler's view of it.
	Deployment api.Workload `json:"deployment"`
	// Labels, Annotations and Spec are the applied revision's object, when
	// ctl could load it (a Deployment of the bootstrap application).
	Labels      map[string]string    `json:"labels,omitempty"`
	Annotations map[string]string    `json:"annotations,omitempty"`
	Spec        *spec.DeploymentSpec `json:"spec,omitempty"`
	// Revisions is its history, oldest first.
	Revisions []api.DeploymentRevision `json:"revisions,omitempty"`
	// Events are the reconciler's about it and its pods, oldest first.
	Events []api.Event `json:"events"`
}

// describeDeployment gathers a Deployment's view, applied object, history
// and events. Only the view is required: the rest is shown when it can be
// had.
func (c *cli) describeDeployment(ctx context.Context, cl *api.Client, namespace, name, output string) error {
	key := spec.ObjectKey{Kind: spec.KindDeployment, Namespace: namespace, Name: name}
	w, err := findWorkload(ctx, cl, key.Kind, namespace, name)
	if err != nil {
		return err
	}
	d := &deploymentDescription{Deployment: w}
	if revs, err := cl.RolloutHistory(ctx, namespace, name); err == nil {
		d.Revisions = revs
	} else if !errors.Is(err, api.ErrNotFound) {
		fmt.Fprintf(c.errOut, "warning: failed to read the rollout history: %v\n", err)
	}
	if o, ok := appliedObject(ctx, cl, key).(*spec.Deployment); ok {
		d.Labels, d.Annotations, d.Spec = o.Labels, o.Annotations, &o.Spec
	}
	d.Events = c.workloadEvents(ctx, cl, key.Kind, namespace, name)
	return c.emit(output, d, func(w io.Writer) { printDeployment(w, d) })
}

// eventTypeOf is an event's type: the reconciler's, or from its reason for
// a reconciler that reports none.
func eventTypeOf(e api.Event) string {
	if e.Type != "" {
		return e.Type
	}
	return api.EventType(e.Reason)
}

func printDeployment(w io.Writer, d *deploymentDescription) {
	p := describer{w}
	wl := d.Deployment
	p.line(0, "Name", wl.Name)
	p.line(0, "Namespace", wl.Namespace)
	if !wl.Created.IsZero() {
		p.line(0, "CreationTimestamp", fmt.Sprintf("%s (%s ago)", stamp(wl.Created), age(wl.Created)))
	}
	printMap(p, "Labels", d.Labels)
	printMap(p, "Annotations", d.Annotations)
	p.line(0, "Selector", orNone(labelString(wl.Selector)))
	unavailable := max(wl.Current-wl.Available, 0)
	p.line(0, "Replicas", fmt.Sprintf("%d desired | %d updated | %d total | %d available | %d unavailable", wl.Replicas, wl.UpToDate, wl.Current, wl.Available, unavailable))
	strategy := wl.Strategy
	if d.Spec != nil && d.Spec.Strategy.Type != "" {
		strategy = d.Spec.Strategy.Type
	}
	p.line(0, "StrategyType", orNone(strategy))
	if d.Spec != nil {
		p.line(0, "MinReadySeconds", strconv.Itoa(int(d.Spec.MinReadySeconds)))
		if s := d.Spec.ProgressDeadlineSeconds; s != nil {
			p.line(0, "ProgressDeadline", strconv.Itoa(int(*s))+"s")
		}
	}
	if ru := rollingUpdateText(d, wl); ru != "" {
		p.line(0, "RollingUpdateStrategy", ru)
	}
	p.line(0, "Revision", revisionText(wl, d.Revisions))
	if wl.Override != "" {
		p.line(0, "Rolled back", wl.Override+"; Git's template runs again once a commit changes it")
	}
	p.line(0, "Progress", progressText(wl))
	printPodTemplate(w, d)
	printConditions(w, deploymentConditions(wl, specOrEmpty(d.Spec)))
	printDeploymentEvents(w, d.Events)
}

func specOrEmpty(s *spec.DeploymentSpec) *spec.DeploymentSpec {
	if s == nil {
		return &spec.DeploymentSpec{}
	}
	return s
}

// printMap prints "key=value" lines under one key, as describe does with
// labels.
func printMap(p describer, key string, m map[string]string) {
	l := sortedLabels(m)
	if len(l) == 0 {
		p.line(0, key, "<none>")
		return
	}
	for i, kv := range l {
		if i == 0 {
			p.line(0, key, kv)
		} else {
			fmt.Fprintf(p.w, "%s%s\n", strings.Repeat(" ", valueColumn), kv)
		}
	}
}

// rollingUpdateText is kubectl's "25% max unavailable, 25% max surge": as
// written in the applied object, or as resolved by the reconciler.
func rollingUpdateText(d *deploymentDescription, wl api.Workload) string {
	if d.Spec != nil {
		ru := d.Spec.Strategy.RollingUpdate
		if d.Spec.Strategy.Type != spec.RollingUpdateDeploymentStrategyType || ru == nil {
			return ""
		}
		text := func(v *spec.IntOrString) string {
			if v == nil {
				return "25%"
			}
			return v.String()
		}
		return fmt.Sprintf("%s max unavailable, %s max surge", text(ru.MaxUnavailable), text(ru.MaxSurge))
	}
	if wl.Strategy == spec.RollingUpdateDeploymentStrategyType {
		return fmt.Sprintf("%d max unavailable, %d max surge", wl.MaxUnavailable, wl.MaxSurge)
	}
	return ""
}

// revisionText is the revision the Deployment runs and the commit that
// introduced it.
func revisionText(wl api.Workload, revs []api.DeploymentRevision) string {
	if wl.RevisionNumber == 0 {
		if wl.Revision == "" {
			return "<none>"
		}
		return "template " + wl.Revision + " (not in the history yet)"
	}
	s := strconv.FormatInt(wl.RevisionNumber, 10)
	for _, r := range revs {
		if r.Number != wl.RevisionNumber {
			continue
		}
		s += " (commit " + shortHash(r.Commit)
		if r.Author != "" {
			s += " by " + r.Author
		}
		if r.Subject != "" {
			s += ": " + r.Subject
		}
		return s + ")"
	}
	if wl.Commit != "" {
		s += " (commit " + shortHash(wl.Commit) + ")"
	}
	return s
}

func progressText(wl api.Workload) string {
	if wl.Message == "" {
		return orNone(wl.Progress)
	}
	return wl.Progress + ": " + wl.Message
}

// printPodTemplate prints the running template: the current revision's
// from the history, else the applied object's, else the view's images.
func printPodTemplate(w io.Writer, d *deploymentDescription) {
	var t *spec.PodTemplateSpec
	for i := range d.Revisions {
		if d.Revisions[i].Number == d.Deployment.RevisionNumber {
			t = &d.Revisions[i].Template
		}
	}
	if t == nil && d.Spec != nil {
		t = &d.Spec.Template
	}
	p := describer{w}
	p.head(0, "Pod Template")
	if t == nil {
		for i, name := range d.Deployment.Containers {
			p.head(1, name)
			if i < len(d.Deployment.Images) {
				p.line(2, "Image", d.Deployment.Images[i])
			}
		}
		return
	}
	if l := sortedLabels(t.Labels); len(l) > 0 {
		p.line(1, "Labels", strings.Join(l, ","))
	}
	p.head(1, "Containers")
	for _, ct := range t.Spec.Containers {
		p.head(2, ct.Name)
		p.line(3, "Image", ct.Image)
		for _, port := range ct.Ports {
			proto := port.Protocol
			if proto == "" {
				proto = "TCP"
			}
			p.line(3, "Port", fmt.Sprintf("%d/%s", port.ContainerPort, proto))
		}
		if len(ct.Env) > 0 {
			p.head(3, "Environment")
			for _, e := range ct.Env {
				p.line(4, e.Name, e.Value)
			}
		}
		for _, rl := range []struct {
			key string
			l   spec.ResourceList
		}{{"Requests", ct.Resources.Requests}, {"Limits", ct.Resources.Limits}} {
			if len(rl.l) == 0 {
				continue
			}
			p.head(3, rl.key)
			names := make([]string, 0, len(rl.l))
			for n := range rl.l {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				q := rl.l[n]
				p.line(4, n, q.String())
			}
		}
	}
}

func printConditions(w io.Writer, conds []condition) {
	fmt.Fprintln(w, "Conditions:")
	tw := newTable(w)
	row(tw, "  TYPE", "STATUS", "REASON", "MESSAGE")
	for _, c := range conds {
		row(tw, "  "+c.Type, c.Status, orNone(c.Reason), c.Message)
	}
	tw.Flush()
}

func printDeploymentEvents(w io.Writer, evs []api.Event) {
	if len(evs) == 0 {
		describer{w}.line(0, "Events", "<none>")
		return
	}
	fmt.Fprintln(w, "Events:")
	tw := newTable(w)
	row(tw, "  TYPE", "REASON", "AGE", "FROM", "OBJECT", "MESSAGE")
	for _, e := range evs {
		from := e.Source
		if from == "" {
			from = "reconciler"
		}
		_, _, display := eventObject(e.Object)
		row(tw, "  "+eventTypeOf(e), e.Reason, age(e.Time), from, display, e.Message)
	}
	tw.Flush()
}
