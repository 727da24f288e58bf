package server

import (
	"context"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestAgentProtocolNegotiation is three agents: one of this release (1..2:
// spoken to in 2), one from v0.15 (nothing advertised: protocol 1), and
// one from a future release (5..6), which is refused: nothing is pushed to
// it or scheduled on it, and its node says why (NotReady, the refusal as
// its error, an event).
func TestAgentProtocolNegotiation(t *testing.T) {
	log, logs := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 4 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(4, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	cur, old, future := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b"), newFakeAgent(t, "node-c")
	cur.version, cur.protocol = "v0.16.0", agentapi.ProtocolRange{Min: 1, Max: 2}
	future.version, future.protocol = "v0.19.0", agentapi.ProtocolRange{Min: 5, Max: 6}
	for _, a := range []*fakeAgent{cur, old, future} {
		a.join(s.GossipAddr())
	}
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	waitFor(t, 15*time.Second, "4 pods Running on node-a and node-b", func() bool {
		pods, err := cl.Pods(ctx, "shop")
		if err != nil || len(pods) != 4 {
			return false
		}
		for _, p := range pods {
			if p.Phase != agentapi.PodRunning {
				return false
			}
		}
		return podCount(cur, old) == 4
	})
	if future.setCount() != 0 {
		t.Errorf("the refused agent was pushed %d sets", future.setCount())
	}
	want := "agent node-c runs v0.19.0 (protocol 5..6); this reconciler " + s.members.version +
		" speaks 1..2: upgrade the reconciler first (docs/compatibility.md)"
	nodes, err := cl.Nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}
	for _, n := range nodes {
		switch n.Name {
		case "node-a":
			if n.NegotiatedProtocol != 2 || n.Version != "v0.16.0" || n.Status != api.NodeReady || n.VersionRefused != "" {
				t.Errorf("node-a = %+v; want protocol 2, Ready", n)
			}
		case "node-b":
			if n.NegotiatedProtocol != 1 || n.Version != "" || n.Protocol != (agentapi.ProtocolRange{Min: 1, Max: 1}) || n.Status != api.NodeReady {
				t.Errorf("node-b (v0.15) = %+v; want protocol 1, Ready", n)
			}
		case "node-c":
			if n.NegotiatedProtocol != 0 || n.Status != api.NodeNotReady || n.VersionRefused != want || n.Error != want || n.Pods != 0 {
				t.Errorf("node-c = %+v\nwant NotReady, no pods, refused with %q", n, want)
			}
		}
	}
	evs, err := cl.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e.Object == "node/node-c" && e.Reason == api.EventVersionSkew && e.Message == want && e.Type == api.EventWarning {
			found = true
		}
	}
	if !found {
		t.Errorf("no %s warning for node-c in %+v", api.EventVersionSkew, evs)
	}
	if !strings.Contains(logs.String(), "refusing agent: no protocol in common") {
		t.Error("the refusal was not logged")
	}
	// Every request carried the negotiated protocol; none reached node-c.
	cur.mu.Lock()
	pa := cur.protocols
	cur.mu.Unlock()
	old.mu.Lock()
	pb := old.protocols
	old.mu.Unlock()
	future.mu.Lock()
	pc := len(future.protocols)
	future.mu.Unlock()
	if len(pa) != 1 || pa["2"] == 0 || len(pb) != 1 || pb["1"] == 0 || pc != 0 {
		t.Errorf("protocol headers: node-a %v, node-b %v, node-c got %d kinds of request; want 2, 1, none", pa, pb, pc)
	}

	// node-c is downgraded to a release that speaks 2..3: it is taken back
	// (its set pushed, in protocol 2) and the change is an event.
	future.mu.Lock()
	future.version, future.protocol = "v0.17.0", agentapi.ProtocolRange{Min: 2, Max: 3}
	future.mu.Unlock()
	tags, err := agentapi.EncodeTags(agentapi.NodeInfo{Name: "node-c", APIAddr: future.srv.URL,
		Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}, Labels: map[string]string{"zone": "z1"},
		Version: "v0.17.0", Protocol: agentapi.ProtocolRange{Min: 2, Max: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := future.serf.SetTags(tags); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "node-c taken back in protocol 2", func() bool {
		nodes, err := cl.Nodes(ctx)
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.Name == "node-c" {
				return n.NegotiatedProtocol == 2 && n.Status == api.NodeReady && n.VersionRefused == "" && future.setCount() > 0
			}
		}
		return false
	})
	future.mu.Lock()
	pc2 := future.protocols
	future.mu.Unlock()
	if len(pc2) != 1 || pc2["2"] == 0 {
		t.Errorf("node-c's requests had protocols %v, want 2", pc2)
	}
	evs, _ = cl.Events(ctx)
	found = false
	for _, e := range evs {
		found = found || e.Object == "node/node-c" && e.Reason == "ProtocolNegotiated" && strings.Contains(e.Message, "speaking protocol 2")
	}
	if !found {
		t.Errorf("no ProtocolNegotiated event for node-c in %+v", evs)
	}
}
