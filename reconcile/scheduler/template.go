package scheduler

import (
	"slices"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

// Kubernetes' scoring defaults for containers without requests
// (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest).
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 * 1024 * 1024
)

// podTemplate is everything about a pod spec (in a namespace) the plugins
// need, compiled once per distinct *spec.PodSpec per call: the replicas of a
// workload usually share one.
type podTemplate struct {
	spec         *spec.PodSpec
	full         bool
	req, nonZero Resources
	hostPorts    []hostPort

	// node selection: nodeSelector and required node affinity together.
	hasNodeSel bool
	eligKey    string
	elig       []bool
	preferred  []weightedElig
	prefTotal  int64

	affRequired  []affTerm
	antiRequired []affTerm
	affPreferred []weightedTerm
	antiPref     []weightedTerm
	owners       []*domainCounter
	spread       []spreadTerm
}

type weightedElig struct {
	w    int64
	elig []bool
}

type affTerm struct {
	dc  *domainCounter
	sel *selector
	ns  []string
}

type weightedTerm struct {
	w int64
	affTerm
}

type spreadTerm struct {
	dc         *domainCounter
	sel        *selector
	maxSkew    int32
	hard       bool
	minDomains int32
}

func (c *Cluster) template(ps *spec.PodSpec, ns string) *podTemplate {
	k := tmplKey{ps, ns}
	if t, ok := c.templates[k]; ok {
		return t
	}
	t := &podTemplate{}
	c.light(t, ps, ns)
	c.templates[k] = t
	return t
}

// placedTemplate is template for a pod that is already placed: unless the
// pod imposes anti-affinity on others, its few facts are computed into a
// reused value instead of being cached, because the reconciler passes each
// placed pod its own spec and caching 150,000 of them costs more than it
// saves.
func (c *Cluster) placedTemplate(ps *spec.PodSpec, ns string) *podTemplate {
	if ps.Affinity != nil && ps.Affinity.PodAntiAffinity != nil {
		return c.template(ps, ns)
	}
	if t, ok := c.templates[tmplKey{ps, ns}]; ok {
		return t
	}
	hp := c.lightScratch.hostPorts[:0]
	c.lightScratch = podTemplate{hostPorts: hp}
	c.light(&c.lightScratch, ps, ns)
	return &c.lightScratch
}

func (c *Cluster) light(t *podTemplate, ps *spec.PodSpec, ns string) {
	t.spec = ps
	t.req = PodRequests(ps)
	t.nonZero = t.req
	t.nonZero.Extended = nil // scores look at cpu and memory only
	for i := range ps.Containers {
		ctr := &ps.Containers[i]
		if !hasResource(ctr.Resources, spec.ResourceCPU) {
			t.nonZero.MilliCPU += defaultMilliCPURequest
		}
		if !hasResource(ctr.Resources, spec.ResourceMemory) {
			t.nonZero.Memory += defaultMemoryRequest
		}
		for _, p := range ctr.Ports {
			// A host-network pod's containerPorts are the node's ports.
			if hp := ps.HostPortOf(p); hp > 0 {
				proto := p.Protocol
				if proto == "" {
					proto = spec.ProtocolTCP
				}
				t.hostPorts = append(t.hostPorts, hostPort{proto: proto, ip: p.HostIP, port: hp})
			}
		}
	}
	if a := ps.Affinity; a != nil && a.PodAntiAffinity != nil {
		// Placed pods need only their requests, ports and the anti-affinity
		// terms they impose on others; the rest is compiled when pending.
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			nss, sel := termScope(term, ns)
			t.owners = append(t.owners, c.ownerGroup(term.TopologyKey, nss, sel))
		}
	}
}

// full compiles what placing the pod needs beyond template: node
// selection, affinity counters and spread counters.
func (c *Cluster) full(t *podTemplate, ns string) {
	if t.full {
		return
	}
	t.full = true
	ps := t.spec
	t.compileNodeSelection(c)
	if a := ps.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			t.affRequired = c.requiredAffinity(pa.RequiredDuringSchedulingIgnoredDuringExecution, ns)
			for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				t.affPreferred = append(t.affPreferred, weightedTerm{int64(w.Weight), c.affTerm('a', w.PodAffinityTerm, ns)})
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			for _, term := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
				t.antiRequired = append(t.antiRequired, c.affTerm('a', term, ns))
			}
			for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				t.antiPref = append(t.antiPref, weightedTerm{int64(w.Weight), c.affTerm('a', w.PodAffinityTerm, ns)})
			}
		}
	}
	for _, tsc := range ps.TopologySpreadConstraints {
		sel := compileSelector(tsc.LabelSelector)
		st := spreadTerm{sel: sel, maxSkew: tsc.MaxSkew, hard: tsc.WhenUnsatisfiable != spec.ScheduleAnyway}
		if st.maxSkew < 1 {
			st.maxSkew = 1
		}
		if tsc.MinDomains != nil {
			st.minDomains = *tsc.MinDomains
		}
		// Spread counts only pods on nodes the pod itself could be placed on
		// by node affinity (Kubernetes' nodeAffinityPolicy: Honor).
		st.dc = c.counter('s', tsc.TopologyKey, []string{ns}, sel, t.elig, t.eligKey)
		t.spread = append(t.spread, st)
	}
}

func hasResource(r spec.Resources, name string) bool {
	if _, ok := r.Requests[name]; ok {
		return true
	}
	_, ok := r.Limits[name]
	return ok
}

func termScope(term spec.PodAffinityTerm, ns string) ([]string, *selector) {
	nss := term.Namespaces
	if len(nss) == 0 {
		nss = []string{ns}
	} else {
		nss = slices.Clone(nss)
		sort.Strings(nss)
	}
	return nss, compileSelector(term.LabelSelector)
}

func (c *Cluster) affTerm(kind byte, term spec.PodAffinityTerm, ns string) affTerm {
	nss, sel := termScope(term, ns)
	return affTerm{dc: c.counter(kind, term.TopologyKey, nss, sel, nil, ""), sel: sel, ns: nss}
}

// requiredAffinity compiles a pod's required affinity terms as Kubernetes'
// InterPodAffinity plugin reads them: an existing pod counts only if it
// matches every term (namespace and selector), and then counts in each
// term's topology domain. So each term gets a counter of the pods matching
// all the terms, keyed by that term's topology key; a node passes when, for
// every term, its domain holds at least one such pod.
func (c *Cluster) requiredAffinity(terms []spec.PodAffinityTerm, ns string) []affTerm {
	if len(terms) == 0 {
		return nil
	}
	nss := make([][]string, len(terms))
	sels := make([]*selector, len(terms))
	for i, term := range terms {
		nss[i], sels[i] = termScope(term, ns)
	}
	allNs, all := conjunction(nss, sels)
	out := make([]affTerm, len(terms))
	for i, term := range terms {
		out[i] = affTerm{dc: c.counter('a', term.TopologyKey, allNs, all, nil, ""), sel: sels[i], ns: nss[i]}
	}
	return out
}

// compileNodeSelection turns nodeSelector, required and preferred node
// affinity into per-node bitmaps shared by every pod with the same rules.
func (t *podTemplate) compileNodeSelection(c *Cluster) {
	ps := t.spec
	var req *spec.NodeSelector
	var pref []spec.PreferredSchedulingTerm
	if ps.Affinity != nil && ps.Affinity.NodeAffinity != nil {
		req = ps.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		pref = ps.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	}
	if len(ps.NodeSelector) > 0 || req != nil {
		var b strings.Builder
		keys := make([]string, 0, len(ps.NodeSelector))
		for k := range ps.NodeSelector {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("sel:")
		for _, k := range keys {
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(ps.NodeSelector[k])
			b.WriteByte(';')
		}
		if req != nil {
			b.WriteString("|req:")
			for _, term := range req.NodeSelectorTerms {
				writeTerm(&b, term)
				b.WriteString("||")
			}
		}
		t.hasNodeSel = true
		t.eligKey = b.String()
		t.elig = c.eligibility(t.eligKey, func(n *NodeInfo) bool { return matchNodeSelection(n.Node, ps.NodeSelector, req) })
	}
	for _, p := range pref {
		if p.Weight <= 0 {
			continue
		}
		var b strings.Builder
		b.WriteString("pref:")
		writeTerm(&b, p.Preference)
		term := p.Preference
		e := c.eligibility(b.String(), func(n *NodeInfo) bool { return matchNodeTerm(n.Node, term) })
		t.preferred = append(t.preferred, weightedElig{int64(p.Weight), e})
		t.prefTotal += int64(p.Weight)
	}
}

func writeTerm(b *strings.Builder, term spec.NodeSelectorTerm) {
	w := func(prefix string, reqs []spec.NodeSelectorRequirement) {
		for _, r := range reqs {
			vals := slices.Clone(r.Values)
			sort.Strings(vals)
			b.WriteString(prefix)
			b.WriteString(r.Key)
			b.WriteByte(' ')
			b.WriteString(r.Operator)
			b.WriteByte(' ')
			b.WriteString(strings.Join(vals, ","))
			b.WriteByte(';')
		}
	}
	w("e:", term.MatchExpressions)
	w("f:", term.MatchFields)
}

// MatchNodeSelector reports whether node n matches a node selector as
// Kubernetes evaluates a pod's required node affinity or a
// PersistentVolume's nodeAffinity.required: its terms are ORed, each
// term's requirements ANDed (matchExpressions on labels, matchFields on
// metadata.name); an empty term, or no terms, match no node. A nil
// selector matches every node.
func MatchNodeSelector(n *Node, req *spec.NodeSelector) bool {
	return matchNodeSelection(n, nil, req)
}

// matchNodeSelection is Kubernetes' nodeSelector AND required node affinity
// (whose terms are ORed; an empty term list matches no node).
func matchNodeSelection(n *Node, sel map[string]string, req *spec.NodeSelector) bool {
	for k, v := range sel {
		if have, ok := n.Labels[k]; !ok || have != v {
			return false
		}
	}
	if req == nil {
		return true
	}
	for _, term := range req.NodeSelectorTerms {
		if matchNodeTerm(n, term) {
			return true
		}
	}
	return false
}

// matchNodeTerm ANDs a term's requirements; an empty term matches nothing,
// as in Kubernetes. matchFields supports metadata.name only.
func matchNodeTerm(n *Node, term spec.NodeSelectorTerm) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		if !matchExpr(r.Operator, r.Values, n.Labels, r.Key) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		if r.Key != "metadata.name" {
			return false
		}
		if !matchExpr(r.Operator, r.Values, map[string]string{"metadata.name": n.Name}, r.Key) {
			return false
		}
	}
	return true
}
