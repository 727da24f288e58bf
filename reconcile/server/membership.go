package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// joinSettle is how long a plan waits after an agent joins, so that agents
// starting together share the pods that were waiting for a node.
const joinSettle = 300 * time.Millisecond

// planAfter requests a plan after d, unless the server stops first. Joins
// coalesce: one pending wait covers every join that arrives during it. It is
// called from the serf-events goroutine, so the WaitGroup is never at zero
// when the settle goroutine is added.
func (s *Server) planAfter(ctx context.Context, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joinPending || s.shutdown {
		return
	}
	s.joinPending = true
	s.goNamed("join-settle", func(context.Context) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.joinPending = false
		s.requestPlanLocked()
		s.mu.Unlock()
	})
}

// startSerf creates the reconciler's serf member on GossipAddr. Serf's
// snapshot in DataDir makes a restarted reconciler rejoin the agents it knew
// without waiting for them to find it.
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
	conf := agentapi.SerfConfig(s.cfg.NodeName, host, port, s.log)
	conf.Tags = map[string]string{agentapi.TagRole: agentapi.RoleReconciler, agentapi.TagAPI: s.apiURL}
	conf.SnapshotPath = s.state.path(fileSnapshot)
	// Agents come and go; a reconciler that left and restarts should still
	// find them from its snapshot.
	conf.RejoinAfterLeave = true
	s.serfEv = make(chan serf.Event, agentapi.GossipEventBuffer)
	conf.EventCh = s.serfEv

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

// serfLoop drains serf's event channel so serf never blocks on it.
func (s *Server) serfLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.serfEv:
			me, ok := e.(serf.MemberEvent)
			if !ok {
				continue
			}
			for _, m := range me.Members {
				s.memberEvent(ctx, me.Type, m)
			}
		}
	}
}

func (s *Server) memberEvent(ctx context.Context, typ serf.EventType, m serf.Member) {
	if m.Tags[agentapi.TagRole] != agentapi.RoleAgent {
		return
	}
	addr := net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
	var stop *agentConn
	s.mu.Lock()
	cur := s.members[m.Name]
	switch typ {
	case serf.EventMemberJoin, serf.EventMemberUpdate:
		info, err := agentapi.DecodeTags(m.Name, m.Tags)
		if err != nil {
			s.mu.Unlock()
			s.log.Warn("ignoring agent with bad tags", "member", m.Name, "err", err)
			return
		}
		if cur == nil {
			cur = &member{}
			s.members[m.Name] = cur
		}
		if cur.conn != nil && cur.info.APIAddr != info.APIAddr {
			stop, cur.conn = cur.conn, nil
		}
		if cur.state != api.NodeAlive {
			cur.since = time.Now()
			s.eventLocked("node/"+m.Name, "NodeAlive", "agent "+m.Name+" at "+info.APIAddr+" joined")
		}
		cur.info, cur.addr, cur.state = info, addr, api.NodeAlive
		if cur.conn == nil && ctx.Err() == nil {
			name := m.Name
			cur.conn = newAgentConn(ctx, name, s.dialAgent(info.APIAddr), s.log, func(l *agentapi.PodStatusList) { s.observe(name, l) })
			if pods, ok := s.podSets[name]; ok {
				cur.conn.offer(&agentapi.PodSet{Node: name, Term: s.term, Generation: s.gens[name], Pods: pods})
			}
		}
		s.log.Info("agent alive", "node", m.Name, "api", info.APIAddr, "gossip", addr)
	case serf.EventMemberFailed, serf.EventMemberLeave:
		if cur == nil {
			s.mu.Unlock()
			return
		}
		state, reason := api.NodeFailed, "NodeFailed"
		if typ == serf.EventMemberLeave {
			state, reason = api.NodeLeft, "NodeLeft"
		}
		cur.state, cur.since = state, time.Now()
		stop, cur.conn = cur.conn, nil
		// What it reported is no longer true of anything we can reach, and
		// the core will move its pods: the set it had must not be offered
		// again if it comes back (the generation counter stays, so its next
		// set still supersedes the old one).
		delete(s.observed, m.Name)
		delete(s.podSets, m.Name)
		s.eventLocked("node/"+m.Name, reason, "agent "+m.Name+" "+state)
		s.log.Warn("agent gone", "node", m.Name, "state", state)
	case serf.EventMemberReap:
		if cur != nil {
			stop, cur.conn = cur.conn, nil
		}
		delete(s.members, m.Name)
		delete(s.observed, m.Name)
		delete(s.podSets, m.Name)
	default:
		s.mu.Unlock()
		return
	}
	if typ == serf.EventMemberJoin {
		// Agents of one cluster usually start together; planning each
		// join at once would put every unplaced pod on the first one.
		// Placed pods never move, so wait a moment for the others.
		s.mu.Unlock()
		s.planAfter(ctx, joinSettle)
	} else {
		s.requestPlanLocked()
		s.mu.Unlock()
	}
	if stop != nil {
		stop.close()
	}
}
