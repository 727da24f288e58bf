package server

import (
	"testing"
	"time"
)

// One agent that does not answer its PUT must not hold up the others'
// sets: each agent has a pusher of its own.
func TestSlowAgentDelaysNoOther(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 4 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(4, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	slow, fast := newFakeAgent(t, "node-slow"), newFakeAgent(t, "node-fast")
	slow.hold = make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(slow.hold)
		}
	}
	defer release()
	slow.join(s.GossipAddr())
	fast.join(s.GossipAddr())
	waitFor(t, 15*time.Second, "the fast agent's pods while the slow one holds its PUT", func() bool {
		return len(fast.last().Pods) > 0
	})
	if n := slow.setCount(); n != 0 {
		t.Fatalf("the held agent applied %d sets", n)
	}
	release()
	waitFor(t, 10*time.Second, "all 4 pods once the slow agent answers", func() bool { return podCount(slow, fast) == 4 })
}
