package scheduler

import (
	"slices"

	"github.com/stevedore-dev/stevedore/spec"
)

// VolumeBindingName is the filter that keeps a pod where its persistent
// volumes can be reached (Kubernetes' VolumeBinding, with the single-node
// and single-pod access modes of VolumeRestrictions folded in).
const VolumeBindingName = "VolumeBinding"

// Volume is a persistent volume a pod mounts, or a claim still waiting for
// its first consumer, as the caller (the reconciler's core, which knows the
// claims and volumes) describes it to the VolumeBinding filter.
type Volume struct {
	// Claim is the claim's "namespace/name": it identifies the volume
	// among the pods of one call.
	Claim string
	// Name is the PersistentVolume's name; empty while the claim waits for
	// its first consumer (WaitForFirstConsumer).
	Name string
	// Nodes, when not nil, are the only nodes that can reach the volume:
	// a node-local volume's node; for a claim not bound yet, the nodes of
	// the volumes it could bind to. Nil means any node.
	Nodes []string
	// NodeAffinity, when not nil, is a declared volume's
	// nodeAffinity.required: only the nodes that match it (as
	// MatchNodeSelector evaluates it) can reach the volume.
	NodeAffinity *spec.NodeSelector
	// Topology, when not empty, is the class's allowedTopologies: a
	// claim still to be provisioned may be made only on a node that
	// matches one of the terms.
	Topology []spec.TopologySelectorTerm
	// SameNode: once a pod of this call that mounts the claim is placed,
	// the others that mount it go to the same node (ReadWriteOnce, or a
	// node-local volume about to be provisioned there).
	SameNode bool
	// SinglePod: ReadWriteOncePod: no second pod of this call may mount
	// it.
	SinglePod bool
}

var _ FilterPlugin = (*volumeBinding)(nil)
var _ Reserver = (*volumeBinding)(nil)

// volumeBinding refuses the nodes a pod's volumes cannot be reached from.
// It remembers, for the call, where the claims that bind a pod to one
// node went, and which single-pod claims are taken.
type volumeBinding struct {
	node  map[string]int32 // claim → node index of a SameNode claim placed this call
	taken map[string]bool  // SinglePod claims placed this call
	vols  []Volume
}

func (*volumeBinding) Name() string { return VolumeBindingName }

func (f *volumeBinding) PreFilter(_ *Cluster, p *PodInfo) NodeFilter {
	if len(p.Volumes) == 0 {
		return nil
	}
	f.vols = p.Volumes
	return f
}

func (f *volumeBinding) Reserve(_ *Cluster, p *PodInfo, n *NodeInfo) {
	for i := range p.Volumes {
		v := &p.Volumes[i]
		if v.SameNode {
			if f.node == nil {
				f.node = map[string]int32{}
			}
			if _, ok := f.node[v.Claim]; !ok {
				f.node[v.Claim] = int32(n.Index)
			}
		}
		if v.SinglePod {
			if f.taken == nil {
				f.taken = map[string]bool{}
			}
			f.taken[v.Claim] = true
		}
	}
}

// refusal returns the first volume that keeps the pod off n, or nil.
func (f *volumeBinding) refusal(n *NodeInfo) (*Volume, string) {
	for i := range f.vols {
		v := &f.vols[i]
		name := v.Name
		if name == "" {
			name = "for claim " + v.Claim
		}
		if v.SinglePod && f.taken[v.Claim] {
			return v, "volume " + name + " is used by another pod (ReadWriteOncePod)"
		}
		if ni, ok := f.node[v.Claim]; ok && int(ni) != n.Index {
			return v, "volume " + name + " is used on another node (ReadWriteOnce)"
		}
		if v.Nodes != nil && !slices.Contains(v.Nodes, n.Name) {
			if len(v.Nodes) == 1 {
				return v, "volume " + name + " is on node " + v.Nodes[0]
			}
			return v, "node(s) didn't find available persistent volumes to bind"
		}
		if v.NodeAffinity != nil && !matchNodeSelection(n.Node, nil, v.NodeAffinity) {
			return v, "node(s) had volume node affinity conflict"
		}
		if len(v.Topology) > 0 && !topologyMatches(v.Topology, n.Labels) {
			return v, "node(s) didn't match the storage class's allowed topologies"
		}
	}
	return nil, ""
}

func (f *volumeBinding) Filter(n *NodeInfo) bool {
	v, _ := f.refusal(n)
	return v == nil
}

func (f *volumeBinding) Reasons(n *NodeInfo, dst []string) []string {
	if v, why := f.refusal(n); v != nil {
		dst = append(dst, why)
	}
	return dst
}

// TopologyMatches reports whether labels match one of a StorageClass's
// allowedTopologies terms (every requirement of the term: the label is
// present with one of the values). No term matches everything.
func TopologyMatches(terms []spec.TopologySelectorTerm, labels map[string]string) bool {
	return len(terms) == 0 || topologyMatches(terms, labels)
}

func topologyMatches(terms []spec.TopologySelectorTerm, labels map[string]string) bool {
	for _, t := range terms {
		ok := true
		for _, r := range t.MatchLabelExpressions {
			v, has := labels[r.Key]
			if !has || !slices.Contains(r.Values, v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
