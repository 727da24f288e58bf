package server

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// startPeer starts reconciler name of a cluster of expect, joined to join.
func startPeer(t *testing.T, name, repo, dataDir string, expect int, join []string, log *slog.Logger) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.Source.URL = repo
	cfg.DataDir = dataDir
	cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.PollInterval = -1
	cfg.Raft.BootstrapExpect = expect
	cfg.Join = join
	// Short enough for a new cluster's adoption wait, long enough that a
	// new leader hears of every agent before it presumes an unreported
	// one lost.
	cfg.NodeLossGrace = 5 * time.Second
	cfg.Logger = log.With("reconciler", name)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New %s: %v", name, err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func leaderOf(servers ...*Server) *Server {
	for _, s := range servers {
		if s != nil && s.IsLeader() {
			return s
		}
	}
	return nil
}

// TestThreeReconcilers forms a cluster of three with --bootstrap-expect 3,
// checks that any of them answers (followers forward), takes the leader
// down and checks that another takes over within 3 s without changing a
// pod, finishes a scale-up, and that the old leader rejoins from its data
// dir as a follower.
func TestThreeReconcilers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 3 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(3, "registry.local/hello:1")})
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	r1 := startPeer(t, "r1", repo.dir, dirs[0], 3, nil, log)
	r2 := startPeer(t, "r2", repo.dir, dirs[1], 3, []string{r1.GossipAddr()}, log)
	time.Sleep(50 * time.Millisecond)
	if leaderOf(r1, r2) != nil {
		t.Fatal("two of three expected reconcilers elected a leader")
	}
	r3 := startPeer(t, "r3", repo.dir, dirs[2], 3, []string{r2.GossipAddr()}, log)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })

	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	// Each agent joins every reconciler, as agents started with all of
	// them in --join do: a join gossiped to the others can be lost, and
	// then only serf's push-pull (15 s) would tell a new leader of it.
	a.join(r3.GossipAddr(), r1.GossipAddr(), r2.GossipAddr())
	b.join(r1.GossipAddr(), r2.GossipAddr(), r3.GossipAddr())
	waitFor(t, 15*time.Second, "3 pods on the agents", func() bool { return podCount(a, b) == 3 })

	// Any reconciler answers: status locally, the rest forwarded.
	ctx := context.Background()
	lead := leaderOf(servers...)
	var follower *Server
	for _, s := range servers {
		if s != lead {
			follower = s
			break
		}
	}
	urls := []string{}
	for _, s := range servers {
		urls = append(urls, s.APIURL())
	}
	fc, _ := api.NewClient(follower.APIURL(), nil)
	waitFor(t, 5*time.Second, "a follower's status to name the leader and 3 peers", func() bool {
		st, err := fc.Status(ctx)
		// LastSync is the leader's, asked by the follower.
		return err == nil && st.Leader == lead.Name() && len(st.Peers) == 3 && st.Name == follower.Name() && !st.LastSync.IsZero()
	})
	pods, err := fc.Pods(ctx, "shop")
	if err != nil || len(pods) != 3 {
		t.Fatalf("pods through a follower = %d, %v", len(pods), err)
	}
	checkExec(t, fc, pods[0]) // exec_http_test.go

	// The leader goes down. Another leads within 3 s, with a higher token;
	// every pod keeps its UID and node.
	before := uids(a, b)
	oldToken := lead.Term()
	var downDir string
	for i, s := range servers {
		if s == lead {
			downDir = dirs[i]
			servers[i] = nil
		}
	}
	// Stop raft first, as a kill -9 would, and time the election from there.
	if err := lead.el.shutdown(); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	if err := lead.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Asked at once, a survivor waits for the new leader rather than
	// failing on the one that is gone.
	var survivor *Server
	for _, s := range servers {
		if s != nil {
			survivor = s
			break
		}
	}
	sc, _ := api.NewClient(survivor.APIURL(), nil)
	if pods, err := sc.Pods(ctx, "shop"); err != nil || len(pods) != 3 {
		t.Errorf("pods right after the leader went = %d, %v", len(pods), err)
	}
	waitFor(t, 10*time.Second, "a new leader", func() bool { return leaderOf(servers...) != nil })
	took := time.Since(downAt)
	t.Logf("new leader %s after %s", leaderOf(servers...).Name(), took)
	if took > 6*time.Second { // the bench measures the 3 s target on an idle machine
		t.Errorf("failover took %s, want ≤ 6 s even on a loaded machine", took)
	}
	nl := leaderOf(servers...)
	waitFor(t, 10*time.Second, "the agents to get the new leader's sets", func() bool {
		return a.last().Term == nl.Term() && b.last().Term == nl.Term()
	})
	if nl.Term() <= oldToken {
		t.Errorf("new token %d, old %d", nl.Term(), oldToken)
	}
	if got := uids(a, b); !slices.Equal(got, before) {
		t.Errorf("failover changed the pods:\n got %v\nwant %v", got, before)
	}

	// A scale-up on the new leader, through the list of URLs (the first is
	// the dead one).
	repo.commit("web: 6 replicas", map[string]string{"apps/web.yaml": deploymentYAML(6, "registry.local/hello:1")})
	cl, err := api.NewClient(strings.Join(urls, ","), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := cl.Sync(ctx, true); err != nil || res.Error != nil {
		t.Fatalf("sync through the list = %+v, %v", res, err)
	}
	waitFor(t, 10*time.Second, "6 pods", func() bool { return podCount(a, b) == 6 })
	names := map[string]bool{}
	for _, set := range []*fakeAgent{a, b} {
		for _, p := range set.last().Pods {
			if names[p.Name] {
				t.Errorf("pod %s runs twice", p.Name)
			}
			names[p.Name] = true
		}
	}
	for _, uid := range before {
		if !slices.Contains(uids(a, b), uid) {
			t.Errorf("pod %s was replaced by the scale-up", uid)
		}
	}

	// The old leader restarts from its data dir: it rejoins as a follower
	// and knows the new revision from the log.
	back := startPeer(t, lead.Name(), repo.dir, downDir, 3, []string{nl.GossipAddr()}, log)
	bc, _ := api.NewClient(back.APIURL(), nil)
	waitFor(t, 30*time.Second, "the old leader to catch up", func() bool {
		st, err := bc.Status(ctx)
		return err == nil && st.Leader == nl.Name() && st.Applied != nil && strings.Contains(st.Applied.Message, "6 replicas")
	})
	if back.IsLeader() {
		t.Error("the old leader took over again")
	}
	if st, _ := bc.Status(ctx); st.ClusterError != "" {
		t.Errorf("cluster error: %s", st.ClusterError)
	}
}

// TestBootstrapExpectMismatch: reconcilers started with different
// --bootstrap-expect do not form a cluster and say why.
func TestBootstrapExpectMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft and serf")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("empty", map[string]string{"ns.yaml": nsYAML})
	r1 := startPeer(t, "r1", repo.dir, t.TempDir(), 3, nil, log)
	r2 := startPeer(t, "r2", repo.dir, t.TempDir(), 2, []string{r1.GossipAddr()}, log)
	waitFor(t, 10*time.Second, "both to report the mismatch", func() bool {
		for _, s := range []*Server{r1, r2} {
			if e := s.Status().ClusterError; !strings.Contains(e, "bootstrap-expect") {
				return false
			}
		}
		return true
	})
	if leaderOf(r1, r2) != nil {
		t.Error("a leader was elected despite the mismatch")
	}
}

// TestLostStateAdoptsRunningPods is the hostile case of the issue: the
// reconciler's data dir is lost. The new control plane must adopt what the
// agents run (same UIDs, nothing restarted) and get past the agents'
// fences, not replace every pod.
func TestLostStateAdoptsRunningPods(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 3 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(3, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	waitFor(t, 10*time.Second, "3 pods on the agents", func() bool { return podCount(a, b) == 3 })
	before := uids(a, b)
	oldToken := s.Term()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sets := a.setCount() + b.setCount()

	// A new data dir: no raft log, no snapshot, no serf snapshot.
	s2 := startServer(t, repo.dir, t.TempDir(), log, func(c *Config) { c.NodeLossGrace = 3 * time.Second })
	a.leave()
	b.leave()
	// A new, empty agent rejoins first: it must not end adoption before
	// the agents that run the pods are back.
	fresh := newFakeAgent(t, "node-c")
	fresh.join(s2.GossipAddr())
	time.Sleep(time.Second)
	a.join(s2.GossipAddr())
	b.join(s2.GossipAddr())
	waitFor(t, 20*time.Second, "the agents to take the new control plane's sets", func() bool {
		return a.last().Term > oldToken && b.last().Term > oldToken && a.setCount()+b.setCount() > sets
	})
	if got := uids(a, b, fresh); !slices.Equal(got, before) {
		t.Errorf("lost state replaced pods:\n got %v\nwant %v", got, before)
	}
	cl, _ := api.NewClient(s2.APIURL(), nil)
	pods, err := cl.Pods(context.Background(), "shop")
	if err != nil || len(pods) != 3 {
		t.Fatalf("pods = %d, %v", len(pods), err)
	}
}

// TestCordonAndDrain: ctl cordon keeps new pods off a node, drain moves
// its pods away, uncordon ends both; each is an event and survives a
// restart of the reconciler (it is in raft).
func TestCordonAndDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo, dataDir, s, a, b := webOnTwoAgents(t, log)
	waitFor(t, 15*time.Second, "one pod on each agent", func() bool { return len(a.last().Pods) == 1 && len(b.last().Pods) == 1 })
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()

	n, err := cl.Cordon(ctx, "node-a")
	if err != nil || n.Status != api.NodeSchedulingDisabled || !n.Cordoned {
		t.Fatalf("cordon = %+v, %v", n, err)
	}
	// Scale up: the new pods all go to node-b; node-a keeps its pod.
	repo.commit("web: 4 replicas", map[string]string{"apps/web.yaml": deploymentYAML(4, "registry.local/hello:1")})
	if _, err := cl.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "3 pods on node-b", func() bool { return len(b.last().Pods) == 3 })
	if len(a.last().Pods) != 1 {
		t.Errorf("cordoned node-a has %d pods, want its 1", len(a.last().Pods))
	}

	// Uncordon node-a, then drain node-b: its pods move to node-a.
	if _, err := cl.Uncordon(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	n, err = cl.Drain(ctx, "node-b")
	if err != nil || !n.Drained || n.Status != api.NodeSchedulingDisabled {
		t.Fatalf("drain = %+v, %v", n, err)
	}
	waitFor(t, 10*time.Second, "every pod on node-a", func() bool { return len(a.last().Pods) == 4 && len(b.last().Pods) == 0 })
	if _, err := cl.Cordon(ctx, "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("cordon of an unknown node: %v, want not found", err)
	}
	ev, _ := cl.Events(ctx)
	var reasons []string
	for _, e := range ev {
		if strings.HasPrefix(e.Object, "node/") {
			reasons = append(reasons, e.Reason)
		}
	}
	for _, want := range []string{"NodeCordoned", "NodeUncordoned", "NodeDrained"} {
		if !slices.Contains(reasons, want) {
			t.Errorf("no %s event in %v", want, reasons)
		}
	}

	// The drain is in raft: a restarted reconciler keeps it.
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, repo.dir, dataDir, log)
	cl2, _ := api.NewClient(s2.APIURL(), nil)
	waitFor(t, 15*time.Second, "node-b still drained after the restart", func() bool {
		nodes, err := cl2.Nodes(ctx)
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.Name == "node-b" {
				return n.Drained
			}
		}
		return false
	})
}

// TestLateReconcilerJoinsTheCluster: a reconciler started later with the
// default --bootstrap-expect 1 and a --join to a running cluster is added
// to it by its leader instead of starting a cluster of its own.
func TestLateReconcilerJoinsTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft and serf")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	r1 := startPeer(t, "r1", repo.dir, t.TempDir(), 1, nil, log)
	waitFor(t, 10*time.Second, "r1 to lead", r1.IsLeader)
	r2 := startPeer(t, "r2", repo.dir, t.TempDir(), 1, []string{r1.GossipAddr()}, log)
	waitFor(t, 15*time.Second, "r2 to follow r1", func() bool {
		st := r2.Status()
		return st.Leader == "r1" && len(st.Peers) == 2 && st.Applied != nil
	})
	if r2.IsLeader() {
		t.Error("r2 leads a cluster of its own")
	}
}

// webOnTwoAgents starts a reconciler tracking a two-replica Deployment and
// joins two fake agents to it.
func webOnTwoAgents(t *testing.T, log *slog.Logger) (repo *gitRepo, dataDir string, s *Server, a, b *fakeAgent) {
	t.Helper()
	repo = newGitRepo(t)
	repo.commit("web: 2 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	dataDir = t.TempDir()
	s = startServer(t, repo.dir, dataDir, log)
	a, b = newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	return repo, dataDir, s, a, b
}
