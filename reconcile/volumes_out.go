package reconcile

import (
	"reflect"
	"slices"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// storageOutput fills the plan's volume memory and delta, the nodes'
// config, volumes and deletions, and the claim and volume views. prev,
// when not nil, is the previous Output: a node whose entry is equal keeps
// the previous slice, and the nodes whose entries changed are returned.
func (p *planner) storageOutput(out *Output, prev *Output) (changedNodes []string) {
	out.Memory.Volumes, out.VolumesChanged, out.VolumesDeleted = p.memoryVolumes()
	if len(out.VolumesChanged) > 0 || len(out.VolumesDeleted) > 0 {
		out.MemoryChanged = true
	}
	if p.vs == nil {
		return nil
	}
	var cfgPrev map[string][]api.ConfigObject
	var vPrev, dPrev map[string][]api.PersistentVolume
	if prev != nil {
		cfgPrev, vPrev, dPrev = prev.NodeConfig, prev.NodeVolumes, prev.DeleteVolumes
	}
	nodes := make([]string, 0, len(p.alive))
	for n, ok := range p.alive {
		if ok {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	changed := map[string]bool{}
	// Volumes still mounted by stopping pods, by node.
	stopping := map[string][]*VolumeRecord{}
	for _, name := range sortedKeys(p.vs.vols) {
		r := p.vs.vols[name]
		for _, uid := range r.Users {
			if st := p.observed[uid]; st != nil {
				stopping[st.Node] = append(stopping[st.Node], r)
			}
		}
	}
	for _, node := range nodes {
		var cfg []api.ConfigObject
		var vols []api.PersistentVolume
		seen := map[string]bool{}
		for _, ref := range p.refs.nodeRefs(node) {
			if c, ok := refClaim(ref); ok {
				if r := p.vs.byClaim[c]; r != nil && !seen[r.Name] {
					seen[r.Name] = true
					vols = append(vols, volumeOf(r))
				}
				continue
			}
			if o := p.cat.configObject(ref); o != nil {
				cfg = append(cfg, *o)
			}
		}
		for _, r := range stopping[node] {
			if !seen[r.Name] {
				seen[r.Name] = true
				vols = append(vols, volumeOf(r))
			}
		}
		slices.SortFunc(vols, func(a, b api.PersistentVolume) int { return strings.Compare(a.Name, b.Name) })
		setNodeEntry(&out.NodeConfig, cfgPrev, node, cfg, changed)
		setNodeEntry(&out.NodeVolumes, vPrev, node, vols, changed)
	}
	dels := map[string][]api.PersistentVolume{}
	for _, name := range sortedKeys(p.vs.vols) {
		r := p.vs.vols[name]
		if r.Phase == VolumeReleased && r.ReclaimPolicy == spec.ReclaimDelete && len(r.Users) == 0 && r.Deleter != "" && p.alive[r.Deleter] && deletable(r) {
			dels[r.Deleter] = append(dels[r.Deleter], volumeOf(r))
		}
	}
	for _, node := range nodes {
		setNodeEntry(&out.DeleteVolumes, dPrev, node, dels[node], changed)
	}
	out.Claims, out.Volumes = p.storageViews(statusesByName(p.in.VolumeStatus))
	return sortedKeys(changed)
}

// setNodeEntry sets (*m)[node] = v when v is not empty, reusing the
// previous slice when equal, and notes node in changed when its entry
// differs from prev's.
func setNodeEntry[T any](m *map[string][]T, prev map[string][]T, node string, v []T, changed map[string]bool) {
	old, had := prev[node]
	if len(v) == 0 {
		if had {
			changed[node] = true
		}
		return
	}
	if *m == nil {
		*m = map[string][]T{}
	}
	if had && reflect.DeepEqual(old, v) {
		(*m)[node] = old
		return
	}
	(*m)[node] = v
	if prev != nil {
		changed[node] = true
	}
}

// configObject returns the ConfigMap or Secret of a ref as a set carries
// it, nil when Git has none; computed once per catalog.
func (c *catalog) configObject(ref string) *api.ConfigObject {
	if o, ok := c.configObjs[ref]; ok {
		return o
	}
	var out *api.ConfigObject
	if obj := c.config[ref]; obj != nil {
		parts := strings.SplitN(ref, "/", 3)
		out = ConfigObjectOf(parts[1], obj)
	}
	if c.configObjs == nil {
		c.configObjs = map[string]*api.ConfigObject{}
	}
	c.configObjs[ref] = out
	return out
}

// volumeOf is a record as a set carries it.
func volumeOf(r *VolumeRecord) api.PersistentVolume {
	return api.PersistentVolume{
		Name:          r.Name,
		Claim:         r.Claim,
		Driver:        r.Driver,
		Handle:        r.Handle,
		CapacityBytes: r.Capacity,
		FSType:        r.FSType,
		AccessModes:   r.AccessModes,
		ReadOnly:      r.ReadOnly,
		Parameters:    r.Parameters,
		MountOptions:  r.MountOptions,
	}
}

func statusesByName(in map[string][]api.VolumeStatus) map[string]map[string]*api.VolumeStatus {
	out := map[string]map[string]*api.VolumeStatus{}
	for node, sts := range in {
		for i := range sts {
			m := out[sts[i].Name]
			if m == nil {
				m = map[string]*api.VolumeStatus{}
				out[sts[i].Name] = m
			}
			m[node] = &sts[i]
		}
	}
	return out
}

// storageViews builds the claim and volume views.
func (p *planner) storageViews(status map[string]map[string]*api.VolumeStatus) ([]ClaimView, []VolumeView) {
	var claims []ClaimView
	for _, key := range p.cat.claimKeys {
		cs := p.vs.claims[key]
		c := cs.claim
		ns, name, _ := strings.Cut(key, "/")
		v := ClaimView{Namespace: ns, Name: name, Phase: ClaimPending, Reason: cs.reason, Message: cs.message,
			Requested: storageBytes(c.Spec.Resources.Requests), AccessModes: c.Spec.AccessModes, StorageClass: cs.class,
			UsedBy: p.refs.users(key), Owner: p.cat.owners[key]}
		if r := cs.vol; r != nil {
			v.Phase, v.Reason, v.Message = ClaimBound, "", ""
			v.Volume, v.Capacity, v.Node, v.Created = r.Name, r.Capacity, r.Node, r.Created
			if st := status[r.Name][r.Node]; r.Node != "" && st != nil && st.Phase == api.VolumeFailed {
				v.Reason, v.Message = "VolumeFailed", st.Message
			}
		}
		claims = append(claims, v)
	}
	var vols []VolumeView
	names := sortedKeys(p.vs.vols)
	for _, n := range p.cat.pvNames {
		if p.vs.vols[n] == nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if r := p.vs.vols[n]; r != nil {
			v := VolumeView{Name: n, Phase: r.Phase, Capacity: r.Capacity, AccessModes: r.AccessModes,
				ReclaimPolicy: r.ReclaimPolicy, StorageClass: r.Class, Claim: r.Claim, Driver: r.Driver,
				Handle: r.Handle, Node: r.Node, Dynamic: r.Dynamic, Created: r.Created}
			switch {
			case r.Phase == VolumeBound && r.Claim != "" && p.cat.claims[r.Claim] == nil:
				v.Reason, v.Message = "ClaimDeleted", "claim "+r.Claim+" is gone; pods still mount the volume"
			case r.Phase == VolumeReleased && r.ReclaimPolicy == spec.ReclaimDelete && !deletable(r):
				v.Phase, v.Reason, v.Message = VolumeFailed, "VolumeFailedDelete", "no driver deletes a "+r.Driver+" volume: delete the data and the PersistentVolume by hand"
			case r.Phase == VolumeReleased && r.ReclaimPolicy == spec.ReclaimDelete && len(r.Users) > 0:
				v.Reason, v.Message = "InUse", "waiting for the pods that mount it to stop"
			case r.Phase == VolumeReleased && r.ReclaimPolicy == spec.ReclaimDelete && r.Deleter == "":
				v.Reason, v.Message = "Deleting", "waiting for an alive node to delete it"
			case r.Phase == VolumeReleased && r.ReclaimPolicy == spec.ReclaimDelete:
				v.Reason, v.Message = "Deleting", "node "+r.Deleter+" is deleting it"
				if st := status[n][r.Deleter]; st != nil && st.Phase == api.VolumeFailed {
					v.Phase, v.Reason, v.Message = VolumeFailed, "VolumeFailedDelete", st.Message
				}
			}
			if r.Phase == VolumeBound {
				for _, node := range sortedKeys(status[n]) {
					if st := status[n][node]; st.Phase == api.VolumeFailed {
						v.Reason, v.Message = "VolumeFailed", "node "+node+": "+st.Message
						break
					}
				}
			}
			vols = append(vols, v)
			continue
		}
		pv := p.cat.pvs[n]
		v := VolumeView{Name: n, Phase: VolumeAvailable, Capacity: storageBytes(pv.Spec.Capacity), AccessModes: pv.Spec.AccessModes,
			ReclaimPolicy: pv.Spec.PersistentVolumeReclaimPolicy, StorageClass: pv.Spec.StorageClassName, Node: pvNode(pv)}
		if v.ReclaimPolicy == "" {
			v.ReclaimPolicy = spec.ReclaimRetain
		}
		if c := pv.Spec.CSI; c != nil {
			v.Driver, v.Handle = c.Driver, c.VolumeHandle
		} else if pv.Spec.Local != nil {
			v.Driver, v.Handle = "local", pv.Spec.Local.Path
		} else if pv.Spec.HostPath != nil {
			v.Driver, v.Handle = "hostPath", pv.Spec.HostPath.Path
		}
		if r := pv.Spec.ClaimRef; r != nil {
			ns := r.Namespace
			if ns == "" {
				ns = spec.DefaultNamespace
			}
			v.Claim = ns + "/" + r.Name
		}
		vols = append(vols, v)
	}
	return claims, vols
}
