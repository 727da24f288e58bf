package server

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// tagInterval is how often a reconciler refreshes the serf tags that
// describe its raft state to the others (only changed tags are gossiped).
const tagInterval = time.Second

// indexTagInterval is how often at most the applied index alone is
// gossiped (ctl status shows each peer's; raft itself does not need it).
const indexTagInterval = 10 * time.Second

// serfTags is what this reconciler announces through membership.
func (s *Server) serfTags() map[string]string {
	t := map[string]string{
		agentapi.TagRole: agentapi.RoleReconciler,
		agentapi.TagAPI:  s.apiURL,
		tagRaft:          s.raftAddr(),
		tagExpect:        strconv.Itoa(s.cfg.Raft.BootstrapExpect),
		tagStoreFormat:   strconv.Itoa(s.store.reads()),
		// What it speaks to agents (docs/versions.md): for operators
		// reading serf members; agents do not act on it.
		agentapi.TagVersion:  s.members.version,
		agentapi.TagProtocol: s.members.local.Tag(),
	}
	if s.el != nil && s.el.raft != nil {
		if s.el.existing.Load() {
			t[tagHasState] = "1"
		}
		t[tagRaftState] = raftStateName(s.el.raft.State())
		st := s.store.peek()
		if id := *s.clusterID.Load(); id != "" {
			t[tagCluster] = id
		}
		if st.commit != "" {
			t[tagApplied] = short(st.commit)
		}
		t[tagIndex] = strconv.FormatUint(st.index, 10)
	}
	return t
}

// tagLoop keeps the serf tags current.
func (s *Server) tagLoop(ctx context.Context) {
	t := time.NewTicker(tagInterval)
	defer t.Stop()
	last := s.serfTags()
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.serf.State() == serf.SerfShutdown {
			// Memberlist shuts serf down when another member took this
			// name (a name conflict): this reconciler is cut off.
			s.setClusterErr(fmt.Sprintf("membership stopped: another member uses the name %s (serf name conflict); this reconciler is cut off from the cluster: stop it, or give it a unique --name", s.cfg.Name))
			continue
		}
		tags := s.serfTags()
		// The applied index changes with every entry: gossip it only with
		// another change, or every indexTagInterval at most. Each update
		// is a broadcast to every member: at thousands of agents, one a
		// second kept every member's gossip queue full.
		cmp := maps.Clone(tags)
		delete(cmp, tagIndex)
		old := maps.Clone(last)
		delete(old, tagIndex)
		if maps.Equal(cmp, old) && (tags[tagIndex] == last[tagIndex] || time.Since(lastAt) < indexTagInterval) {
			continue
		}
		if err := s.serf.SetTags(tags); err != nil {
			s.log.Warn("failed to update serf tags", "err", err)
			continue
		}
		last, lastAt = tags, time.Now()
	}
}

// raftAddr is the address other reconcilers dial for raft.
func (s *Server) raftAddr() string {
	if s.el != nil {
		return s.el.addr
	}
	return s.cfg.Raft.Addr
}

func raftStateName(st raft.RaftState) string {
	switch st {
	case raft.Leader:
		return api.RaftLeader
	case raft.Follower:
		return api.RaftFollower
	case raft.Candidate:
		return api.RaftCandidate
	case raft.Shutdown:
		return api.RaftShutdown
	}
	return api.RaftUnknown
}

func (s *Server) setClusterErr(msg string) {
	old := s.clusterErr.Load()
	if old != nil && *old == msg {
		return
	}
	s.clusterErr.Store(&msg)
	if msg != "" {
		s.log.Error("cluster problem", "err", msg)
		s.events.add("reconciler/"+s.cfg.Name, "ClusterError", msg)
	}
}

// bootstrapLoop forms a new cluster when this reconciler has no raft state:
// once it sees BootstrapExpect reconcilers (itself included) that all have
// no state and the same BootstrapExpect, they bootstrap together with the
// same server list. A reconciler that sees one with state waits to be
// added by that cluster's leader instead.
func (s *Server) bootstrapLoop(ctx context.Context) {
	if s.el.existing.Load() {
		return
	}
	if s.cfg.Raft.BootstrapExpect == 1 && len(s.cfg.Join) == 0 {
		s.bootstrapWith([]peerMember{{name: s.cfg.Name, tags: map[string]string{tagRaft: s.raftAddr()}}})
		return
	}
	// With --join, a lone reconciler first looks at who is there: a
	// reconciler started to grow a cluster (or one whose data dir was
	// lost) must be added by that cluster's leader, not start its own.
	if s.cfg.Raft.BootstrapExpect == 1 {
		select {
		case <-ctx.Done():
			return
		case <-s.joined:
		}
	}
	t := time.NewTicker(tagInterval)
	defer t.Stop()
	waiting := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.members.peersChanged:
		case <-t.C:
		}
		if !s.el.raft.LastContact().IsZero() || s.el.raft.State() != raft.Follower {
			// Added to a cluster by its leader meanwhile.
			s.el.existing.Store(true)
			s.setClusterErr("")
			return
		}
		var ready []peerMember
		problem := ""
		for _, p := range s.members.reconcilers() {
			if !p.alive {
				continue
			}
			if p.tags[tagHasState] == "1" && p.name != s.cfg.Name {
				if !waiting {
					s.log.Info("a reconciler with raft state exists; waiting for its leader to add this one", "peer", p.name)
					waiting = true
				}
				problem = "-"
				break
			}
			if e := p.tags[tagExpect]; e != strconv.Itoa(s.cfg.Raft.BootstrapExpect) {
				problem = fmt.Sprintf("reconciler %s was started with --bootstrap-expect %s and this one (%s) with %d: start every reconciler of a new cluster with the same value",
					p.name, e, s.cfg.Name, s.cfg.Raft.BootstrapExpect)
				break
			}
			if p.tags[tagRaft] == "" {
				continue
			}
			ready = append(ready, p)
		}
		switch {
		case problem == "-":
			continue
		case problem != "":
			s.setClusterErr(problem)
			continue
		case len(ready) > s.cfg.Raft.BootstrapExpect:
			s.setClusterErr(fmt.Sprintf("%d reconcilers without raft state are members, more than --bootstrap-expect %d: not bootstrapping", len(ready), s.cfg.Raft.BootstrapExpect))
			continue
		case len(ready) < s.cfg.Raft.BootstrapExpect:
			continue
		}
		s.setClusterErr("")
		s.bootstrapWith(ready)
		return
	}
}

func (s *Server) bootstrapWith(peers []peerMember) {
	servers := make([]raft.Server, 0, len(peers))
	names := make([]string, 0, len(peers))
	for _, p := range peers {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.name), Address: raft.ServerAddress(p.tags[tagRaft])})
		names = append(names, p.name)
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	if err := s.el.bootstrap(servers); err != nil {
		s.setClusterErr(err.Error())
		return
	}
	s.log.Info("bootstrapped a new raft cluster", "servers", names)
	// Say so at once (tagLoop would within a second): a leader must not
	// take this reconciler for one without state meanwhile.
	if s.serf != nil {
		if err := s.serf.SetTags(s.serfTags()); err != nil {
			s.log.Warn("failed to update serf tags", "err", err)
		}
	}
}

// addPeers, run by the leader, adds every alive reconciler of this cluster
// that is not yet a raft server (one started later, or with new state).
// Reconcilers that belong to another cluster are reported, never added.
// Servers are never removed automatically: a reconciler that is away may
// come back, and quorum is the operator's decision.
func (c *controller) addPeers() {
	s := c.s
	c.configMu.Lock()
	defer c.configMu.Unlock()
	cf := s.el.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		c.log.Warn("failed to read raft configuration", "err", err)
		return
	}
	known := map[raft.ServerID]raft.Server{}
	voters := 0
	for _, srv := range cf.Configuration().Servers {
		known[srv.ID] = srv
		if srv.Suffrage == raft.Voter {
			voters++
		}
	}
	cluster := s.store.peek().clusterID
	storeFormat, storeFormatSince := s.store.format()
	if storeFormatSince == "" {
		storeFormatSince = formatReleases[storeFormat]
	}
	problem := ""
	for _, p := range s.members.reconcilers() {
		srv, ok := known[raft.ServerID(p.name)]
		if !p.alive || p.tags[tagRaft] == "" || ok && string(srv.Address) == p.tags[tagRaft] {
			continue
		}
		id := p.tags[tagCluster]
		switch {
		case id != "" && id != cluster:
			problem = fmt.Sprintf("reconciler %s belongs to another cluster (%s, this one is %s): not adding it; give it a new data dir to join this one", p.name, id, cluster)
			continue
		case id == "" && p.tags[tagHasState] == "1":
			// It has raft state of a cluster it has not named yet:
			// adding it would overwrite that state with ours. Wait for
			// its tags (they follow within a second once its log is
			// applied).
			continue
		case ok && id != cluster:
			// A server of this cluster by that name is known at another
			// address, and this one has no state of ours: a new process
			// reusing the name must not take over that server's place
			// (its log and its vote are gone).
			problem = fmt.Sprintf("a reconciler named %s without this cluster's raft state is at %s, but %s is a raft server of this cluster at %s: not replacing it; start it under a new --name",
				p.name, p.tags[tagRaft], p.name, srv.Address)
			continue
		}
		if n, cur := readsFormat(p.tags), storeFormat; n < cur {
			// It would fail to apply the log and snapshots it gets.
			problem = fmt.Sprintf("reconciler %s reads store formats up to %d, but this cluster's store is of format %d (since %s): not adding it; run %s or newer there",
				p.name, n, cur, storeFormatSince, storeFormatSince)
			continue
		}
		var f raft.IndexFuture
		switch {
		case ok && srv.Suffrage == raft.Nonvoter, !ok && voters >= s.cfg.Raft.BootstrapExpect:
			// Beyond --bootstrap-expect voters, reconcilers follow as
			// non-voters: a member that reaches the gossip port cannot
			// grow the quorum (nor, by going away, lose it).
			f = s.el.raft.AddNonvoter(raft.ServerID(p.name), raft.ServerAddress(p.tags[tagRaft]), 0, s.cfg.Raft.ApplyTimeout)
		default:
			f = s.el.raft.AddVoter(raft.ServerID(p.name), raft.ServerAddress(p.tags[tagRaft]), 0, s.cfg.Raft.ApplyTimeout)
		}
		if err := f.Error(); err != nil {
			c.log.Warn("failed to add reconciler to raft", "peer", p.name, "err", err)
			continue
		}
		if ok {
			// A server that restarted on another raft address: adding it
			// again under its ID updates the address.
			c.log.Info("updated a reconciler's raft address", "peer", p.name, "old", srv.Address, "addr", p.tags[tagRaft])
			continue
		}
		kind := "voter"
		if voters >= s.cfg.Raft.BootstrapExpect {
			kind = "non-voter (the cluster has its --bootstrap-expect voters)"
		} else {
			voters++
		}
		c.log.Info("added reconciler to raft", "peer", p.name, "addr", p.tags[tagRaft], "as", kind)
		s.events.add("reconciler/"+p.name, "PeerAdded", "reconciler "+p.name+" joined the raft cluster as a "+kind)
	}
	s.setClusterErr(problem)
}

// peers describes the raft configuration for the status API.
func (s *Server) peers() (leader string, out []api.Peer) {
	_, id := s.el.raft.LeaderWithID()
	leader = string(id)
	cf := s.el.raft.GetConfiguration()
	if cf.Error() != nil {
		return leader, nil
	}
	for _, srv := range cf.Configuration().Servers {
		p := api.Peer{Name: string(srv.ID), RaftAddr: string(srv.Address), Voter: srv.Suffrage == raft.Voter, State: api.RaftUnknown}
		if m, ok := s.members.peer(p.Name); ok && m.alive {
			p.API = m.tags[agentapi.TagAPI]
			p.Applied = m.tags[tagApplied]
			p.AppliedIndex, _ = strconv.ParseUint(m.tags[tagIndex], 10, 64)
			if st := m.tags[tagRaftState]; st != "" {
				p.State = st
			}
		}
		switch {
		case p.Name == leader:
			p.State = api.RaftLeader
		case p.State == api.RaftLeader:
			// Its tag is older than raft's news.
			p.State = api.RaftFollower
		}
		if p.Name == s.cfg.Name {
			p.API = s.apiURL
			p.State = raftStateName(s.el.raft.State())
			p.AppliedIndex = s.store.peek().index
			p.Applied = short(s.store.peek().commit)
			if s.el.raft.State() == raft.Follower {
				p.LastContact = s.el.raft.LastContact()
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return leader, out
}
