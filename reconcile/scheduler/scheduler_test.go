package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

func TestLeastAllocatedSpreadsAndTiesBreakByName(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("c", 4000, 8192, nil), mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, nil)}
	sp := mkSpec(1000, 1024)
	got := s.Schedule(nodes, nil, []Pod{mkPod("p1", sp, nil), mkPod("p2", sp, nil), mkPod("p3", sp, nil), mkPod("p4", sp, nil)})
	want(t, got, "a", "b", "c", "a")
}

func TestBinPackingProfileFillsFirst(t *testing.T) {
	s := newSched(t, Config{DefaultProfile: "bin-packing"})
	nodes := []Node{mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, nil)}
	sp := mkSpec(1000, 2048)
	got := s.Schedule(nodes, nil, []Pod{mkPod("p1", sp, nil), mkPod("p2", sp, nil), mkPod("p3", sp, nil), mkPod("p4", sp, nil), mkPod("p5", sp, nil)})
	want(t, got, "a", "a", "a", "a", "b")
}

func TestSchedulerNameChoosesProfile(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, nil)}
	packed := mkSpec(1000, 1024)
	packed.SchedulerName = "bin-packing"
	unknown := mkSpec(1, 1)
	unknown.SchedulerName = "nope"
	got := s.Schedule(nodes, nil, []Pod{mkPod("p1", packed, nil), mkPod("p2", packed, nil), mkPod("p3", unknown, nil)})
	want(t, got, "a", "a", `<no scheduler profile named "nope">`)
}

func TestPendingReasonKubernetesForm(t *testing.T) {
	s := newSched(t, Config{})
	var nodes []Node
	for _, n := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, mkNode(n, 4000, 1024, map[string]string{"disk": "ssd"}))
	}
	nodes = append(nodes, mkNode("n4", 4000, 8192, nil), mkNode("n5", 4000, 8192, nil))
	sp := mkSpec(100, 2048)
	sp.NodeSelector = map[string]string{"disk": "ssd"}
	got := s.Schedule(nodes, nil, []Pod{mkPod("p", sp, nil)})
	wantReason(t, got[0], "0/5 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 3 Insufficient memory.")

	// A node short of cpu and memory counts under both, as in Kubernetes.
	got = s.Schedule([]Node{mkNode("a", 100, 100, nil)}, nil, []Pod{mkPod("p", mkSpec(200, 200), nil)})
	wantReason(t, got[0], "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.")
	got = s.Schedule(nil, nil, []Pod{mkPod("p", mkSpec(200, 200), nil)})
	wantReason(t, got[0], "no nodes available to schedule pods")
}

func TestResourcesPodsAndEphemeral(t *testing.T) {
	s := newSched(t, Config{})
	n := mkNode("a", 4000, 8192, nil)
	n.Allocatable.Pods = 2
	n.Allocatable.EphemeralStorage = 10 << 30
	sp := mkSpec(10, 10)
	got := s.Schedule([]Node{n}, nil, []Pod{mkPod("p1", sp, nil), mkPod("p2", sp, nil), mkPod("p3", sp, nil)})
	want(t, got, "a", "a", "<0/1 nodes are available: 1 Too many pods.>")

	eph := mkSpec(10, 10)
	eph.Containers[0].Resources.Requests[spec.ResourceEphemeralStorage] = qty("6Gi")
	n.Allocatable.Pods = 10
	got = s.Schedule([]Node{n}, nil, []Pod{mkPod("p1", eph, nil), mkPod("p2", eph, nil)})
	want(t, got, "a", "<0/1 nodes are available: 1 Insufficient ephemeral-storage.>")

	// A limit without a request is the request.
	lim := &spec.PodSpec{Containers: []spec.Container{{Name: "c", Resources: spec.Resources{Limits: spec.ResourceList{spec.ResourceCPU: qty("3")}}}}}
	if r := PodRequests(lim); r.MilliCPU != 3000 || r.Pods != 1 {
		t.Fatalf("PodRequests = %+v", r)
	}
	got = s.Schedule([]Node{n}, nil, []Pod{mkPod("p1", lim, nil), mkPod("p2", lim, nil)})
	want(t, got, "a", "<0/1 nodes are available: 1 Insufficient cpu.>")
}

func TestPlacedPodsCountAndNeverMove(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 2000, 8192, nil), mkNode("b", 2000, 8192, nil)}
	sp := mkSpec(1500, 1024)
	placed := []Pod{{Namespace: "default", Name: "old", Spec: sp, Node: "a"}, {Namespace: "default", Name: "ghost", Spec: sp, Node: "gone"}}
	got := s.Schedule(nodes, placed, []Pod{mkPod("new", sp, nil), mkPod("new2", sp, nil)})
	want(t, got, "b", "<0/2 nodes are available: 2 Insufficient cpu.>")
}

func TestNodeAffinityOperators(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{
		mkNode("a", 4000, 8192, map[string]string{"zone": "z1", "gen": "3"}),
		mkNode("b", 4000, 8192, map[string]string{"zone": "z2", "gen": "5"}),
		mkNode("c", 4000, 8192, map[string]string{"gen": "7", "gpu": "yes"}),
	}
	cases := []struct {
		op   string
		key  string
		vals []string
		want []string
	}{
		{spec.LabelSelectorOpIn, "zone", []string{"z2", "z9"}, []string{"b"}},
		{spec.LabelSelectorOpNotIn, "zone", []string{"z1"}, []string{"b", "c"}},
		{spec.LabelSelectorOpExists, "gpu", nil, []string{"c"}},
		{spec.LabelSelectorOpDoesNotExist, "zone", nil, []string{"c"}},
		{spec.NodeSelectorOpGt, "gen", []string{"4"}, []string{"b", "c"}},
		{spec.NodeSelectorOpLt, "gen", []string{"4"}, []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			sp := mkSpec(100, 100)
			sp.Affinity = &spec.Affinity{NodeAffinity: &spec.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &spec.NodeSelector{
				NodeSelectorTerms: []spec.NodeSelectorTerm{{MatchExpressions: []spec.NodeSelectorRequirement{{Key: tc.key, Operator: tc.op, Values: tc.vals}}}},
			}}}
			var pending []Pod
			for range 6 {
				pending = append(pending, mkPod("p", sp, nil))
			}
			seen := map[string]bool{}
			for _, r := range s.Schedule(nodes, nil, pending) {
				if r.Node == "" {
					t.Fatalf("pending: %s", r.Reason)
				}
				seen[r.Node] = true
			}
			if len(seen) != len(tc.want) {
				t.Fatalf("nodes used %v, want %v", seen, tc.want)
			}
			for _, n := range tc.want {
				if !seen[n] {
					t.Fatalf("nodes used %v, want %v", seen, tc.want)
				}
			}
		})
	}
}

func TestPreferredNodeAffinity(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, map[string]string{"disk": "ssd"})}
	sp := mkSpec(100, 100)
	sp.Affinity = &spec.Affinity{NodeAffinity: &spec.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []spec.PreferredSchedulingTerm{
		{Weight: 50, Preference: spec.NodeSelectorTerm{MatchExpressions: []spec.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"ssd"}}}}},
	}}}
	got := s.Schedule(nodes, nil, []Pod{mkPod("p1", sp, nil), mkPod("p2", sp, nil)})
	want(t, got, "b", "b")
}

func TestTaintsTolerationsAndCordon(t *testing.T) {
	s := newSched(t, Config{})
	a := mkNode("a", 4000, 8192, nil)
	a.Taints = []spec.Taint{{Key: "dedicated", Value: "db", Effect: spec.TaintEffectNoSchedule}}
	b := mkNode("b", 4000, 8192, nil)
	b.Unschedulable = true
	c := mkNode("c", 4000, 8192, nil)
	c.Taints = []spec.Taint{{Key: "old", Effect: spec.TaintEffectPreferNoSchedule}}
	d := mkNode("d", 4000, 8192, nil)
	sp := mkSpec(100, 100)
	got := s.Schedule([]Node{a, b, c, d}, nil, []Pod{mkPod("p", sp, nil)})
	want(t, got, "d")
	got = s.Schedule([]Node{a, b}, nil, []Pod{mkPod("p", sp, nil)})
	wantReason(t, got[0], "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable.")

	tol := mkSpec(100, 100)
	tol.Tolerations = []spec.Toleration{{Key: "dedicated", Operator: "Equal", Value: "db", Effect: spec.TaintEffectNoSchedule}}
	got = s.Schedule([]Node{a, b}, nil, []Pod{mkPod("p", tol, nil)})
	want(t, got, "a")
	wrong := mkSpec(100, 100)
	wrong.Tolerations = []spec.Toleration{{Key: "dedicated", Value: "web"}}
	got = s.Schedule([]Node{a}, nil, []Pod{mkPod("p", wrong, nil)})
	wantReason(t, got[0], "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}.")
	all := mkSpec(100, 100)
	all.Tolerations = []spec.Toleration{{Operator: "Exists"}}
	got = s.Schedule([]Node{b}, nil, []Pod{mkPod("p", all, nil)})
	want(t, got, "b")
	// PreferNoSchedule is a preference only.
	got = s.Schedule([]Node{c}, nil, []Pod{mkPod("p", sp, nil)})
	want(t, got, "c")
}

func TestHostPortConflicts(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, nil)}
	sp := mkSpec(100, 100)
	sp.Containers[0].Ports = []spec.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
	udp := mkSpec(100, 100)
	udp.Containers[0].Ports = []spec.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: "UDP"}}
	got := s.Schedule(nodes, nil, []Pod{mkPod("p1", sp, nil), mkPod("p2", sp, nil), mkPod("p3", sp, nil), mkPod("u", udp, nil)})
	want(t, got, "a", "b", "<0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.>", "a")
}

func antiSpec(app, key string) *spec.PodSpec {
	sp := mkSpec(100, 100)
	sp.Affinity = &spec.Affinity{PodAntiAffinity: &spec.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []spec.PodAffinityTerm{
		{LabelSelector: &spec.LabelSelector{MatchLabels: map[string]string{"app": app}}, TopologyKey: key},
	}}}
	return sp
}

func TestPodAntiAffinity(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, nil), mkNode("c", 4000, 8192, nil)}
	sp := antiSpec("web", "kubernetes.io/hostname")
	l := map[string]string{"app": "web"}
	got := s.Schedule(nodes, []Pod{{Namespace: "default", Name: "old", Labels: l, Spec: sp, Node: "b"}},
		[]Pod{mkPod("p1", sp, l), mkPod("p2", sp, l), mkPod("p3", sp, l)})
	// Kubernetes' Filter checks the pod's own terms before existing pods'
	// (filtering.go: affinity, anti-affinity, existing anti-affinity), so
	// that is the reason.
	want(t, got, "a", "c", "<0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.>")
	// A pod whose own term is the only obstacle says so.
	other := antiSpec("db", "kubernetes.io/hostname")
	got = s.Schedule(nodes[:1], []Pod{{Namespace: "default", Name: "db", Labels: map[string]string{"app": "db"}, Spec: mkSpec(1, 1), Node: "a"}},
		[]Pod{mkPod("p", other, l)})
	wantReason(t, got[0], "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.")

	// Symmetry: an existing pod's anti-affinity keeps matching pods away
	// even when they have no rule of their own.
	plain := mkSpec(100, 100)
	got = s.Schedule(nodes[:1], []Pod{{Namespace: "default", Name: "old", Labels: l, Spec: sp, Node: "a"}}, []Pod{mkPod("p", plain, l)})
	wantReason(t, got[0], "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.")
	// Another namespace is not affected.
	other2 := mkPod("p", plain, l)
	other2.Namespace = "other"
	got = s.Schedule(nodes[:1], []Pod{{Namespace: "default", Name: "old", Labels: l, Spec: sp, Node: "a"}}, []Pod{other2})
	want(t, got, "a")
}

func TestPodAffinityZone(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{
		mkNode("a", 4000, 8192, map[string]string{"zone": "z1"}),
		mkNode("b", 4000, 8192, map[string]string{"zone": "z2"}),
		mkNode("c", 4000, 8192, map[string]string{"zone": "z2"}),
	}
	sp := mkSpec(100, 100)
	sp.Affinity = &spec.Affinity{PodAffinity: &spec.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []spec.PodAffinityTerm{
		{LabelSelector: &spec.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, TopologyKey: "zone"},
	}}}
	db := map[string]string{"app": "db"}
	got := s.Schedule(nodes, []Pod{{Namespace: "default", Name: "db", Labels: db, Spec: mkSpec(100, 100), Node: "c"}},
		[]Pod{mkPod("w1", sp, nil), mkPod("w2", sp, nil), mkPod("w3", sp, nil)})
	want(t, got, "b", "b", "c") // zone z2 only, spread inside it
	got = s.Schedule(nodes, nil, []Pod{mkPod("w1", sp, nil)})
	wantReason(t, got[0], "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.")
	// The first pod of a group that matches its own term may go anywhere;
	// the rest follow it.
	got = s.Schedule(nodes, nil, []Pod{mkPod("d1", sp, db), mkPod("d2", sp, db), mkPod("d3", sp, db)})
	want(t, got, "a", "a", "a")
}

func spreadSpec(key string, skew int32, when string) *spec.PodSpec {
	sp := mkSpec(100, 100)
	sp.TopologySpreadConstraints = []spec.TopologySpreadConstraint{{MaxSkew: skew, TopologyKey: key, WhenUnsatisfiable: when,
		LabelSelector: &spec.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	return sp
}

func TestTopologySpreadZones(t *testing.T) {
	s := newSched(t, Config{DefaultProfile: "bin-packing"}) // packing would pile up without spread
	nodes := []Node{
		mkNode("a", 4000, 8192, map[string]string{"zone": "z1"}),
		mkNode("b", 4000, 8192, map[string]string{"zone": "z1"}),
		mkNode("c", 4000, 8192, map[string]string{"zone": "z2"}),
		mkNode("d", 4000, 8192, map[string]string{"zone": "z3"}),
		mkNode("e", 4000, 8192, nil), // no zone: refused by a hard constraint
	}
	l := map[string]string{"app": "web"}
	sp := spreadSpec("zone", 1, spec.DoNotSchedule)
	var pending []Pod
	for range 6 {
		pending = append(pending, mkPod("p", sp, l))
	}
	got := s.Schedule(nodes, nil, pending)
	zones := map[string]int{}
	for _, r := range got {
		if r.Node == "" || r.Node == "e" {
			t.Fatalf("bad placement %+v", got)
		}
		zones[nodes[r.Node[0]-'a'].Labels["zone"]]++
	}
	if zones["z1"] != 2 || zones["z2"] != 2 || zones["z3"] != 2 {
		t.Fatalf("zones %v", zones)
	}

	// DoNotSchedule leaves a pod Pending rather than exceed the skew.
	small := []Node{mkNode("a", 4000, 8192, map[string]string{"zone": "z1"}), mkNode("b", 150, 8192, map[string]string{"zone": "z2"})}
	got = s.Schedule(small, nil, []Pod{mkPod("p1", sp, l), mkPod("p2", sp, l), mkPod("p3", sp, l)})
	want(t, got, "a", "b", "a")
	got = s.Schedule(small, nil, []Pod{mkPod("p1", sp, l), mkPod("p2", sp, l), mkPod("p3", sp, l), mkPod("p4", sp, l)})
	wantReason(t, got[3], "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints.")

	// ScheduleAnyway only prefers.
	soft := spreadSpec("zone", 1, spec.ScheduleAnyway)
	got = s.Schedule(small, nil, []Pod{mkPod("p1", soft, l), mkPod("p2", soft, l), mkPod("p3", soft, l), mkPod("p4", soft, l)})
	want(t, got, "a", "b", "a", "a")
}

func TestTopologySpreadHonorsNodeAffinity(t *testing.T) {
	// Domains the pod can't reach (by nodeSelector) do not hold the minimum
	// at zero.
	s := newSched(t, Config{})
	nodes := []Node{
		mkNode("a", 4000, 8192, map[string]string{"zone": "z1", "pool": "x"}),
		mkNode("b", 4000, 8192, map[string]string{"zone": "z2", "pool": "x"}),
		mkNode("c", 4000, 8192, map[string]string{"zone": "z3", "pool": "y"}),
	}
	l := map[string]string{"app": "web"}
	sp := spreadSpec("zone", 1, spec.DoNotSchedule)
	sp.NodeSelector = map[string]string{"pool": "x"}
	got := s.Schedule(nodes, nil, []Pod{mkPod("p1", sp, l), mkPod("p2", sp, l), mkPod("p3", sp, l), mkPod("p4", sp, l)})
	want(t, got, "a", "b", "a", "b")
}

func TestNodeNameBypasses(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("a", 1000, 8192, nil), mkNode("b", 1000, 8192, nil)}
	pinned := mkSpec(900, 100)
	pinned.NodeName = "a"
	missing := mkSpec(1, 1)
	missing.NodeName = "zz"
	got := s.Schedule(nodes, nil, []Pod{mkPod("p", pinned, nil), mkPod("q", mkSpec(500, 100), nil), mkPod("r", missing, nil)})
	want(t, got, "a", "b", "<0/2 nodes are available: 2 node(s) didn't match the requested node name.>")
}

// denyLabel is an out-of-tree plugin: it refuses nodes labelled deny=true
// and counts placements through Reserve.
type denyLabel struct{ reserved *int }

func (*denyLabel) Name() string                              { return "DenyLabel" }
func (d *denyLabel) PreFilter(*Cluster, *PodInfo) NodeFilter { return d }
func (*denyLabel) Filter(n *NodeInfo) bool                   { return n.Labels["deny"] != "true" }
func (*denyLabel) Reasons(_ *NodeInfo, dst []string) []string {
	return append(dst, "node(s) were denied")
}
func (d *denyLabel) Reserve(*Cluster, *PodInfo, *NodeInfo)  { *d.reserved++ }
func (d *denyLabel) PreScore(*Cluster, *PodInfo) NodeScorer { return d }
func (*denyLabel) Score(n *NodeInfo) int64                  { return int64(len(n.Name)) }

var (
	_ FilterPlugin = (*denyLabel)(nil)
	_ ScorePlugin  = (*denyLabel)(nil)
	_ Reserver     = (*denyLabel)(nil)
)

func TestOutOfTreePluginAndProfiles(t *testing.T) {
	reserved := 0
	prof := DefaultProfile()
	prof.Name = "custom"
	prof.Filters = append(prof.Filters, "DenyLabel")
	prof.Scores = []WeightedPlugin{{"DenyLabel", 1}}
	cfg := Config{
		Profiles:       []Profile{prof},
		DefaultProfile: "custom",
		Plugins:        map[string]Factory{"DenyLabel": func() Plugin { return &denyLabel{reserved: &reserved} }},
	}
	s := newSched(t, cfg)
	nodes := []Node{mkNode("a", 4000, 8192, map[string]string{"deny": "true"}), mkNode("bb", 4000, 8192, nil), mkNode("ccc", 4000, 8192, nil)}
	got := s.Schedule(nodes, nil, []Pod{mkPod("p", mkSpec(10, 10), nil)})
	want(t, got, "ccc")
	if reserved != 1 {
		t.Fatalf("Reserve called %d times", reserved)
	}
	got = s.Schedule(nodes[:1], nil, []Pod{mkPod("p", mkSpec(10, 10), nil)})
	wantReason(t, got[0], "0/1 nodes are available: 1 node(s) were denied.")

	bad := []struct {
		cfg  Config
		want error
	}{
		{Config{Profiles: []Profile{{Name: "x", Filters: []string{"Nope"}}}, DefaultProfile: "x"}, ErrUnknownPlugin},
		{Config{Profiles: []Profile{{Name: "x", Filters: []string{LeastAllocatedName}}}, DefaultProfile: "x"}, ErrWrongPluginKind},
		{Config{Profiles: []Profile{{Name: "x", Scores: []WeightedPlugin{{NodePortsName, 1}}}}, DefaultProfile: "x"}, ErrWrongPluginKind},
		{Config{Profiles: []Profile{{Name: "x", Scores: []WeightedPlugin{{LeastAllocatedName, -1}}}}, DefaultProfile: "x"}, ErrInvalidProfile},
		{Config{Profiles: []Profile{{Name: "x"}, {Name: "x"}}, DefaultProfile: "x"}, ErrInvalidProfile},
		{Config{Profiles: []Profile{{Name: "x", PercentageOfNodesToScore: 101}}, DefaultProfile: "x"}, ErrInvalidProfile},
		{Config{DefaultProfile: "missing"}, ErrInvalidProfile},
		{Config{Plugins: map[string]Factory{NodePortsName: func() Plugin { return &nodePorts{} }}}, ErrDuplicatePlugin},
	}
	for i, b := range bad {
		if _, err := New(b.cfg); !errors.Is(err, b.want) {
			t.Errorf("case %d: err %v, want %v", i, err, b.want)
		}
	}
}

func TestSamplingStaysCorrect(t *testing.T) {
	// 1,000 nodes: the adaptive search scores 420 feasible nodes per pod.
	if k := numFeasibleToFind(1000, 0); k != 420 {
		t.Fatalf("numFeasibleToFind(1000) = %d", k)
	}
	if k := numFeasibleToFind(5000, 0); k != 500 {
		t.Fatalf("numFeasibleToFind(5000) = %d", k)
	}
	s := newSched(t, Config{})
	var nodes []Node
	for i := range 1000 {
		nodes = append(nodes, mkNode(nodeName(i), 1000, 4096, nil))
	}
	sp := mkSpec(1000, 100)
	var pending []Pod
	for range 1001 {
		pending = append(pending, mkPod("p", sp, nil))
	}
	got := s.Schedule(nodes, nil, pending)
	seen := map[string]bool{}
	for _, r := range got[:1000] {
		if r.Node == "" || seen[r.Node] {
			t.Fatalf("bad placement %+v", r)
		}
		seen[r.Node] = true
	}
	wantReason(t, got[1000], "0/1000 nodes are available: 1000 Insufficient cpu.")
}

func TestRepeatedFailureReasonFollowsState(t *testing.T) {
	s := newSched(t, Config{})
	n := mkNode("a", 1000, 8192, nil)
	n.Allocatable.Pods = 2
	big := mkSpec(2000, 10)
	small := mkSpec(10, 10)
	got := s.Schedule([]Node{n}, nil, []Pod{mkPod("x1", big, nil), mkPod("x2", big, nil), mkPod("y", small, nil),
		mkPod("z", small, nil), mkPod("x3", big, nil), mkPod("x4", big, nil)})
	want(t, got, "<0/1 nodes are available: 1 Insufficient cpu.>", "<0/1 nodes are available: 1 Insufficient cpu.>", "a", "a",
		"<0/1 nodes are available: 1 Insufficient cpu, 1 Too many pods.>", "<0/1 nodes are available: 1 Insufficient cpu, 1 Too many pods.>")
}

func TestConcurrentSchedule(t *testing.T) {
	s := newSched(t, Config{})
	r := rand.New(rand.NewPCG(7, 7))
	nodes, pods := genCluster(r, 120, 400)
	want := s.Schedule(nodes, nil, pods)
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			if got := s.Schedule(nodes, nil, pods); !reflect.DeepEqual(got, want) {
				errs <- "concurrent call gave a different result"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestExplain(t *testing.T) {
	s := newSched(t, Config{})
	a := mkNode("a", 4000, 8192, nil)
	a.Taints = []spec.Taint{{Key: "k", Value: "v", Effect: spec.TaintEffectNoSchedule}}
	nodes := []Node{mkNode("d", 4000, 8192, nil), a, mkNode("c", 100, 8192, nil), mkNode("b", 4000, 8192, nil)}
	placed := []Pod{{Namespace: "default", Name: "x", Spec: mkSpec(2000, 10), Node: "b"}}
	p := mkPod("p", mkSpec(500, 100), nil)
	vs, err := s.Explain(nodes, placed, p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%s %v %d", v.Node, v.Reasons, v.Total))
	}
	// d is emptier than b; a and c are refused, in name order, with the
	// first refusing filter's reason.
	if len(got) != 4 || !strings.HasPrefix(got[0], "d [] ") || !strings.HasPrefix(got[1], "b [] ") ||
		got[2] != "a [node(s) had untolerated taint {k: v}] 0" || got[3] != "c [Insufficient cpu] 0" {
		t.Fatalf("Explain:\n%s", strings.Join(got, "\n"))
	}
	if vs[0].Scores[LeastAllocatedName] <= vs[1].Scores[LeastAllocatedName] || vs[0].Total <= vs[1].Total {
		t.Fatalf("d should beat b: %+v %+v", vs[0], vs[1])
	}
	// Explain agrees with Schedule when every node is scored.
	if r := s.Schedule(nodes, placed, []Pod{p}); r[0].Node != vs[0].Node {
		t.Fatalf("Schedule chose %s, Explain ranks %s first", r[0].Node, vs[0].Node)
	}
	if _, err := s.Explain(nodes, nil, Pod{Name: "nospec"}); !errors.Is(err, ErrNoSpec) {
		t.Fatalf("err %v", err)
	}
}
