package scheduler

// topologySpread enforces DoNotSchedule spread constraints and scores
// ScheduleAnyway ones, from per-domain counters kept for each distinct
// (topology key, selector, namespace, eligible nodes).
type topologySpread struct {
	hard, soft []spreadState
}

type spreadState struct {
	st   *spreadTerm
	topo []int32 // node -> domain, whether or not the node is eligible
	self int32   // 1 when the pod matches its own selector
	min  int32
}

func (*topologySpread) Name() string { return PodTopologySpreadName }

func (f *topologySpread) collect(c *Cluster, p *PodInfo, hard bool, dst []spreadState) []spreadState {
	dst = dst[:0]
	for i := range p.t.spread {
		st := &p.t.spread[i]
		if st.hard != hard {
			continue
		}
		s := spreadState{st: st, topo: st.dc.topo.nodeDomain, min: st.dc.min}
		if st.sel.matches(p.Labels) {
			s.self = 1
		}
		if st.dc.nPresent == 0 || int32(st.dc.nPresent) < st.minDomains {
			s.min = 0
		}
		dst = append(dst, s)
	}
	return dst
}

func (f *topologySpread) PreFilter(c *Cluster, p *PodInfo) NodeFilter {
	if len(p.t.spread) == 0 {
		return nil
	}
	if f.hard = f.collect(c, p, true, f.hard); len(f.hard) == 0 {
		return nil
	}
	return f
}

func (f *topologySpread) Filter(n *NodeInfo) bool {
	for i := range f.hard {
		s := &f.hard[i]
		d := s.topo[n.Index]
		if d < 0 || s.st.dc.get(d)+s.self-s.min > s.st.maxSkew {
			return false
		}
	}
	return true
}

func (f *topologySpread) Reasons(n *NodeInfo, dst []string) []string {
	for i := range f.hard {
		if f.hard[i].topo[n.Index] < 0 {
			return append(dst, reasonSpreadLabel)
		}
	}
	return append(dst, reasonSpread)
}

func (f *topologySpread) PreScore(c *Cluster, p *PodInfo) NodeScorer {
	if len(p.t.spread) == 0 {
		return nil
	}
	if f.soft = f.collect(c, p, false, f.soft); len(f.soft) == 0 {
		return nil
	}
	return (*spreadScore)(f)
}

type spreadScore topologySpread

// Score is 100 in the least-loaded domain and 0 in the most-loaded one,
// averaged over the ScheduleAnyway constraints; a node without the key
// scores 0.
func (f *spreadScore) Score(n *NodeInfo) int64 {
	var sum int64
	for i := range f.soft {
		s := &f.soft[i]
		d := s.topo[n.Index]
		if d < 0 {
			continue
		}
		dc := s.st.dc
		if dc.max <= s.min {
			sum += MaxNodeScore
			continue
		}
		v := int64(dc.max-dc.get(d)) * MaxNodeScore / int64(dc.max-s.min)
		sum += max(0, min(v, MaxNodeScore))
	}
	return sum / int64(len(f.soft))
}

// interPodAffinity enforces required pod affinity and anti-affinity (the
// pod's own terms, and existing pods' anti-affinity terms that match it)
// and scores preferred terms, all from per-domain counters.
type interPodAffinity struct {
	owners []*domainCounter
	aff    []affState
	anti   []*domainCounter
	// scoring
	pref        []prefState
	wAff, wAnti int64
}

type affState struct {
	dc   *domainCounter
	topo []int32
	// free: no pod matches the term yet and the pod matches it itself, so
	// any node with the topology key will do (Kubernetes' rule for the
	// first pod of a group).
	free bool
}

type prefState struct {
	dc   *domainCounter
	w    int64 // negative for anti-affinity
	topo []int32
}

func (*interPodAffinity) Name() string { return InterPodAffinityName }

func (f *interPodAffinity) PreFilter(c *Cluster, p *PodInfo) NodeFilter {
	f.owners = f.owners[:0]
	if len(c.owners) > 0 {
		for k, v := range p.Labels {
			for _, g := range c.ownerIdx[labelPair{k, v}] {
				if g.total > 0 && g.matches(p.Namespace, p.Labels) {
					f.owners = append(f.owners, g)
				}
			}
		}
		for _, g := range c.ownerAny {
			if g.total > 0 && g.matches(p.Namespace, p.Labels) {
				f.owners = append(f.owners, g)
			}
		}
	}
	f.aff = f.aff[:0]
	// Kubernetes' exception for the first pod of a group with affinity to
	// itself: no existing pod matches all its terms (on a node with the
	// term's topology key) and the pod matches them all itself; then any
	// node with every topology key will do. Each term's counter counts the
	// pods matching all the terms, so matching it is matching them all.
	free := true
	for _, at := range p.t.affRequired {
		if at.dc.total > 0 || !at.dc.matches(p.Namespace, p.Labels) {
			free = false
		}
	}
	for _, at := range p.t.affRequired {
		f.aff = append(f.aff, affState{dc: at.dc, topo: at.dc.nodeDomain, free: free})
	}
	f.anti = f.anti[:0]
	for _, at := range p.t.antiRequired {
		f.anti = append(f.anti, at.dc)
	}
	if len(f.owners)+len(f.aff)+len(f.anti) == 0 {
		return nil
	}
	return f
}

// why returns the first rule n breaks, in the order Kubernetes' Filter
// checks them: the pod's affinity, its anti-affinity, then existing pods'
// anti-affinity.
func (f *interPodAffinity) why(n *NodeInfo) string {
	i := n.Index
	for k := range f.aff {
		s := &f.aff[k]
		d := s.topo[i]
		if d < 0 || (!s.free && s.dc.get(d) == 0) {
			return reasonAffinity
		}
	}
	for _, dc := range f.anti {
		if d := dc.nodeDomain[i]; d >= 0 && dc.get(d) > 0 {
			return reasonAntiAffinity
		}
	}
	for _, g := range f.owners {
		if d := g.nodeDomain[i]; d >= 0 && g.get(d) > 0 {
			return reasonExistingAnti
		}
	}
	return ""
}

func (f *interPodAffinity) Filter(n *NodeInfo) bool { return f.why(n) == "" }

func (f *interPodAffinity) Reasons(n *NodeInfo, dst []string) []string {
	if r := f.why(n); r != "" {
		dst = append(dst, r)
	}
	return dst
}

func (f *interPodAffinity) PreScore(_ *Cluster, p *PodInfo) NodeScorer {
	t := p.t
	if len(t.affPreferred)+len(t.antiPref) == 0 {
		return nil
	}
	f.pref, f.wAff, f.wAnti = f.pref[:0], 0, 0
	for _, w := range t.affPreferred {
		f.pref = append(f.pref, prefState{dc: w.dc, w: w.w, topo: w.dc.nodeDomain})
		f.wAff += w.w
	}
	for _, w := range t.antiPref {
		f.pref = append(f.pref, prefState{dc: w.dc, w: -w.w, topo: w.dc.nodeDomain})
		f.wAnti += w.w
	}
	if f.wAff+f.wAnti == 0 {
		return nil
	}
	return (*affinityScore)(f)
}

type affinityScore interPodAffinity

// Score maps the weighted share of matching pods in the node's domain
// (relative to the fullest domain) to 0..100: all anti-affinity and no
// affinity matches give 0, the reverse 100, nothing either way 50-ish.
func (f *affinityScore) Score(n *NodeInfo) int64 {
	raw := f.wAnti * MaxNodeScore
	for k := range f.pref {
		s := &f.pref[k]
		d := s.topo[n.Index]
		if d < 0 || s.dc.max == 0 {
			continue
		}
		raw += s.w * int64(s.dc.get(d)) * MaxNodeScore / int64(s.dc.max)
	}
	return raw / (f.wAff + f.wAnti)
}
