package scheduler

import (
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestHostNetworkPorts: a host-network pod's containerPorts are its node's
// ports (Kubernetes defaults its hostPort to them), so two such pods using
// one port never share a node, while a pod on its own network using that
// containerPort (no hostPort) does not conflict with them.
func TestHostNetworkPorts(t *testing.T) {
	mk := func(hostNet bool) *spec.PodSpec {
		ps := mkSpec(10, 10)
		ps.HostNetwork = hostNet
		ps.Containers[0].Ports = []spec.ContainerPort{{ContainerPort: 7070, Protocol: spec.ProtocolTCP}}
		return ps
	}
	nodes := []Node{mkNode("a", 4000, 8192, nil), mkNode("b", 4000, 8192, nil)}
	placed := []Pod{{Namespace: "default", Name: "r1", Spec: mk(true), Node: "a"}}
	v := verdicts(t, nodes, placed, mkPod("r2", mk(true), nil))
	if v["a"] != reasonPorts || v["b"] != "" {
		t.Fatalf("host-network pod with a taken port: verdicts %v, want a refused for ports and b fit", v)
	}
	v = verdicts(t, nodes, placed, mkPod("web", mk(false), nil))
	if v["a"] != "" {
		t.Fatalf("pod-network pod with the same containerPort: verdict on a %q, want fit", v["a"])
	}
	s := newSched(t, Config{})
	got := s.Schedule(nodes, nil, []Pod{mkPod("r1", mk(true), nil), mkPod("r2", mk(true), nil), mkPod("r3", mk(true), nil)})
	if got[0].Node == got[1].Node || got[0].Node == "" || got[1].Node == "" {
		t.Fatalf("two host-network pods on one port: placed on %q and %q, want two nodes", got[0].Node, got[1].Node)
	}
	if got[2].Node != "" {
		t.Fatalf("a third host-network pod on a port both nodes use was placed on %q, want Pending", got[2].Node)
	}
}
