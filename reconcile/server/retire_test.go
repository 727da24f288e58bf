package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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

// TestRetireKeepsTheQuorum: three voters, one of them down. Retiring a live
// one (its vote auto-handed to the leader, which already votes) would leave
// two voters of which one is alive, and no leader for good: it is refused,
// naming the voters that would remain and the live ones, and nothing
// changes. Retiring the down voter instead removes it.
func TestRetireKeepsTheQuorum(t *testing.T) {
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	r1 := startPeer(t, "r1", repo.dir, t.TempDir(), 3, nil, log)
	r2 := startPeer(t, "r2", repo.dir, t.TempDir(), 3, []string{r1.GossipAddr()}, log)
	r3 := startPeer(t, "r3", repo.dir, t.TempDir(), 3, []string{r1.GossipAddr(), r2.GossipAddr()}, log)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })
	lead := leaderOf(servers...)
	var live, down *Server
	for _, s := range servers {
		switch {
		case s == lead:
		case down == nil:
			down = s
		default:
			live = s
		}
	}
	waitFor(t, 15*time.Second, "three voters", func() bool {
		st := lead.Status()
		return len(st.Peers) == 3 && peerVotes(st, live.Name()) && peerVotes(st, down.Name())
	})
	if err := down.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, down.Name()+" to be down in the leader's membership", func() bool { return !lead.peerAlive(down.Name()) })

	cl, err := api.NewClient(lead.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without the check the retire is committed, and then the client
	// retries through an election that never ends: the deadline fails it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = cl.RetireReconciler(ctx, live.Name(), "")
	if err == nil {
		t.Fatalf("retiring %s with %s down was accepted", live.Name(), down.Name())
	}
	var se *api.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusConflict {
		t.Errorf("refusal = %v, want 409 Conflict", err)
	}
	left := []string{lead.Name(), down.Name()}
	slices.Sort(left)
	for _, want := range []string{fmt.Sprintf("voters left would be %v", left), fmt.Sprintf("only [%s] are alive", lead.Name())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	st := lead.Status()
	if !lead.IsLeader() || len(st.Peers) != 3 || !peerVotes(st, live.Name()) || !peerVotes(st, lead.Name()) {
		t.Fatalf("after the refused retire: leader %v, peers %+v", lead.IsLeader(), st.Peers)
	}

	res, err := cl.RetireReconciler(ctx, down.Name(), "")
	if err != nil || res.Action != api.RetireRemoved {
		t.Fatalf("retiring the down %s: %+v %v, want removed", down.Name(), res, err)
	}
	want := []string{lead.Name(), live.Name()}
	slices.Sort(want)
	if !slices.Equal(res.Voters, want) {
		t.Errorf("voters after removing %s: %v, want %v", down.Name(), res.Voters, want)
	}
}
