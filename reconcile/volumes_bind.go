package reconcile

import (
	"fmt"
	"slices"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// volumeGate returns the volumes a pending pod mounts as the scheduler's
// VolumeBinding filter sees them, and false (with the pod marked
// unschedulable, saying why) when no node can take it: a claim missing or
// Pending (not WaitForFirstConsumer), a node-local volume on a node that
// is not ready, a ReadWriteOncePod volume another pod uses.
func (p *planner) volumeGate(key string, rec *PodRecord) ([]scheduler.Volume, bool) {
	srcs := claimsOf(rec.Namespace, &rec.Spec)
	if len(srcs) == 0 || p.vs == nil {
		return nil, true
	}
	vols := make([]scheduler.Volume, 0, len(srcs))
	for _, src := range srcs {
		ck := rec.Namespace + "/" + src.ClaimName
		cs := p.vs.claims[ck]
		vol := p.vs.byClaim[ck]
		if cs == nil && vol == nil {
			p.unschedulable(key, fmt.Sprintf("persistentvolumeclaim %q not found", src.ClaimName))
			return nil, false
		}
		if vol == nil && !cs.wffc {
			p.unschedulable(key, fmt.Sprintf("pod has unbound immediate PersistentVolumeClaims: claim %s is Pending (%s)", src.ClaimName, cs.message))
			return nil, false
		}
		if vol == nil {
			vols = append(vols, scheduler.Volume{Claim: ck, Nodes: cs.candidates, Topology: cs.topology, SameNode: true})
			continue
		}
		v := scheduler.Volume{Claim: ck, Name: vol.Name}
		if vol.Node != "" {
			if !p.alive[vol.Node] {
				p.unschedulable(key, fmt.Sprintf("volume %s is on node %s, which is not ready", vol.Name, vol.Node))
				return nil, false
			}
			v.Nodes = []string{vol.Node}
		}
		if vol.NodeAffinity != nil {
			if !p.anyAliveMatches(vol.NodeAffinity) {
				p.unschedulable(key, fmt.Sprintf("volume %s's node affinity matches no ready node", vol.Name))
				return nil, false
			}
			v.NodeAffinity = vol.NodeAffinity
		}
		users := p.volumeUsers(vol, key)
		switch {
		case slices.Contains(vol.AccessModes, spec.ReadWriteOncePod):
			if len(users) > 0 {
				p.unschedulable(key, fmt.Sprintf("volume %s is used by pod %s (ReadWriteOncePod)", vol.Name, users[0].pod))
				return nil, false
			}
			v.SinglePod = true
		case singleNode(vol.AccessModes):
			v.SameNode = true
			if len(users) > 0 {
				n := users[0].node
				if v.Nodes != nil && v.Nodes[0] != n {
					p.unschedulable(key, fmt.Sprintf("volume %s is on node %s but used on node %s", vol.Name, v.Nodes[0], n))
					return nil, false
				}
				v.Nodes = []string{n}
			}
		}
		vols = append(vols, v)
	}
	if p.vs.needs == nil {
		p.vs.needs = map[string][]scheduler.Volume{}
	}
	p.vs.needs[key] = vols
	return vols, true
}

// singleNode reports whether access modes allow one node only
// (ReadWriteOnce without a many-node mode).
func singleNode(modes []string) bool {
	return slices.Contains(modes, spec.ReadWriteOnce) && !slices.Contains(modes, spec.ReadWriteMany) && !slices.Contains(modes, spec.ReadOnlyMany)
}

// volumeUse is a pod that mounts a volume, and its node.
type volumeUse struct{ pod, node string }

// volumeUsers returns the placed pods other than key that mount vol (the
// records of its claim, and the stopping pods still reported), sorted by
// node then pod.
func (p *planner) volumeUsers(vol *VolumeRecord, key string) []volumeUse {
	var out []volumeUse
	if vol.Phase == VolumeBound {
		for _, k := range p.refs.users(vol.Claim) {
			if k == key {
				continue
			}
			if pr := p.refs.pods[k]; pr != nil && pr.node != "" {
				out = append(out, volumeUse{k, pr.node})
			}
		}
	}
	for _, uid := range vol.Users {
		st := p.observed[uid]
		if st == nil {
			continue
		}
		k := st.Namespace + "/" + st.Name
		if pr := p.refs.pods[k]; pr != nil && pr.uid == uid {
			continue // a record: counted above
		}
		out = append(out, volumeUse{k, st.Node})
	}
	slices.SortFunc(out, func(a, b volumeUse) int {
		if a.node != b.node {
			if a.node < b.node {
				return -1
			}
			return 1
		}
		return comparePodKeys(a.pod, b.pod)
	})
	return out
}

// anyAliveMatches reports whether an alive node matches a volume's node
// affinity.
func (p *planner) anyAliveMatches(aff *spec.NodeSelector) bool {
	for i := range p.nodes {
		if p.alive[p.nodes[i].Name] && scheduler.MatchNodeSelector(&p.nodes[i], aff) {
			return true
		}
	}
	return false
}

// reachable reports whether node can reach every volume: it is among the
// volume's nodes and matches its node affinity.
func (p *planner) reachable(vols []scheduler.Volume, node string) (string, bool) {
	for _, v := range vols {
		if v.Nodes != nil && !slices.Contains(v.Nodes, node) || !p.affinityReaches(v.NodeAffinity, node) {
			name := v.Name
			if name == "" {
				name = "for claim " + v.Claim
			}
			return name, false
		}
	}
	return "", true
}

// settleVolumes runs after scheduling: WaitForFirstConsumer claims whose
// first pod is placed are bound or provisioned on its node; every
// record's users are brought up to date; a volume whose claim is gone
// and that no pod mounts is released, and a released volume with reclaim
// Delete is handed to a node to delete, and forgotten once deleted.
func (p *planner) settleVolumes() {
	vs := p.vs
	defer p.claimOwners()
	for _, key := range p.cat.claimKeys {
		cs := vs.claims[key]
		if !cs.wffc || cs.vol != nil {
			continue
		}
		node := ""
		for _, k := range p.refs.users(key) {
			if pr := p.refs.pods[k]; pr.node != "" {
				node = pr.node
				break
			}
		}
		if node == "" {
			continue
		}
		if pv := p.bestStatic(cs, &node); pv != nil {
			p.bindStatic(cs, pv)
		} else if cs.claim.Spec.VolumeName == "" && cs.classObj.Provisioner != NoProvisioner {
			if classNodeLocal(cs.classObj) {
				p.provision(cs, node)
			} else {
				p.provision(cs, "")
			}
		}
	}
	statuses := p.volumeStatuses()
	for _, name := range sortedKeys(vs.vols) {
		r := vs.vols[name]
		users := p.currentUsers(r)
		inUse := len(users) > 0 || r.Phase == VolumeBound && len(p.refs.users(r.Claim)) > 0
		if !slices.Equal(users, r.Users) {
			nr := *r
			nr.Users = users
			*r = nr
			p.vtouch(name)
		}
		if r.Phase == VolumeBound {
			if _, ok := p.cat.claims[r.Claim]; ok || inUse {
				continue
			}
			nr := *r
			nr.Phase = VolumeReleased
			*r = nr
			delete(vs.byClaim, r.Claim)
			p.vtouch(name)
			p.volumeEvent(name, EventVolumeReleased, fmt.Sprintf("claim %s is gone; reclaim policy %s", r.Claim, r.ReclaimPolicy))
		}
		if r.Phase != VolumeReleased || r.ReclaimPolicy != spec.ReclaimDelete || inUse || !deletable(r) {
			continue
		}
		deleter := r.Node
		if deleter == "" {
			deleter = r.Deleter
			if !p.alive[deleter] || !p.affinityReaches(r.NodeAffinity, deleter) {
				deleter = p.firstAlive(r.NodeAffinity)
			}
		}
		if deleter != r.Deleter {
			nr := *r
			nr.Deleter = deleter
			*r = nr
			p.vtouch(name)
		}
		if st := statuses[deleter][name]; st != nil && st.Phase == api.VolumeDeleted {
			delete(vs.vols, name)
			delete(vs.changed, name)
			vs.deleted = append(vs.deleted, name)
			p.volumeEvent(name, EventVolumeDeleted, "deleted by node "+deleter)
		}
	}
}

// deletable reports whether an agent can delete the volume: one of a
// driver (provisioned, or declared with a csi source), not a hostPath or
// local directory declared in Git.
func deletable(r *VolumeRecord) bool { return r.Driver != "hostPath" && r.Driver != "local" }

// currentUsers is a record's Users as this plan leaves them: the placed
// pods that mount its claim (while it is bound) and the earlier users
// still reported by their agents, sorted.
func (p *planner) currentUsers(r *VolumeRecord) []string {
	var out []string
	if r.Phase == VolumeBound {
		for _, k := range p.refs.users(r.Claim) {
			if pr := p.refs.pods[k]; pr.node != "" {
				out = append(out, pr.uid)
			}
		}
	}
	for _, uid := range r.Users {
		if p.observed[uid] != nil {
			out = append(out, uid)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// firstAlive is the first alive node by name that matches aff (nil: any
// node), "" when none is.
func (p *planner) firstAlive(aff *spec.NodeSelector) string {
	best := ""
	for n, ok := range p.alive {
		if ok && (best == "" || n < best) && p.affinityReaches(aff, n) {
			best = n
		}
	}
	return best
}

// volumeStatuses indexes Input.VolumeStatus by node and volume name.
func (p *planner) volumeStatuses() map[string]map[string]*api.VolumeStatus {
	out := make(map[string]map[string]*api.VolumeStatus, len(p.in.VolumeStatus))
	for node, sts := range p.in.VolumeStatus {
		m := make(map[string]*api.VolumeStatus, len(sts))
		for i := range sts {
			m[sts[i].Name] = &sts[i]
		}
		out[node] = m
	}
	return out
}
