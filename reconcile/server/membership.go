package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Serf tags a reconciler sets beside agent/api's role and API tags.
const (
	tagRaft      = "raft"      // raft host:port
	tagExpect    = "expect"    // --bootstrap-expect
	tagCluster   = "cluster"   // the raft cluster's ID, once known
	tagHasState  = "raftstate" // "1" once this reconciler has raft state
	tagRaftState = "rstate"    // Leader, Follower, Candidate
	tagApplied   = "applied"   // the applied commit (short hash)
	tagIndex     = "index"     // the raft applied index
)

// member is one agent as membership reports it.
type member struct {
	info  agentapi.NodeInfo
	addr  string
	state string // api.NodeAlive, NodeFailed, NodeLeft
	since time.Time
	// proto is the protocol negotiated with the agent (the highest both
	// speak); zero when its range does not overlap this reconciler's, and
	// refused then says so (protocol.go).
	proto   int
	refused string
}

// usable reports whether the reconciler talks to the agent: alive, and
// speaking a protocol in common.
func (m member) usable() bool { return m.state == api.NodeAlive && m.refused == "" }

// peerMember is one reconciler as membership reports it.
type peerMember struct {
	name  string
	tags  map[string]string
	alive bool
	since time.Time
}

// membership turns serf's events into the node table and the reconciler
// table. It has its own lock: the controller and the HTTP layer read copies.
type membership struct {
	log *slog.Logger
	// changed is poked (coalesced) after every change of an agent.
	changed chan struct{}
	// peersChanged is poked after every change of a reconciler.
	peersChanged chan struct{}
	// event records what membership saw.
	event func(object, reason, msg string)

	// local is the range of agent protocols this reconciler speaks and
	// version its release, for negotiation and its messages.
	local   agentapi.ProtocolRange
	version string

	mu      sync.Mutex
	members map[string]*member
	peers   map[string]*peerMember
}

func newMembership(log *slog.Logger, event func(object, reason, msg string)) *membership {
	return &membership{
		log:          log,
		event:        event,
		changed:      make(chan struct{}, 1),
		peersChanged: make(chan struct{}, 1),
		members:      map[string]*member{},
		peers:        map[string]*peerMember{},
		local:        agentapi.Supported(),
		version:      version.Get().ReleaseVersion(),
	}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// loop drains serf's event channel so serf never blocks on it.
func (m *membership) loop(ctx context.Context, events <-chan serf.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-events:
			me, ok := e.(serf.MemberEvent)
			if !ok {
				continue
			}
			for _, mem := range me.Members {
				m.handle(me.Type, mem)
			}
		}
	}
}

func (m *membership) handle(typ serf.EventType, sm serf.Member) {
	switch sm.Tags[agentapi.TagRole] {
	case agentapi.RoleAgent:
		m.agentEvent(typ, sm)
	case agentapi.RoleReconciler:
		m.peerEvent(typ, sm)
	}
}

func (m *membership) peerEvent(typ serf.EventType, sm serf.Member) {
	m.mu.Lock()
	p := m.peers[sm.Name]
	if p == nil {
		p = &peerMember{name: sm.Name}
		m.peers[sm.Name] = p
	}
	alive := typ == serf.EventMemberJoin || typ == serf.EventMemberUpdate
	if alive != p.alive {
		p.since = time.Now()
	}
	p.alive, p.tags = alive, sm.Tags
	if typ == serf.EventMemberReap {
		delete(m.peers, sm.Name)
	}
	m.mu.Unlock()
	poke(m.peersChanged)
}

func (m *membership) agentEvent(typ serf.EventType, sm serf.Member) {
	addr := net.JoinHostPort(sm.Addr.String(), strconv.Itoa(int(sm.Port)))
	m.mu.Lock()
	defer poke(m.changed)
	defer m.mu.Unlock()
	cur := m.members[sm.Name]
	switch typ {
	case serf.EventMemberJoin, serf.EventMemberUpdate:
		info, err := agentapi.DecodeTags(sm.Name, sm.Tags)
		if err != nil {
			m.log.Warn("ignoring agent with bad tags", "member", sm.Name, "err", err)
			return
		}
		if cur == nil {
			cur = &member{}
			m.members[sm.Name] = cur
		}
		if cur.state != api.NodeAlive {
			cur.since = time.Now()
			m.event("node/"+sm.Name, "NodeAlive", "agent "+sm.Name+" at "+info.APIAddr+" joined")
			m.log.Info("agent alive", "node", sm.Name, "api", info.APIAddr, "gossip", addr)
		}
		cur.info, cur.addr, cur.state = info, addr, api.NodeAlive
		m.negotiate(sm.Name, cur)
	case serf.EventMemberFailed, serf.EventMemberLeave:
		if cur == nil {
			return
		}
		state, reason := api.NodeFailed, "NodeFailed"
		if typ == serf.EventMemberLeave {
			state, reason = api.NodeLeft, "NodeLeft"
		}
		cur.state, cur.since = state, time.Now()
		m.event("node/"+sm.Name, reason, "agent "+sm.Name+" "+state)
		m.log.Warn("agent gone", "node", sm.Name, "state", state)
	case serf.EventMemberReap:
		delete(m.members, sm.Name)
	}
}

// nodes returns a copy of the agent table, by name.
func (m *membership) nodes() map[string]member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]member, len(m.members))
	for n, mem := range m.members {
		out[n] = *mem
	}
	return out
}

// reconcilers returns a copy of the reconciler table, sorted by name.
func (m *membership) reconcilers() []peerMember {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]peerMember, 0, len(m.peers))
	for _, p := range m.peers {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// peer returns one reconciler's entry.
func (m *membership) peer(name string) (peerMember, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.peers[name]
	if !ok {
		return peerMember{}, false
	}
	return *p, true
}

// startSerf creates the reconciler's serf member on GossipAddr. Serf's
// snapshot in DataDir makes a restarted reconciler rejoin the members it
// knew without waiting for them to find it.
func (s *Server) startSerf() error {
	host, portStr, err := net.SplitHostPort(s.cfg.GossipAddr)
	if err != nil {
		return fmt.Errorf("failed to parse gossip address %q: %w", s.cfg.GossipAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("failed to parse gossip port %q: %w", portStr, err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	// The same timings as every agent, so that all members agree on when a
	// node has failed.
	conf := agentapi.SerfConfig(s.cfg.Name, host, port, s.log)
	if err := agentapi.ApplyGossipProfile(conf, s.cfg.GossipProfile); err != nil {
		return err
	}
	conf.Tags = s.serfTags()
	// Tag updates (raft state, applied commit) must not hold up a
	// shutdown for serf's default 5 s.
	conf.BroadcastTimeout = time.Second
	conf.SnapshotPath = s.state.path(fileSnapshot)
	// Agents come and go; a reconciler that left and restarts should still
	// find them from its snapshot.
	conf.RejoinAfterLeave = true
	s.serfEv = make(chan serf.Event, agentapi.GossipEventBuffer)
	conf.EventCh = s.serfEv
	if err := agentapi.EncryptGossip(conf, s.GossipKey()); err != nil {
		return err
	}

	sf, err := serf.Create(conf)
	if err != nil {
		return fmt.Errorf("failed to start serf on %s: %w", s.cfg.GossipAddr, err)
	}
	s.serf = sf
	lm := sf.LocalMember()
	s.gossip = net.JoinHostPort(lm.Addr.String(), strconv.Itoa(int(lm.Port)))
	if host == "0.0.0.0" || host == "::" {
		s.gossip = net.JoinHostPort(host, strconv.Itoa(int(lm.Port)))
	}
	return nil
}

// joinRetry is how often a reconciler that joined nobody yet tries again.
const joinRetry = time.Second

// joinLoop joins Config.Join, retrying until one member answers: the
// reconcilers of a new cluster start in any order.
func (s *Server) joinLoop(ctx context.Context) {
	if len(s.cfg.Join) == 0 {
		return
	}
	for {
		n, err := s.serf.Join(s.cfg.Join, true)
		if n > 0 {
			// Give the members' tags a moment to arrive before the
			// bootstrap looks at them.
			t := time.NewTimer(2 * tagInterval)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			close(s.joined)
			return
		}
		s.log.Warn("failed to join members, retrying", "join", s.cfg.Join, "retry_in", joinRetry, "err", err)
		t := time.NewTimer(joinRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
