package scheduler

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

// Cluster is the state of one Schedule call: the nodes with their usage and
// the indexes the built-in plugins share. Plugins read it and must not
// modify it.
type Cluster struct {
	// Nodes sorted by name; NodeInfo.Index is the position here.
	Nodes  []NodeInfo
	byName map[string]int32
	// pods are all pods on known nodes, placed before or during the call.
	pods []podRec
	// labelIdx indexes pods by label, built the first time a counter needs
	// it and then kept up to date.
	labelIdx map[labelPair][]int32

	topo     map[string]*topology
	elig     map[string][]bool
	counters map[string]*domainCounter
	// counterIdx finds the counters whose selector may match a pod: each
	// counter is filed under one of its matchLabels pairs, or in counterAny.
	counterIdx map[labelPair][]*domainCounter
	counterAny []*domainCounter
	// owners are existing pods' required anti-affinity terms, grouped, with
	// per-domain counts of the pods that carry them (the symmetric check).
	owners    map[string]*domainCounter
	ownerIdx  map[labelPair][]*domainCounter
	ownerAny  []*domainCounter
	templates map[tmplKey]*podTemplate
	reservers []Reserver
	// kept holds, for a State, what removing each pod of pods must undo
	// (parallel to pods); nil in a one-call Cluster.
	kept []keptPod

	anyUnschedulable, anyNoSchedule, anyPreferNoSchedule bool
	buf                                                  []byte
	gen                                                  int // placements so far
	scratch                                              PodInfo
	lightScratch                                         podTemplate
}

type labelPair struct{ k, v string }

type podRec struct {
	ns     string
	labels map[string]string
	node   int32 // -1: removed (a State's tombstone)
}

// keptPod is what a State needs to take a placed pod off its node again.
type keptPod struct {
	req, nonZero Resources
	hostPorts    []hostPort
	owners       []*domainCounter
}

type hostPort struct {
	proto string
	ip    string
	port  int32
}

type tmplKey struct {
	spec *spec.PodSpec
	ns   string
}

// topology maps each node to its domain for one topology key.
type topology struct {
	nodeDomain []int32 // -1: node lacks the key
	values     []string
	present    []bool // every domain has a node; shared by counters
	nPresent   int
}

func newCluster(nodes []Node, placed []Pod) *Cluster {
	c := &Cluster{
		byName:     make(map[string]int32, len(nodes)),
		topo:       make(map[string]*topology),
		elig:       make(map[string][]bool),
		counters:   make(map[string]*domainCounter),
		counterIdx: make(map[labelPair][]*domainCounter),
		owners:     make(map[string]*domainCounter),
		ownerIdx:   make(map[labelPair][]*domainCounter),
		templates:  make(map[tmplKey]*podTemplate),
	}
	order := make([]int, 0, len(nodes))
	seen := make(map[string]bool, len(nodes))
	for i := range nodes {
		if !seen[nodes[i].Name] {
			seen[nodes[i].Name] = true
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool { return nodes[order[a]].Name < nodes[order[b]].Name })
	c.Nodes = make([]NodeInfo, len(order))
	for i, oi := range order {
		n := &nodes[oi]
		c.Nodes[i] = NodeInfo{Node: n, Index: i, Allocatable: n.Allocatable}
		c.byName[n.Name] = int32(i)
		if n.Unschedulable {
			c.anyUnschedulable = true
		}
		for _, t := range n.Taints {
			switch t.Effect {
			case spec.TaintEffectNoSchedule, spec.TaintEffectNoExecute:
				c.anyNoSchedule = true
			case spec.TaintEffectPreferNoSchedule:
				c.anyPreferNoSchedule = true
			}
		}
	}
	c.pods = make([]podRec, 0, len(placed))
	for i := range placed {
		p := &placed[i]
		ni, ok := c.byName[p.Node]
		if !ok || p.Spec == nil {
			continue // on a node that is gone: it holds nothing
		}
		t := c.placedTemplate(p.Spec, p.Namespace)
		c.scratch = PodInfo{Pod: p, Requests: t.req, NonZeroRequests: t.nonZero, t: t}
		c.place(&c.scratch, ni)
	}
	return c
}

// podInfo compiles p. The returned value is reused by the next call.
func (c *Cluster) podInfo(p *Pod) *PodInfo {
	t := c.template(p.Spec, p.Namespace)
	c.scratch = PodInfo{Pod: p, Requests: t.req, NonZeroRequests: t.nonZero, t: t}
	return &c.scratch
}

// place records pi on node ni and updates every index incrementally.
func (c *Cluster) place(pi *PodInfo, ni int32) {
	c.gen++
	n := &c.Nodes[ni]
	t := pi.t
	n.Requested.add(t.req)
	n.NonZeroRequested.add(t.nonZero)
	n.hostPorts = append(n.hostPorts, t.hostPorts...)
	idx := int32(len(c.pods))
	c.pods = append(c.pods, podRec{ns: pi.Namespace, labels: pi.Labels, node: ni})
	if c.kept != nil {
		k := keptPod{req: t.req, nonZero: t.nonZero, owners: t.owners}
		if len(t.hostPorts) > 0 {
			k.hostPorts = slices.Clone(t.hostPorts)
		}
		c.kept = append(c.kept, k)
	}
	if c.labelIdx != nil {
		for k, v := range pi.Labels {
			lp := labelPair{k, v}
			c.labelIdx[lp] = append(c.labelIdx[lp], idx)
		}
	}
	c.eachCounter(pi.Namespace, pi.Labels, func(dc *domainCounter) { dc.add(ni) })
	for _, g := range t.owners {
		g.add(ni)
	}
	for _, r := range c.reservers {
		r.Reserve(c, pi, n)
	}
}

// topology returns the node-to-domain map for key, built once per call.
func (c *Cluster) topology(key string) *topology {
	if t, ok := c.topo[key]; ok {
		return t
	}
	t := &topology{nodeDomain: make([]int32, len(c.Nodes))}
	ids := make(map[string]int32)
	for i := range c.Nodes {
		v, ok := c.Nodes[i].Labels[key]
		if !ok {
			t.nodeDomain[i] = -1
			continue
		}
		id, ok := ids[v]
		if !ok {
			id = int32(len(t.values))
			ids[v] = id
			t.values = append(t.values, v)
		}
		t.nodeDomain[i] = id
	}
	t.present = make([]bool, len(t.values))
	for i := range t.present {
		t.present[i] = true
	}
	t.nPresent = len(t.values)
	c.topo[key] = t
	return t
}

// eligibility returns, for a canonical node-selection key, which nodes
// match; nil means every node. Computed once per distinct key per call.
func (c *Cluster) eligibility(key string, match func(n *NodeInfo) bool) []bool {
	if key == "" {
		return nil
	}
	if e, ok := c.elig[key]; ok {
		return e
	}
	e := make([]bool, len(c.Nodes))
	for i := range c.Nodes {
		e[i] = match(&c.Nodes[i])
	}
	c.elig[key] = e
	return e
}

// domainCounter counts matching pods per topology domain. Counts only grow
// during a call, which keeps the minimum cheap to maintain.
type domainCounter struct {
	topo       *topology
	sel        *selector
	namespaces []string // empty: any namespace
	nodeDomain []int32  // -1: pods on this node are not counted
	// counts is dense for topologies with few domains; sparse holds the
	// non-zero counts when there are many (hostname: one domain per node),
	// so that thousands of per-workload counters don't cost domains×4 bytes
	// each.
	counts   []int32
	sparse   map[int32]int32
	present  []bool // domains with at least one counted node
	nPresent int
	total    int
	min, max int32
	atMin    int
}

func (dc *domainCounter) matches(ns string, labels map[string]string) bool {
	if len(dc.namespaces) > 0 && !slices.Contains(dc.namespaces, ns) {
		return false
	}
	return dc.sel.matches(labels)
}

// sparseDomains is the domain count above which counters go sparse (a
// variable so that tests can run everything sparse).
var sparseDomains = 256

func (dc *domainCounter) get(d int32) int32 {
	if dc.counts != nil {
		return dc.counts[d]
	}
	return dc.sparse[d]
}

func newCounts(dc *domainCounter, domains int) {
	if domains > sparseDomains {
		dc.sparse = make(map[int32]int32)
	} else {
		dc.counts = make([]int32, domains)
	}
}

func (dc *domainCounter) add(ni int32) {
	d := dc.nodeDomain[ni]
	if d < 0 {
		return
	}
	dc.total++
	v := dc.get(d)
	if dc.counts != nil {
		dc.counts[d] = v + 1
	} else {
		dc.sparse[d] = v + 1
	}
	if v+1 > dc.max {
		dc.max = v + 1
	}
	if v == dc.min {
		dc.atMin--
		if dc.atMin == 0 {
			dc.recomputeMin()
		}
	}
}

func (dc *domainCounter) recomputeMin() {
	dc.min, dc.atMin = 0, 0
	first := true
	for d, ok := range dc.present {
		if !ok {
			continue
		}
		v := dc.get(int32(d))
		switch {
		case first || v < dc.min:
			dc.min, dc.atMin, first = v, 1, false
		case v == dc.min:
			dc.atMin++
		}
	}
}

// counter returns the counter for (topology key, namespaces, selector,
// eligible nodes), creating it and counting the pods already placed.
func (c *Cluster) counter(kind byte, topoKey string, namespaces []string, sel *selector, elig []bool, eligKey string) *domainCounter {
	b := c.buf[:0]
	b = append(b, kind, '|')
	b = append(b, topoKey...)
	b = append(b, '|')
	for _, ns := range namespaces {
		b = append(b, ns...)
		b = append(b, ',')
	}
	b = append(b, '|')
	b = append(b, sel.canon...)
	b = append(b, '|')
	b = append(b, eligKey...)
	c.buf = b
	if dc, ok := c.counters[string(b)]; ok {
		return dc
	}
	key := string(b)
	topo := c.topology(topoKey)
	dc := &domainCounter{topo: topo, sel: sel, namespaces: namespaces, nodeDomain: topo.nodeDomain,
		present: topo.present, nPresent: topo.nPresent}
	newCounts(dc, len(topo.values))
	if elig != nil {
		dc.present, dc.nPresent = make([]bool, len(topo.values)), 0
		dc.nodeDomain = make([]int32, len(topo.nodeDomain))
		for i, d := range topo.nodeDomain {
			if elig[i] {
				dc.nodeDomain[i] = d
			} else {
				dc.nodeDomain[i] = -1
			}
		}
		for _, d := range dc.nodeDomain {
			if d >= 0 && !dc.present[d] {
				dc.present[d] = true
				dc.nPresent++
			}
		}
	}
	dc.recomputeMin()
	c.countExisting(dc)
	c.counters[key] = dc
	if len(sel.pairs) > 0 {
		lp := sel.pairs[0]
		c.counterIdx[lp] = append(c.counterIdx[lp], dc)
	} else if !sel.none {
		c.counterAny = append(c.counterAny, dc)
	}
	return dc
}

func (c *Cluster) countExisting(dc *domainCounter) {
	if dc.sel.none {
		return
	}
	if len(dc.sel.pairs) == 0 {
		for i := range c.pods {
			if p := &c.pods[i]; p.node >= 0 && dc.matches(p.ns, p.labels) {
				dc.add(p.node)
			}
		}
		return
	}
	if c.labelIdx == nil {
		c.labelIdx = make(map[labelPair][]int32)
		for i := range c.pods {
			if c.pods[i].node < 0 {
				continue
			}
			for k, v := range c.pods[i].labels {
				lp := labelPair{k, v}
				c.labelIdx[lp] = append(c.labelIdx[lp], int32(i))
			}
		}
	}
	for _, i := range c.labelIdx[dc.sel.pairs[0]] {
		if p := &c.pods[i]; p.node >= 0 && dc.matches(p.ns, p.labels) {
			dc.add(p.node)
		}
	}
}

// ownerGroup returns the group of existing pods carrying a required
// anti-affinity term; counts are added by place for each owner.
func (c *Cluster) ownerGroup(topoKey string, namespaces []string, sel *selector) *domainCounter {
	key := topoKey + "|" + strings.Join(namespaces, ",") + "|" + sel.canon
	if g, ok := c.owners[key]; ok {
		return g
	}
	topo := c.topology(topoKey)
	g := &domainCounter{topo: topo, sel: sel, namespaces: namespaces, nodeDomain: topo.nodeDomain}
	newCounts(g, len(topo.values))
	c.owners[key] = g
	if len(sel.pairs) > 0 {
		c.ownerIdx[sel.pairs[0]] = append(c.ownerIdx[sel.pairs[0]], g)
	} else if !sel.none {
		c.ownerAny = append(c.ownerAny, g)
	}
	return g
}

// selector is a compiled label selector. A nil *spec.LabelSelector selects
// nothing and an empty one everything, as in Kubernetes' affinity terms.
type selector struct {
	none  bool
	pairs []labelPair // sorted
	exprs []selExpr
	canon string
}

type selExpr struct {
	key    string
	op     string
	values []string
}

func compileSelector(ls *spec.LabelSelector) *selector {
	if ls == nil {
		return &selector{none: true, canon: "<none>"}
	}
	s := &selector{}
	for k, v := range ls.MatchLabels {
		s.pairs = append(s.pairs, labelPair{k, v})
	}
	for _, e := range ls.MatchExpressions {
		vals := slices.Clone(e.Values)
		sort.Strings(vals)
		s.exprs = append(s.exprs, selExpr{key: e.Key, op: e.Operator, values: vals})
	}
	s.finish()
	return s
}

// finish sorts the selector's parts and computes its canonical form.
func (s *selector) finish() {
	sort.Slice(s.pairs, func(a, b int) bool {
		if s.pairs[a].k != s.pairs[b].k {
			return s.pairs[a].k < s.pairs[b].k
		}
		return s.pairs[a].v < s.pairs[b].v
	})
	s.pairs = slices.Compact(s.pairs)
	sort.Slice(s.exprs, func(a, b int) bool {
		if s.exprs[a].key != s.exprs[b].key {
			return s.exprs[a].key < s.exprs[b].key
		}
		if s.exprs[a].op != s.exprs[b].op {
			return s.exprs[a].op < s.exprs[b].op
		}
		return strings.Join(s.exprs[a].values, ",") < strings.Join(s.exprs[b].values, ",")
	})
	var b strings.Builder
	for _, p := range s.pairs {
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
		b.WriteByte(';')
	}
	for _, e := range s.exprs {
		b.WriteString(e.key)
		b.WriteByte(' ')
		b.WriteString(e.op)
		b.WriteByte(' ')
		b.WriteString(strings.Join(e.values, ","))
		b.WriteByte(';')
	}
	s.canon = b.String()
}

// conjunction returns the scope (namespaces, selector) of the pods that
// match every one of the given scopes: the namespaces they all allow and
// the selectors ANDed. Kubernetes counts an existing pod towards a pod's
// required affinity only when it matches all of its terms.
func conjunction(nss [][]string, sels []*selector) ([]string, *selector) {
	none := &selector{none: true, canon: "<none>"}
	common := nss[0]
	for _, n := range nss[1:] {
		var both []string
		for _, ns := range common {
			if slices.Contains(n, ns) {
				both = append(both, ns)
			}
		}
		common = both
	}
	if len(common) == 0 {
		// No namespace is in every term: nothing matches them all (an
		// empty list would mean "any namespace" to a counter).
		return nil, none
	}
	out := &selector{}
	for _, s := range sels {
		if s.none {
			return common, none
		}
		out.pairs = append(out.pairs, s.pairs...)
		out.exprs = append(out.exprs, s.exprs...)
	}
	out.finish()
	return common, out
}

func (s *selector) matches(labels map[string]string) bool {
	if s.none {
		return false
	}
	for _, p := range s.pairs {
		if v, ok := labels[p.k]; !ok || v != p.v {
			return false
		}
	}
	for i := range s.exprs {
		if !matchExpr(s.exprs[i].op, s.exprs[i].values, labels, s.exprs[i].key) {
			return false
		}
	}
	return true
}

// matchExpr evaluates one In/NotIn/Exists/DoesNotExist/Gt/Lt requirement
// against labels. An unknown operator matches nothing (validation in spec
// rejects them before they get here).
func matchExpr(op string, values []string, labels map[string]string, key string) bool {
	v, ok := labels[key]
	switch op {
	case spec.LabelSelectorOpIn:
		return ok && slices.Contains(values, v)
	case spec.LabelSelectorOpNotIn:
		return !ok || !slices.Contains(values, v)
	case spec.LabelSelectorOpExists:
		return ok
	case spec.LabelSelectorOpDoesNotExist:
		return !ok
	case spec.NodeSelectorOpGt, spec.NodeSelectorOpLt:
		if !ok || len(values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if op == spec.NodeSelectorOpGt {
			return have > want
		}
		return have < want
	}
	return false
}

// eachCounter calls fn with every domain counter a pod of that namespace
// and labels counts in.
func (c *Cluster) eachCounter(ns string, labels map[string]string, fn func(*domainCounter)) {
	if len(c.counters) == 0 {
		return
	}
	for k, v := range labels {
		for _, dc := range c.counterIdx[labelPair{k, v}] {
			if dc.matches(ns, labels) {
				fn(dc)
			}
		}
	}
	for _, dc := range c.counterAny {
		if dc.matches(ns, labels) {
			fn(dc)
		}
	}
}
