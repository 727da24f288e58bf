package scheduler

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestAgentProtocol: a host-network pod is not placed on a node whose
// agent speaks only protocol 1 (a v0.15 agent, which would refuse the whole
// pod set), and says why; other pods still go there, and a node of unknown
// protocol (zero) runs everything.
func TestAgentProtocol(t *testing.T) {
	nodes := []Node{
		{Name: "old", AgentProtocol: 1, Allocatable: Resources{MilliCPU: 4000, Memory: 8 << 30}},
		{Name: "new", AgentProtocol: 2, Allocatable: Resources{MilliCPU: 1000, Memory: 1 << 30}},
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	hostNet := &spec.PodSpec{HostNetwork: true, Containers: []spec.Container{{Name: "c", Image: "x"}}}
	plain := &spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "x"}}}
	res := s.Schedule(nodes, nil, []Pod{{Namespace: "a", Name: "h1", Spec: hostNet}, {Namespace: "a", Name: "p1", Spec: plain}})
	if res[0].Node != "new" {
		t.Errorf("host-network pod went to %q, want new", res[0].Node)
	}
	if res[1].Node != "old" {
		t.Errorf("plain pod went to %q, want old (least allocated)", res[1].Node)
	}
	res = s.Schedule(nodes[:1], nil, []Pod{{Namespace: "a", Name: "h2", Spec: hostNet}})
	if res[0].Node != "" || !strings.Contains(res[0].Reason, "1 node(s) run an agent too old for hostNetwork pods (protocol 1, need 2: upgrade the agent)") {
		t.Errorf("host-network pod on an old node only = %+v", res[0])
	}
	nodes[0].AgentProtocol = 0
	if res = s.Schedule(nodes[:1], nil, []Pod{{Namespace: "a", Name: "h3", Spec: hostNet}}); res[0].Node != "old" {
		t.Errorf("a node of unknown protocol refused a host-network pod: %+v", res[0])
	}
}
