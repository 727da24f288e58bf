package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// genCluster makes a random cluster and a random workload that exercises
// every built-in plugin. Spread groups' labels are unique to the group, so
// the final skew must stay within maxSkew.
func genCluster(r *rand.Rand, nNodes, nPods int) ([]Node, []Pod) {
	zones := []string{"z1", "z2", "z3"}
	var nodes []Node
	for i := range nNodes {
		labels := map[string]string{"rack": "r" + strconv.Itoa(r.IntN(5)), "gen": strconv.Itoa(r.IntN(10))}
		if r.IntN(8) != 0 {
			labels["zone"] = zones[r.IntN(len(zones))]
		}
		if r.IntN(3) == 0 {
			labels["disk"] = "ssd"
		}
		n := mkNode(nodeName(i), int64(500+r.IntN(4000)), int64(256+r.IntN(8192)), labels)
		n.Allocatable.Pods = int64(1 + r.IntN(20))
		if r.IntN(2) == 0 {
			n.Allocatable.EphemeralStorage = int64(1+r.IntN(20)) << 30
		}
		if r.IntN(4) == 0 {
			n.Allocatable.Extended = map[string]int64{"example.com/gpu": int64(r.IntN(3)), "hugepages-2Mi": int64(r.IntN(4)) << 21}
		}
		switch r.IntN(10) {
		case 0:
			n.Unschedulable = true
		case 1:
			n.Taints = []spec.Taint{{Key: "dedicated", Value: "db", Effect: spec.TaintEffectNoSchedule}}
		case 2:
			n.Taints = []spec.Taint{{Key: "old", Effect: spec.TaintEffectPreferNoSchedule}}
		}
		nodes = append(nodes, n)
	}
	var pods []Pod
	for len(pods) < nPods {
		group := "g" + strconv.Itoa(len(pods))
		labels := map[string]string{"app": group}
		sp := mkSpec(int64(r.IntN(1500)), int64(r.IntN(2048)))
		if r.IntN(4) == 0 {
			sp.Containers[0].Resources.Requests[spec.ResourceEphemeralStorage] = qty(strconv.Itoa(1+r.IntN(4)) + "Gi")
		}
		switch r.IntN(12) {
		case 0:
			sp.NodeSelector = map[string]string{"disk": "ssd"}
		case 1:
			ops := []string{"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
			op := ops[r.IntN(len(ops))]
			req := spec.NodeSelectorRequirement{Key: "zone", Operator: op, Values: []string{"z1", "z2"}}
			if op == "Gt" || op == "Lt" {
				req = spec.NodeSelectorRequirement{Key: "gen", Operator: op, Values: []string{strconv.Itoa(r.IntN(10))}}
			} else if op == "Exists" || op == "DoesNotExist" {
				req.Values = nil
			}
			sp.Affinity = &spec.Affinity{NodeAffinity: &spec.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &spec.NodeSelector{
				NodeSelectorTerms: []spec.NodeSelectorTerm{{MatchExpressions: []spec.NodeSelectorRequirement{req}}}}}}
		case 2:
			sp.Tolerations = []spec.Toleration{{Key: "dedicated", Operator: "Exists"}}
		case 3:
			sp.Containers[0].Ports = []spec.ContainerPort{{ContainerPort: 80, HostPort: int32(8000 + r.IntN(3))}}
		case 4:
			sp = antiSpec(group, []string{"kubernetes.io/hostname", "zone", "rack"}[r.IntN(3)])
		case 5:
			sp.Affinity = &spec.Affinity{PodAffinity: &spec.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []spec.PodAffinityTerm{
				{LabelSelector: &spec.LabelSelector{MatchLabels: map[string]string{"app": group}}, TopologyKey: "rack"}}}}
		case 6, 7:
			key := []string{"kubernetes.io/hostname", "zone", "rack"}[r.IntN(3)]
			sp.TopologySpreadConstraints = []spec.TopologySpreadConstraint{{MaxSkew: int32(1 + r.IntN(2)), TopologyKey: key,
				WhenUnsatisfiable: []string{spec.DoNotSchedule, spec.ScheduleAnyway}[r.IntN(2)],
				LabelSelector:     &spec.LabelSelector{MatchLabels: map[string]string{"app": group}}}}
			if r.IntN(2) == 0 {
				sp.NodeSelector = map[string]string{"disk": "ssd"}
			}
		case 8:
			sp.SchedulerName = "bin-packing"
		case 9:
			l := spec.ResourceList{"example.com/gpu": qty("1")}
			if r.IntN(2) == 0 {
				l = spec.ResourceList{"hugepages-2Mi": qty("2Mi"), spec.ResourceMemory: qty("1Mi")}
			}
			sp.Containers[0].Resources.Limits = l
		case 10:
			// Two terms: only pods matching both count (Kubernetes'
			// InterPodAffinity), and the first of the group goes anywhere.
			labels = map[string]string{"app": group, "tier": "t" + strconv.Itoa(r.IntN(2))}
			sp.Affinity = &spec.Affinity{PodAffinity: &spec.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []spec.PodAffinityTerm{
				{LabelSelector: &spec.LabelSelector{MatchLabels: map[string]string{"app": group}}, TopologyKey: "rack"},
				{LabelSelector: &spec.LabelSelector{MatchLabels: map[string]string{"tier": "t0"}}, TopologyKey: "zone"}}}}
		}
		for range 1 + r.IntN(8) {
			if len(pods) == nPods {
				break
			}
			pods = append(pods, Pod{Namespace: "default", Name: group + "-" + strconv.Itoa(len(pods)), Labels: labels, Spec: sp})
		}
	}
	return nodes, pods
}

// checkInvariants verifies every hard constraint from scratch, without the
// scheduler's indexes, over the final state (placed + newly placed pods).
func checkInvariants(t testing.TB, nodes []Node, placed, pending []Pod, res []Result) {
	t.Helper()
	byName := map[string]*Node{}
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	all := slices.Clone(placed)
	for i, r := range res {
		if r.Node == "" {
			if r.Reason == "" {
				t.Fatalf("pod %s pending with no reason", pending[i].Name)
			}
			continue
		}
		n := byName[r.Node]
		if n == nil {
			t.Fatalf("pod %s placed on unknown node %q", pending[i].Name, r.Node)
		}
		p := pending[i]
		p.Node = r.Node
		ps := p.Spec
		if n.Unschedulable && !spec.Tolerates(ps.Tolerations, &spec.Taint{Key: unschedulableTaintKey, Effect: spec.TaintEffectNoSchedule}) {
			t.Fatalf("pod %s on cordoned node %s", p.Name, n.Name)
		}
		for _, tn := range n.Taints {
			if tn.Effect == spec.TaintEffectNoSchedule && !spec.Tolerates(ps.Tolerations, &tn) {
				t.Fatalf("pod %s on node %s with untolerated taint", p.Name, n.Name)
			}
		}
		var req *spec.NodeSelector
		if ps.Affinity != nil && ps.Affinity.NodeAffinity != nil {
			req = ps.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		}
		if !matchNodeSelection(n, ps.NodeSelector, req) {
			t.Fatalf("pod %s on node %s against its node selection", p.Name, n.Name)
		}
		all = append(all, p)
	}
	used := map[string]Resources{}
	ports := map[string]bool{}
	for _, p := range all {
		u := used[p.Node]
		u.add(PodRequests(p.Spec))
		used[p.Node] = u
		for _, c := range p.Spec.Containers {
			for _, hp := range c.Ports {
				if hp.HostPort == 0 {
					continue
				}
				k := p.Node + "/" + strconv.Itoa(int(hp.HostPort)) + hp.Protocol
				if ports[k] {
					t.Fatalf("host port %s taken twice", k)
				}
				ports[k] = true
			}
		}
	}
	for name, u := range used {
		a := byName[name].Allocatable
		if (a.MilliCPU > 0 && u.MilliCPU > a.MilliCPU) || (a.Memory > 0 && u.Memory > a.Memory) ||
			(a.EphemeralStorage > 0 && u.EphemeralStorage > a.EphemeralStorage) || (a.Pods > 0 && u.Pods > a.Pods) {
			t.Fatalf("node %s over-committed: used %+v allocatable %+v", name, u, a)
		}
		for ext, q := range u.Extended {
			if q > a.Extended[ext] {
				t.Fatalf("node %s over-committed on %s: used %d allocatable %d", name, ext, q, a.Extended[ext])
			}
		}
	}
	dom := func(p Pod, key string) (string, bool) { v, ok := byName[p.Node].Labels[key]; return v, ok }
	for i, p := range all {
		a := p.Spec.Affinity
		if a != nil && a.PodAntiAffinity != nil {
			for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
				sel := compileSelector(term.LabelSelector)
				d, ok := dom(p, term.TopologyKey)
				for j, q := range all {
					if j == i || !ok || q.Namespace != p.Namespace || !sel.matches(q.Labels) {
						continue
					}
					if dq, ok := dom(q, term.TopologyKey); ok && dq == d {
						t.Fatalf("anti-affinity broken: %s and %s share %s=%s", p.Name, q.Name, term.TopologyKey, d)
					}
				}
			}
		}
		if a != nil && a.PodAffinity != nil {
			// Every term needs, in its domain, a pod matching all the
			// terms (the pod itself when it was the first of its group).
			terms := a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			matchesAll := func(q Pod) bool {
				for _, term := range terms {
					if q.Namespace != p.Namespace || !compileSelector(term.LabelSelector).matches(q.Labels) {
						return false
					}
				}
				return true
			}
			for _, term := range terms {
				d, ok := dom(p, term.TopologyKey)
				found := false
				for _, q := range all {
					if dq, okq := dom(q, term.TopologyKey); ok && okq && dq == d && matchesAll(q) {
						found = true
					}
				}
				if !found {
					t.Fatalf("affinity broken for %s", p.Name)
				}
			}
		}
	}
	// Hard spread: per group, over the domains of nodes the group may use.
	checked := map[*spec.PodSpec]bool{}
	for _, p := range all {
		ps := p.Spec
		if len(ps.TopologySpreadConstraints) == 0 || checked[ps] {
			continue
		}
		checked[ps] = true
		tsc := ps.TopologySpreadConstraints[0]
		if tsc.WhenUnsatisfiable != spec.DoNotSchedule {
			continue
		}
		counts := map[string]int{}
		for _, n := range nodes {
			if v, ok := n.Labels[tsc.TopologyKey]; ok && matchNodeSelection(&n, ps.NodeSelector, nil) {
				counts[v] += 0
			}
		}
		for _, q := range all {
			if q.Spec == ps {
				v, ok := dom(q, tsc.TopologyKey)
				if !ok {
					t.Fatalf("spread pod %s on node without %s", q.Name, tsc.TopologyKey)
				}
				counts[v]++
			}
		}
		lo, hi := 1<<30, 0
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > int(tsc.MaxSkew) {
			t.Fatalf("spread skew %d > %d over %s: %v", hi-lo, tsc.MaxSkew, tsc.TopologyKey, counts)
		}
	}
}

// runProperties schedules a random workload in two rounds (the second
// with the first's placements as placed pods) and checks invariants,
// determinism, independence from node order, and stability.
func runProperties(t testing.TB, seed uint64, nNodes, nPods int, pct int) {
	if seed%2 == 1 {
		defer func(v int) { sparseDomains = v }(sparseDomains)
		sparseDomains = 0
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	nodes, pods := genCluster(r, nNodes, nPods)
	profs := []Profile{DefaultProfile(), BinPackingProfile()}
	for i := range profs {
		profs[i].PercentageOfNodesToScore = pct
	}
	s := newSched(t, Config{Profiles: profs})
	half := len(pods) / 2
	res1 := s.Schedule(nodes, nil, pods[:half])
	checkInvariants(t, nodes, nil, pods[:half], res1)
	var placed []Pod
	for i, rr := range res1 {
		if rr.Node != "" {
			p := pods[i]
			p.Node = rr.Node
			placed = append(placed, p)
		}
	}
	res2 := s.Schedule(nodes, placed, pods[half:])
	checkInvariants(t, nodes, placed, pods[half:], res2)

	again := s.Schedule(nodes, placed, pods[half:])
	if !reflect.DeepEqual(res2, again) {
		t.Fatalf("same input, different output")
	}
	shuffled := slices.Clone(nodes)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := s.Schedule(shuffled, placed, pods[half:]); !reflect.DeepEqual(res2, got) {
		t.Fatalf("node order changed the output")
	}
}

func TestProperties(t *testing.T) {
	for seed := range uint64(60) {
		for _, pct := range []int{0, 100, 7} {
			t.Run(fmt.Sprintf("seed%d/pct%d", seed, pct), func(t *testing.T) {
				nNodes := 1 + int(seed*7%150)
				runProperties(t, seed, nNodes, 20+int(seed*13%400), pct)
			})
		}
	}
}

func FuzzSchedule(f *testing.F) {
	f.Add(uint64(1), uint8(10), uint16(50), uint8(0))
	f.Add(uint64(2), uint8(200), uint16(900), uint8(100))
	f.Add(uint64(3), uint8(1), uint16(5), uint8(50))
	f.Fuzz(func(t *testing.T, seed uint64, nNodes uint8, nPods uint16, pct uint8) {
		runProperties(t, seed, int(nNodes), int(nPods%1000), int(pct)%101)
	})
}
