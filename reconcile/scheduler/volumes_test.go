package scheduler

import (
	"slices"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// A node-local volume keeps its pod on its node, and says so.
func TestVolumeBindingNodeLocal(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("n1", 4000, 4096, nil), mkNode("n2", 4000, 4096, nil), mkNode("n3", 4000, 4096, nil)}
	p := mkPod("db", mkSpec(100, 0), nil)
	p.Volumes = []Volume{{Claim: "default/data", Name: "pvc-1", Nodes: []string{"n2"}}}
	want(t, s.Schedule(nodes, nil, []Pod{p}), "n2")

	// n2 is full: the pod fits nowhere, and the reason names the volume.
	big := mkPod("hog", mkSpec(4000, 0), nil)
	big.Node = "n2"
	want(t, s.Schedule(nodes, []Pod{big}, []Pod{p}),
		"<0/3 nodes are available: 1 Insufficient cpu, 2 volume pvc-1 is on node n2.>")

	vs, err := s.Explain(nodes, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Node != "n2" && (v.Filter != VolumeBindingName || len(v.Reasons) != 1 || v.Reasons[0] != "volume pvc-1 is on node n2") {
			t.Fatalf("explain %s: %+v", v.Node, v)
		}
	}
}

// Pods of one call that share a ReadWriteOnce claim go to one node; a
// ReadWriteOncePod claim takes one pod.
func TestVolumeBindingSameNodeAndSinglePod(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("n1", 4000, 4096, nil), mkNode("n2", 4000, 4096, nil)}
	sp := mkSpec(100, 0)
	var pods []Pod
	for _, n := range []string{"a", "b", "c"} {
		p := mkPod(n, sp, nil)
		p.Volumes = []Volume{{Claim: "default/shared", Name: "pvc-9", SameNode: true}}
		pods = append(pods, p)
	}
	want(t, s.Schedule(nodes, nil, pods), "n1", "n1", "n1")

	sp2 := mkSpec(100, 0)
	var one []Pod
	for _, n := range []string{"x", "y"} {
		p := mkPod(n, sp2, nil)
		p.Volumes = []Volume{{Claim: "default/solo", Name: "pvc-7", SinglePod: true}}
		one = append(one, p)
	}
	want(t, s.Schedule(nodes, nil, one), "n1",
		"<0/2 nodes are available: 2 volume pvc-7 is used by another pod (ReadWriteOncePod).>")
}

// A claim to provision is made only where the class's allowed topologies
// say.
func TestVolumeBindingTopology(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("n1", 4000, 4096, map[string]string{"zone": "a"}), mkNode("n2", 4000, 4096, map[string]string{"zone": "b"})}
	p := mkPod("db", mkSpec(100, 0), nil)
	p.Volumes = []Volume{{Claim: "default/data", Topology: []spec.TopologySelectorTerm{{MatchLabelExpressions: []spec.TopologySelectorLabelRequirement{{Key: "zone", Values: []string{"b"}}}}}}}
	want(t, s.Schedule(nodes, nil, []Pod{p}), "n2")
}

// A declared volume's node affinity is evaluated as a node selector:
// matchFields on metadata.name, a label expression, several hostnames.
func TestVolumeBindingNodeAffinity(t *testing.T) {
	s := newSched(t, Config{})
	nodes := []Node{mkNode("n1", 4000, 4096, nil), mkNode("n2", 4000, 4096, map[string]string{"disk": "ssd"}),
		mkNode("n3", 4000, 4096, map[string]string{"disk": "ssd"})}
	for _, c := range []struct {
		name string
		aff  spec.NodeSelector
		want []string
	}{
		{"matchFields", spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
			MatchFields: []spec.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: []string{"n3"}}}}}}, []string{"n3"}},
		{"label", spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
			MatchExpressions: []spec.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"ssd"}}}}}}, []string{"n2", "n3"}},
		{"two hostnames", spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
			MatchExpressions: []spec.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{"n1", "n3"}}}}}}, []string{"n1", "n3"}},
		{"terms ORed, requirements ANDed", spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{
			{MatchExpressions: []spec.NodeSelectorRequirement{{Key: "disk", Operator: "Exists"}},
				MatchFields: []spec.NodeSelectorRequirement{{Key: "metadata.name", Operator: "NotIn", Values: []string{"n2"}}}},
			{MatchFields: []spec.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: []string{"n1"}}}},
		}}, []string{"n1", "n3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			aff := c.aff
			p := mkPod("db", mkSpec(100, 0), nil)
			p.Volumes = []Volume{{Claim: "default/data", Name: "pv-1", NodeAffinity: &aff}}
			vs, err := s.Explain(nodes, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			var ok []string
			for _, v := range vs {
				if len(v.Reasons) == 0 {
					ok = append(ok, v.Node)
				} else if v.Filter != VolumeBindingName || v.Reasons[0] != "node(s) had volume node affinity conflict" {
					t.Errorf("explain %s: %+v", v.Node, v)
				}
			}
			if !slices.Equal(ok, c.want) {
				t.Errorf("feasible nodes %v, want %v", ok, c.want)
			}
			for _, n := range nodes {
				if got := MatchNodeSelector(&n, &aff); got != slices.Contains(c.want, n.Name) {
					t.Errorf("MatchNodeSelector(%s) = %v", n.Name, got)
				}
			}
		})
	}
	// Pinned there, the pod is placed on a matching node.
	p := mkPod("db", mkSpec(100, 0), nil)
	p.Volumes = []Volume{{Claim: "default/data", Name: "pv-1", NodeAffinity: &spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
		MatchFields: []spec.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: []string{"n3"}}}}}}}}
	want(t, s.Schedule(nodes, nil, []Pod{p}), "n3")
}
