package scheduler

import (
	"maps"
	"sort"
	"strconv"
)

// MaxNodeScore is the highest score a ScorePlugin gives a node; scores run
// from 0 to MaxNodeScore and are multiplied by the plugin's weight.
const MaxNodeScore = 100

// Plugin is a named scheduling plugin. A plugin implements FilterPlugin,
// ScorePlugin or both, and optionally Reserver.
//
// Threading: a Factory is called once per Schedule call for each plugin the
// profile names, and the instance it returns is used by that call alone, on
// one goroutine. A plugin may therefore keep per-call state and reuse one
// per-pod scratch value without locks (the built-ins do, so that placing a
// pod allocates nothing per node). Plugins must not retain *NodeInfo,
// *PodInfo or *Cluster after the call returns, and must not modify them.
type Plugin interface {
	Name() string
}

// Factory makes a fresh plugin instance for one Schedule call.
type Factory func() Plugin

// FilterPlugin decides whether a pod may run on a node (Kubernetes' Filter
// extension point, with PreFilter folded in).
type FilterPlugin interface {
	Plugin
	// PreFilter is called once per pending pod before any node is looked
	// at. It returns the filter to run on each node for this pod, or nil
	// when the plugin has nothing to check for this pod (it is then skipped
	// for every node, which is what keeps plugins that do not apply free).
	PreFilter(c *Cluster, p *PodInfo) NodeFilter
}

// NodeFilter is a FilterPlugin's per-pod check. The value may be reused by
// the plugin for the next pod once the scheduler calls PreFilter again.
type NodeFilter interface {
	// Filter reports whether the pod may run on n. It is the hot path:
	// called for many nodes per pod, it should not allocate.
	Filter(n *NodeInfo) bool
	// Reasons appends why the pod may not run on n, in Kubernetes' words
	// ("Insufficient memory"); it is called only for nodes Filter refused,
	// when a pod fits nowhere and its Pending reason is built.
	Reasons(n *NodeInfo, dst []string) []string
}

// ScorePlugin ranks the nodes that passed every filter (Kubernetes' Score
// extension point, with PreScore folded in).
type ScorePlugin interface {
	Plugin
	// PreScore is called once per pending pod. It returns the scorer to run
	// on each feasible node, or nil when the plugin would give every node
	// the same score for this pod.
	PreScore(c *Cluster, p *PodInfo) NodeScorer
}

// NodeScorer is a ScorePlugin's per-pod scorer.
type NodeScorer interface {
	// Score returns 0..MaxNodeScore for placing the pod on n (higher is
	// better). It should not allocate.
	Score(n *NodeInfo) int64
}

// Reserver is implemented by plugins that keep state across the pods of
// one call: Reserve is called after each placement (of any pod, by any
// profile) made by the Schedule call that owns the plugin instance.
type Reserver interface {
	Reserve(c *Cluster, p *PodInfo, n *NodeInfo)
}

// NodeInfo is one node during a Schedule call. Plugins read it; the
// scheduler updates it as pods are placed.
type NodeInfo struct {
	*Node
	// Index is the node's position in Cluster.Nodes (sorted by name).
	Index int
	// Allocatable is a copy of Node.Allocatable (shadowing it), kept here
	// so that the hot resource checks don't chase the Node pointer.
	Allocatable Resources
	// Requested is the sum of the requests of the pods on the node.
	Requested Resources
	// NonZeroRequested is Requested with Kubernetes' scoring defaults (100
	// millicores, 200 MiB) for containers that request no cpu or memory, so
	// that scores still spread such pods.
	NonZeroRequested Resources
	hostPorts        []hostPort
}

// PodInfo is a pod being placed (or placed) with its precomputed requests.
type PodInfo struct {
	*Pod
	// Requests is PodRequests(Spec).
	Requests Resources
	// NonZeroRequests is Requests with the scoring defaults applied.
	NonZeroRequests Resources
	t               *podTemplate
}

// Profile names the plugins a pod's placement runs and the score weights.
type Profile struct {
	// Name is what pods put in spec.schedulerName to use this profile.
	Name string
	// Filters run in order; a node's first refusal is its Pending reason.
	Filters []string
	// Scores are summed, each multiplied by its weight (zero weight turns a
	// plugin off without removing it).
	Scores []WeightedPlugin
	// PercentageOfNodesToScore bounds how many feasible nodes are scored
	// per pod, as in Kubernetes: the search stops once that many nodes have
	// passed the filters, resuming at the next node for the next pod. Zero
	// means adaptive (Kubernetes' formula: 50% minus 1% per 125 nodes,
	// floor 5%, never fewer than 100 nodes); 100 scores every node.
	// Sampling never affects correctness (every placement passes every
	// filter, and a pod is Pending only after all nodes were filtered) nor
	// determinism (the start node is a function of earlier placements).
	PercentageOfNodesToScore int
}

// WeightedPlugin is a score plugin and its weight.
type WeightedPlugin struct {
	Name   string
	Weight int64
}

// Built-in plugin names, as in Kubernetes where one exists.
const (
	NodeUnschedulableName  = "NodeUnschedulable"
	TaintTolerationName    = "TaintToleration"
	NodeAffinityName       = "NodeAffinity"
	NodePortsName          = "NodePorts"
	AgentProtocolName      = "AgentProtocol"
	NodeResourcesFitName   = "NodeResourcesFit"
	PodTopologySpreadName  = "PodTopologySpread"
	InterPodAffinityName   = "InterPodAffinity"
	LeastAllocatedName     = "LeastAllocated"
	MostAllocatedName      = "MostAllocated"
	BalancedAllocationName = "BalancedAllocation"
)

// BuiltinPlugins returns the built-in plugin factories by name.
func BuiltinPlugins() map[string]Factory {
	return map[string]Factory{
		NodeUnschedulableName:  func() Plugin { return &nodeUnschedulable{} },
		TaintTolerationName:    func() Plugin { return &taintToleration{} },
		NodeAffinityName:       func() Plugin { return &nodeAffinity{} },
		NodePortsName:          func() Plugin { return &nodePorts{} },
		AgentProtocolName:      func() Plugin { return &agentProtocol{} },
		NodeResourcesFitName:   func() Plugin { return &resourcesFit{} },
		PodTopologySpreadName:  func() Plugin { return &topologySpread{} },
		InterPodAffinityName:   func() Plugin { return &interPodAffinity{} },
		LeastAllocatedName:     func() Plugin { return &allocatedScore{most: false} },
		MostAllocatedName:      func() Plugin { return &allocatedScore{most: true} },
		BalancedAllocationName: func() Plugin { return &balancedAllocation{} },
		VolumeBindingName:      func() Plugin { return &volumeBinding{} },
	}
}

func defaultFilters() []string {
	return []string{NodeUnschedulableName, TaintTolerationName, NodeAffinityName, AgentProtocolName, NodePortsName,
		NodeResourcesFitName, VolumeBindingName, PodTopologySpreadName, InterPodAffinityName}
}

// DefaultProfile is "default-scheduler": every built-in filter, and
// Kubernetes' default score weights with least-allocated (spreading) as the
// resource score.
func DefaultProfile() Profile {
	return Profile{
		Name:    DefaultSchedulerName,
		Filters: defaultFilters(),
		Scores: []WeightedPlugin{
			{TaintTolerationName, 3},
			{NodeAffinityName, 2},
			{PodTopologySpreadName, 2},
			{InterPodAffinityName, 2},
			{LeastAllocatedName, 1},
			{BalancedAllocationName, 1},
		},
	}
}

// BinPackingProfile is "bin-packing": DefaultProfile with most-allocated in
// place of least-allocated, to fill nodes before starting new ones.
func BinPackingProfile() Profile {
	p := DefaultProfile()
	p.Name = "bin-packing"
	for i := range p.Scores {
		if p.Scores[i].Name == LeastAllocatedName {
			p.Scores[i].Name = MostAllocatedName
		}
	}
	return p
}

// profileRun is a profile's plugin instances for one Schedule call.
type profileRun struct {
	p        *Profile
	filters  []FilterPlugin
	scores   []ScorePlugin
	weights  []int64
	reserves []Reserver
	// per-pod scratch, reused
	nf      []NodeFilter
	ns      []NodeScorer
	nw      []int64
	reasons []string
	// lastFail remembers the last pod that fit nowhere: a pod with the same
	// template, namespace and labels, with no placement in between, meets
	// exactly the same state, so it gets the same Result without two scans
	// of every node (a full cluster with many pending replicas).
	lastFail struct {
		t      *podTemplate
		labels map[string]string
		gen    int
		res    Result
	}
}

// nameHash is FNV-1a of "namespace/name".
func nameHash(ns, name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(ns); i++ {
		h = (h ^ uint64(ns[i])) * 1099511628211
	}
	h = (h ^ '/') * 1099511628211
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return h
}

func (s *Scheduler) newRun(p *Profile, c *Cluster) *profileRun {
	r := &profileRun{p: p}
	inst := make(map[string]Plugin)
	get := func(name string) Plugin {
		if pl, ok := inst[name]; ok {
			return pl
		}
		pl := s.registry[name]()
		inst[name] = pl
		if rs, ok := pl.(Reserver); ok {
			r.reserves = append(r.reserves, rs)
		}
		return pl
	}
	for _, name := range p.Filters {
		r.filters = append(r.filters, get(name).(FilterPlugin))
	}
	for _, sc := range p.Scores {
		if sc.Weight == 0 {
			continue
		}
		r.scores = append(r.scores, get(sc.Name).(ScorePlugin))
		r.weights = append(r.weights, sc.Weight)
	}
	c.reservers = append(c.reservers, r.reserves...)
	return r
}

// numFeasibleToFind is Kubernetes' numFeasibleNodesToFind.
func numFeasibleToFind(n, pct int) int {
	const minFeasible = 100
	if n < minFeasible || pct >= 100 {
		return n
	}
	if pct == 0 {
		pct = 50 - n/125
		if pct < 5 {
			pct = 5
		}
	}
	k := n * pct / 100
	if k < minFeasible {
		return minFeasible
	}
	return k
}

func (r *profileRun) schedule(c *Cluster, pi *PodInfo) Result {
	n := len(c.Nodes)
	if n == 0 {
		return Result{Reason: "no nodes available to schedule pods"}
	}
	if lf := &r.lastFail; lf.t == pi.t && lf.gen == c.gen && maps.Equal(lf.labels, pi.Labels) && len(pi.Volumes) == 0 {
		return lf.res
	}
	r.nf = r.nf[:0]
	for _, f := range r.filters {
		if nf := f.PreFilter(c, pi); nf != nil {
			r.nf = append(r.nf, nf)
		}
	}
	r.ns, r.nw = r.ns[:0], r.nw[:0]
	for i, sp := range r.scores {
		if ns := sp.PreScore(c, pi); ns != nil {
			r.ns = append(r.ns, ns)
			r.nw = append(r.nw, r.weights[i])
		}
	}
	want := numFeasibleToFind(n, r.p.PercentageOfNodesToScore)
	best, bestScore, found := -1, int64(-1), 0
	i, visited := 0, 0
	if want < n {
		// The search starts at a node chosen by hashing the pod's name: a
		// function of the input alone (unlike Kubernetes' rotating index,
		// which lives in a long-running process), and it spreads the
		// windows of successive pods and of successive calls over all nodes.
		i = int(nameHash(pi.Namespace, pi.Name) % uint64(n))
	}
	filters, scorers, weights := r.nf, r.ns, r.nw
	for visited < n && found < want {
		ni := &c.Nodes[i]
		visited++
		ok := true
		for _, f := range filters {
			if !f.Filter(ni) {
				ok = false
				break
			}
		}
		if ok {
			found++
			var score int64
			for k, sc := range scorers {
				score += weights[k] * sc.Score(ni)
			}
			// Ties go to the node with fewer pods, then to the node first
			// by name, wherever the search started. Scores are integers
			// out of MaxNodeScore, so small requests on big nodes tie
			// everywhere; Kubernetes breaks such ties at random, which
			// spreads replicas; fewer-pods-first spreads them too, and
			// deterministically.
			if score > bestScore || score == bestScore && fewerPodsFirst(ni, &c.Nodes[best], i, best) {
				best, bestScore = i, score
			}
		}
		i++
		if i == n {
			i = 0
		}
	}
	if best < 0 {
		res := Result{Reason: r.explain(c)}
		r.lastFail.t, r.lastFail.labels, r.lastFail.gen, r.lastFail.res = pi.t, pi.Labels, c.gen, res
		return res
	}
	c.place(pi, int32(best))
	return Result{Node: c.Nodes[best].Name}
}

// fewerPodsFirst orders two equally scored nodes (a at index i, b at j):
// the one with fewer pods first, then the one first by name (index).
func fewerPodsFirst(a, b *NodeInfo, i, j int) bool {
	if a.Requested.Pods != b.Requested.Pods {
		return a.Requested.Pods < b.Requested.Pods
	}
	return i < j
}

// explain builds the Pending reason the way Kubernetes' FitError does: the
// first refusing filter's reasons for every node, counted and sorted.
func (r *profileRun) explain(c *Cluster) string {
	counts := make(map[string]int)
	for i := range c.Nodes {
		ni := &c.Nodes[i]
		for _, f := range r.nf {
			if !f.Filter(ni) {
				r.reasons = f.Reasons(ni, r.reasons[:0])
				for _, s := range r.reasons {
					counts[s]++
				}
				break
			}
		}
	}
	return c.noNodeMsg(counts)
}

func (c *Cluster) noNodeMsg(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for k, v := range counts {
		parts = append(parts, strconv.Itoa(v)+" "+k)
	}
	sort.Strings(parts)
	msg := "0/" + strconv.Itoa(len(c.Nodes)) + " nodes are available"
	for i, p := range parts {
		if i == 0 {
			msg += ": "
		} else {
			msg += ", "
		}
		msg += p
	}
	return msg + "."
}
