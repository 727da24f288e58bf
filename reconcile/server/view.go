package server

import (
	"sort"
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
type view struct {
	// leader is false for the empty view of a follower.
	leader    bool
	token     uint64
	pods      []api.Pod // sorted by namespace and name
	podIndex  map[string]int
	workloads []api.Workload
	nodes     []api.Node
	nodeErrs  []api.NodeError
	// What a dry-run plan (diff placements, describe) starts from.
	mem        map[string]reconcile.PodRecord
	nodeStates []reconcile.NodeState
	observed   map[string][]agentapi.PodStatus
	set        *spec.Set
	revision   *savedRevision
	// clients of the agents with a connection, for logs.
	clients map[string]agentClient
}

// pod returns the view's pod of that key.
func (v *view) pod(namespace, name string) (api.Pod, bool) {
	i, ok := v.podIndex[namespace+"/"+name]
	if !ok {
		return api.Pod{}, false
	}
	return v.pods[i], true
}

// publishFollowerView replaces the view with an empty one when this
// reconciler stops leading: its reads are forwarded to the new leader.
func (s *Server) publishFollowerView() {
	s.view.Store(&view{})
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
	v := &view{
		leader:     true,
		token:      c.base + c.term,
		mem:        c.mem.Pods,
		nodeStates: nodeStates,
		observed:   make(map[string][]agentapi.PodStatus, len(c.observed)),
		set:        set,
		revision:   rev,
		clients:    make(map[string]agentClient, len(c.conns)),
		workloads:  wireWorkloads(c.lastPlan.workloads),
	}
	for n, ps := range c.observed {
		v.observed[n] = ps
	}
	for n, conn := range c.conns {
		v.clients[n] = conn.client
	}
	views := c.lastPlan.pods
	gens := make(map[string]uint64, len(c.gens))
	for n, g := range c.gens {
		gens[n] = g
	}
	for _, e := range c.nodeErr {
		v.nodeErrs = append(v.nodeErrs, e)
	}
	c.mu.Unlock()

	sort.Slice(v.nodeErrs, func(i, j int) bool { return v.nodeErrs[i].Node < v.nodeErrs[j].Node })
	v.pods = make([]api.Pod, len(views))
	v.podIndex = make(map[string]int, len(views))
	count := map[string]int{}
	requested := map[string]scheduler.Resources{}
	for i, p := range views {
		key := p.Namespace + "/" + p.Name
		rec := v.mem[key]
		v.pods[i] = wirePod(p, rec)
		v.podIndex[key] = i
		if p.Node != "" {
			count[p.Node]++
			r := scheduler.PodRequests(&rec.Spec)
			acc := requested[p.Node]
			acc.MilliCPU += r.MilliCPU
			acc.Memory += r.Memory
			acc.EphemeralStorage += r.EphemeralStorage
			acc.Pods += r.Pods
			requested[p.Node] = acc
		}
	}
	errs := map[string]string{}
	for _, e := range v.nodeErrs {
		errs[e.Node] = e.Message
	}
	unschedulable := map[string]bool{}
	for _, sn := range reconcile.SchedulerNodes(nodeStates, set) {
		for _, t := range sn.Taints {
			if t.Key == taintCordon && t.Effect == spec.TaintEffectNoSchedule {
				sn.Unschedulable = true
			}
		}
		unschedulable[sn.Name] = sn.Unschedulable
	}
	v.nodes = make([]api.Node, 0, len(members))
	for name, m := range members {
		o := peek.overrides[name]
		r := requested[name]
		n := api.Node{
			Name:        name,
			State:       m.state,
			Addr:        m.addr,
			APIAddr:     m.info.APIAddr,
			Allocatable: m.info.Allocatable,
			Labels:      m.info.Labels,
			Taints:      m.info.Taints,
			PodCIDR:     m.info.PodCIDR,
			Pods:        count[name],
			Generation:  gens[name],
			Since:       m.since,
			StatusSince: m.since,
			Requested:   agentapi.Resources{MilliCPU: r.MilliCPU, Memory: r.Memory, EphemeralStorage: r.EphemeralStorage, Pods: r.Pods},
			Cordoned:    o.Cordoned,
			Drained:     o.Drained,
			Error:       errs[name],
		}
		switch {
		case m.state != api.NodeAlive:
			n.Status = api.NodeNotReady
		case unschedulable[name]:
			n.Status = api.NodeSchedulingDisabled
		default:
			n.Status = api.NodeReady
		}
		v.nodes = append(v.nodes, n)
	}
	sort.Slice(v.nodes, func(i, j int) bool { return v.nodes[i].Name < v.nodes[j].Name })
	c.s.view.Store(v)
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
	return st
}

// planInput is the state a dry-run plan (diff placements) starts from.
func (v *view) planInput() reconcile.Input {
	return reconcile.Input{
		Desired:  v.set,
		Nodes:    v.nodeStates,
		Observed: v.observed,
		Memory:   reconcile.Memory{Pods: v.mem},
		Now:      time.Now(),
	}
}
