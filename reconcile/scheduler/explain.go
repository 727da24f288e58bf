package scheduler

import (
	"fmt"
	"sort"
)

// NodeVerdict is one node's outcome for a pod, as Explain reports it.
type NodeVerdict struct {
	Node string
	// Reasons is empty for a node the pod may run on; otherwise the
	// reasons of the first filter that refused it, in Kubernetes' words.
	Reasons []string
	// Filter names the plugin that refused the node; empty when it fits.
	Filter string
	// Scores are the unweighted scores (0..MaxNodeScore) of the score
	// plugins that apply to the pod, by plugin name; nil when refused.
	Scores map[string]int64
	// Total is the weighted sum Schedule ranks nodes by.
	Total int64
}

// Explain shows how Schedule sees pod against every node: which filter
// refused each node and why, and the score breakdown of the others, best
// first (ties to fewer pods, then by name, as Schedule breaks them), refused nodes last by name.
// It scores every node, so with sampling Schedule may pick a node ranked
// below the first one here: the best of the nodes it looked at. It is for
// `ctl describe`-style explanations, not for the hot path.
func (s *Scheduler) Explain(nodes []Node, placed []Pod, pod Pod) ([]NodeVerdict, error) {
	if pod.Spec == nil {
		return nil, fmt.Errorf("failed to explain pod %s/%s: %w", pod.Namespace, pod.Name, ErrNoSpec)
	}
	prof := s.def
	if name := pod.Spec.SchedulerName; name != "" && name != DefaultSchedulerName {
		var ok bool
		if prof, ok = s.profiles[name]; !ok {
			return nil, fmt.Errorf("failed to explain pod %s/%s: profile %q: %w", pod.Namespace, pod.Name, name, ErrInvalidProfile)
		}
	}
	c := newCluster(nodes, placed)
	r := s.newRun(prof, c)
	pi := c.podInfo(&pod)
	c.full(pi.t, pod.Namespace)
	var filters []NodeFilter
	var filterNames []string
	for _, f := range r.filters {
		if nf := f.PreFilter(c, pi); nf != nil {
			filters = append(filters, nf)
			filterNames = append(filterNames, f.Name())
		}
	}
	type scorer struct {
		name string
		w    int64
		ns   NodeScorer
	}
	var scorers []scorer
	for i, sp := range r.scores {
		if ns := sp.PreScore(c, pi); ns != nil {
			scorers = append(scorers, scorer{sp.Name(), r.weights[i], ns})
		}
	}
	out := make([]NodeVerdict, len(c.Nodes))
	pods := make([]int64, len(c.Nodes)) // for the tie-break, by node index
	for i := range c.Nodes {
		ni := &c.Nodes[i]
		v := NodeVerdict{Node: ni.Name}
		for j, f := range filters {
			if !f.Filter(ni) {
				v.Reasons, v.Filter = f.Reasons(ni, nil), filterNames[j]
				break
			}
		}
		if v.Reasons == nil {
			v.Scores = make(map[string]int64, len(scorers))
			for _, sc := range scorers {
				x := sc.ns.Score(ni)
				v.Scores[sc.name] += x
				v.Total += sc.w * x
			}
		}
		out[i] = v
		pods[i] = ni.Requested.Pods
	}
	// Nodes are sorted by name already; ties break as Schedule breaks
	// them (fewer pods, then name).
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		va, vb := &out[idx[a]], &out[idx[b]]
		fa, fb := va.Reasons == nil, vb.Reasons == nil
		if fa != fb {
			return fa
		}
		if !fa {
			return false
		}
		if va.Total != vb.Total {
			return va.Total > vb.Total
		}
		return pods[idx[a]] < pods[idx[b]]
	})
	sorted := make([]NodeVerdict, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted, nil
}
