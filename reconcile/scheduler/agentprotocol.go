package scheduler

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/spec"
)

// hostNetworkProtocol is the first reconciler↔agent protocol whose agents
// run host-network pods (agent/api.Protocol2, v0.16.0). An agent of
// protocol 1 decodes pod sets strictly and would refuse a set holding one,
// and with it every other pod of its node.
const hostNetworkProtocol = 2

// agentProtocol refuses nodes whose agent is too old for the pod: a
// host-network pod needs protocol 2 (docs/versions.md).
type agentProtocol struct{}

var _ FilterPlugin = (*agentProtocol)(nil)

func (*agentProtocol) Name() string { return AgentProtocolName }

func (f *agentProtocol) PreFilter(_ *Cluster, p *PodInfo) NodeFilter {
	if p.Spec == nil || !p.Spec.HostNetwork {
		return nil
	}
	return f
}

func (*agentProtocol) Filter(n *NodeInfo) bool {
	return AgentRuns(n.Node, &spec.PodSpec{HostNetwork: true})
}

// AgentRuns reports whether n's agent speaks a protocol new enough for a
// pod of spec ps: what the AgentProtocol filter checks, and what a
// DaemonSet's placement checks too.
func AgentRuns(n *Node, ps *spec.PodSpec) bool {
	return !ps.HostNetwork || n.AgentProtocol == 0 || n.AgentProtocol >= hostNetworkProtocol
}

func (*agentProtocol) Reasons(n *NodeInfo, dst []string) []string {
	return append(dst, fmt.Sprintf("node(s) run an agent too old for hostNetwork pods (protocol %d, need %d: upgrade the agent)",
		n.AgentProtocol, hostNetworkProtocol))
}
