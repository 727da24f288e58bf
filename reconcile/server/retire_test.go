package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestRetireHandsTheVoteOver: a bootstrap reconciler r1 (one voter) and r2,
// which joined later as a non-voter; retiring r1 promotes r2, demotes r1
// (which led, so it steps down) and r2 is elected; once r1 is stopped,
// retiring it again removes it, leaving r2 the only voter and the leader.
func TestRetireHandsTheVoteOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft and serf")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	r1 := startPeer(t, "r1", repo.dir, t.TempDir(), 1, nil, log)
	waitFor(t, 10*time.Second, "r1 to lead", r1.IsLeader)
	r2 := startPeer(t, "r2", repo.dir, t.TempDir(), 1, []string{r1.GossipAddr()}, log)
	waitFor(t, 15*time.Second, "r2 to follow r1 as a non-voter", func() bool {
		st := r2.Status()
		return st.Leader == "r1" && len(st.Peers) == 2 && !peerVotes(st, "r2")
	})
	if _, err := r2.retire("r1", "r2"); err == nil {
		t.Error("a follower retired a reconciler")
	}
	res, err := r1.retire("r1", "")
	if err != nil {
		t.Fatalf("retire r1: %v", err)
	}
	if res.Action != api.RetireDemoted || res.Successor != "r2" || !slices.Equal(res.Voters, []string{"r2"}) {
		t.Fatalf("retire r1 while it runs: %+v, want demoted, successor r2, voters [r2]", res)
	}
	waitFor(t, 15*time.Second, "r2 to lead", r2.IsLeader)
	if r1.IsLeader() {
		t.Fatal("the demoted r1 still leads")
	}
	if err := r1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "r1 removed", func() bool {
		res, err = r2.retire("r1", "")
		return err == nil && res.Action == api.RetireRemoved
	})
	st := r2.Status()
	if len(st.Peers) != 1 || st.Peers[0].Name != "r2" || !st.Peers[0].Voter || st.Leader != "r2" {
		t.Fatalf("after retiring r1: leader %q, peers %+v", st.Leader, st.Peers)
	}
	if res, err := r2.retire("r1", ""); err != nil || res.Action != api.RetireAbsent {
		t.Fatalf("retiring r1 again: %+v %v, want absent", res, err)
	}
	if _, err := r2.retire("r2", ""); err == nil {
		t.Error("the only voter retired itself with nobody to hand its vote to")
	}
}

func peerVotes(st api.Status, name string) bool {
	for _, p := range st.Peers {
		if p.Name == name {
			return p.Voter
		}
	}
	return false
}
