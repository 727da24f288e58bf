package reconcile

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// randomDaemonSet commits a random DaemonSet d0 or d1 (a node selector,
// tolerations, a strategy and bounds, minReadySeconds, an image), deletes
// it, or declares a Node object that labels, taints or cordons a node.
func randomDaemonSet(r *rand.Rand, next *spec.Set) {
	name := fmt.Sprintf("d%d", r.IntN(2))
	switch r.IntN(6) {
	case 0:
		delete(next.Objects, spec.ObjectKey{Kind: spec.KindDaemonSet, Namespace: "default", Name: name})
		return
	case 1:
		node := fmt.Sprintf("n%d", r.IntN(5))
		n := &spec.Node{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindNode}, ObjectMeta: spec.ObjectMeta{Name: node}}
		switch r.IntN(4) {
		case 0:
			delete(next.Objects, spec.KeyOf(n))
			return
		case 1:
			n.Labels = map[string]string{"zone": []string{"a", "b"}[r.IntN(2)]}
		case 2:
			n.Spec.Unschedulable = true
		default:
			n.Spec.Taints = []spec.Taint{{Key: "maint", Effect: []string{spec.TaintEffectNoSchedule, spec.TaintEffectNoExecute}[r.IntN(2)]}}
		}
		next.Objects[spec.KeyOf(n)] = n
		return
	}
	ds := daemonSetObj(name, fmt.Sprintf("img:%d", r.IntN(3)))
	ds.Spec.Template.Spec.Containers[0].Resources.Requests = nil
	if r.IntN(3) == 0 {
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
	}
	if r.IntN(3) == 0 {
		ds.Spec.Template.Spec.Tolerations = []spec.Toleration{{Key: "maint", Operator: spec.TolerationOpExists}}
	}
	switch r.IntN(5) {
	case 0:
		ds.Spec.UpdateStrategy = spec.DaemonSetUpdateStrategy{Type: spec.OnDeleteDaemonSetStrategyType}
	case 1:
		ds.Spec.UpdateStrategy.RollingUpdate = &spec.RollingUpdateDaemonSet{MaxSurge: ptr(spec.FromInt(int32(1 + r.IntN(2)))), MaxUnavailable: ptr(spec.FromInt(0))}
	case 2:
		ds.Spec.UpdateStrategy.RollingUpdate = &spec.RollingUpdateDaemonSet{MaxSurge: ptr(spec.FromString("50%")), MaxUnavailable: ptr(spec.FromInt(0))}
	case 3:
		ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(spec.FromString("50%"))
	}
	ds.Spec.MinReadySeconds = []int32{0, 0, 5, 30}[r.IntN(4)]
	next.Objects[spec.KeyOf(ds)] = ds
}

// randomNodeChange makes a node join, leave (die, sometimes into Grace)
// or be forgotten (n3 and n4 come and go), or changes an agent's labels
// or taints.
func randomNodeChange(r *rand.Rand, h *harness) {
	switch r.IntN(3) {
	case 0:
		name := fmt.Sprintf("n%d", 3+r.IntN(2))
		n := h.nodes[name]
		switch {
		case n == nil:
			h.nodes[name] = &NodeState{Info: api.NodeInfo{Name: name, Labels: map[string]string{"zone": "b"},
				Allocatable: api.Resources{MilliCPU: 2000, Memory: 8 << 30, Pods: 20}}, Alive: true}
		case n.Alive:
			h.node([]string{"kill", name})
			h.nodes[name].Grace = r.IntN(3) == 0
		case r.IntN(2) == 0:
			h.node([]string{"revive", name})
		default:
			h.node([]string{"forget", name})
		}
	case 1:
		n := h.nodes[fmt.Sprintf("n%d", r.IntN(5))]
		if n == nil {
			return
		}
		// A new map: the core keeps the old one in its state.
		labels := map[string]string{}
		if r.IntN(3) > 0 {
			labels["zone"] = []string{"a", "b"}[r.IntN(2)]
		}
		n.Info.Labels = labels
	default:
		n := h.nodes[fmt.Sprintf("n%d", r.IntN(5))]
		if n == nil {
			return
		}
		switch r.IntN(3) {
		case 0:
			n.Info.Taints = nil
		case 1:
			n.Info.Taints = []spec.Taint{{Key: "maint", Effect: spec.TaintEffectNoSchedule}}
		default:
			n.Info.Taints = []spec.Taint{{Key: "node.kubernetes.io/unreachable", Effect: spec.TaintEffectNoExecute}}
		}
	}
}

// checkDaemons checks a plan's DaemonSet pods: each is named for its
// revision and node and pinned to that node, at most one per node is of
// the current revision, none is on a dead node or on an alive node it
// must not run on, and every alive node it should run on has a pod of it,
// or an old one remembered or still stopping there.
func checkDaemons(t *testing.T, step int, in Input, out Output) {
	t.Helper()
	if in.Desired == nil {
		return
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d: %s", step, fmt.Sprintf(format, args...))
	}
	nodes := SchedulerNodes(in.Nodes, in.Desired)
	state := map[string]NodeState{}
	for _, n := range in.Nodes {
		state[n.Info.Name] = n
	}
	for k, o := range in.Desired.Objects {
		ds, ok := o.(*spec.DaemonSet)
		if !ok {
			continue
		}
		owner := k.String()
		hash := spec.TemplateHash(&ds.Spec.Template)
		tols := daemonPodTolerations(&ds.Spec.Template.Spec)
		current := map[string]int{}
		placed := map[string]int{}
		for key, rec := range out.Memory.Pods {
			if rec.Owner != owner {
				continue
			}
			if n, known := state[rec.Node]; rec.Node != "" && known && !n.Alive && !n.Grace {
				fail("%s kept on dead node %s", key, rec.Node)
			}
			if rec.Node != "" {
				placed[rec.Node]++
			}
			if rec.Hash != hash {
				continue
			}
			a := rec.Spec.Affinity
			if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
				fail("%s is not pinned", key)
			}
			terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			if len(terms) != 1 || len(terms[0].MatchFields) != 1 || len(terms[0].MatchFields[0].Values) != 1 {
				fail("%s is pinned by %+v", key, terms)
			}
			pin := terms[0].MatchFields[0].Values[0]
			if rec.Name != daemonPodName(ds.Name, hash, pin) || rec.Node != "" && rec.Node != pin {
				fail("%s on %q is not named for and pinned to its node %s", key, rec.Node, pin)
			}
			if current[pin]++; current[pin] > 1 {
				fail("%s has two pods of its revision for node %s", owner, pin)
			}
		}
		for i := range nodes {
			n := &nodes[i]
			run, keep := daemonFits(&ds.Spec.Template.Spec, tols, n)
			if current[n.Name] > 0 && !run && !keep {
				fail("%s runs on %s, which it must not", owner, n.Name)
			}
			if run && current[n.Name] == 0 && placed[n.Name] == 0 && !oldRunningOn(in, owner, hash, n.Name) {
				fail("%s has no pod on eligible node %s", owner, n.Name)
			}
		}
	}
}

// oldRunningOn is oldRunning for the reports of one node.
func oldRunningOn(in Input, owner, hash, node string) bool {
	return slices.ContainsFunc(in.Observed[node], func(st api.PodStatus) bool {
		return st.Owner == owner && st.Hash != hash && !finished(&st)
	})
}

// inGrace says whether node is in Grace (it keeps its pods).
func inGrace(nodes []NodeState, name string) bool {
	return slices.ContainsFunc(nodes, func(n NodeState) bool { return n.Info.Name == name && !n.Alive && n.Grace })
}

// checkDaemonRollout checks the bound of a DaemonSet's rolling update
// without surge: a plan that drops an available old pod and leaves its
// node without a pod of the DaemonSet leaves at least nodes −
// maxUnavailable nodes with an available pod. (Dropping the old pod of a
// node whose new pod is available leaves that node available.)
func checkDaemonRollout(t *testing.T, step int, in Input, out Output, v *WorkloadView) {
	t.Helper()
	if v.Strategy != spec.RollingUpdateDaemonSetStrategyType || v.MaxSurge != 0 {
		return
	}
	owner := spec.ObjectKey{Kind: v.Kind, Namespace: v.Namespace, Name: v.Name}.String()
	minReady := workloadsOf(in.Desired)[owner].minReady
	status := map[string]*api.PodStatus{}
	for _, sts := range in.Observed {
		for i := range sts {
			status[sts[i].UID] = &sts[i]
		}
	}
	p := &planner{in: in}
	left := map[string]bool{}
	availNodes := map[string]bool{}
	for _, rec := range out.Memory.Pods {
		if rec.Owner == owner && rec.Node != "" {
			left[rec.Node] = true
			if p.available(status[rec.UID], minReady) {
				availNodes[rec.Node] = true
			}
		}
	}
	for _, e := range out.Events {
		rec, ok := in.Memory.Pods[strings.TrimPrefix(e.Object, "Pod/")]
		if e.Reason != EventDeleted || !ok || rec.Owner != owner || !strings.Contains(e.Message, "superseded by revision") ||
			left[rec.Node] || !p.available(status[rec.UID], minReady) {
			continue
		}
		if n := int32(len(availNodes)); n < v.Replicas-v.MaxUnavailable {
			t.Fatalf("step %d: %s dropped available pod %s leaving %d nodes available of %d − %d", step, owner, rec.Key(), n, v.Replicas, v.MaxUnavailable)
		}
	}
}
