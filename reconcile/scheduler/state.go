package scheduler

import "slices"

// State is the cluster state of Schedule kept from one call to the next, for
// a caller that plans often and changes little between plans (the
// reconciler's incremental planner): reading 150,000 placed pods costs more
// than placing a hundred new ones, so a State reads them once and is then
// told what changed. For the same nodes and the same placed pods,
// State.Schedule returns what Scheduler.Schedule returns.
//
// What State keeps is a pure function of its nodes and placed pods: node
// usage, host ports, and the per-topology-domain counters and anti-affinity
// groups the plugins create (kept up to date as pods come and go, counting
// exactly what a fresh call would count). Compiled templates are dropped at
// every call, because they are keyed by *spec.PodSpec and specs of old
// revisions must not pile up.
//
// A State is not safe for concurrent use. The nodes are fixed: a node change
// (a new node, a label, a taint, allocatable) needs a new State.
type State struct {
	s     *Scheduler
	nodes []Node
	c     *Cluster
	// byKey finds a placed pod's index in c.pods by namespace and name.
	byKey map[podKey]int32
	dead  int // tombstones in c.pods
}

type podKey struct{ ns, name string }

// NewState returns a State holding nodes and the pods already placed on
// them. Pods on unknown nodes, or without a spec, hold nothing, as in
// Schedule. A pod is known by namespace and name: placing a second pod of
// the same name replaces the first.
func (s *Scheduler) NewState(nodes []Node, placed []Pod) *State {
	st := &State{s: s, nodes: slices.Clone(nodes), byKey: make(map[podKey]int32, len(placed))}
	st.c = newCluster(st.nodes, nil)
	st.c.kept = make([]keptPod, 0, len(placed))
	st.c.pods = make([]podRec, 0, len(placed))
	for i := range placed {
		st.Add(placed[i])
	}
	return st
}

// Len returns how many pods the State holds.
func (st *State) Len() int { return len(st.byKey) }

// Add records p, placed on p.Node; a pod on an unknown node, or without a
// spec, is ignored (and a pod of that name already held is removed).
func (st *State) Add(p Pod) {
	st.Remove(p.Namespace, p.Name)
	c := st.c
	ni, ok := c.byName[p.Node]
	if !ok || p.Spec == nil {
		return
	}
	t := c.placedTemplate(p.Spec, p.Namespace)
	c.scratch = PodInfo{Pod: &p, Requests: t.req, NonZeroRequests: t.nonZero, t: t}
	st.byKey[podKey{p.Namespace, p.Name}] = int32(len(c.pods))
	c.place(&c.scratch, ni)
	c.scratch = PodInfo{}
}

// Remove takes the pod of that namespace and name off its node; a pod the
// State does not hold is ignored.
func (st *State) Remove(namespace, name string) {
	k := podKey{namespace, name}
	idx, ok := st.byKey[k]
	if !ok {
		return
	}
	delete(st.byKey, k)
	st.c.unplace(idx)
	st.dead++
	if st.dead > compactAt && st.dead > len(st.c.pods)/2 {
		st.compact()
	}
}

// Schedule is Scheduler.Schedule on the State's nodes and pods: it places
// each pending pod in order and keeps the pods it placed (under their
// namespace and name), as placed pods of the next call.
func (st *State) Schedule(pending []Pod) []Result {
	c := st.c
	c.templates = make(map[tmplKey]*podTemplate)
	c.reservers = nil
	base := len(c.pods)
	out := st.s.scheduleOn(c, pending)
	c.reservers = nil
	if len(c.pods) > base {
		// scheduleOn appended the placed pods in pending order; index
		// them by name. A name already held is replaced, as by Add.
		j := base
		for i := range pending {
			if out[i].Node == "" {
				continue
			}
			k := podKey{pending[i].Namespace, pending[i].Name}
			if old, ok := st.byKey[k]; ok {
				c.unplace(old)
				st.dead++
			}
			st.byKey[k] = int32(j)
			j++
		}
	}
	return out
}

// compact drops the tombstones of removed pods.
func (st *State) compact() {
	c := st.c
	remap := make([]int32, len(c.pods))
	pods := make([]podRec, 0, len(st.byKey))
	kept := make([]keptPod, 0, len(st.byKey))
	for i := range c.pods {
		if c.pods[i].node < 0 {
			remap[i] = -1
			continue
		}
		remap[i] = int32(len(pods))
		pods = append(pods, c.pods[i])
		kept = append(kept, c.kept[i])
	}
	c.pods, c.kept = pods, kept
	for k, i := range st.byKey {
		st.byKey[k] = remap[i]
	}
	c.labelIdx = nil // rebuilt when a counter next needs it
	st.dead = 0
}

// compactAt is how many tombstones a State tolerates before compacting
// (a variable for tests).
var compactAt = 1024

// unplace undoes place for the pod at idx, which must hold a pod.
func (c *Cluster) unplace(idx int32) {
	pr := &c.pods[idx]
	ni := pr.node
	if ni < 0 {
		return
	}
	c.gen++
	k := &c.kept[idx]
	n := &c.Nodes[ni]
	n.Requested.sub(k.req)
	n.NonZeroRequested.sub(k.nonZero)
	for _, hp := range k.hostPorts {
		if i := slices.Index(n.hostPorts, hp); i >= 0 {
			n.hostPorts = slices.Delete(n.hostPorts, i, i+1)
		}
	}
	c.eachCounter(pr.ns, pr.labels, func(dc *domainCounter) { dc.remove(ni) })
	for _, g := range k.owners {
		g.remove(ni)
	}
	pr.node, pr.labels = -1, nil
	*k = keptPod{}
}

func (r *Resources) sub(o Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for k, v := range o.Extended {
		if r.Extended[k] -= v; r.Extended[k] == 0 {
			delete(r.Extended, k)
		}
	}
}

// remove undoes add: the counts, total and maximum are what adding the
// remaining pods alone would give; the minimum over present domains too.
func (dc *domainCounter) remove(ni int32) {
	d := dc.nodeDomain[ni]
	if d < 0 {
		return
	}
	dc.total--
	v := dc.get(d) - 1
	if dc.counts != nil {
		dc.counts[d] = v
	} else if v == 0 {
		delete(dc.sparse, d)
	} else {
		dc.sparse[d] = v
	}
	if v+1 == dc.max {
		dc.max = 0
		if dc.counts != nil {
			for _, x := range dc.counts {
				dc.max = max(dc.max, x)
			}
		} else {
			for _, x := range dc.sparse {
				dc.max = max(dc.max, x)
			}
		}
	}
	if dc.present == nil {
		// An anti-affinity owner group: add keeps no minimum for it either
		// (it never has present domains), and nothing reads one.
		if v+1 == dc.min {
			dc.atMin++
		}
		return
	}
	switch {
	case v < dc.min:
		dc.min, dc.atMin = v, 1
	case v == dc.min:
		dc.atMin++
	}
}
