package server

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

var benchCP = flag.String("benchcp", "", "measure the leader's steps at 5,000 nodes and 150,000 pods with a raft store and write a Markdown table to this file (- for stdout)")
var benchCPScale = flag.String("benchcp-scale", "5000x150000", "NODESxPODS of the -benchcp cluster (pods in Deployments of 100 replicas)")

// TestBenchControlPlane is what `make bench` calls for the control plane's
// steady state (docs/benchmarks.md, section controlplane):
//
//	go test ./reconcile/server -run TestBenchControlPlane -benchcp out.md
//
// It builds a leader in-process on a real raft store (bolt log in a temp
// dir), 5,000 nodes and 150,000 running pods, and times the leader's own
// steps: a second with nothing changed, heartbeats that change nothing, a
// commit changing one 100-replica Deployment (plan, commit to raft, view),
// and one pod's status changing. Without -benchcp it does nothing (it is a
// measurement, not a test).
func TestBenchControlPlane(t *testing.T) {
	if *benchCP == "" {
		return
	}
	var nodes, pods int
	if _, err := fmt.Sscanf(*benchCPScale, "%dx%d", &nodes, &pods); err != nil {
		t.Fatalf("-benchcp-scale: %v", err)
	}
	rows := benchControlPlane(t, nodes, pods)
	table := "| step | wall | CPU | target |\n|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	if *benchCP == "-" {
		fmt.Print(table)
		return
	}
	if err := os.WriteFile(*benchCP, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn and returns its wall and CPU time (the whole process).
func measure(fn func()) (time.Duration, time.Duration) {
	runtime.GC()
	c0, w0 := cpuNow(), time.Now()
	fn()
	return time.Since(w0), cpuNow() - c0
}

func bigRepo(t *testing.T, deployments int, image func(i int) string) map[string]string {
	files := map[string]string{"ns.yaml": nsYAML}
	var b strings.Builder
	for i := range deployments {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
  namespace: shop
spec:
  replicas: 100
  selector:
    matchLabels:
      app: app-%d
  template:
    metadata:
      labels:
        app: app-%d
    spec:
      containers:
      - name: c
        image: %s
        resources:
          requests:
            cpu: 10m
            memory: 16Mi
`, i, i, i, image(i))
	}
	files["apps.yaml"] = b.String()
	return files
}

func benchControlPlane(t *testing.T, nodeCount, podCount int) []string {
	deployments := podCount / 100
	repo := newGitRepo(t)
	repo.commit("apps", bigRepo(t, deployments, func(int) string { return "img:1" }))
	cfg := DefaultConfig()
	cfg.Source.URL, cfg.DataDir = repo.dir, t.TempDir()
	cfg.Raft.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	// The new leader's grace for unreported nodes ends (one full plan)
	// before the idle window.
	cfg.NodeLossGrace = time.Second
	// A /16 holds 256 nodes' /24s: a node without a pod CIDR takes no pods.
	cfg.Network.ClusterCIDR = "10.128.0.0/9"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	s.bootstrapWith([]peerMember{{name: cfg.Name, tags: map[string]string{tagRaft: s.raftAddr()}}})
	waitFor(t, 10*time.Second, "raft to elect this node", func() bool { return s.el.raft.State().String() == "Leader" })
	for i := range nodeCount {
		name := fmt.Sprintf("node-%04d", i)
		s.members.members[name] = &member{state: api.NodeAlive, since: time.Now(), info: agentapi.NodeInfo{
			Name: name, APIAddr: "http://127.0.0.1:1",
			Allocatable: agentapi.Resources{MilliCPU: 64000, Memory: 256 << 30, Pods: 110},
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := newController(ctx, s, s.el.raft.CurrentTerm())
	if err != nil {
		t.Fatal(err)
	}
	c.adopting = false
	// Nobody to push to: the pushers are the agents' business, and each
	// costs one HTTP PUT of its own node's set.
	if r, _ := c.syncApp(context.Background(), ""); r.Error != nil {
		t.Fatalf("sync: %+v", r.Error)
	}
	firstWall, firstCPU := measure(func() { c.planOnce() })
	if len(c.mem.Pods) != podCount {
		t.Fatalf("%d pods planned, want %d", len(c.mem.Pods), podCount)
	}
	firstBytes := c.lastDelta
	// Every pod Running, as the agents would report.
	now := time.Now().Add(-time.Hour)
	byNode := map[string][]agentapi.PodStatus{}
	for _, p := range c.lastPlan.pods {
		byNode[p.Node] = append(byNode[p.Node], agentapi.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: p.Node,
			Phase: agentapi.PodRunning, Containers: []agentapi.ContainerStatus{{Name: "c", Ready: true, State: agentapi.ContainerState{Running: &agentapi.StateRunning{StartedAt: now}}}}})
	}
	c.mu.Lock()
	for n, l := range byNode {
		c.observed[n] = l
	}
	c.mu.Unlock()
	c.planOnce()
	c.planOnce()

	var rows []string
	row := func(step string, wall, cpu time.Duration, target string) {
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", step, wall.Round(time.Microsecond), cpu.Round(time.Microsecond), target))
	}
	row(fmt.Sprintf("first plan: %d pods placed on %d nodes, committed (%.1f MB raft entry)", podCount, nodeCount, float64(firstBytes)/1e6), firstWall, firstCPU, "")

	// Nothing changes for 2 s: the plan loop sleeps (no Wake, no kick).
	go c.planLoop()
	// Its start-of-term plan first.
	waitFor(t, 5*time.Minute, "the loop's first plan", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.planDone >= c.planWant && c.planWant > 0
	})
	time.Sleep(100 * time.Millisecond)
	time.Sleep(cfg.NodeLossGrace)
	waitFor(t, 5*time.Minute, "the plan at the end of the grace", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.plans >= 4
	})
	c.mu.Lock()
	done := c.plans
	c.mu.Unlock()
	// The last plan's garbage is collected and its pages returned to the
	// kernel first (FreeOSMemory does both, synchronously): that is the
	// previous step's cost, which the Go runtime would otherwise pay in
	// the background during this window.
	debug.FreeOSMemory()
	time.Sleep(time.Second)
	var idleWall, idleCPU time.Duration
	withProfile("idle", func() {
		c0, w0 := cpuNow(), time.Now()
		time.Sleep(2 * time.Second)
		idleWall, idleCPU = time.Since(w0), cpuNow()-c0
	})
	c.mu.Lock()
	plans := c.plans - done
	c.mu.Unlock()
	row(fmt.Sprintf("2 s with nothing changed (plans run: %d)", plans), idleWall, idleCPU, "≤ 10 ms CPU per 2 s tick")

	// Every agent's heartbeat (the same list again): noticed, not planned.
	lists := make(map[string]*agentapi.PodStatusList, len(byNode))
	for n, l := range byNode {
		lists[n] = &agentapi.PodStatusList{Node: n, Pods: append([]agentapi.PodStatus(nil), l...)}
	}
	c.mu.Lock()
	for n := range byNode {
		c.conns[n] = &agentConn{node: n}
	}
	c.mu.Unlock()
	hbWall, hbCPU := measure(func() {
		for n, l := range lists {
			c.observe(n, l)
		}
	})
	row(fmt.Sprintf("%d heartbeats that change nothing", len(lists)), hbWall, hbCPU, "")

	// A commit changes one 100-replica Deployment's image.
	cancel() // stop the loop: the steps below are timed one by one
	time.Sleep(50 * time.Millisecond)
	c.ctx = context.Background()
	repo.commit("app-7: img:2", bigRepo(t, deployments, func(i int) string {
		if i == 7 {
			return "img:2"
		}
		return "img:1"
	}))
	var syncRes api.SyncResult
	syncWall, syncCPU := measure(func() { syncRes, _ = c.syncApp(context.Background(), "") })
	if syncRes.Error != nil || !syncRes.Applied {
		t.Fatalf("sync of the commit: applied %v, %+v", syncRes.Applied, syncRes.Error)
	}
	row("sync of that commit (fetch, load, commit the revision)", syncWall, syncCPU, "")
	var planWall, planCPU time.Duration
	withProfile("change", func() { planWall, planCPU = measure(func() { c.planOnce() }) })
	row(fmt.Sprintf("plan + commit of one changed 100-replica Deployment, first after the start (builds the scheduler's state; %d B raft entry)", c.lastDelta), planWall, planCPU, "")
	c.planOnce() // its pods settle
	var worst time.Duration
	for round := 2; round <= 4; round++ {
		repo.commit(fmt.Sprintf("app-7: img:%d", round+1), bigRepo(t, deployments, func(i int) string {
			if i == 7 {
				return fmt.Sprintf("img:%d", round+1)
			}
			return "img:1"
		}))
		if res, _ := c.syncApp(context.Background(), ""); !res.Applied {
			t.Fatalf("sync of round %d: %+v", round, res.Error)
		}
		var w, cpu time.Duration
		withProfile(fmt.Sprintf("warm%d", round), func() { w, cpu = measure(func() { c.planOnce() }) })
		if w > worst {
			worst = w
		}
		if round == 4 {
			row(fmt.Sprintf("plan + commit of one changed 100-replica Deployment, warm (%d B raft entry; worst of 3: %s)", c.lastDelta, worst.Round(time.Millisecond)), w, cpu, "≤ 50 ms")
		}
		c.planOnce()
	}

	// One pod's status changes: the whole plan runs again.
	n0 := c.lastPlan.pods[0].Node
	c.mu.Lock()
	l := append([]agentapi.PodStatus(nil), c.observed[n0]...)
	if len(l) > 0 {
		l[0].PodIP = "10.0.0.9"
	}
	c.observed[n0] = l
	c.mu.Unlock()
	c.lastDelta = 0
	stWall, stCPU := measure(func() { c.planOnce() })
	row(fmt.Sprintf("one pod's status changed (a whole plan; %d B committed)", c.lastDelta), stWall, stCPU, "")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rows = append(rows, fmt.Sprintf("| heap in use after the run | %d MB | | |", ms.HeapInuse>>20))
	return rows
}

// withProfile writes a CPU profile of fn to $STEVEDORE_BENCH_PROFILE-name
// when that variable is set (for finding where a step's time goes).
func withProfile(name string, fn func()) {
	prefix := os.Getenv("STEVEDORE_BENCH_PROFILE")
	if prefix == "" {
		fn()
		return
	}
	f, err := os.Create(prefix + "-" + name + ".pprof")
	if err != nil {
		fn()
		return
	}
	defer f.Close()
	_ = pprof.StartCPUProfile(f)
	fn()
	pprof.StopCPUProfile()
}
