package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// Persistent volumes follow Kubernetes' PV controller and the scheduler's
// volume binding (docs/storage.md):
//
//   - A claim binds to a volume declared in Git that fits (claimRef,
//     volumeName, class, access modes, the smallest capacity that holds
//     the request, selector), or one is provisioned from its class: at
//     once for an Immediate class (a node-local one on a ready node
//     chosen by hashing the claim), when the first pod that mounts it is
//     placed for a WaitForFirstConsumer class (on that pod's node).
//   - Pending pods go only where their volumes are (the VolumeBinding
//     filter); a ReadWriteOnce volume's pods share one node, a
//     ReadWriteOncePod volume has one pod.
//   - A claim gone from Git releases its volume once no pod mounts it (a
//     stopping pod still does); reclaim Delete sends the volume to an
//     agent to delete and drops the record when the agent says it did.
//
// The core remembers the volumes in Memory.Volumes; the plan is
// deterministic and the same whether made by Plan or by the Planner.

// VolumeRecord is what the core remembers of a PersistentVolume bound to
// a claim, or released by one: provisioned ones exist nowhere else.
type VolumeRecord struct {
	Name string `json:"name"`
	// Claim is the claim ("namespace/name") it is or was bound to, and
	// ClaimUID that claim's UID: a claim re-created under the same name
	// later is another claim and does not get a released volume back.
	Claim    string `json:"claim,omitempty"`
	ClaimUID string `json:"claimUID,omitempty"`
	// Phase is Bound or Released.
	Phase string `json:"phase"`
	// Dynamic is true for a provisioned volume; false for one declared
	// in Git, whose content the record copies when it binds.
	Dynamic bool   `json:"dynamic,omitempty"`
	Class   string `json:"class,omitempty"`
	// Driver and Handle are the volume driver and its identifier.
	Driver        string            `json:"driver"`
	Handle        string            `json:"handle"`
	Capacity      int64             `json:"capacity,omitempty"`
	AccessModes   []string          `json:"accessModes,omitempty"`
	ReclaimPolicy string            `json:"reclaimPolicy"`
	FSType        string            `json:"fsType,omitempty"`
	ReadOnly      bool              `json:"readOnly,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	MountOptions  []string          `json:"mountOptions,omitempty"`
	// Node is where a node-local volume lives; empty for a network one.
	Node string `json:"node,omitempty"`
	// Owner is the StatefulSet whose volumeClaimTemplates made the claim
	// ("StatefulSet/ns/name"), and DeleteWithOwner its whenDeleted policy
	// as last seen (false: Retain): what keeps or drops the claim once the
	// StatefulSet has left Git (statefulset_claims.go).
	Owner           string `json:"owner,omitempty"`
	DeleteWithOwner bool   `json:"deleteWithOwner,omitempty"`
	// NodeAffinity is a declared volume's nodeAffinity.required when it
	// is not the single-node form that Node holds (a label selector,
	// matchFields, several hostnames): only the nodes that match it reach
	// the volume.
	NodeAffinity *spec.NodeSelector `json:"nodeAffinity,omitempty"`
	// Users are the UIDs of the placed pods that mount it, kept while
	// their agents still report them (a stopping pod keeps its volume).
	Users []string `json:"users,omitempty"`
	// Deleter is the node asked to delete a released volume (a
	// node-local volume's own node; any alive node for a network one).
	Deleter string    `json:"deleter,omitempty"`
	Created time.Time `json:"created"`
}

// Volume events.
const (
	// EventProvisioned: a volume was provisioned for a claim.
	EventProvisioned = "ProvisioningSucceeded"
	// EventVolumeBound: a claim was bound to a volume declared in Git.
	EventVolumeBound = "VolumeBound"
	// EventVolumeReleased: a volume's claim is gone and no pod mounts it.
	EventVolumeReleased = "VolumeReleased"
	// EventVolumeDeleted: an agent deleted a released volume.
	EventVolumeDeleted = "VolumeDeleted"
)

// Claim reasons while Pending.
const (
	ReasonWaitForFirstConsumer = "WaitForFirstConsumer"
	ReasonProvisioning         = "Provisioning"
	ReasonFailedBinding        = "FailedBinding"
	ReasonClassNotFound        = "StorageClassNotFound"
)

// claimState is what the plan decided about one claim of Git.
type claimState struct {
	key   string
	claim *spec.PersistentVolumeClaim
	// class is the claim's class name ("" none) and classObj the class.
	class    string
	classObj *spec.StorageClass
	// vol is the bound volume's record.
	vol *VolumeRecord
	// wffc: waiting for its first consumer; candidates are the nodes
	// where it could bind (nil: any), topology the class's allowed
	// topologies.
	wffc       bool
	candidates []string
	topology   []spec.TopologySelectorTerm
	// reason and message say why it is Pending.
	reason, message string
}

// volumeState is the plan's working state of the volumes.
type volumeState struct {
	vols    map[string]*VolumeRecord
	changed map[string]struct{}
	deleted []string
	claims  map[string]*claimState
	// byClaim finds the Bound record of a claim.
	byClaim map[string]*VolumeRecord
	// needs are the pending pods' volumes, by pod key, for applyResults.
	needs map[string][]scheduler.Volume
}

func (p *planner) vtouch(name string) { p.vs.changed[name] = struct{}{} }

func (p *planner) claimEvent(claim, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: "PersistentVolumeClaim/" + claim, Reason: reason, Message: msg})
}

func (p *planner) volumeEvent(name, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: "PersistentVolume/" + name, Reason: reason, Message: msg})
}

// resolveClaims decides every claim of Git before scheduling: the bound
// ones, Immediate ones bound or provisioned now, WaitForFirstConsumer
// ones waiting, the others Pending with a reason.
func (p *planner) resolveClaims() {
	vs := &volumeState{vols: make(map[string]*VolumeRecord, len(p.in.Memory.Volumes)), changed: map[string]struct{}{},
		claims: map[string]*claimState{}, byClaim: map[string]*VolumeRecord{}}
	p.vs = vs
	for _, name := range sortedKeys(p.in.Memory.Volumes) {
		r := p.in.Memory.Volumes[name]
		vs.vols[name] = &r
		if r.Phase == VolumeBound && r.Claim != "" {
			vs.byClaim[r.Claim] = &r
		}
	}
	for _, key := range p.cat.claimKeys {
		cs := &claimState{key: key, claim: p.cat.claims[key]}
		vs.claims[key] = cs
		if v := vs.byClaim[key]; v != nil {
			cs.vol, cs.class = v, v.Class
			continue
		}
		p.classify(cs)
		if cs.reason != "" {
			continue
		}
		if cs.classObj != nil && classWFFC(cs.classObj) {
			p.waitConsumer(cs)
			continue
		}
		if pv := p.bestStatic(cs, nil); pv != nil {
			p.bindStatic(cs, pv)
			continue
		}
		p.provisionNow(cs)
	}
}

// classify resolves a claim's class, or sets why it cannot have one.
func (p *planner) classify(cs *claimState) {
	sc := cs.claim.Spec.StorageClassName
	switch {
	case sc == nil:
		cs.class = p.cat.def
	default:
		cs.class = *sc
	}
	if cs.class == "" {
		return
	}
	cs.classObj = p.cat.classes[cs.class]
	if cs.classObj == nil && !p.staticExists(cs) {
		cs.reason = ReasonClassNotFound
		cs.message = fmt.Sprintf("storageclass.storage.k8s.io %q not found", cs.class)
	}
}

func (p *planner) staticExists(cs *claimState) bool {
	for _, name := range p.cat.pvNames {
		if p.vs.vols[name] == nil && pvMatches(cs, p.cat.pvs[name]) {
			return true
		}
	}
	return false
}

// provisionNow binds or provisions an Immediate claim, or leaves it
// Pending with the reason.
func (p *planner) provisionNow(cs *claimState) {
	switch {
	case cs.claim.Spec.VolumeName != "":
		cs.reason, cs.message = ReasonFailedBinding, fmt.Sprintf("volume %q is not available", cs.claim.Spec.VolumeName)
	case cs.classObj == nil:
		cs.reason, cs.message = ReasonFailedBinding, "no persistent volumes available for this claim and no storage class is set"
	case cs.classObj.Provisioner == NoProvisioner:
		cs.reason, cs.message = ReasonFailedBinding, fmt.Sprintf("no persistent volumes available for this claim; storage class %q provisions none", cs.class)
	case !classNodeLocal(cs.classObj):
		p.provision(cs, "")
	default:
		if node := p.provisionNode(cs); node != "" {
			p.provision(cs, node)
		} else {
			cs.reason, cs.message = ReasonProvisioning, "no ready, schedulable node to provision the volume on"
		}
	}
}

// waitConsumer marks a WaitForFirstConsumer claim and where it could be
// bound: the nodes of the declared volumes that fit, or any (within the
// class's topologies) when the class provisions.
func (p *planner) waitConsumer(cs *claimState) {
	cs.wffc = true
	cs.reason, cs.message = ReasonWaitForFirstConsumer, "waiting for first consumer to be created before binding"
	provisions := cs.claim.Spec.VolumeName == "" && cs.classObj.Provisioner != NoProvisioner
	if provisions {
		cs.topology = cs.classObj.AllowedTopologies
		return
	}
	cs.candidates = []string{}
	for _, name := range p.cat.pvNames {
		pv := p.cat.pvs[name]
		if p.vs.vols[name] != nil || !pvMatches(cs, pv) {
			continue
		}
		nodes := p.pvNodes(pv)
		if nodes == nil {
			cs.candidates = nil
			return
		}
		for _, n := range nodes {
			if !slices.Contains(cs.candidates, n) {
				cs.candidates = append(cs.candidates, n)
			}
		}
	}
	slices.Sort(cs.candidates)
}

// bestStatic returns the declared, unbound volume that fits the claim
// with the smallest capacity (then first by name), limited to node when
// not nil; a volume pre-bound to the claim (claimRef) first.
func (p *planner) bestStatic(cs *claimState, node *string) *spec.PersistentVolume {
	var best *spec.PersistentVolume
	var bestRef bool
	for _, name := range p.cat.pvNames {
		pv := p.cat.pvs[name]
		if p.vs.vols[name] != nil || !pvMatches(cs, pv) {
			continue
		}
		if node != nil && !p.pvReaches(pv, *node) {
			continue
		}
		ref := pv.Spec.ClaimRef != nil
		if best == nil || ref && !bestRef || ref == bestRef && storageBytes(pv.Spec.Capacity) < storageBytes(best.Spec.Capacity) {
			best, bestRef = pv, ref
		}
	}
	return best
}

// pvMatches reports whether a declared volume fits a claim.
func pvMatches(cs *claimState, pv *spec.PersistentVolume) bool {
	c := cs.claim
	if r := pv.Spec.ClaimRef; r != nil {
		ns := r.Namespace
		if ns == "" {
			ns = spec.DefaultNamespace
		}
		if ns+"/"+r.Name != cs.key {
			return false
		}
	}
	if c.Spec.VolumeName != "" && c.Spec.VolumeName != pv.Name {
		return false
	}
	if pv.Spec.StorageClassName != cs.class {
		return false
	}
	for _, m := range c.Spec.AccessModes {
		if !slices.Contains(pv.Spec.AccessModes, m) {
			return false
		}
	}
	if storageBytes(pv.Spec.Capacity) < storageBytes(c.Spec.Resources.Requests) {
		return false
	}
	return c.Spec.Selector == nil || c.Spec.Selector.Matches(pv.Labels)
}

// pvNode is the one node a declared volume's node affinity names, empty
// when it is not that form: the fast path of the common local volume, one
// term with the one requirement kubernetes.io/hostname In [node] (the
// agent labels each node with its name) or metadata.name In [node]. Any
// other affinity is pvAffinity's, evaluated against each node.
func pvNode(pv *spec.PersistentVolume) string {
	a := pv.Spec.NodeAffinity
	if a == nil || a.Required == nil || len(a.Required.NodeSelectorTerms) != 1 {
		return ""
	}
	t := a.Required.NodeSelectorTerms[0]
	var r spec.NodeSelectorRequirement
	switch {
	case len(t.MatchExpressions) == 1 && len(t.MatchFields) == 0:
		r = t.MatchExpressions[0]
		if r.Key != hostnameLabel {
			return ""
		}
	case len(t.MatchFields) == 1 && len(t.MatchExpressions) == 0:
		r = t.MatchFields[0]
		if r.Key != "metadata.name" {
			return ""
		}
	default:
		return ""
	}
	if r.Operator != spec.LabelSelectorOpIn || len(r.Values) != 1 {
		return ""
	}
	return r.Values[0]
}

// hostnameLabel is the node label that holds the node's name.
const hostnameLabel = "kubernetes.io/hostname"

// pvAffinity is a declared volume's nodeAffinity.required when pvNode does
// not reduce it to one node; nil when the volume has none or pvNode does.
func pvAffinity(pv *spec.PersistentVolume) *spec.NodeSelector {
	a := pv.Spec.NodeAffinity
	if a == nil || a.Required == nil || pvNode(pv) != "" {
		return nil
	}
	return a.Required
}

// schedNode returns the alive node named name, or nil.
func (p *planner) schedNode(name string) *scheduler.Node {
	i, ok := slices.BinarySearchFunc(p.nodes, name, func(n scheduler.Node, name string) int {
		return strings.Compare(n.Name, name)
	})
	if !ok {
		return nil
	}
	return &p.nodes[i]
}

// affinityReaches reports whether node is alive and matches a volume's
// node affinity (nil: any node does).
func (p *planner) affinityReaches(aff *spec.NodeSelector, node string) bool {
	if aff == nil {
		return true
	}
	n := p.schedNode(node)
	return n != nil && scheduler.MatchNodeSelector(n, aff)
}

// pvReaches reports whether a declared volume can be used from node.
func (p *planner) pvReaches(pv *spec.PersistentVolume, node string) bool {
	if n := pvNode(pv); n != "" {
		return n == node
	}
	return p.affinityReaches(pvAffinity(pv), node)
}

// pvNodes returns the nodes a declared volume can be used from: its one
// node, or the alive nodes that match its affinity (sorted, not nil); nil
// when any node can.
func (p *planner) pvNodes(pv *spec.PersistentVolume) []string {
	if n := pvNode(pv); n != "" {
		return []string{n}
	}
	aff := pvAffinity(pv)
	if aff == nil {
		return nil
	}
	out := []string{}
	for i := range p.nodes {
		if scheduler.MatchNodeSelector(&p.nodes[i], aff) {
			out = append(out, p.nodes[i].Name)
		}
	}
	return out
}

// bindStatic binds a claim to a volume declared in Git.
func (p *planner) bindStatic(cs *claimState, pv *spec.PersistentVolume) {
	r := &VolumeRecord{
		Name:          pv.Name,
		Claim:         cs.key,
		ClaimUID:      p.newUID("PersistentVolumeClaim/"+cs.key, ""),
		Phase:         VolumeBound,
		Class:         pv.Spec.StorageClassName,
		Capacity:      storageBytes(pv.Spec.Capacity),
		AccessModes:   pv.Spec.AccessModes,
		ReclaimPolicy: pv.Spec.PersistentVolumeReclaimPolicy,
		MountOptions:  pv.Spec.MountOptions,
		Node:          pvNode(pv),
		NodeAffinity:  pvAffinity(pv),
		Created:       p.in.Now,
	}
	if r.ReclaimPolicy == "" {
		r.ReclaimPolicy = spec.ReclaimRetain
	}
	switch s := &pv.Spec.PersistentVolumeSource; {
	case s.CSI != nil:
		r.Driver, r.Handle, r.FSType, r.ReadOnly = s.CSI.Driver, s.CSI.VolumeHandle, s.CSI.FSType, s.CSI.ReadOnly
		r.Parameters = s.CSI.VolumeAttributes
	case s.Local != nil:
		r.Driver, r.Handle, r.Parameters = "local", s.Local.Path, map[string]string{"path": s.Local.Path}
	case s.HostPath != nil:
		r.Driver, r.Handle, r.Parameters = "hostPath", s.HostPath.Path, map[string]string{"path": s.HostPath.Path}
	}
	p.bind(cs, r)
	p.claimEvent(cs.key, EventVolumeBound, "bound to volume "+pv.Name)
}

// provision makes a volume for a claim from its class, on node for a
// node-local class.
func (p *planner) provision(cs *claimState, node string) {
	uid := p.newUID("PersistentVolumeClaim/"+cs.key, "")
	c := cs.classObj
	r := &VolumeRecord{
		Name:          spec.ProvisionedHandlePrefix + uid,
		Claim:         cs.key,
		ClaimUID:      uid,
		Phase:         VolumeBound,
		Dynamic:       true,
		Class:         cs.class,
		Driver:        c.Provisioner,
		Capacity:      storageBytes(cs.claim.Spec.Resources.Requests),
		AccessModes:   cs.claim.Spec.AccessModes,
		ReclaimPolicy: classReclaim(c),
		FSType:        c.Parameters["fsType"],
		Parameters:    c.Parameters,
		MountOptions:  c.MountOptions,
		Node:          node,
		Created:       p.in.Now,
	}
	r.Handle = r.Name
	p.bind(cs, r)
	where := ""
	if node != "" {
		where = " on node " + node
	}
	p.claimEvent(cs.key, EventProvisioned, fmt.Sprintf("provisioned volume %s with %s%s", r.Name, c.Provisioner, where))
}

func (p *planner) bind(cs *claimState, r *VolumeRecord) {
	r.Owner = p.cat.owners[cs.key]
	p.vs.vols[r.Name] = r
	p.vs.byClaim[cs.key] = r
	p.vtouch(r.Name)
	cs.vol, cs.wffc, cs.reason, cs.message = r, false, "", ""
}

// provisionNode picks the node an Immediate node-local claim is
// provisioned on: a ready, schedulable node within the class's
// topologies, chosen by hashing the claim so that claims spread and the
// choice is the same on every plan.
func (p *planner) provisionNode(cs *claimState) string {
	var ok []string
	for _, n := range p.nodes {
		if n.Unschedulable || !p.alive[n.Name] || !scheduler.TopologyMatches(cs.classObj.AllowedTopologies, n.Labels) {
			continue
		}
		tainted := false
		for _, t := range n.Taints {
			if t.Effect == spec.TaintEffectNoSchedule || t.Effect == spec.TaintEffectNoExecute {
				tainted = true
				break
			}
		}
		if !tainted {
			ok = append(ok, n.Name)
		}
	}
	if len(ok) == 0 {
		return ""
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(cs.key); i++ {
		h = (h ^ uint64(cs.key[i])) * 1099511628211
	}
	return ok[h%uint64(len(ok))]
}

// memoryVolumes is the planned Memory.Volumes and its delta.
func (p *planner) memoryVolumes() (vols map[string]VolumeRecord, changed, deleted []string) {
	if p.vs == nil {
		return p.in.Memory.Volumes, nil, nil
	}
	for name := range p.vs.changed {
		if _, ok := p.vs.vols[name]; ok {
			changed = append(changed, name)
		}
	}
	for _, name := range p.vs.deleted {
		if _, ok := p.in.Memory.Volumes[name]; ok {
			deleted = append(deleted, name)
		}
	}
	slices.Sort(changed)
	slices.Sort(deleted)
	if len(changed) == 0 && len(deleted) == 0 {
		return p.in.Memory.Volumes, nil, nil
	}
	vols = make(map[string]VolumeRecord, len(p.vs.vols))
	for name, r := range p.vs.vols {
		vols[name] = *r
	}
	return vols, changed, deleted
}
