package reconcile

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestRandomHistories drives the core through random histories (nodes
// joining, dying and coming back, commits scaling, changing, adding and
// deleting objects, agents reporting pods up or crash-looping, reconciler
// restarts) and checks the invariants the rest of Stevedore relies on after
// every plan. Seeds are fixed: a failure reproduces.
func TestRandomHistories(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			randomHistory(t, seed, 150, nil)
		})
	}
}

// randomHistory runs a random history; with pc, every plan is also made by
// pc's Planner and compared (planner_test.go).
func randomHistory(t *testing.T, seed uint64, steps int, pc *plannerCheck) {
	r := rand.New(rand.NewPCG(seed, seed))
	h := newHarness()
	for i := 0; i < 3; i++ {
		h.nodes[fmt.Sprintf("n%d", i)] = &NodeState{Info: api.NodeInfo{Name: fmt.Sprintf("n%d", i), Allocatable: api.Resources{MilliCPU: 2000, Memory: 8 << 30, Pods: 20}}, Alive: true}
	}
	seen := map[string]int{}
	defer func() { t.Logf("events over the history: %v", seen) }()
	for step := 0; step < steps; step++ {
		op := r.IntN(10)
		var lost Memory // the memory a "lose" dropped
		switch {
		case op < 4: // a commit
			next := copySet(h.desired)
			name := fmt.Sprintf("w%d", r.IntN(4))
			switch r.IntN(4) {
			case 0:
				delete(next.Objects, spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "default", Name: name})
			case 1:
				// "a" and "a-b": plain string order of keys is not
				// (namespace, name) order.
				p := bare([]string{"a", "a-b", "default"}[r.IntN(3)], fmt.Sprintf("p%d", r.IntN(3)), fmt.Sprintf("img:%d", r.IntN(2)))
				if r.IntN(3) == 0 {
					p.Spec.NodeName = fmt.Sprintf("n%d", r.IntN(4))
				}
				if r.IntN(2) == 0 {
					// A label change alone changes memory without an event.
					p.Labels = map[string]string{"v": fmt.Sprint(r.IntN(2))}
				}
				next.Objects[spec.KeyOf(p)] = p
			default:
				d := deployment("default", name, int32(r.IntN(6)), fmt.Sprintf("img:%d", r.IntN(3)))
				d.Spec.Template.Spec.Containers[0].Resources.Requests = nil
				if r.IntN(4) == 0 {
					d.Spec.Strategy.Type = spec.RecreateDeploymentStrategyType
				}
				d.Spec.Paused = r.IntN(5) == 0
				// Time-driven outcomes, for Wake.
				d.Spec.MinReadySeconds = []int32{0, 0, 5, 30}[r.IntN(4)]
				d.Spec.ProgressDeadlineSeconds = []*int32{nil, int32p(20), int32p(90)}[r.IntN(3)]
				next.Objects[spec.KeyOf(d)] = d
			}
			h.desired = next
		case op < 5: // membership
			n := h.nodes[fmt.Sprintf("n%d", r.IntN(3))]
			if n == nil {
				break
			}
			if n.Alive {
				h.node([]string{"kill", n.Info.Name})
			} else {
				h.node([]string{"revive", n.Info.Name})
			}
		case op < 8: // agents report
			a := map[string]string{}
			switch r.IntN(4) {
			case 0:
				a["crash"] = ""
			case 1:
				a["phase"] = api.PodPending
				a["reason"] = api.ReasonErrImagePull
			}
			if r.IntN(2) == 0 {
				a["node"] = fmt.Sprintf("n%d", r.IntN(3))
			}
			if _, err := h.observe(a); err != nil {
				t.Fatal(err)
			}
		case op < 9:
			if w := h.last.Wake; !w.IsZero() && r.IntN(2) == 0 {
				h.now = w // exactly when the last plan said something changes
			} else {
				h.now = h.now.Add(time.Duration(r.IntN(60)) * time.Second)
			}
		default:
			if r.IntN(3) == 0 {
				// The inventory is lost: the plan adopts what agents run.
				lost = h.memory
				if _, err := h.run("lose", nil); err != nil {
					t.Fatal(err)
				}
				break
			}
			if _, err := h.run("restart", nil); err != nil {
				t.Fatal(err)
			}
		}
		base := h.uids
		in := h.input(h.desired)
		out := Plan(in)
		if pc != nil {
			pc.check(t, fmt.Sprintf("step %d", step), in, base, out)
		}
		checkInvariants(t, step, in, out)
		checkDelta(t, step, in, out)
		if in.Adopt != nil {
			checkAdopted(t, step, in, lost, out)
		}
		for _, e := range out.Events {
			seen[e.Reason]++
		}
		for _, w := range out.Workloads {
			seen["(workload "+w.Progress+")"]++
		}
		if !out.Wake.IsZero() {
			seen["(wake)"]++
		}

		// The same input gives the same output.
		replay := in
		n := base
		replay.NewUID = func() string { n++; return "u" + strconv.Itoa(n) }
		if mustJSON(t, Plan(replay)) != mustJSON(t, out) {
			t.Fatalf("step %d: plan is not deterministic", step)
		}

		// A fixed point: planning again from the plan's own memory, with
		// nothing else changed, decides nothing new.
		again := in
		again.Memory = out.Memory
		again.NewUID = func() string { t.Fatalf("step %d: a second plan created a pod", step); return "" }
		out2 := Plan(again)
		if len(out2.Events) != 0 || out2.MemoryChanged || len(out2.Changed) != 0 || len(out2.Deleted) != 0 ||
			!reflect.DeepEqual(out2.Memory, out.Memory) {
			t.Fatalf("step %d: plan is not a fixed point: %s", step, mustJSON(t, out2.Events))
		}
		if !out2.Wake.Equal(out.Wake) {
			t.Fatalf("step %d: the fixed point wakes at %v, the plan at %v", step, out2.Wake, out.Wake)
		}
		checkWake(t, step, r, again, out2)
		h.memory = out.Memory
		h.last = out
		h.adopt = false
		maps.Copy(h.agents, out.PodSets)
	}
}

// checkAdopted checks that a plan that adopted after the memory was lost
// restarted no pod that ran on an alive node: every such pod that is still
// wanted with the same content keeps its UID, unless another agent reports
// the same key (a stale incarnation that may win a tie on creation time).
func checkAdopted(t *testing.T, step int, in Input, lost Memory, out Output) {
	t.Helper()
	reporters := map[string]int{}
	for _, pods := range in.Adopt {
		for _, p := range pods {
			reporters[p.Namespace+"/"+p.Name]++
		}
	}
	for key, old := range lost.Pods {
		if _, ok := in.Adopt[old.Node]; !ok || reporters[key] != 1 {
			continue
		}
		rec, ok := out.Memory.Pods[key]
		if ok && rec.Hash == old.Hash && rec.Owner == old.Owner && rec.UID != old.UID {
			t.Fatalf("step %d: adopting restarted %s: uid %s became %s", step, key, old.UID, rec.UID)
		}
	}
}

// checkWake checks Output.Wake at a fixed point (in plans out): planning at
// any instant before Wake gives the same output, planning at Wake does not;
// with no Wake, no instant changes anything.
func checkWake(t *testing.T, step int, r *rand.Rand, in Input, out Output) {
	t.Helper()
	want := outputJSON(t, out)
	at := func(now time.Time) string {
		moved := in
		moved.Now = now
		return outputJSON(t, Plan(moved))
	}
	var before []time.Time
	if out.Wake.IsZero() {
		before = []time.Time{in.Now.Add(time.Second), in.Now.Add(time.Hour), in.Now.Add(1000 * time.Hour)}
	} else {
		if !out.Wake.After(in.Now) {
			t.Fatalf("step %d: wake %v is not after now %v", step, out.Wake, in.Now)
		}
		span := out.Wake.Sub(in.Now)
		before = []time.Time{in.Now.Add(1), in.Now.Add(time.Duration(r.Int64N(int64(span)))), out.Wake.Add(-1)}
	}
	for _, now := range before {
		if !out.Wake.IsZero() && !now.Before(out.Wake) {
			continue // a span of 1ns has no instant in between
		}
		if got := at(now); got != want {
			t.Fatalf("step %d: plan at %v differs from plan at %v (wake %v):\n%s", step, now, in.Now, out.Wake, cmp.Diff(want, got))
		}
	}
	if !out.Wake.IsZero() && at(out.Wake) == want {
		t.Fatalf("step %d: nothing changes at wake %v (now %v)", step, out.Wake, in.Now)
	}
}

// outputJSON is out as JSON without event times, which are Input.Now.
func outputJSON(t *testing.T, out Output) string {
	events := make([]Event, len(out.Events))
	for i, e := range out.Events {
		e.Time = time.Time{}
		events[i] = e
	}
	out.Events = events
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkInvariants(t *testing.T, step int, in Input, out Output) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d: %s", step, fmt.Sprintf(format, args...))
	}
	alive := map[string]bool{}
	for _, n := range in.Nodes {
		alive[n.Info.Name] = n.Alive
	}
	// Every desired pod is remembered; every remembered pod is desired or
	// an old revision of a workload that still exists, and no more old
	// pods are kept than the workload has replicas.
	// A paused Deployment holding an older revision runs pods its
	// template does not describe; its checks are the fixed point's.
	held := map[string]bool{}
	for _, w := range out.Workloads {
		if w.Progress == ProgressPaused {
			held[spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}.String()] = true
		}
	}
	desired := map[string]DesiredPod{}
	for _, d := range ExpandPods(in.Desired) {
		if held[d.Owner] {
			continue
		}
		desired[d.Key()] = d
		if rec, ok := out.Memory.Pods[d.Key()]; !ok || rec.Hash != d.Hash || rec.Owner != d.Owner ||
			!maps.Equal(rec.Labels, d.Labels) || !maps.Equal(rec.Annotations, d.Annotations) {
			fail("desired pod %s not remembered as desired", d.Key())
		}
	}
	workloads := workloadsOf(in.Desired)
	old := map[string]int{}
	uids := map[string]string{}
	for key, rec := range out.Memory.Pods {
		if key != rec.Key() {
			fail("record %s keyed %s", rec.Key(), key)
		}
		if other, ok := uids[rec.UID]; ok {
			fail("uid %s used by %s and %s", rec.UID, other, key)
		}
		uids[rec.UID] = key
		if _, ok := desired[key]; ok || held[rec.Owner] {
			continue
		}
		w, ok := workloads[rec.Owner]
		if !ok || rec.Hash == w.hash {
			fail("remembered pod %s is neither desired nor an old revision", key)
		}
		if rec.Node == "" || !alive[rec.Node] && hasNode(in.Nodes, rec.Node) {
			fail("old revision pod %s kept while not running (node %q)", key, rec.Node)
		}
		old[rec.Owner]++
	}
	for owner, n := range old {
		if n > workloads[owner].replicas {
			fail("%s keeps %d old pods for %d replicas", owner, n, workloads[owner].replicas)
		}
	}
	// Sets: one per alive node, sorted, each remembered placement in
	// exactly its node's set, nothing for dead nodes.
	inSet := map[string]string{}
	for node, pods := range out.PodSets {
		if !alive[node] {
			fail("pod set for dead node %s", node)
		}
		if !sort.SliceIsSorted(pods, func(i, j int) bool {
			if pods[i].Namespace != pods[j].Namespace {
				return pods[i].Namespace < pods[j].Namespace
			}
			return pods[i].Name < pods[j].Name
		}) {
			fail("set of %s not sorted", node)
		}
		for _, p := range pods {
			key := p.Namespace + "/" + p.Name
			if rec := out.Memory.Pods[key]; rec.Node != node || rec.UID != p.UID {
				fail("%s in %s's set but remembered on %q as %s", key, node, rec.Node, rec.UID)
			}
			inSet[key] = node
		}
	}
	for n, a := range alive {
		if _, ok := out.PodSets[n]; a && !ok {
			fail("no set for alive node %s", n)
		}
	}
	for key, rec := range out.Memory.Pods {
		if alive[rec.Node] && inSet[key] != rec.Node {
			fail("%s placed on %s but not in its set", key, rec.Node)
		}
	}
	if !sort.SliceIsSorted(out.Pods, func(i, j int) bool {
		if out.Pods[i].Namespace != out.Pods[j].Namespace {
			return out.Pods[i].Namespace < out.Pods[j].Namespace
		}
		return out.Pods[i].Name < out.Pods[j].Name
	}) {
		fail("pods not sorted by namespace and name")
	}
	if len(out.Pods) != len(out.Memory.Pods) {
		fail("%d views for %d records", len(out.Pods), len(out.Memory.Pods))
	}
}

func hasNode(nodes []NodeState, name string) bool {
	for _, n := range nodes {
		if n.Info.Name == name {
			return true
		}
	}
	return false
}

// checkDelta checks that Changed and Deleted are exactly the difference
// between in.Memory and out.Memory, sorted, and that applying them to
// in.Memory gives out.Memory.
func checkDelta(t *testing.T, step int, in Input, out Output) {
	t.Helper()
	var changed, deleted []string
	for k, rec := range out.Memory.Pods {
		if old, ok := in.Memory.Pods[k]; !ok || !reflect.DeepEqual(old, rec) {
			changed = append(changed, k)
		}
	}
	for k := range in.Memory.Pods {
		if _, ok := out.Memory.Pods[k]; !ok {
			deleted = append(deleted, k)
		}
	}
	slices.SortFunc(changed, comparePodKeys)
	slices.SortFunc(deleted, comparePodKeys)
	if !slices.Equal(changed, out.Changed) || !slices.Equal(deleted, out.Deleted) {
		t.Fatalf("step %d: delta is changed %q deleted %q, want changed %q deleted %q", step, out.Changed, out.Deleted, changed, deleted)
	}
	applied := maps.Clone(in.Memory.Pods)
	if applied == nil {
		applied = map[string]PodRecord{}
	}
	for _, k := range out.Changed {
		applied[k] = out.Memory.Pods[k]
	}
	for _, k := range out.Deleted {
		delete(applied, k)
	}
	if !reflect.DeepEqual(applied, out.Memory.Pods) {
		t.Fatalf("step %d: input memory with the delta applied is not the output memory", step)
	}
	if want := len(changed) > 0 || len(deleted) > 0 || in.Memory.Pods == nil; out.MemoryChanged != want {
		t.Fatalf("step %d: MemoryChanged %v with changed %q deleted %q", step, out.MemoryChanged, changed, deleted)
	}
}
