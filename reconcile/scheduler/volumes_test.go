package scheduler

import (
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
