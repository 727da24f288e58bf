package server

import (
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"slices"
	"testing"
	"time"
)

// TestFailedButAnswering: membership reports an agent failed while its API
// still answers (a stale dead message after a partition heals): its pods
// stay put, well past failSettle; once its API stops answering too, they
// move.
func TestFailedButAnswering(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 4 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(4, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	waitFor(t, 10*time.Second, "4 pods on the agents", func() bool { return podCount(a, b) == 4 && len(b.last().Pods) > 0 })
	before := uids(a, b)

	// Gossip only: serf stops, the API keeps answering.
	if err := b.serf.Shutdown(); err != nil {
		t.Fatal(err)
	}
	b.serf = nil
	waitFor(t, 15*time.Second, "node-b reported failed", func() bool {
		m, ok := s.members.nodes()["node-b"]
		return ok && m.state != api.NodeAlive
	})
	deadline := time.Now().Add(2*failSettle + time.Second)
	for time.Now().Before(deadline) {
		if got := uids(a, b); !slices.Equal(got, before) {
			t.Fatalf("pods moved while node-b's API answered:\n got %v\nwant %v", got, before)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Now it is dead for real.
	b.crash()
	waitFor(t, 20*time.Second, "4 pods on node-a after node-b stopped answering", func() bool { return len(a.last().Pods) == 4 })
}
