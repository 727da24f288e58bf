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
	"strings"
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
			switch r.IntN(7) {
			case 4:
				randomDaemonSet(r, next)
			case 5, 6:
				// A Job or CronJob (job_test.go).
				randomBatch(r, next)
			case 0:
				delete(next.Objects, spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "default", Name: name})
				delete(next.Objects, spec.ObjectKey{Kind: spec.KindStatefulSet, Namespace: "default", Name: name})
				// A ReplicaSet's pods are named as a Deployment's: it has
				// its own names.
				delete(next.Objects, spec.ObjectKey{Kind: spec.KindReplicaSet, Namespace: "default", Name: "r" + name})
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
			case 2:
				// StatefulSets and ReplicaSets (property_apps_test.go).
				o := randomApps(r, name)
				next.Objects[spec.KeyOf(o)] = o
			default:
				d := deployment("default", name, int32(r.IntN(6)), fmt.Sprintf("img:%d", r.IntN(3)))
				d.Spec.Template.Spec.Containers[0].Resources.Requests = nil
				switch r.IntN(4) {
				case 0:
					d.Spec.Strategy.Type = spec.RecreateDeploymentStrategyType
				case 1:
					// Kubernetes' defaults (25%, 25%), unset.
				default:
					bounds := []spec.IntOrString{spec.FromInt(0), spec.FromInt(1), spec.FromInt(2), spec.FromString("25%"), spec.FromString("50%"), spec.FromString("100%")}
					surge, unav := bounds[r.IntN(len(bounds))], bounds[r.IntN(len(bounds))]
					d.Spec.Strategy = spec.DeploymentStrategy{Type: spec.RollingUpdateDeploymentStrategyType,
						RollingUpdate: &spec.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unav}}
				}
				d.Spec.Paused = r.IntN(5) == 0
				// Time-driven outcomes, for Wake.
				d.Spec.MinReadySeconds = []int32{0, 0, 5, 30}[r.IntN(4)]
				d.Spec.ProgressDeadlineSeconds = []*int32{nil, int32p(20), int32p(90)}[r.IntN(3)]
				next.Objects[spec.KeyOf(d)] = d
			}
			h.desired = next
		case op < 5: // membership
			if r.IntN(2) == 0 {
				randomNodeChange(r, h)
				break
			}
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
			switch r.IntN(5) {
			case 0:
				a["crash"] = ""
			case 1:
				a["phase"] = api.PodPending
				a["reason"] = api.ReasonErrImagePull
			case 2:
				a["notready"] = ""
			}
			if r.IntN(2) == 0 {
				a["node"] = fmt.Sprintf("n%d", r.IntN(3))
			}
			if r.IntN(2) == 0 {
				a["cond"] = "" // an agent that reports conditions
			}
			switch r.IntN(6) {
			case 2:
				// Jobs' pods finish.
				a = map[string]string{"pod": "default/[jc]*", "phase": []string{api.PodSucceeded, api.PodFailed}[r.IntN(2)]}
			case 0:
				// The stopping pods are gone.
				a = map[string]string{"gone": "", "pod": "*/*"}
				for uid, st := range h.observed {
					if st.DeletionTimestamp != nil {
						delete(h.observed, uid)
					}
				}
			case 1:
				// An old incarnation an agent still reports, unknown to
				// the core (say, from before a reconciler restart).
				for _, pv := range h.last.Pods {
					if pv.Node != "" && !pv.Terminating() && h.nodes[pv.Node] != nil && h.nodes[pv.Node].Alive {
						st := api.PodStatus{UID: pv.UID + "-old", Namespace: pv.Namespace, Name: pv.Name, Node: pv.Node,
							Phase: api.PodRunning, Owner: pv.Owner, Hash: "0ld"}
						h.observed[st.UID] = st
						break
					}
				}
				a["pod"] = "none/none"
			}
			if _, ok := a["gone"]; !ok {
				if _, err := h.observe(a); err != nil {
					t.Fatal(err)
				}
			}
		case op < 9:
			if r.IntN(6) == 0 && len(h.memory.Pods) > 0 {
				// ctl delete pod, of a remembered pod.
				keys := sortedKeys(h.memory.Pods)
				if _, err := h.run("delete-pod "+keys[r.IntN(len(keys))], nil); err != nil {
					t.Fatal(err)
				}
				break
			}
			if r.IntN(4) == 0 {
				// An automatic rollback, or its end.
				keys := h.desired.Keys()
				if len(keys) == 0 {
					break
				}
				k := keys[r.IntN(len(keys))]
				if k.Kind != spec.KindDeployment {
					break
				}
				if _, ok := h.overrides[k.String()]; ok && r.IntN(2) == 0 {
					if _, err := h.run("override "+k.String()+" off", nil); err != nil {
						t.Fatal(err)
					}
					break
				}
				// An error (no previous template) is not a failure.
				h.run("override "+k.String()+" reason=random", nil)
				break
			}
			if w := h.last.Wake; !w.IsZero() && r.IntN(2) == 0 {
				h.now = w // exactly when the last plan said something changes
			} else if r.IntN(4) == 0 {
				// Across a CronJob's slots.
				h.now = h.now.Add(time.Duration(r.IntN(180)) * time.Second)
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
		checkDaemons(t, step, in, out)
		checkDelta(t, step, in, out)
		if in.Adopt != nil {
			checkAdopted(t, step, in, lost, out)
		}
		for _, e := range out.Events {
			seen[e.Reason]++
		}
		for _, w := range out.Workloads {
			seen["("+w.Kind+" "+w.Progress+")"]++
			if w.Override != "" {
				seen["(override)"]++
			}
			if strings.Contains(w.Message, "old pods to stop") {
				seen["(recreate waiting)"]++
			}
		}
		for _, v := range out.Pods {
			if v.Terminating() {
				seen["(terminating)"]++
			}
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
		again.NewUID = func() string {
			t.Fatalf("step %d: a second plan created a pod", step)
			return ""
		}
		out2 := Plan(again)
		if len(out2.Events) != 0 || out2.MemoryChanged || len(out2.Changed) != 0 || len(out2.Deleted) != 0 ||
			!reflect.DeepEqual(out2.Memory, out.Memory) {
			t.Fatalf("step %d: plan is not a fixed point: %s\n%s", step, mustJSON(t, out2.Events), cmp.Diff(out.Memory, out2.Memory))
		}
		if !out2.Wake.Equal(out.Wake) {
			t.Logf("plan: %s\nmemory: %s\nfixed point: %s", mustJSON(t, out.Events), mustJSON(t, out.Memory.Jobs), mustJSON(t, out2.Jobs))
			t.Fatalf("step %d: the fixed point wakes at %v, the plan at %v", step, out2.Wake, out.Wake)
		}
		checkWake(t, step, r, again, out2)
		checkRollouts(t, step, in, out)
		checkStatefulSets(t, step, in, out)
		checkRetention(t, step, in, out)
		h.memory = out.Memory
		h.last = out
		h.adopt = false
		maps.Copy(h.agents, out.PodSets)
		if in.Desired != nil {
			h.recordTemplates(in.Desired)
		}
		// The agents stop the pods dropped from their sets, at once or
		// over a while (Terminating until reported gone).
		h.linger = r.IntN(2) == 0
		h.stopDropped(out)
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
		// A rollout step at Wake may create pods.
		n := 0
		moved.NewUID = func() string { n++; return "wake-" + strconv.Itoa(n) }
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
	// A workload's pods of its current revision (its template's, or its
	// override's) are remembered as desired for indexes 0..n-1, n at most
	// replicas; all of them once no old pod is left (and, for Recreate,
	// none still runs).
	workloads := workloadsOf(in.Desired)
	for owner, w := range workloads {
		if o, ok := in.Overrides[owner]; ok && o.GitHash == w.hash && o.Hash != w.hash {
			w.hash, w.template, w.override = o.Hash, &o.Template, &o
			workloads[owner] = w
		}
	}
	desired := map[string]DesiredPod{}
	var want []DesiredPod
	for _, d := range ExpandPods(in.Desired) {
		if d.Owner == "" {
			want = append(want, d)
		}
	}
	for _, owner := range sortedKeys(workloads) {
		if w := workloads[owner]; !held[owner] && w.sts == nil { // StatefulSets: checkStatefulSets
			want = expandWorkload(want, w)
		}
	}
	newCount := map[string]int{}
	for _, d := range want {
		rec, ok := out.Memory.Pods[d.Key()]
		if d.Owner != "" {
			if !ok {
				continue
			}
			if d.Index != newCount[d.Owner] {
				fail("%s: pod %s remembered but index %d is not", d.Owner, d.Key(), newCount[d.Owner])
			}
			newCount[d.Owner]++
		}
		desired[d.Key()] = d
		if !ok || rec.Hash != d.Hash || rec.Owner != d.Owner ||
			!maps.Equal(rec.Labels, d.Labels) || !maps.Equal(rec.Annotations, d.Annotations) {
			fail("desired pod %s not remembered as desired", d.Key())
		}
	}
	old, graceOld := map[string]int{}, map[string]int{}
	uids := map[string]string{}
	for key, rec := range out.Memory.Pods {
		if key != rec.Key() {
			fail("record %s keyed %s", rec.Key(), key)
		}
		if other, ok := uids[rec.UID]; ok {
			fail("uid %s used by %s and %s", rec.UID, other, key)
		}
		uids[rec.UID] = key
		if _, ok := desired[key]; ok || held[rec.Owner] || workloads[rec.Owner].sts != nil {
			continue
		}
		if strings.HasPrefix(rec.Owner, spec.KindDaemonSet+"/") {
			continue // a DaemonSet's pods are checked by checkDaemons
		}
		if strings.HasPrefix(rec.Owner, "Job/") {
			continue // checkJobs
		}
		w, ok := workloads[rec.Owner]
		if !ok || rec.Hash == w.hash {
			fail("remembered pod %s is neither desired nor an old revision", key)
		}
		if rec.Node == "" || !alive[rec.Node] && hasNode(in.Nodes, rec.Node) && !inGrace(in.Nodes, rec.Node) {
			fail("old revision pod %s kept while not running (node %q)", key, rec.Node)
		}
		old[rec.Owner]++
		if inGrace(in.Nodes, rec.Node) {
			// A node in Grace keeps its pods, whatever the scale.
			graceOld[rec.Owner]++
		}
	}
	for owner, n := range old {
		if n-graceOld[owner] > workloads[owner].replicas {
			fail("%s keeps %d old pods for %d replicas", owner, n, workloads[owner].replicas)
		}
	}
	for owner, w := range workloads {
		if held[owner] || w.template == nil || old[owner] > 0 || newCount[owner] == w.replicas || w.sts != nil {
			continue
		}
		if !w.recreate || !oldRunning(in, owner, w.hash) {
			fail("%s has %d new pods of %d and no old pod", owner, newCount[owner], w.replicas)
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
	// Every record has a view; every other view is a report from an
	// alive node that no record has, in no set.
	views := 0
	for _, v := range out.Pods {
		if !v.Terminating() {
			views++
			continue
		}
		if !alive[v.Node] || v.Status == nil || v.Status.UID != v.UID {
			fail("terminating view %s/%s (uid %s) on %q is no report of an alive node", v.Namespace, v.Name, v.UID, v.Node)
		}
		if rec, ok := out.Memory.Pods[v.Namespace+"/"+v.Name]; ok && rec.UID == v.UID {
			fail("terminating view %s/%s is remembered", v.Namespace, v.Name)
		}
		if inSet[v.Namespace+"/"+v.Name] == v.Node && out.Memory.Pods[v.Namespace+"/"+v.Name].UID == v.UID {
			fail("terminating pod %s/%s in a set", v.Namespace, v.Name)
		}
	}
	checkJobs(t, step, in, out)
	if views != len(out.Memory.Pods) {
		fail("%d views for %d records", views, len(out.Memory.Pods))
	}
	for node, sts := range in.Observed {
		for _, st := range sts {
			rec, ok := out.Memory.Pods[st.Namespace+"/"+st.Name]
			if alive[node] && (!ok || rec.UID != st.UID) && !slices.ContainsFunc(out.Pods, func(v PodView) bool { return v.UID == st.UID && v.Terminating() }) {
				fail("report %s/%s (uid %s) on %s is neither remembered nor terminating", st.Namespace, st.Name, st.UID, node)
			}
		}
	}
}

// oldRunning says whether a report of owner's pods of another revision
// than hash, not finished, is in the input (a Recreate waits for them).
func oldRunning(in Input, owner, hash string) bool {
	for _, sts := range in.Observed {
		for _, st := range sts {
			if st.Owner == owner && st.Hash != hash && st.Phase != api.PodSucceeded && st.Phase != api.PodFailed {
				return true
			}
		}
	}
	return false
}

// checkRollouts checks the rollout bounds of a plan: a plan that creates
// new pods of a rolling workload leaves at most replicas + maxSurge pods,
// one that drops an available old pod leaves at least replicas −
// maxUnavailable available, and a Recreate creates none while an old pod
// runs.
func checkRollouts(t *testing.T, step int, in Input, out Output) {
	t.Helper()
	if in.Desired == nil {
		return
	}
	views := map[string]*WorkloadView{}
	for i := range out.Workloads {
		w := &out.Workloads[i]
		views[spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}.String()] = w
	}
	created := map[string]bool{}
	droppedAvailable := map[string]bool{}
	for _, e := range out.Events {
		key := strings.TrimPrefix(e.Object, "Pod/")
		switch e.Reason {
		case EventCreated:
			if rec, ok := out.Memory.Pods[key]; ok && rec.Owner != "" {
				created[rec.Owner] = true
			}
		case EventDeleted:
			rec, ok := in.Memory.Pods[key]
			if !ok || !strings.Contains(e.Message, "superseded by revision") {
				continue
			}
			var st *api.PodStatus
			for _, sts := range in.Observed {
				for i := range sts {
					if sts[i].UID == rec.UID {
						st = &sts[i]
					}
				}
			}
			w := workloadsOf(in.Desired)[rec.Owner]
			if ready(st) && !readySince(st).Add(time.Duration(w.minReady)*time.Second).After(in.Now) {
				droppedAvailable[rec.Owner] = true
			}
		}
	}
	for owner, v := range views {
		if v.Progress == ProgressPaused {
			continue
		}
		pods := 0
		for _, rec := range out.Memory.Pods {
			if rec.Owner == owner {
				pods++
			}
		}
		switch {
		case v.Strategy == spec.RecreateDeploymentStrategyType:
			if created[owner] && oldRunning(in, owner, v.Revision) {
				t.Fatalf("step %d: %s created new pods while old ones run", step, owner)
			}
		case v.Kind == spec.KindDaemonSet:
			checkDaemonRollout(t, step, in, out, v)
		case v.Kind == spec.KindDeployment:
			if created[owner] && pods > int(v.Replicas+v.MaxSurge) {
				t.Fatalf("step %d: %s created pods up to %d, above %d replicas + %d surge", step, owner, pods, v.Replicas, v.MaxSurge)
			}
			if droppedAvailable[owner] && v.Available < v.Replicas-v.MaxUnavailable {
				t.Fatalf("step %d: %s dropped an available old pod leaving %d available of %d − %d", step, owner, v.Available, v.Replicas, v.MaxUnavailable)
			}
		}
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
	jc, jd := checkRecordDelta(t, step, "jobs", in.Memory.Jobs, out.Memory.Jobs, out.JobsChanged, out.JobsDeleted)
	cc, cd := checkRecordDelta(t, step, "cronjobs", in.Memory.CronJobs, out.Memory.CronJobs, out.CronJobsChanged, out.CronJobsDeleted)
	changed = append(changed, jc...)
	deleted = append(append(append(deleted, jd...), cc...), cd...)
	vols := len(out.VolumesChanged) > 0 || len(out.VolumesDeleted) > 0
	if want := len(changed) > 0 || len(deleted) > 0 || in.Memory.Pods == nil || vols; out.MemoryChanged != want {
		t.Fatalf("step %d: MemoryChanged %v with changed %q deleted %q", step, out.MemoryChanged, changed, deleted)
	}
}
