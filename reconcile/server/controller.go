package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// controller is the leader's work for one raft term: the sync and plan
// steps, the agent connections and the observed state. It lives and dies
// with the term context; nothing of it outlives the term except what it
// committed to the store and the view it published.
type controller struct {
	s    *Server
	ctx  context.Context
	log  *slog.Logger
	term uint64 // raft term
	// started is when this term began: nodes membership has not reported
	// are presumed alive for NodeLossGrace after it.
	started time.Time
	wg      sync.WaitGroup
	// configMu serialises the changes of who applies the log: addPeers
	// (read the store's format, add a server) and formatLoop (read the
	// configuration, move the format). Without it a reconciler that
	// reads only the old format could be added between the gate's look
	// at the configuration and its switch.
	configMu sync.Mutex
	// formatChecks counts the store format gate's evaluations
	// (format_gate.go).
	formatChecks atomic.Uint64

	mu       sync.Mutex
	mem      reconcile.Memory // the inventory as committed; the planner's own (written in place)
	planner  *reconcile.Planner
	observed map[string][]agentapi.PodStatus
	// volStatus is what each agent reports of its volumes; storage the
	// last plan's config, volumes and deletions by node, which every set
	// pushed carries (store_volumes.go), and sentStorage what the last
	// set pushed to each node carried.
	volStatus   map[string][]agentapi.VolumeStatus
	storage     map[string]nodeStorage
	sentStorage map[string]nodeStorage
	conns       map[string]*agentConn
	podSets     map[string][]agentapi.Pod
	gens        map[string]uint64
	nodeErr     map[string]api.NodeError
	skew        map[string]api.NodeError // clock skews, by node
	// cluster is the raft cluster's ID, sent with every set.
	cluster string
	// base is the store's TermBase this term pushes with.
	base     uint64
	planWant uint64        // plans requested
	planDone uint64        // highest request a finished plan covered
	planCh   chan struct{} // closed and replaced after every plan
	// runners are the applications' sync goroutines (apps.go), by name
	// ("" the bootstrap); slots bounds how many sync at once.
	runners  map[string]*appRunner
	slots    chan struct{}
	planKick chan struct{}
	// live checks agents membership reports failed (liveness.go).
	live    liveness
	bumping bool // a TermBase raise is being committed
	// adopting is set while the store holds no pods and the agents'
	// applied sets are read for adoption (adopt.go).
	adopting bool
	adopt    map[string][]agentapi.Pod
	// adoptTerm is the highest term the adopted agents report.
	adoptTerm uint64
	lastPlan  planResult
	lastSets  map[string][]agentapi.Pod // the last plan's sets (read-only)
	pubSeq    uint64                    // views begun
	pubStored uint64                    // the newest view stored
	lastDelta int                       // bytes of the last plan's raft entry
	// jobsCreated is the store's count of ctl-created Jobs the planner's
	// memory has taken in (store_jobs.go).
	jobsCreated uint64
	plans       uint64 // plans run this term
	joinTimer   *time.Timer
	naming      namingTerm // the term's naming hooks (naming.go)
	// net is the last plan's network (network.go), which every set
	// offered carries; cidrErr why nodes have no pod CIDR.
	net     *netPlan
	cidrErr map[string]cidrFailure
	// ro is the term's rollout work (rollout.go).
	ro rolloutWork
}

// newController prepares the term: the cluster's ID on a new cluster, the
// import of a pre-raft data dir, and the inventory to plan from.
func newController(ctx context.Context, s *Server, raftTerm uint64) (*controller, error) {
	c := &controller{
		s:        s,
		ctx:      ctx,
		log:      s.log.With("raft_term", raftTerm),
		term:     raftTerm,
		started:  time.Now(),
		observed: map[string][]agentapi.PodStatus{},
		conns:    map[string]*agentConn{},
		podSets:  map[string][]agentapi.Pod{},
		gens:     map[string]uint64{},
		nodeErr:  map[string]api.NodeError{},
		planCh:   make(chan struct{}),
		runners:  map[string]*appRunner{},
		slots:    make(chan struct{}, s.cfg.SyncConcurrency),
		planKick: make(chan struct{}, 1),
	}
	if s.store.peek().clusterID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if err := s.el.apply(&command{Op: opCluster, ClusterID: hex.EncodeToString(b[:])}, s.cfg.Raft.ApplyTimeout); err != nil {
			return nil, err
		}
		if err := c.importLegacy(); err != nil {
			return nil, err
		}
	}
	if err := c.commitNetConfig(); err != nil {
		return nil, err
	}
	if err := c.commitPKI(); err != nil {
		return nil, err
	}
	peek := s.store.peek()
	c.cluster = peek.clusterID
	// The planner writes its memory in place: it gets its own copy.
	c.mem = s.store.memory()
	_, _, c.jobsCreated = s.store.jobRecords()
	c.planner = reconcile.NewPlanner()
	c.base = peek.termBase
	c.adopting = len(c.mem.Pods) == 0
	return c, nil
}

// importLegacy moves the state of a reconciler from before raft
// (revision.json, memory.json in DataDir) into a new cluster's store, so
// that an upgrade neither forgets nor restarts a pod.
func (c *controller) importLegacy() error {
	st := c.s.state
	rev, err := st.loadRevision()
	if err != nil {
		return err
	}
	mem, err := st.loadMemory()
	if err != nil {
		return err
	}
	if rev != nil {
		if err := c.s.el.apply(&command{Op: opRevision, Revision: rev}, c.s.cfg.Raft.ApplyTimeout); err != nil {
			return fmt.Errorf("failed to import %s: %w", st.path(fileRevision), err)
		}
	}
	if d := podDelta(nil, mem.Pods); d != nil {
		if err := c.s.el.apply(d, c.s.cfg.Raft.ApplyTimeout); err != nil {
			return fmt.Errorf("failed to import %s: %w", st.path(fileMemory), err)
		}
	}
	if rev != nil || len(mem.Pods) > 0 {
		c.log.Info("imported the state of a reconciler from before raft", "pods", len(mem.Pods))
	}
	return nil
}

// podSetLocked is node's set to offer. c.mu must be held.
func (c *controller) podSetLocked(node string, token uint64, pods []agentapi.Pod) *agentapi.PodSet {
	st := c.storage[node]
	return &agentapi.PodSet{Node: node, Term: token, Generation: c.gens[node], Pods: pods, Cluster: c.cluster, Network: c.networkLocked(node),
		Config: st.config, Volumes: st.volumes, DeleteVolumes: st.deletes}
}

// token is the fencing token of this term: agents refuse a lower one.
func (c *controller) token() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base + c.term
}

// goNamed runs fn for the term and waits for it when the term ends. After
// the term's context is done it starts nothing: run may be waiting already.
func (c *controller) goNamed(name string, fn func()) {
	if c.ctx.Err() != nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.log.Debug("term goroutine stopped", "name", name)
		fn()
	}()
}

// begin takes over: it connects to the agents and plans once, so that the
// view shows the remembered pods before the API answers from it.
func (c *controller) begin() {
	c.log.Info("leading", "token", c.token(), "pods", len(c.mem.Pods))
	c.s.events.add("reconciler/"+c.s.cfg.Name, "LeaderElected", fmt.Sprintf("%s leads (raft term %d, token %d)", c.s.cfg.Name, c.term, c.token()))
	c.addPeers()
	c.syncConns()
	c.planOnce()
	// Before the controller is published: a sync request arriving the
	// moment this term starts finds every application's runner.
	c.followApps()
}

// run starts the term's loops and returns when the term ends and every one
// of them has stopped: a deposed leader pushes nothing after run returns.
func (c *controller) run() {
	c.goNamed("plan", c.planLoop)
	c.goNamed("membership", c.membershipLoop)
	c.goNamed("storeFormat", c.formatLoop)
	if c.s.cfg.PollInterval > 0 {
		c.goNamed("poll", c.pollLoop)
	}
	<-c.ctx.Done()
	// The connections first: their hooks (observe, refused) start no term
	// goroutine once the context is done, and nothing is pushed after run
	// returns.
	c.mu.Lock()
	conns := c.conns
	c.conns = map[string]*agentConn{}
	c.mu.Unlock()
	for _, conn := range conns {
		conn.close()
	}
	c.wg.Wait()
	c.mu.Lock()
	conns = c.conns
	c.conns = map[string]*agentConn{}
	c.failRunnersLocked()
	if c.joinTimer != nil {
		c.joinTimer.Stop()
	}
	c.mu.Unlock()
	for _, conn := range conns {
		conn.close()
	}
}

// membershipLoop follows agent and reconciler changes for the term.
func (c *controller) membershipLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.s.members.changed:
			if c.syncConns() {
				// Agents of one cluster usually start together; planning
				// each join at once would put every unplaced pod on the
				// first one. Placed pods never move, so wait a moment.
				c.planAfter(joinSettle)
			} else {
				c.requestPlan()
			}
		case <-c.s.members.peersChanged:
			c.addPeers()
		}
	}
}

// joinSettle is how long a plan waits after an agent joins, so that agents
// starting together share the pods that were waiting for a node.
const joinSettle = 300 * time.Millisecond

func (c *controller) planAfter(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joinTimer != nil {
		return
	}
	c.joinTimer = time.AfterFunc(d, func() {
		c.mu.Lock()
		c.joinTimer = nil
		c.requestPlanLocked()
		c.mu.Unlock()
	})
}

// syncConns opens a connection to every alive agent and closes those of
// agents that failed or left. It reports whether an agent became alive.
func (c *controller) syncConns() bool {
	nodes := c.s.members.nodes()
	var stop []*agentConn
	joined := false
	c.mu.Lock()
	for name, conn := range c.conns {
		m, ok := nodes[name]
		if ok && m.usable() && m.info.APIAddr == conn.addr && m.proto == conn.proto {
			continue
		}
		stop = append(stop, conn)
		delete(c.conns, name)
		if !ok || !m.usable() {
			// What it reported is no longer true of anything we can
			// reach, and the core will move its pods: the set it had must
			// not be offered again if it comes back (the generation
			// counter stays, so its next set supersedes the old one).
			delete(c.observed, name)
			delete(c.volStatus, name)
			delete(c.podSets, name)
		}
	}
	for name, m := range nodes {
		if !m.usable() || c.conns[name] != nil || c.ctx.Err() != nil {
			continue
		}
		joined = true
		node := name
		conn := newAgentConn(c.ctx, node, m.info.APIAddr, m.proto, c.s.dialAgent(m.info.APIAddr, m.proto), c.log, connHooks{
			observe: func(l *agentapi.PodStatusList) { c.observe(node, l) },
			pushed:  func() { c.pushed(node) },
			refused: func(err error) { c.refused(node, err) },
			events:  func(l *agentapi.PodStatusList) { c.s.ingestAgentEvents(node, l) },
			cursor:  func() (string, uint64) { return c.s.cursors.cursor(node) },
			failed:  func(stale bool) { c.s.metrics.pushFailed(node, stale) },
		})
		c.conns[node] = conn
		if c.adopting {
			client := conn.client
			c.goNamed("adopt-"+node, func() { c.fetchForAdoption(node, client) })
		}
		pods, ok := c.podSets[node]
		if !ok && c.lastSets != nil {
			// A node that failed and came back within one plan: the
			// planner saw no change, so its set is the last plan's.
			if pods, ok = c.lastSets[node]; ok {
				if pods == nil {
					pods = []agentapi.Pod{}
				}
				c.gens[node]++
				c.podSets[node] = pods
			}
		}
		if ok {
			conn.offer(c.podSetLocked(node, c.base+c.term, pods))
		}
	}
	c.mu.Unlock()
	for _, conn := range stop {
		conn.close()
	}
	c.s.cursors.prune(nodes)
	return joined
}

// maxClockSkew is how far an agent's clock may be from the leader's before
// the node shows an error.
const maxClockSkew = 2 * time.Second

// observe records an agent's status report and asks for a plan.
func (c *controller) observe(node string, l *agentapi.PodStatusList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns[node] == nil {
		return
	}
	c.checkSkewLocked(node, l.Time)
	// Heartbeats repeat the last list; only a change needs a plan. A
	// status holds no resource.Quantity, so DeepEqual is exact (and far
	// cheaper than comparing encodings, at thousands of nodes).
	volsSame := reflect.DeepEqual(c.volStatus[node], l.Volumes)
	if old, ok := c.observed[node]; ok && reflect.DeepEqual(old, l.Pods) && volsSame {
		return
	}
	if !volsSame {
		if c.volStatus == nil {
			c.volStatus = map[string][]agentapi.VolumeStatus{}
		}
		c.volStatus[node] = l.Volumes
	}
	if old, ok := c.observed[node]; !ok || !reflect.DeepEqual(old, l.Pods) {
		c.observed[node] = l.Pods
	}
	c.requestPlanLocked()
}

// checkSkewLocked records (or clears) a clock skew between the agent and
// this reconciler, seen in the time the agent stamped its report with (the
// report's transit time counts too, a few milliseconds on a LAN).
func (c *controller) checkSkewLocked(node string, sent time.Time) {
	if sent.IsZero() {
		return
	}
	skew := time.Until(sent)
	_, had := c.skew[node]
	if skew > -maxClockSkew && skew < maxClockSkew {
		if had {
			delete(c.skew, node)
			c.requestPlanLocked() // the plan publishes the view
		}
		return
	}
	dir := "ahead of"
	if skew < 0 {
		dir, skew = "behind", -skew
	}
	if c.skew == nil {
		c.skew = map[string]api.NodeError{}
	}
	c.skew[node] = api.NodeError{Node: node, Since: time.Now(), Message: fmt.Sprintf(
		"the agent's clock is %s %s the reconciler's (more than %s): minReadySeconds and progress deadlines compare the agent's container start times with the reconciler's clock; synchronise the clocks (NTP)",
		skew.Round(100*time.Millisecond), dir, maxClockSkew)}
	if !had {
		c.log.Warn("clock skew with an agent", "node", node, "skew", skew, "direction", dir)
		c.requestPlanLocked()
	}
}

// pushed clears a node's error once a set reached it.
func (c *controller) pushed(node string) {
	c.mu.Lock()
	_, had := c.nodeErr[node]
	delete(c.nodeErr, node)
	c.mu.Unlock()
	if had {
		c.publish()
	}
}

// refused records that an agent refused a set as stale. An agent of this
// cluster (or of none it names) that has seen a higher token than this
// term's, as after this control plane's state was lost and its raft terms
// started again, is recovered from by raising the store's TermBase past
// it through raft; then every set is offered again with the new token. An
// older generation within this token is not a reason to raise, and an
// agent that takes sets from another cluster is never taken over here: that
// happens only by adoption, when a control plane with no inventory starts.
func (c *controller) refused(node string, err error) {
	seen, ok := staleTerm(err)
	other := agentapi.StaleCluster(err)
	c.mu.Lock()
	token := c.base + c.term
	msg := fmt.Sprintf("agent refused pod set with token %d as stale: %v", token, err)
	foreign := other != "" && other != c.cluster
	if foreign {
		msg = fmt.Sprintf("agent takes pod sets from another cluster (%s, this one is %s): it is not taken over; stop the other control plane or give this one the agent by adoption: %v", other, c.cluster, err)
	}
	c.nodeErr[node] = api.NodeError{Node: node, Message: msg, Since: time.Now()}
	bump := ok && seen > token && !foreign && !c.bumping && c.ctx.Err() == nil
	if bump {
		c.bumping = true
	}
	c.mu.Unlock()
	c.s.events.add("node/"+node, "PodSetRefused", fmt.Sprintf("agent %s refused pod set with token %d: %v", node, token, err))
	c.publish()
	if !bump {
		return
	}
	c.goNamed("raise-token", func() {
		c.log.Warn("an agent has seen a higher token than this term's: raising the token base", "node", node, "agent_token", seen)
		err := c.raiseTokenPast(seen)
		c.mu.Lock()
		c.bumping = false
		token := c.base + c.term
		for name, conn := range c.conns {
			if pods, ok := c.podSets[name]; ok {
				c.gens[name]++
				conn.offer(c.podSetLocked(name, token, pods))
			}
		}
		c.mu.Unlock()
		if err != nil {
			c.log.Error("failed to raise the token base", "err", err)
		}
	})
}
