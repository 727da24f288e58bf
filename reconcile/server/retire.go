package server

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// handleRetire serves ctl reconciler retire: the leader hands a
// reconciler's vote to a successor, so that a bootstrap reconciler can
// give the cluster over to a self-hosted one (docs/self-hosting.md).
//
// The successor becomes a voter first (a non-voter is promoted), so the
// quorum never rests on the reconciler being retired alone. A retired
// reconciler that still runs is demoted, not removed: the leader adds
// every live reconciler of its cluster that is no raft server (addPeers),
// so a removed one would come back; demoted, it follows without a vote
// until it is stopped, and a second retire removes it once membership no
// longer reports it alive. A leader that demotes itself steps down (raft
// does so once the change is committed) and the successor is elected.
func (s *Server) handleRetire(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	successor := r.URL.Query().Get("successor")
	if s.ctrl.Load() == nil {
		errs.WriteHTTP(w, errUnavailable("lost leadership: retry"))
		return
	}
	res, err := s.retire(name, successor)
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	s.events.add("reconciler/"+name, "PeerRetired", fmt.Sprintf("reconciler %s retired (%s) through the API; voters: %v", name, res.Action, res.Voters))
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) retire(name, successor string) (*api.RetireResult, error) {
	rf := s.el.raft
	servers, err := s.raftServers()
	if err != nil {
		return nil, errs.Mark(err, errs.ErrUnavailable)
	}
	res := &api.RetireResult{Name: name}
	srv, ok := servers[name]
	if !ok {
		res.Action = api.RetireAbsent
		res.Voters = voterNames(servers)
		return res, nil
	}
	if srv.Suffrage == raft.Voter {
		if successor == "" {
			successor = s.pickSuccessor(name, servers)
		}
		if successor == "" {
			return nil, errs.Mark(fmt.Errorf("failed to retire %s: no other live reconciler to hand its vote to (start one with --join first)", name), errs.ErrConflict)
		}
		succ, ok := servers[successor]
		if !ok || successor == name {
			return nil, errInvalid(fmt.Sprintf("failed to retire %s: successor %q is not another raft server of this cluster", name, successor))
		}
		if !s.peerAlive(successor) {
			return nil, errs.Mark(fmt.Errorf("failed to retire %s: successor %s is not alive", name, successor), errs.ErrConflict)
		}
		if err := s.checkQuorumAfter(name, successor, servers); err != nil {
			return nil, err
		}
		if succ.Suffrage != raft.Voter {
			if err := rf.AddVoter(succ.ID, succ.Address, 0, s.cfg.Raft.ApplyTimeout).Error(); err != nil {
				return nil, errs.Mark(fmt.Errorf("failed to promote %s to voter: %w", successor, err), errs.ErrUnavailable)
			}
			s.log.Info("promoted reconciler to voter", "peer", successor, "to replace", name)
		}
		res.Successor = successor
	}
	if s.peerAlive(name) {
		if srv.Suffrage == raft.Voter {
			if err := rf.DemoteVoter(srv.ID, 0, s.cfg.Raft.ApplyTimeout).Error(); err != nil {
				return nil, errs.Mark(fmt.Errorf("failed to demote %s: %w", name, err), errs.ErrUnavailable)
			}
		}
		res.Action = api.RetireDemoted
	} else {
		if err := rf.RemoveServer(srv.ID, 0, s.cfg.Raft.ApplyTimeout).Error(); err != nil {
			return nil, errs.Mark(fmt.Errorf("failed to remove %s: %w", name, err), errs.ErrUnavailable)
		}
		res.Action = api.RetireRemoved
	}
	s.log.Info("retired reconciler", "peer", name, "action", res.Action, "successor", res.Successor)
	if servers, err = s.raftServers(); err == nil {
		res.Voters = voterNames(servers)
	}
	return res, nil
}

// checkQuorumAfter refuses a retire that would leave the voters alive in
// membership short of a majority of the resulting configuration (name no
// longer votes, successor does): raft would commit that configuration
// with the quorum it has now, and then no leader could be elected until
// the missing voters came back. Three voters with one down, retiring a
// live one with a successor that already votes, is the case: two voters
// left, one alive.
func (s *Server) checkQuorumAfter(name, successor string, servers map[string]raft.Server) error {
	var voters, alive []string
	for n, srv := range servers {
		if n == name || (srv.Suffrage != raft.Voter && n != successor) {
			continue
		}
		voters = append(voters, n)
		if s.peerAlive(n) {
			alive = append(alive, n)
		}
	}
	sort.Strings(voters)
	sort.Strings(alive)
	if need := len(voters)/2 + 1; len(alive) < need {
		return errs.Mark(fmt.Errorf("failed to retire %s: the voters left would be %v, of which only %v are alive: fewer than the %d a quorum needs, and no leader could be elected; bring the others back, or retire the down voters first", name, voters, alive, need), errs.ErrConflict)
	}
	return nil
}

// peerAlive reports whether reconciler name is alive in membership; this
// reconciler always is.
func (s *Server) peerAlive(name string) bool {
	if name == s.cfg.Name {
		return true
	}
	p, _ := s.members.peer(name)
	return p.alive
}

// raftServers is the raft configuration by server name.
func (s *Server) raftServers() (map[string]raft.Server, error) {
	cf := s.el.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, fmt.Errorf("failed to read raft configuration: %w", err)
	}
	out := map[string]raft.Server{}
	for _, srv := range cf.Configuration().Servers {
		out[string(srv.ID)] = srv
	}
	return out, nil
}

// pickSuccessor picks a live raft server other than name: a voter if one
// is, else the first non-voter by name.
func (s *Server) pickSuccessor(name string, servers map[string]raft.Server) string {
	var names []string
	for n := range servers {
		names = append(names, n)
	}
	sort.Strings(names)
	pick := ""
	for _, n := range names {
		if n == name || !s.peerAlive(n) {
			continue
		}
		if servers[n].Suffrage == raft.Voter {
			return n
		}
		if pick == "" {
			pick = n
		}
	}
	return pick
}

func voterNames(servers map[string]raft.Server) []string {
	var out []string
	for n, srv := range servers {
		if srv.Suffrage == raft.Voter {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
