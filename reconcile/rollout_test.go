package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestResolveStrategy checks the bounds against Kubernetes'
// ResolveFenceposts and MaxUnavailable.
func TestResolveStrategy(t *testing.T) {
	ios := func(s string) *spec.IntOrString { v := spec.FromString(s); return &v }
	ioi := func(i int32) *spec.IntOrString { v := spec.FromInt(i); return &v }
	for _, c := range []struct {
		name               string
		ru                 *spec.RollingUpdateDeployment
		replicas           int
		surge, unavailable int
	}{
		{"defaults on 4", nil, 4, 1, 1},
		{"defaults on 10: surge rounds up, unavailable down", nil, 10, 3, 2},
		{"defaults on 1", nil, 1, 1, 0},
		{"both 0 make unavailable 1", &spec.RollingUpdateDeployment{MaxSurge: ioi(0), MaxUnavailable: ioi(0)}, 5, 0, 1},
		{"percentages rounding to 0", &spec.RollingUpdateDeployment{MaxSurge: ios("0%"), MaxUnavailable: ios("10%")}, 5, 0, 1},
		{"unavailable at most replicas", &spec.RollingUpdateDeployment{MaxSurge: ioi(1), MaxUnavailable: ioi(7)}, 3, 1, 3},
		{"no replicas", nil, 0, 0, 0},
		{"100% surge", &spec.RollingUpdateDeployment{MaxSurge: ios("100%"), MaxUnavailable: ioi(0)}, 6, 6, 0},
		{"unset field takes the default", &spec.RollingUpdateDeployment{MaxSurge: ioi(2)}, 8, 2, 2},
	} {
		surge, unav := resolveStrategy(c.ru, c.replicas)
		if surge != c.surge || unav != c.unavailable {
			t.Errorf("%s: got surge %d unavailable %d, want %d %d", c.name, surge, unav, c.surge, c.unavailable)
		}
	}
}

// TestReady checks readiness from the Ready condition and, without
// conditions, from the containers.
func TestReady(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	running := func(ready bool) api.ContainerStatus {
		return api.ContainerStatus{Name: "c", Ready: ready, State: api.ContainerState{Running: &api.StateRunning{StartedAt: t0}}}
	}
	cond := func(status string) []api.Condition {
		return []api.Condition{{Type: api.PodReady, Status: status, LastTransitionTime: t0.Add(time.Minute)}}
	}
	del := t0
	for _, c := range []struct {
		name  string
		st    *api.PodStatus
		ready bool
		since time.Time
	}{
		{"no report", nil, false, time.Time{}},
		{"old agent, running and ready", &api.PodStatus{Phase: api.PodRunning, Containers: []api.ContainerStatus{running(true)}}, true, t0},
		{"old agent, a container not ready", &api.PodStatus{Phase: api.PodRunning, Containers: []api.ContainerStatus{running(true), running(false)}}, false, t0},
		{"old agent, no container reported", &api.PodStatus{Phase: api.PodRunning}, false, time.Time{}},
		{"old agent, pending", &api.PodStatus{Phase: api.PodPending, Containers: []api.ContainerStatus{running(true)}}, false, t0},
		{"Ready True", &api.PodStatus{Phase: api.PodRunning, Conditions: cond(api.ConditionTrue), Containers: []api.ContainerStatus{running(false)}}, true, t0.Add(time.Minute)},
		{"Ready False", &api.PodStatus{Phase: api.PodRunning, Conditions: cond(api.ConditionFalse), Containers: []api.ContainerStatus{running(true)}}, false, t0.Add(time.Minute)},
		{"conditions without Ready", &api.PodStatus{Phase: api.PodRunning, Conditions: []api.Condition{{Type: api.PodInitialized, Status: api.ConditionTrue}}}, false, time.Time{}},
		{"stopping", &api.PodStatus{Phase: api.PodRunning, Conditions: cond(api.ConditionTrue), DeletionTimestamp: &del}, false, t0.Add(time.Minute)},
	} {
		if got := ready(c.st); got != c.ready {
			t.Errorf("%s: ready %v, want %v", c.name, got, c.ready)
		}
		if c.st != nil {
			if got := readySince(c.st); !got.Equal(c.since) {
				t.Errorf("%s: ready since %v, want %v", c.name, got, c.since)
			}
		}
	}
	// The Services' endpoints use the same readiness.
	pv := PodView{Phase: api.PodRunning, Status: &api.PodStatus{Phase: api.PodRunning, Conditions: cond(api.ConditionFalse),
		Containers: []api.ContainerStatus{running(true)}}}
	if podReady(&pv) {
		t.Error("an endpoint is ready while its Ready condition is False")
	}
}

// TestWorkloadEvents checks the events of progress transitions.
func TestWorkloadEvents(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	view := func(name, progress string) WorkloadView {
		return WorkloadView{Kind: spec.KindDeployment, Namespace: "ns", Name: name, Progress: progress, Revision: "abc",
			Replicas: 3, Available: 3, Message: "stuck"}
	}
	prev := []WorkloadView{view("a", ProgressProgressing), view("b", ProgressProgressing), view("c", ProgressComplete), view("d", ProgressDeadlineExceeded)}
	next := []WorkloadView{view("a", ProgressComplete), view("b", ProgressDeadlineExceeded), view("c", ProgressComplete),
		view("d", ProgressDeadlineExceeded), view("e", ProgressComplete)}
	want := []Event{
		{Time: now, Object: "Deployment/ns/a", Reason: EventRolloutComplete, Message: "revision abc rolled out: 3 of 3 pods available"},
		{Time: now, Object: "Deployment/ns/b", Reason: EventDeadlineExceeded, Type: api.EventWarning, Message: "stuck"},
	}
	if d := cmp.Diff(want, WorkloadEvents(prev, next, now)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if got := WorkloadEvents(nil, next, now); got != nil {
		t.Errorf("events without a previous plan: %v", got)
	}
}

// TestTerminatingNoEndpoint checks that a terminating pod is never a
// Service's endpoint, even with the labels it had.
func TestTerminatingNoEndpoint(t *testing.T) {
	web := map[string]string{"app": "web"}
	stopping := epPod("old", "10.244.1.7", web, true, func(p *PodView) { p.Reason = ReasonTerminating })
	views := ResolveServices([]*spec.Service{epService("web", web, spec.ServicePort{Port: 80})}, nil,
		[]PodView{stopping, epPod("new", "10.244.1.8", web, true)})
	eps := views[0].Resolved.Endpoints
	if len(eps) != 1 || eps[0].Pod != "new" || len(views[0].Excluded) != 0 {
		t.Fatalf("endpoints %+v, excluded %+v: want only the pod that is not terminating", eps, views[0].Excluded)
	}
}

// TestTerminatingViews checks that reports no record has show as
// Terminating pods, before the current incarnation of the same name,
// and nowhere else.
func TestTerminatingViews(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	set := setOf(bare("default", "p", "img:1"))
	in := Input{Desired: set, Nodes: nodes(2), Now: t0, NewUID: counter()}
	out := Plan(in)
	rec := out.Memory.Pods["default/p"]
	in.Memory = out.Memory
	del := t0
	in.Observed = map[string][]api.PodStatus{
		rec.Node: {
			{UID: rec.UID, Namespace: "default", Name: "p", Phase: api.PodRunning},
			{UID: "old-incarnation", Namespace: "default", Name: "p", Phase: api.PodRunning, DeletionTimestamp: &del},
			{UID: "gone", Namespace: "default", Name: "q", Phase: api.PodSucceeded, PodIP: "10.0.0.9"},
		},
		"node-009": {{UID: "on-a-node-not-alive", Namespace: "default", Name: "r", Phase: api.PodRunning}},
	}
	out = Plan(in)
	var got []string
	for _, v := range out.Pods {
		got = append(got, v.Name+" "+v.UID+" "+v.Phase+" "+v.Reason)
	}
	want := []string{"p old-incarnation Running Terminating", "p " + rec.UID + " Running ", "q gone Succeeded Terminating"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("pods (-want +got):\n%s", d)
	}
	if out.MemoryChanged || len(out.Events) > 0 {
		t.Fatalf("terminating pods changed the plan: %v", out.Events)
	}
	if n := len(out.PodSets[rec.Node]); n != 1 {
		t.Fatalf("%s's set has %d pods, want 1", rec.Node, n)
	}
}
