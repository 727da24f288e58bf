package scheduler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// The tables here follow, in spirit, the cases of Kubernetes' own scheduler
// plugin tests (noderesources/fit_test.go, interpodaffinity/filtering_test.go,
// nodeports/node_ports_test.go): the same situations, written against
// Stevedore's types, expecting the same outcome and the same reason.

// verdicts runs Explain and returns, per node in name order, "" for a node
// the pod fits or the node's reasons joined.
func verdicts(t *testing.T, nodes []Node, placed []Pod, pod Pod) map[string]string {
	t.Helper()
	vs, err := newSched(t, Config{}).Explain(nodes, placed, pod)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range vs {
		out[v.Node] = strings.Join(v.Reasons, "; ")
	}
	return out
}

func ext(pairs ...any) map[string]int64 {
	m := map[string]int64{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i].(string)] = int64(pairs[i+1].(int))
	}
	return m
}

// extSpec is a pod with one container per entry of each, each asking for
// the given extended resources (requests equal to limits, as validation
// requires).
func extSpec(each ...map[string]string) *spec.PodSpec {
	ps := &spec.PodSpec{}
	for i, rs := range each {
		l := spec.ResourceList{spec.ResourceCPU: qty("100m")}
		for name, q := range rs {
			l[name] = qty(q)
		}
		ps.Containers = append(ps.Containers, spec.Container{Name: fmt.Sprint("c", i), Image: "i",
			Resources: spec.Resources{Requests: l, Limits: l}})
	}
	return ps
}

func TestExtendedResourcesFit(t *testing.T) {
	const a, b = "example.com/aaa", "example.com/bbb"
	const k8sIO = "kubernetes.io/something"
	const huge = "hugepages-2Mi"
	node := func(e map[string]int64) Node {
		n := mkNode("n", 10000, 20480, nil)
		n.Allocatable.Extended = e
		return n
	}
	used := func(rs map[string]string) []Pod {
		return []Pod{{Namespace: "default", Name: "old", Spec: extSpec(rs), Node: "n"}}
	}
	cases := []struct {
		name   string
		node   Node
		placed []Pod
		pod    *spec.PodSpec
		want   string
	}{
		{"extended resource fits", node(ext(a, 5)), nil, extSpec(map[string]string{a: "1"}), ""},
		{"extended resource fits with one in use", node(ext(a, 5)), used(map[string]string{a: "3"}), extSpec(map[string]string{a: "2"}), ""},
		{"extended resource capacity enforced", node(ext(a, 5)), nil, extSpec(map[string]string{a: "10"}), "Insufficient " + a},
		{"extended resource allocatable enforced with pods in use", node(ext(a, 5)), used(map[string]string{a: "2"}), extSpec(map[string]string{a: "4"}), "Insufficient " + a},
		{"extended resource enforced over several containers", node(ext(a, 5)), nil,
			extSpec(map[string]string{a: "3"}, map[string]string{a: "3"}), "Insufficient " + a},
		{"extended resource fits over several containers", node(ext(a, 5)), used(map[string]string{a: "1"}),
			extSpec(map[string]string{a: "2"}, map[string]string{a: "2"}), ""},
		{"unknown extended resource: the node has none", node(ext(a, 5)), nil, extSpec(map[string]string{b: "1"}), "Insufficient " + b},
		{"no extended resources advertised: a GPU pod fits nowhere", node(nil), nil, extSpec(map[string]string{"nvidia.com/gpu": "1"}), "Insufficient nvidia.com/gpu"},
		{"zero request of an unknown resource needs nothing", node(nil), nil, extSpec(map[string]string{b: "0"}), ""},
		{"kubernetes.io prefixed resource enforced", node(ext(k8sIO, 1)), nil, extSpec(map[string]string{k8sIO: "2"}), "Insufficient " + k8sIO},
		{"hugepages fit", node(ext(huge, 64<<20)), nil, extSpec(map[string]string{huge: "32Mi"}), ""},
		{"hugepages capacity enforced", node(ext(huge, 64<<20)), used(map[string]string{huge: "40Mi"}), extSpec(map[string]string{huge: "32Mi"}), "Insufficient " + huge},
		{"hugepages enforced over several containers", node(ext(huge, 64<<20)), nil,
			extSpec(map[string]string{huge: "40Mi"}, map[string]string{huge: "40Mi"}), "Insufficient " + huge},
		{"hugepages of another size are another resource", node(ext("hugepages-1Gi", 1<<30)), nil, extSpec(map[string]string{huge: "2Mi"}), "Insufficient " + huge},
		{"several short: sorted reasons", node(ext(a, 1)), nil, extSpec(map[string]string{a: "2", b: "1"}), "Insufficient " + a + "; Insufficient " + b},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := verdicts(t, []Node{tc.node}, tc.placed, mkPod("p", tc.pod, nil))["n"]
			if got != tc.want {
				t.Fatalf("verdict %q, want %q", got, tc.want)
			}
		})
	}
}

// TestGPUPodLandsOnGPUNode is the bug as a user met it: a pod asking for a
// GPU went to the emptiest node, which had none.
func TestGPUPodLandsOnGPUNode(t *testing.T) {
	s := newSched(t, Config{})
	gpu := mkNode("gpu", 4000, 8192, nil)
	gpu.Allocatable.Extended = ext("nvidia.com/gpu", 2)
	big := mkNode("big", 64000, 262144, nil)
	sp := extSpec(map[string]string{"nvidia.com/gpu": "1"})
	got := s.Schedule([]Node{big, gpu}, nil, []Pod{mkPod("p1", sp, nil), mkPod("p2", sp, nil), mkPod("p3", sp, nil)})
	want(t, got, "gpu", "gpu", "<0/2 nodes are available: 2 Insufficient nvidia.com/gpu.>")

	// A State frees the GPU when its pod goes.
	st := s.NewState([]Node{big, gpu}, []Pod{{Namespace: "default", Name: "a", Spec: sp, Node: "gpu"}, {Namespace: "default", Name: "b", Spec: sp, Node: "gpu"}})
	want(t, st.Schedule([]Pod{mkPod("c", sp, nil)}), "<0/2 nodes are available: 2 Insufficient nvidia.com/gpu.>")
	st.Remove("default", "a")
	want(t, st.Schedule([]Pod{mkPod("d", sp, nil)}), "gpu")
}

func TestPodRequestsExtended(t *testing.T) {
	ps := extSpec(map[string]string{"example.com/foo": "2", "hugepages-2Mi": "4Mi"}, map[string]string{"example.com/foo": "1"})
	// A limit alone is the request, as for cpu.
	ps.Containers = append(ps.Containers, spec.Container{Name: "lim", Resources: spec.Resources{Limits: spec.ResourceList{"example.com/foo": qty("4")}}})
	r := PodRequests(ps)
	if r.Extended["example.com/foo"] != 7 || r.Extended["hugepages-2Mi"] != 4<<20 || len(r.Extended) != 2 {
		t.Fatalf("Extended = %v", r.Extended)
	}
	if r := PodRequests(mkSpec(100, 100)); r.Extended != nil {
		t.Fatalf("a pod without extended resources allocated %v", r.Extended)
	}
}

type affPod struct {
	node   string
	ns     string
	labels map[string]string
	aff    []spec.PodAffinityTerm
	anti   []spec.PodAffinityTerm
}

func (a affPod) pod(name string) Pod {
	ns := a.ns
	if ns == "" {
		ns = "default"
	}
	ps := mkSpec(10, 10)
	if len(a.aff)+len(a.anti) > 0 {
		ps.Affinity = &spec.Affinity{}
		if len(a.aff) > 0 {
			ps.Affinity.PodAffinity = &spec.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a.aff}
		}
		if len(a.anti) > 0 {
			ps.Affinity.PodAntiAffinity = &spec.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a.anti}
		}
	}
	return Pod{Namespace: ns, Name: name, Labels: a.labels, Spec: ps, Node: a.node}
}

func term(key, op, topo string, values ...string) spec.PodAffinityTerm {
	return spec.PodAffinityTerm{TopologyKey: topo, LabelSelector: &spec.LabelSelector{
		MatchExpressions: []spec.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}}
}

func exprTerm(topo string, exprs ...spec.LabelSelectorRequirement) spec.PodAffinityTerm {
	return spec.PodAffinityTerm{TopologyKey: topo, LabelSelector: &spec.LabelSelector{MatchExpressions: exprs}}
}

func TestInterPodAffinityKubernetesCases(t *testing.T) {
	const (
		aff      = reasonAffinity
		anti     = reasonAntiAffinity
		existing = reasonExistingAnti
	)
	lbl := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	region1 := lbl("region", "r1", "zone", "z11", "node", "node1")
	scan := lbl("service", "securityscan")
	scan2 := lbl("security", "S1")
	in, notIn, exists := spec.LabelSelectorOpIn, spec.LabelSelectorOpNotIn, spec.LabelSelectorOpExists
	cases := []struct {
		name  string
		nodes map[string]map[string]string
		pods  []affPod
		pod   affPod
		want  map[string]string // node -> reason ("" fits)
	}{
		// Single node (TestRequiredAffinitySingleNode).
		{"In matches the existing pod", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan}},
			affPod{labels: scan2, aff: []spec.PodAffinityTerm{term("service", in, "region", "securityscan", "value2")}},
			map[string]string{"node1": ""}},
		{"NotIn matches the existing pod", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan}},
			affPod{labels: scan2, aff: []spec.PodAffinityTerm{term("service", notIn, "region", "securityscan3", "value3")}},
			map[string]string{"node1": ""}},
		{"another namespace does not satisfy", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", ns: "ns", labels: scan}},
			affPod{labels: scan2, aff: []spec.PodAffinityTerm{func() spec.PodAffinityTerm {
				t := term("service", in, "region", "securityscan", "value2")
				t.Namespaces = []string{"diff-namespace"}
				return t
			}()}},
			map[string]string{"node1": aff}},
		{"unmatching selector", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan}},
			affPod{labels: scan, aff: []spec.PodAffinityTerm{term("service", in, "region", "antivirusscan", "value2")}},
			map[string]string{"node1": aff}},
		{"several terms all matched by the existing pod", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan}},
			affPod{labels: scan2, aff: []spec.PodAffinityTerm{
				exprTerm("region", spec.LabelSelectorRequirement{Key: "service", Operator: exists}, spec.LabelSelectorRequirement{Key: "wrongkey", Operator: spec.LabelSelectorOpDoesNotExist}),
				exprTerm("region", spec.LabelSelectorRequirement{Key: "service", Operator: in, Values: []string{"securityscan"}}, spec.LabelSelectorRequirement{Key: "service", Operator: notIn, Values: []string{"WrongValue"}}),
			}},
			map[string]string{"node1": ""}},
		{"one of several terms unmatched", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan}},
			affPod{labels: scan2, aff: []spec.PodAffinityTerm{
				exprTerm("region", spec.LabelSelectorRequirement{Key: "service", Operator: exists}, spec.LabelSelectorRequirement{Key: "wrongkey", Operator: spec.LabelSelectorOpDoesNotExist}),
				exprTerm("region", spec.LabelSelectorRequirement{Key: "service", Operator: in, Values: []string{"securityscan2"}}, spec.LabelSelectorRequirement{Key: "service", Operator: notIn, Values: []string{"WrongValue"}}),
			}},
			map[string]string{"node1": aff}},
		{"affinity met, own anti-affinity broken", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan}},
			affPod{labels: scan2, aff: []spec.PodAffinityTerm{term("service", in, "region", "securityscan", "value2")},
				anti: []spec.PodAffinityTerm{term("service", in, "zone", "securityscan", "value2")}},
			map[string]string{"node1": anti}},
		{"affinity and anti-affinity met, existing pod's anti-affinity broken", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: scan, anti: []spec.PodAffinityTerm{term("service", in, "zone", "securityscan", "value2")}}},
			affPod{labels: scan, aff: []spec.PodAffinityTerm{term("service", in, "region", "securityscan", "value2")},
				anti: []spec.PodAffinityTerm{term("service", in, "node", "antivirusscan", "value2")}},
			map[string]string{"node1": existing}},
		{"own anti-affinity is reported before an existing pod's", map[string]map[string]string{"node1": region1},
			[]affPod{{node: "node1", labels: lbl("security", "S1"), anti: []spec.PodAffinityTerm{term("security", exists, "zone")}}},
			affPod{labels: lbl("service", "securityscan", "security", "S1"), anti: []spec.PodAffinityTerm{term("service", exists, "region"), term("security", exists, "region")}},
			map[string]string{"node1": anti}},
		// Several nodes (TestRequiredAffinityMultipleNodes).
		{"every node of the matching pod's domain", map[string]map[string]string{
			"node1": lbl("region", "China"), "node2": lbl("region", "China", "az", "az1"), "node3": lbl("region", "India")},
			[]affPod{{node: "node1", labels: lbl("foo", "bar")}},
			affPod{aff: []spec.PodAffinityTerm{term("foo", in, "region", "bar")}},
			map[string]string{"node1": "", "node2": "", "node3": aff}},
		{"first pod of a group matching its own terms goes anywhere", map[string]map[string]string{
			"nodeA": lbl("zone", "az1"), "nodeB": lbl("zone", "az2")},
			// p1 matches the first term only: it is no pod "matching all
			// terms", so the group is still empty.
			[]affPod{{node: "nodeA", labels: lbl("foo", "bar")}},
			affPod{labels: lbl("foo", "bar", "service", "securityscan"), aff: []spec.PodAffinityTerm{
				term("foo", in, "zone", "bar"), term("service", in, "zone", "securityscan")}},
			map[string]string{"nodeA": "", "nodeB": ""}},
		{"first pod of a group needs the topology keys", map[string]map[string]string{
			"nodeA": lbl("zoneLabel", "az1"), "nodeB": lbl("zoneLabel", "az2")},
			[]affPod{{node: "nodeA", labels: lbl("foo", "bar")}},
			affPod{labels: lbl("foo", "bar", "service", "securityscan"), aff: []spec.PodAffinityTerm{
				term("foo", in, "zone", "bar"), term("service", in, "zone", "securityscan")}},
			map[string]string{"nodeA": aff, "nodeB": aff}},
		{"two pods each matching one term are not a pod matching both", map[string]map[string]string{
			"nodeA": lbl("zone", "az1"), "nodeB": lbl("zone", "az2")},
			[]affPod{{node: "nodeA", labels: lbl("foo", "bar")}, {node: "nodeA", labels: lbl("service", "securityscan")},
				{node: "nodeB", labels: lbl("foo", "bar", "service", "securityscan")}},
			affPod{aff: []spec.PodAffinityTerm{term("foo", in, "zone", "bar"), term("service", in, "zone", "securityscan")}},
			map[string]string{"nodeA": aff, "nodeB": ""}},
		{"a pod matching all terms counts in each term's own domain", map[string]map[string]string{
			"n1": lbl("zone", "z1", "region", "r1"), "n2": lbl("zone", "z2", "region", "r1"), "n3": lbl("zone", "z1", "region", "r2")},
			[]affPod{{node: "n1", labels: lbl("app", "db", "tier", "data")}},
			affPod{aff: []spec.PodAffinityTerm{term("app", in, "zone", "db"), term("tier", in, "region", "data")}},
			map[string]string{"n1": "", "n2": aff, "n3": aff}},
		{"anti-affinity: any term matching repels", map[string]map[string]string{
			"nodeA": lbl("region", "r1", "zone", "z1"), "nodeB": lbl("region", "r1", "zone", "z2")},
			[]affPod{{node: "nodeA", labels: lbl("foo", "abc", "service", "securityscan")}},
			affPod{anti: []spec.PodAffinityTerm{term("foo", in, "region", "abc"), term("service", in, "zone", "securityscan")}},
			map[string]string{"nodeA": anti, "nodeB": anti}},
		{"anti-affinity in another namespace does not repel", map[string]map[string]string{
			"nodeA": lbl("region", "China"), "nodeB": lbl("region", "China", "az", "az1"), "nodeC": lbl("region", "India")},
			[]affPod{{node: "nodeA", ns: "ns1", labels: lbl("foo", "bar")},
				{node: "nodeC", ns: "ns2", anti: []spec.PodAffinityTerm{term("foo", in, "region", "123")}}},
			affPod{ns: "ns1", labels: lbl("foo", "123"), anti: []spec.PodAffinityTerm{term("foo", in, "region", "bar")}},
			map[string]string{"nodeA": anti, "nodeB": anti, "nodeC": ""}},
		{"existing anti-affinity with a key the node lacks", map[string]map[string]string{
			"nodeA": lbl("region", "r1", "zone", "z1"), "nodeB": lbl("region", "r1", "zone", "z2")},
			[]affPod{{node: "nodeA", anti: []spec.PodAffinityTerm{term("foo", exists, "invalid-node-label"), term("bar", exists, "zone")}}},
			affPod{labels: lbl("foo", "", "bar", "")},
			map[string]string{"nodeA": existing, "nodeB": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []Node
			for name, l := range tc.nodes {
				nodes = append(nodes, Node{Name: name, Labels: l})
			}
			var placed []Pod
			for i, p := range tc.pods {
				placed = append(placed, p.pod(fmt.Sprint("old", i)))
			}
			got := verdicts(t, nodes, placed, tc.pod.pod("new"))
			for n, w := range tc.want {
				if got[n] != w {
					t.Errorf("node %s: verdict %q, want %q", n, got[n], w)
				}
			}
		})
	}
}

// TestFirstPodOfGroupThenTheRest places a group with affinity to itself
// through Schedule: the first goes anywhere, the rest follow it.
func TestFirstPodOfGroupThenTheRest(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 4000, 8192, map[string]string{"zone": "z1"}), mkNode("b", 4000, 8192, map[string]string{"zone": "z2"})}
	l := map[string]string{"app": "web", "tier": "front"}
	sp := mkSpec(100, 100)
	sp.Affinity = &spec.Affinity{PodAffinity: &spec.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []spec.PodAffinityTerm{
		term("app", spec.LabelSelectorOpIn, "zone", "web"), term("tier", spec.LabelSelectorOpIn, "zone", "front")}}}
	// Before the fix, a pod matching only one term (here "other") made
	// the group non-empty and the first pod Pending forever.
	placed := []Pod{{Namespace: "default", Name: "other", Labels: map[string]string{"app": "web"}, Spec: mkSpec(1, 1), Node: "b"}}
	got := s.Schedule(nodes, placed, []Pod{mkPod("p1", sp, l), mkPod("p2", sp, l), mkPod("p3", sp, l)})
	want(t, got, "a", "a", "a")
}

func TestHostPortWildcards(t *testing.T) {
	// As Kubernetes' HostPortInfo.CheckConflict: "" and 0.0.0.0 bind every
	// address; any other address, "::" included, is one address.
	cases := []struct {
		existing, incoming spec.ContainerPort
		conflict           bool
	}{
		{spec.ContainerPort{HostPort: 8080, HostIP: "::"}, spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1"}, false},
		{spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1"}, spec.ContainerPort{HostPort: 8080, HostIP: "::"}, false},
		{spec.ContainerPort{HostPort: 8080, HostIP: "::"}, spec.ContainerPort{HostPort: 8080, HostIP: "::"}, true},
		{spec.ContainerPort{HostPort: 8080, HostIP: "::"}, spec.ContainerPort{HostPort: 8080, HostIP: "0.0.0.0"}, true},
		{spec.ContainerPort{HostPort: 8080, HostIP: "0.0.0.0"}, spec.ContainerPort{HostPort: 8080, HostIP: "::"}, true},
		{spec.ContainerPort{HostPort: 8080}, spec.ContainerPort{HostPort: 8080, HostIP: "::"}, true},
		{spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1"}, spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1"}, true},
		{spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1"}, spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.2"}, false},
		{spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1"}, spec.ContainerPort{HostPort: 8080}, true},
		{spec.ContainerPort{HostPort: 8080, HostIP: "127.0.0.1", Protocol: spec.ProtocolUDP}, spec.ContainerPort{HostPort: 8080}, false},
		{spec.ContainerPort{HostPort: 8080}, spec.ContainerPort{HostPort: 8081}, false},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s:%d/%s vs %s:%d", tc.existing.HostIP, tc.existing.HostPort, tc.existing.Protocol, tc.incoming.HostIP, tc.incoming.HostPort)
		t.Run(name, func(t *testing.T) {
			mk := func(cp spec.ContainerPort) *spec.PodSpec {
				ps := mkSpec(10, 10)
				cp.ContainerPort = 80
				ps.Containers[0].Ports = []spec.ContainerPort{cp}
				return ps
			}
			placed := []Pod{{Namespace: "default", Name: "old", Spec: mk(tc.existing), Node: "n"}}
			got := verdicts(t, []Node{mkNode("n", 4000, 8192, nil)}, placed, mkPod("new", mk(tc.incoming), nil))["n"]
			if (got == reasonPorts) != tc.conflict || (got != "" && got != reasonPorts) {
				t.Fatalf("verdict %q, want conflict=%v", got, tc.conflict)
			}
		})
	}
}
