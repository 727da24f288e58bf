package reconcile

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// plannerCheck runs a Planner beside Plan, fed as the daemon feeds it: its
// own Output.Memory back (unless the history replaced the memory: a
// restart, a lost inventory), a node's reports as the same slice while
// they are unchanged.
type plannerCheck struct {
	t        *testing.T
	pl       *Planner
	mem      Memory                     // the Planner's last Output.Memory
	planMem  map[string]PodRecord       // Plan's last Output.Memory.Pods
	observed map[string][]api.PodStatus // the last reports fed
	full     int
	plans    int
}

func newPlannerCheck(t *testing.T) *plannerCheck {
	return &plannerCheck{t: t, pl: NewPlanner()}
}

// check plans in with the Planner (UIDs numbered from base, as Plan's
// were) and fails unless its Output is Plan's out.
func (pc *plannerCheck) check(t *testing.T, what string, in Input, base int, out Output) {
	t.Helper()
	pin := in
	n := base
	pin.NewUID = func() string { n++; return "u" + strconv.Itoa(n) }
	if in.Memory.Pods != nil && sameMapPtr(in.Memory.Pods, pc.planMem) {
		pin.Memory = pc.mem
	} else {
		// A memory the Planner did not return (a restart, a lost
		// inventory): its own copy, since the Planner takes it over.
		pin.Memory = Memory{Pods: maps.Clone(in.Memory.Pods), Volumes: in.Memory.Volumes, Jobs: in.Memory.Jobs, CronJobs: in.Memory.CronJobs}
	}
	pin.Observed = map[string][]api.PodStatus{}
	for node, sts := range in.Observed {
		if old, ok := pc.observed[node]; ok && reflect.DeepEqual(old, sts) {
			sts = old
		}
		pin.Observed[node] = sts
	}
	pc.observed = pin.Observed
	got := pc.pl.Plan(pin)
	pc.plans++
	if _, all := pc.pl.ChangedNodes(); all {
		pc.full++
	}
	if d := cmp.Diff(out, got); d != "" {
		t.Fatalf("%s: the Planner's output differs from Plan's (-Plan +Planner):\n%s", what, d)
	}
	if mustJSON(t, out) != mustJSON(t, got) {
		t.Fatalf("%s: the Planner's output differs from Plan's in JSON", what)
	}
	pc.mem = got.Memory
	pc.planMem = out.Memory.Pods
}

func sameMapPtr(a, b map[string]PodRecord) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestPlannerRandomHistories runs the random histories of
// TestRandomHistories through a Planner too, comparing every Output with
// Plan's (go-cmp and JSON), with the Planner re-planning incrementally
// however much changed.
func TestPlannerRandomHistories(t *testing.T) {
	defer func(l float64) { incrementalLimit = l }(incrementalLimit)
	incrementalLimit = 2
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			pc := newPlannerCheck(t)
			randomHistory(t, seed, 150, pc)
			t.Logf("%d plans, %d full", pc.plans, pc.full)
		})
	}
}

// TestPlannerScripts runs the golden scripts through a Planner too.
func TestPlannerScripts(t *testing.T) {
	defer func(l float64) { incrementalLimit = l }(incrementalLimit)
	incrementalLimit = 2
	testScripts(t, true)
}

// A report that lists a UID twice is read at its last entry by Plan; the
// Planner must compare the next report with that same entry.
func TestPlannerDupUIDInOneReport(t *testing.T) {
	set := spec.NewSet()
	if err := addObject(set, []string{"pod", "a", "image=x", "nodeName=n1"}); err != nil {
		t.Fatal(err)
	}
	uid := 0
	in := Input{Desired: set, Now: time.Unix(0, 0), NewUID: func() string { uid++; return "u" + strconv.Itoa(uid) }}
	in.Nodes = []NodeState{{Info: api.NodeInfo{Name: "n1"}, Alive: true}}
	pl := NewPlanner()
	out := pl.Plan(in)
	in.Memory = out.Memory
	out = pl.Plan(in)
	p := api.PodStatus{UID: out.Memory.Pods["default/a"].UID, Namespace: "default", Name: "a", Node: "n1", Phase: "Pending"}
	r := p
	r.Phase, r.PodIP = "Running", "10.0.0.5"
	in.Observed = map[string][]api.PodStatus{"n1": {p, r}}
	in.Memory = out.Memory
	out = pl.Plan(in)
	in.Observed = map[string][]api.PodStatus{"n1": {p}}
	in.Memory = out.Memory
	got := pl.Plan(in)
	want := Plan(Input{Desired: set, Nodes: in.Nodes, Now: in.Now, Observed: in.Observed, Memory: Memory{Pods: out.Memory.Pods, Volumes: out.Memory.Volumes}, NewUID: in.NewUID})
	if d := cmp.Diff(want.Pods, got.Pods); d != "" {
		t.Fatalf("Planner differs from Plan (-Plan +Planner):\n%s", d)
	}
}

// A view does not point into its node's report: a view kept across plans
// would otherwise keep every report array it was made from alive.
func TestViewStatusIsACopy(t *testing.T) {
	set := spec.NewSet()
	if err := addObject(set, []string{"pod", "a", "image=x", "nodeName=n1"}); err != nil {
		t.Fatal(err)
	}
	in := Input{Desired: set, Now: time.Unix(0, 0), NewUID: func() string { return "u1" }}
	in.Nodes = []NodeState{{Info: api.NodeInfo{Name: "n1"}, Alive: true}}
	out := Plan(in)
	in.Memory = out.Memory
	report := []api.PodStatus{{UID: out.Memory.Pods["default/a"].UID, Namespace: "default", Name: "a", Node: "n1", Phase: "Running"}}
	in.Observed = map[string][]api.PodStatus{"n1": report}
	out = Plan(in)
	if len(out.Pods) != 1 || out.Pods[0].Status == nil {
		t.Fatalf("pods = %+v", out.Pods)
	}
	if out.Pods[0].Status == &report[0] {
		t.Errorf("the view's status points into the report")
	}
}
