package server

import (
	"sort"
	"sync"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// view is an immutable snapshot of what the leader knows, published after
// every plan (and when a node's push state changes). HTTP handlers read only
// this, never the controller's locks: a slow client cannot stall a plan,
// and a plan cannot stall a read. Nothing reachable from a view is ever
// written to after it is published.
//
// Publishing costs O(nodes), not O(pods): the pod views are the core's own
// (read-only) slice, and what is derived from them (the wire pods, the
// index by key, the node table's counts) is computed once, on the first
// request that needs it.
type view struct {
	// leader is false for the empty view of a follower.
	leader bool
	token  uint64
	// podsSeq is the publish sequence of the first view of this term with
	// these pods (the same views slice): a page's resourceVersion
	// (pages.go), which views that changed only nodes' push state share.
	podsSeq   uint64
	views     []reconcile.PodView // the last plan's, sorted by namespace and name
	workloads []reconcile.WorkloadView
	// services are the last plan's Services with their endpoints, sorted
	// by namespace and name (read-only); podCIDRs the nodes' allocations.
	services []reconcile.ServiceView
	// claims and volumes are the last plan's PersistentVolumeClaims and
	// PersistentVolumes, sorted (read-only; storage_http.go serves them).
	claims  []reconcile.ClaimView
	volumes []reconcile.VolumeView
	// jobs and cronJobs are the last plan's (jobs_http.go serves them).
	jobs      []reconcile.JobView
	cronJobs  []reconcile.CronJobView
	podCIDRs  map[string]string
	nodeErrs  []api.NodeError
	members   map[string]member
	overrides map[string]nodeOverride
	gens      map[string]uint64
	// What a dry-run plan (diff placements, describe) starts from, with the
	// inventory read from the store when asked.
	store      *store
	nodeStates []reconcile.NodeState
	observed   map[string][]agentapi.PodStatus
	set        *spec.Set
	revision   *savedRevision
	// clients of the agents with a connection, for logs.
	clients map[string]agentClient

	indexOnce sync.Once
	podIndex  map[string]int
	nodesOnce sync.Once
	nodes     []api.Node
	// wires are the wire pods of views, by index (podwire.go).
	wiresOnce sync.Once
	wires     []*podWire
}

// index returns the position of every pod view by key.
func (v *view) index() map[string]int {
	v.indexOnce.Do(func() {
		v.podIndex = make(map[string]int, len(v.views))
		// A terminating incarnation comes before the current one of the
		// same name (reconcile's order): the current one wins.
		for i := range v.views {
			v.podIndex[v.views[i].Namespace+"/"+v.views[i].Name] = i
		}
	})
	return v.podIndex
}

// pod returns the view's pod of that key.
func (v *view) pod(namespace, name string) (api.Pod, bool) {
	i, ok := v.index()[namespace+"/"+name]
	if !ok {
		return api.Pod{}, false
	}
	return wirePod(v.views[i]), true
}

// pods returns the wire pods of namespace ("" for all).
func (v *view) pods(namespace string) []api.Pod {
	out := make([]api.Pod, 0, len(v.views))
	for i := range v.views {
		if p := &v.views[i]; namespace == "" || p.Namespace == namespace {
			out = append(out, wirePod(*p))
		}
	}
	return out
}

// publishFollowerView replaces the view with an empty one when this
// reconciler stops leading: its reads are forwarded to the new leader.
func (s *Server) publishFollowerView() {
	s.view.Store(&view{})
	s.viewChanged.notify()
}

// publish builds a new view from the controller's state and publishes it,
// unless the term has ended.
func (c *controller) publish() {
	members := c.s.members.nodes()
	peek := c.s.store.peek()
	rev, set := c.s.store.revision()
	nodeStates, _ := c.nodeStates(members, peek.overrides)

	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	c.pubSeq++
	seq := c.pubSeq
	v := &view{
		leader:     true,
		token:      c.base + c.term,
		views:      c.lastPlan.pods,
		workloads:  c.lastPlan.workloads,
		services:   c.lastPlan.services,
		claims:     c.lastPlan.claims,
		volumes:    c.lastPlan.volumes,
		jobs:       c.lastPlan.jobs,
		cronJobs:   c.lastPlan.cronJobs,
		podCIDRs:   c.s.store.network().podCIDRs,
		members:    members,
		overrides:  peek.overrides,
		gens:       make(map[string]uint64, len(c.gens)),
		store:      c.s.store,
		nodeStates: nodeStates,
		observed:   make(map[string][]agentapi.PodStatus, len(c.observed)),
		set:        set,
		revision:   rev,
		clients:    make(map[string]agentClient, len(c.conns)),
	}
	for n, ps := range c.observed {
		v.observed[n] = ps
	}
	for n, conn := range c.conns {
		v.clients[n] = conn.client
	}
	for n, g := range c.gens {
		v.gens[n] = g
	}
	for _, e := range c.nodeErr {
		v.nodeErrs = append(v.nodeErrs, e)
	}
	for n, e := range c.skew {
		if _, ok := c.nodeErr[n]; !ok {
			v.nodeErrs = append(v.nodeErrs, e)
		}
	}
	for n, f := range c.cidrErr {
		if _, ok := c.nodeErr[n]; !ok {
			if _, skewed := c.skew[n]; !skewed {
				v.nodeErrs = append(v.nodeErrs, f.err)
			}
		}
	}
	c.mu.Unlock()
	sort.Slice(v.nodeErrs, func(i, j int) bool { return v.nodeErrs[i].Node < v.nodeErrs[j].Node })
	// Stored under the lock, in the order the views were begun, and never
	// after the term ended (lead publishes the follower's view under the
	// same lock once it has).
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil || seq < c.pubStored {
		return
	}
	c.pubStored = seq
	v.podsSeq = seq
	if prev := c.s.view.Load(); prev != nil && prev.leader && prev.token == v.token && sameViews(prev.views, v.views) {
		v.podsSeq = prev.podsSeq
	}
	c.s.view.Store(v)
	c.s.viewChanged.notify()
	// Under c.mu, after the sequence check: hooks see the sets in the
	// order they were published. It never blocks.
	c.notifyNaming(v.services)
}

// sameViews reports whether a and b are the same slice: a plan that
// changed no pod publishes its last one again (podwire.go relies on it too).
func sameViews(a, b []reconcile.PodView) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// nodeTable is the node list of GET /v1/nodes, computed once per view.
func (v *view) nodeTable() []api.Node {
	v.nodesOnce.Do(func() { v.nodes = v.buildNodes() })
	return v.nodes
}

func (v *view) buildNodes() []api.Node {
	count := map[string]int{}
	requested := map[string]scheduler.Resources{}
	for i := range v.views {
		p := &v.views[i]
		if p.Node == "" || p.Terminating() {
			continue // placed nowhere, or no longer (stopping)
		}
		count[p.Node]++
		r := scheduler.PodRequests(&p.Spec)
		acc := requested[p.Node]
		acc.MilliCPU += r.MilliCPU
		acc.Memory += r.Memory
		acc.EphemeralStorage += r.EphemeralStorage
		acc.Pods += r.Pods
		for name, q := range r.Extended {
			if acc.Extended == nil {
				acc.Extended = map[string]int64{}
			}
			acc.Extended[name] += q
		}
		requested[p.Node] = acc
	}
	errs := map[string]string{}
	for _, e := range v.nodeErrs {
		errs[e.Node] = e.Message
	}
	unschedulable := map[string]bool{}
	for _, sn := range reconcile.SchedulerNodes(v.nodeStates, v.set) {
		for _, t := range sn.Taints {
			if t.Key == taintCordon && t.Effect == spec.TaintEffectNoSchedule {
				sn.Unschedulable = true
			}
		}
		unschedulable[sn.Name] = sn.Unschedulable
	}
	nodes := make([]api.Node, 0, len(v.members))
	for name, m := range v.members {
		o := v.overrides[name]
		r := requested[name]
		n := api.Node{
			Name:        name,
			State:       m.state,
			Addr:        m.addr,
			APIAddr:     m.info.APIAddr,
			Allocatable: m.info.Allocatable,
			Labels:      m.info.Labels,
			Taints:      m.info.Taints,
			PodCIDR:     v.podCIDRs[name], // the allocation, not what the agent asks for
			Pods:        count[name],
			Generation:  v.gens[name],
			Since:       m.since,
			StatusSince: m.since,
			Requested:   agentapi.Resources{MilliCPU: r.MilliCPU, Memory: r.Memory, EphemeralStorage: r.EphemeralStorage, Pods: r.Pods, Extended: r.Extended},
			Cordoned:    o.Cordoned,
			Drained:     o.Drained,
			Error:       errs[name],
			Version:     m.info.Version,
			Protocol:    m.info.Protocol,
			// The protocol spoken to it; zero when refused.
			NegotiatedProtocol: m.proto,
			VersionRefused:     m.refused,
		}
		if m.refused != "" && m.state == api.NodeAlive {
			n.Error = m.refused
		}
		switch {
		case m.state != api.NodeAlive || m.refused != "":
			n.Status = api.NodeNotReady
		case unschedulable[name]:
			n.Status = api.NodeSchedulingDisabled
		default:
			n.Status = api.NodeReady
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes
}

// Status returns the sync and cluster state (what GET /v1/status serves):
// answered by any reconciler from its own store and raft node.
func (s *Server) Status() api.Status {
	fetched, lastErr, lastSync := s.sync.get()
	v := s.view.Load()
	st := api.Status{
		Repo:      StripCredentials(s.cfg.Source.URL),
		Branch:    s.cfg.Source.Branch,
		Path:      s.cfg.Source.Path,
		Fetched:   fetched,
		LastError: lastErr,
		LastSync:  lastSync,
		Name:      s.cfg.Name,
		Term:      v.token,
		// A follower shows the token the current term's leader pushes
		// with: the same raft term, the same base once applied.

		NodeErrors: v.nodeErrs,
	}
	st.Leader, st.Peers = s.peers()
	if st.Term == 0 && st.Leader != "" {
		st.Term = s.el.raft.CurrentTerm() + s.store.peek().termBase
	}
	if st.Peers == nil {
		st.Peers = []api.Peer{}
	}
	if rev, _ := s.store.revision(); rev != nil {
		c := rev.Commit
		st.Applied = &c
		st.AppliedAt = s.store.appliedAt()
	}
	if e := s.clusterErr.Load(); e != nil && *e != "" {
		st.ClusterError = *e
	}
	if err := s.store.failed(); err != nil {
		st.ClusterError = "this reconciler's store failed to apply the raft log and it will not lead until restarted: " + err.Error()
	}
	return st
}

// planInput is the state a dry-run plan (diff placements) starts from.
func (v *view) planInput() reconcile.Input {
	in := reconcile.Input{
		Desired:  v.set,
		Nodes:    v.nodeStates,
		Observed: v.observed,
		Memory:   v.memory(),
		Now:      time.Now(),
	}
	if v.store != nil {
		in.Overrides = v.store.rollouts().rollbacks
	}
	return in
}

// inventory is a copy of the committed inventory, for dry runs: the
// controller's own map is written in place by its planner.
func (v *view) inventory() map[string]reconcile.PodRecord {
	if v.store == nil {
		return map[string]reconcile.PodRecord{}
	}
	return v.store.copyPods()
}
