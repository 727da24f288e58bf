package scheduler

import (
	"slices"

	"github.com/stevedore-dev/stevedore/spec"
)

// Kubernetes' reason strings, so that Pending messages read the same.
const (
	reasonUnschedulable   = "node(s) were unschedulable"
	reasonNodeSelection   = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts           = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods     = "Too many pods"
	reasonSpread          = "node(s) didn't match pod topology spread constraints"
	reasonSpreadLabel     = "node(s) didn't match pod topology spread constraints (missing required label)"
	reasonExistingAnti    = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonAffinity        = "node(s) didn't match pod affinity rules"
	reasonAntiAffinity    = "node(s) didn't match pod anti-affinity rules"
	unschedulableTaintKey = "node.kubernetes.io/unschedulable"
)

var (
	_ FilterPlugin = (*nodeUnschedulable)(nil)
	_ FilterPlugin = (*taintToleration)(nil)
	_ ScorePlugin  = (*taintToleration)(nil)
	_ FilterPlugin = (*nodeAffinity)(nil)
	_ ScorePlugin  = (*nodeAffinity)(nil)
	_ FilterPlugin = (*nodePorts)(nil)
	_ FilterPlugin = (*resourcesFit)(nil)
	_ FilterPlugin = (*topologySpread)(nil)
	_ ScorePlugin  = (*topologySpread)(nil)
	_ FilterPlugin = (*interPodAffinity)(nil)
	_ ScorePlugin  = (*interPodAffinity)(nil)
	_ ScorePlugin  = (*allocatedScore)(nil)
	_ ScorePlugin  = (*balancedAllocation)(nil)
)

// nodeUnschedulable refuses cordoned nodes.
type nodeUnschedulable struct{}

func (*nodeUnschedulable) Name() string { return NodeUnschedulableName }

func (f *nodeUnschedulable) PreFilter(c *Cluster, p *PodInfo) NodeFilter {
	if !c.anyUnschedulable {
		return nil
	}
	if spec.Tolerates(p.Spec.Tolerations, &spec.Taint{Key: unschedulableTaintKey, Effect: spec.TaintEffectNoSchedule}) {
		return nil
	}
	return f
}

func (*nodeUnschedulable) Filter(n *NodeInfo) bool { return !n.Unschedulable }

func (*nodeUnschedulable) Reasons(_ *NodeInfo, dst []string) []string {
	return append(dst, reasonUnschedulable)
}

// taintToleration refuses nodes with a NoSchedule or NoExecute taint the pod
// does not tolerate, and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
type taintToleration struct {
	tols []spec.Toleration
}

func (*taintToleration) Name() string { return TaintTolerationName }

func (f *taintToleration) PreFilter(c *Cluster, p *PodInfo) NodeFilter {
	if !c.anyNoSchedule {
		return nil
	}
	f.tols = p.Spec.Tolerations
	return f
}

func (f *taintToleration) untolerated(n *NodeInfo) *spec.Taint {
	for i := range n.Taints {
		t := &n.Taints[i]
		if (t.Effect == spec.TaintEffectNoSchedule || t.Effect == spec.TaintEffectNoExecute) && !spec.Tolerates(f.tols, t) {
			return t
		}
	}
	return nil
}

func (f *taintToleration) Filter(n *NodeInfo) bool {
	return len(n.Taints) == 0 || f.untolerated(n) == nil
}

func (f *taintToleration) Reasons(n *NodeInfo, dst []string) []string {
	if t := f.untolerated(n); t != nil {
		dst = append(dst, "node(s) had untolerated taint {"+t.Key+": "+t.Value+"}")
	}
	return dst
}

func (f *taintToleration) PreScore(c *Cluster, p *PodInfo) NodeScorer {
	if !c.anyPreferNoSchedule {
		return nil
	}
	f.tols = p.Spec.Tolerations
	return (*taintScore)(f)
}

type taintScore taintToleration

// Score halves, thirds... the score per untolerated PreferNoSchedule taint.
func (f *taintScore) Score(n *NodeInfo) int64 {
	var k int64
	for i := range n.Taints {
		t := &n.Taints[i]
		if t.Effect == spec.TaintEffectPreferNoSchedule && !spec.Tolerates(f.tols, t) {
			k++
		}
	}
	return MaxNodeScore / (1 + k)
}

// nodeAffinity applies nodeSelector and required node affinity as a filter
// and preferred node affinity as a score, through per-node bitmaps compiled
// once per distinct rule.
type nodeAffinity struct {
	t *podTemplate
}

func (*nodeAffinity) Name() string { return NodeAffinityName }

func (f *nodeAffinity) PreFilter(_ *Cluster, p *PodInfo) NodeFilter {
	if !p.t.hasNodeSel {
		return nil
	}
	f.t = p.t
	return f
}

func (f *nodeAffinity) Filter(n *NodeInfo) bool { return f.t.elig[n.Index] }

func (f *nodeAffinity) Reasons(_ *NodeInfo, dst []string) []string {
	return append(dst, reasonNodeSelection)
}

func (f *nodeAffinity) PreScore(_ *Cluster, p *PodInfo) NodeScorer {
	if len(p.t.preferred) == 0 {
		return nil
	}
	return (*nodeAffinityScore)(p.t)
}

type nodeAffinityScore podTemplate

func (t *nodeAffinityScore) Score(n *NodeInfo) int64 {
	var s int64
	for _, p := range t.preferred {
		if p.elig[n.Index] {
			s += p.w
		}
	}
	return s * MaxNodeScore / t.prefTotal
}

// nodePorts refuses nodes where a requested hostPort is taken.
type nodePorts struct {
	want []hostPort
}

func (*nodePorts) Name() string { return NodePortsName }

func (f *nodePorts) PreFilter(_ *Cluster, p *PodInfo) NodeFilter {
	if len(p.t.hostPorts) == 0 {
		return nil
	}
	f.want = p.t.hostPorts
	return f
}

// wildcardIP reports whether a hostIP binds every address. As in
// Kubernetes' HostPortInfo, only "" and 0.0.0.0 do: "::" is one more
// address, which conflicts with itself and with 0.0.0.0 but not with
// 127.0.0.1.
func wildcardIP(ip string) bool { return ip == "" || ip == "0.0.0.0" }

func (f *nodePorts) Filter(n *NodeInfo) bool {
	for _, w := range f.want {
		for _, h := range n.hostPorts {
			if w.port == h.port && w.proto == h.proto && (w.ip == h.ip || wildcardIP(w.ip) || wildcardIP(h.ip)) {
				return false
			}
		}
	}
	return true
}

func (*nodePorts) Reasons(_ *NodeInfo, dst []string) []string { return append(dst, reasonPorts) }

// resourcesFit refuses nodes without room for the pod's requests or with
// their pod count at allocatable pods. A resource the pod does not request
// is not checked, as in Kubernetes. An unknown (zero) cpu, memory or
// ephemeral-storage allocatable is not limited, but an extended resource or
// hugepages size a node does not advertise is zero there, as in
// Kubernetes: a pod asking for a GPU fits only on a node that has one free.
type resourcesFit struct {
	req Resources
	// ext is req.Extended's names, sorted, so that reasons come out in the
	// same order every time.
	ext []string
}

func (*resourcesFit) Name() string { return NodeResourcesFitName }

func (f *resourcesFit) PreFilter(_ *Cluster, p *PodInfo) NodeFilter {
	f.req = p.Requests
	f.ext = f.ext[:0]
	for name := range f.req.Extended {
		f.ext = append(f.ext, name)
	}
	slices.Sort(f.ext)
	return f
}

func (f *resourcesFit) Filter(n *NodeInfo) bool {
	a, u, r := &n.Allocatable, &n.Requested, &f.req
	if !((a.Pods == 0 || u.Pods+1 <= a.Pods) &&
		(r.MilliCPU == 0 || a.MilliCPU == 0 || u.MilliCPU+r.MilliCPU <= a.MilliCPU) &&
		(r.Memory == 0 || a.Memory == 0 || u.Memory+r.Memory <= a.Memory) &&
		(r.EphemeralStorage == 0 || a.EphemeralStorage == 0 || u.EphemeralStorage+r.EphemeralStorage <= a.EphemeralStorage)) {
		return false
	}
	for _, name := range f.ext {
		if r.Extended[name] > a.Extended[name]-u.Extended[name] {
			return false
		}
	}
	return true
}

func (f *resourcesFit) Reasons(n *NodeInfo, dst []string) []string {
	a, u, r := &n.Allocatable, &n.Requested, &f.req
	if a.Pods > 0 && u.Pods+1 > a.Pods {
		dst = append(dst, reasonTooManyPods)
	}
	if r.MilliCPU > 0 && a.MilliCPU > 0 && u.MilliCPU+r.MilliCPU > a.MilliCPU {
		dst = append(dst, "Insufficient "+spec.ResourceCPU)
	}
	if r.Memory > 0 && a.Memory > 0 && u.Memory+r.Memory > a.Memory {
		dst = append(dst, "Insufficient "+spec.ResourceMemory)
	}
	if r.EphemeralStorage > 0 && a.EphemeralStorage > 0 && u.EphemeralStorage+r.EphemeralStorage > a.EphemeralStorage {
		dst = append(dst, "Insufficient "+spec.ResourceEphemeralStorage)
	}
	for _, name := range f.ext {
		if r.Extended[name] > a.Extended[name]-u.Extended[name] {
			dst = append(dst, "Insufficient "+name)
		}
	}
	return dst
}

// allocatedScore is least-allocated (most=false: prefer emptier nodes) or
// most-allocated (most=true: bin-packing) over cpu and memory, equally
// weighted, on requests with Kubernetes' non-zero defaults.
type allocatedScore struct {
	most bool
	req  Resources
}

func (s *allocatedScore) Name() string {
	if s.most {
		return MostAllocatedName
	}
	return LeastAllocatedName
}

func (s *allocatedScore) PreScore(_ *Cluster, p *PodInfo) NodeScorer {
	s.req = p.NonZeroRequests
	return s
}

func (s *allocatedScore) Score(n *NodeInfo) int64 {
	var sum, k int64
	if a := n.Allocatable.MilliCPU; a > 0 {
		sum += s.one(n.NonZeroRequested.MilliCPU+s.req.MilliCPU, a)
		k++
	}
	if a := n.Allocatable.Memory; a > 0 {
		sum += s.one(n.NonZeroRequested.Memory+s.req.Memory, a)
		k++
	}
	if k == 0 {
		return 0
	}
	return sum / k
}

func (s *allocatedScore) one(req, alloc int64) int64 {
	if req > alloc {
		req = alloc
	}
	if s.most {
		return req * MaxNodeScore / alloc
	}
	return (alloc - req) * MaxNodeScore / alloc
}

// balancedAllocation prefers nodes whose cpu and memory fractions stay
// close after placement (Kubernetes' NodeResourcesBalancedAllocation).
type balancedAllocation struct {
	req Resources
}

func (*balancedAllocation) Name() string { return BalancedAllocationName }

func (s *balancedAllocation) PreScore(_ *Cluster, p *PodInfo) NodeScorer {
	s.req = p.NonZeroRequests
	return s
}

func (s *balancedAllocation) Score(n *NodeInfo) int64 {
	ac, am := n.Allocatable.MilliCPU, n.Allocatable.Memory
	if ac <= 0 || am <= 0 {
		return MaxNodeScore
	}
	fc := min(float64(n.NonZeroRequested.MilliCPU+s.req.MilliCPU)/float64(ac), 1)
	fm := min(float64(n.NonZeroRequested.Memory+s.req.Memory)/float64(am), 1)
	d := fc - fm
	if d < 0 {
		d = -d
	}
	return int64((1 - d/2) * MaxNodeScore)
}
