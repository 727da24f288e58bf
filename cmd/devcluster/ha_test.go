package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// The HA tests share one cluster of 3 reconcilers and 3 agents, each in its
// own network namespace: starting one costs more than most of the checks.
// Each subtest leaves the cluster whole (every process running, every link
// up, one leader) for the next.

const (
	haNS  = "ha"
	haApp = "ha"
	// haBase is how many pods the Deployment runs between subtests.
	haBase = 6
)

type haCluster struct {
	t   *testing.T
	ctx context.Context
	c   *devenv.Cluster
	// cronSince is when the workload steps committed their CronJob.
	cronSince time.Time
}

func TestHA(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: 3 reconcilers and 3 agents in network namespaces")
	}
	if os.Getuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildBinaries(t)
	c, err := devenv.StartCluster(ctx, devenv.ClusterConfig{
		BinDir:      bin,
		Reconcilers: 3,
		Agents:      3,
		Netns:       true,
		NodePrefix:  fmt.Sprintf("ha%d", os.Getpid()%1000),
		// The hello image, for the rollout steps.
		Examples: "../../examples-repo",
		SkipSeed: true,
		// The network volume driver's storage host, for the storage steps.
		StorageHost: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range c.Reconcilers {
				t.Logf("--- %s log (tail) ---\n%s", r.Name, c.LogTail(r.Name, 40))
			}
			for _, a := range c.Agents {
				t.Logf("--- %s log (tail) ---\n%s", a.Name, c.LogTail(a.Name, 30))
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if left, err := c.NetLeftovers(context.Background()); err != nil || len(left) > 0 {
			t.Errorf("left behind by Stop: %v %v", left, err)
		}
	})
	h := &haCluster{t: t, ctx: ctx, c: c}
	if _, _, err := c.WaitLeader(ctx, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	h.commitReplicas(haBase)
	h.waitRunning(t, "the base pods", haBase, 2*time.Minute)

	// Each subtest needs the one before it to have left the cluster whole.
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"KillLeaderDuringScaleUp", h.testKillLeaderDuringScaleUp},
		{"KillAgent", h.testKillAgent},
		{"CutAgent", h.testCutAgent},
		{"CutLeader", h.testCutLeader},
		{"RestartEverything", h.testRestartEverything},
		{"Rollout", h.testRollout},
		{"Probes", h.testProbes},
		{"ConfigAndSecrets", h.testConfigAndSecrets},
		{"PersistentVolumes", h.testPersistentVolumes},
		{"NetworkVolume", h.testNetworkVolume},
		{"BlockVolumeFull", h.testBlockVolumeFull},
		{"StatefulSet", h.testStatefulSet},
		{"DaemonSet", h.testDaemonSet},
		{"IndexedJob", h.testIndexedJob},
		{"CronJob", h.testCronJob},
		{"Logs", h.testLogs},
		// Last: it cuts a node off.
		{"Patterns", h.testPatterns},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			return
		}
	}
}

// commitReplicas pushes the Deployment with n replicas.
func (h *haCluster) commitReplicas(n int) string {
	h.t.Helper()
	hash, err := h.c.Repo.Commit(h.ctx, fmt.Sprintf("%s: %d replicas", haApp, n), map[string][]byte{
		"namespaces/ha.yaml": []byte(namespaceYAML(haNS)),
		"apps/ha.yaml":       []byte(deployment(h.c, haNS, haApp, n)),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return hash
}

func (h *haCluster) waitRunning(t *testing.T, what string, n int, timeout time.Duration, avoid ...string) []rapi.Pod {
	t.Helper()
	return waitPodsOf(t, h.ctx, h.c, what, haNS, timeout, allRunning(haApp, n, avoid...))
}

func (h *haCluster) pods(t *testing.T) []rapi.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	pods, err := h.c.Client.Pods(ctx, haNS)
	if err != nil {
		t.Fatal(err)
	}
	return rapi.CurrentPods(pods)
}

// leader waits for a leader and returns it.
func (h *haCluster) leader(t *testing.T) (int, string) {
	t.Helper()
	i, name, err := h.c.WaitLeader(h.ctx, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	return i, name
}

// restartReconciler restarts reconciler i and waits until it is a follower
// of a leader the others agree on.
func (h *haCluster) restartReconciler(t *testing.T, i int) {
	t.Helper()
	if err := h.c.RestartReconciler(i); err != nil {
		t.Fatal(err)
	}
	h.waitFollowing(t, i)
}

// waitFollowing waits until reconciler i (asked directly) names the same
// leader as the majority does.
func (h *haCluster) waitFollowing(t *testing.T, i int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, name, err := h.c.Leader(h.ctx)
		var st *rapi.Status
		if err == nil {
			ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
			st, err = h.c.ReconcilerClient(i).Status(ctx)
			cancel()
			if err == nil && st.Leader == name {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never followed the leader: %v %+v", h.c.Reconcilers[i].Name, err, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// (a) The leader is killed with SIGKILL while a Deployment scales from
// haBase to 20: another reconciler leads within 3 s, the scale-up
// completes, and the pods that ran before are the same pods with the same
// containers: none restarted, none replaced, none duplicated.
func (h *haCluster) testKillLeaderDuringScaleUp(t *testing.T) {
	c := h.c
	li, lname := h.leader(t)
	before := snapshot(h.waitRunning(t, "the base pods", haBase, time.Minute))
	if len(before) != haBase {
		t.Fatalf("%d pods fully running before the kill, want %d", len(before), haBase)
	}
	hash := h.commitReplicas(20)
	// Kill once the leader has started on the scale-up: it applied the
	// commit and placed some of the new pods.
	waitPodsOf(t, h.ctx, c, "the scale-up to start", haNS, time.Minute, func(ps []rapi.Pod) bool {
		return len(ps) > haBase
	})
	c.KillReconciler(li)
	killed := time.Now()
	ni, nname, err := c.WaitLeader(h.ctx, 30*time.Second, func(i int, _ string) bool { return i != li })
	if err != nil {
		t.Fatalf("no new leader after killing %s: %v", lname, err)
	}
	// How fast is make bench's (the failover section); here a bound that
	// catches a leader never replaced in time, not a loaded machine's
	// split vote (raft over TLS on two shared cores took 5 s once).
	if took := time.Since(killed); took > 10*time.Second {
		t.Errorf("new leader %s after %s, want ≤ 10s", nname, took.Round(time.Millisecond))
	}
	t.Logf("killed leader %s; %s leads after %s", lname, nname, time.Since(killed).Round(time.Millisecond))

	pods := h.waitRunning(t, "20 pods after the failover", 20, 2*time.Minute)
	if d := duplicates(pods); len(d) > 0 {
		t.Errorf("duplicated pods: %v", d)
	}
	if diffs := unchanged(before, snapshot(pods)); len(diffs) > 0 {
		t.Errorf("pods that ran before the failover changed:\n%v", diffs)
	}
	h.checkNoDuplicateContainers(t)
	st, err := c.ReconcilerClient(ni).Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied == nil || st.Applied.Hash != hash {
		t.Errorf("new leader applied %+v, want %s", st.Applied, hash)
	}

	// Leave the cluster whole: the old leader back as a follower, the
	// Deployment back to haBase.
	h.restartReconciler(t, li)
	h.commitReplicas(haBase)
	h.waitRunning(t, "back to the base pods", haBase, time.Minute)
}

// checkNoDuplicateContainers asks containerd directly, across every agent,
// whether any container of a pod runs twice (two agents, or two
// incarnations on one).
func (h *haCluster) checkNoDuplicateContainers(t *testing.T) {
	t.Helper()
	seen := map[string]string{}
	for _, a := range h.c.Agents {
		ctrs, err := h.c.NodeContainers(h.ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, ctr := range ctrs {
			if ctr.PodNamespace != haNS || ctr.Status != "running" {
				continue
			}
			key := ctr.PodName + "/" + ctr.Container
			if where, ok := seen[key]; ok {
				t.Errorf("%s runs twice: %s and %s (%s)", key, where, a.Name, ctr.ID)
			}
			seen[key] = a.Name + " (" + ctr.ID + ")"
		}
	}
}

// (b) An agent is killed with SIGKILL: its pods run elsewhere soon after
// (the bench measures how soon; here ≤ 15 s). Restarted, it stops the
// copies that moved.
func (h *haCluster) testKillAgent(t *testing.T) {
	c := h.c
	victim, name := h.busiestAgent(t)
	c.KillAgent(victim)
	killed := time.Now()
	h.waitRunning(t, "the pods of "+name+" elsewhere", haBase, 15*time.Second, name)
	t.Logf("pods of %s running elsewhere after %s", name, time.Since(killed).Round(time.Millisecond))
	if err := c.RestartAgent(victim); err != nil {
		t.Fatal(err)
	}
	h.waitAgentEmpty(t, victim, time.Minute)
}

// busiestAgent returns the agent running the most ha pods.
func (h *haCluster) busiestAgent(t *testing.T) (int, string) {
	t.Helper()
	count := map[string]int{}
	for _, p := range h.pods(t) {
		count[p.Node]++
	}
	best := 0
	for i, a := range h.c.Agents {
		if count[a.Name] > count[h.c.Agents[best].Name] {
			best = i
		}
	}
	if count[h.c.Agents[best].Name] == 0 {
		t.Fatal("no agent runs an ha pod")
	}
	return best, h.c.Agents[best].Name
}

// waitAgentEmpty waits until agent i, asked directly, runs no pod of the ha
// namespace and is Alive again.
func (h *haCluster) waitAgentEmpty(t *testing.T, i int, timeout time.Duration) {
	t.Helper()
	cl := h.c.AgentClient(i)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(h.ctx, 3*time.Second)
		list, err := cl.Pods(ctx)
		cancel()
		n := 0
		for _, p := range list.Pods {
			if p.Namespace == haNS {
				n++
			}
		}
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still runs %d ha pods (%v)", h.c.Agents[i].Name, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := h.c.WaitNodes(h.ctx, len(h.c.Agents), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// (c) An agent is cut off: the rest of the cluster runs its pods
// elsewhere, while its own containers keep running (containerd, asked
// directly, by the runtime's labels). Healed, it stops those copies.
func (h *haCluster) testCutAgent(t *testing.T) {
	c := h.c
	victim, name := h.busiestAgent(t)
	var mine []string
	for _, p := range h.pods(t) {
		if p.Node == name {
			mine = append(mine, p.UID)
		}
	}
	if err := c.Cut(name); err != nil {
		t.Fatal(err)
	}
	healed := false
	defer func() {
		if !healed {
			_ = c.Heal(name)
		}
	}()
	h.waitRunning(t, "the pods of the cut "+name+" elsewhere", haBase, time.Minute, name)
	ctrs, err := c.NodeContainers(h.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	running := map[string]bool{}
	for _, ctr := range ctrs {
		if ctr.Status == "running" {
			running[ctr.PodUID] = true
		}
	}
	for _, uid := range mine {
		if !running[uid] {
			t.Errorf("pod %s on the cut %s stopped running: %+v", uid, name, ctrs)
		}
	}
	if err := c.Heal(name); err != nil {
		t.Fatal(err)
	}
	healed = true
	h.waitAgentEmpty(t, victim, 2*time.Minute)
	ctrs, err = c.NodeContainers(h.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range ctrs {
		if ctr.PodNamespace == haNS && ctr.Status == "running" {
			t.Errorf("healed %s still runs %s/%s", name, ctr.PodName, ctr.Container)
		}
	}
	h.waitRunning(t, "the base pods after the heal", haBase, time.Minute)
}

// (d) The leader is cut off from the others: they elect one of themselves,
// and the old leader, asked from inside its namespace, no longer claims to
// lead. Nothing it may still send is applied: once healed, every agent runs
// the new leader's term and no pod restarted.
func (h *haCluster) testCutLeader(t *testing.T) {
	c := h.c
	before := snapshot(h.waitRunning(t, "the base pods", haBase, time.Minute))
	li, lname := h.leader(t)
	if err := c.Cut(lname); err != nil {
		t.Fatal(err)
	}
	healed := false
	defer func() {
		if !healed {
			_ = c.Heal(lname)
		}
	}()
	ni, nname, err := c.WaitLeader(h.ctx, 30*time.Second, func(i int, _ string) bool { return i != li })
	if err != nil {
		t.Fatalf("no new leader after cutting %s: %v", lname, err)
	}
	t.Logf("cut leader %s; %s leads", lname, nname)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(h.ctx, 3*time.Second)
		st, err := c.InsideClient(li).Status(ctx)
		cancel()
		if err == nil && st.Name == lname && st.Leader != lname {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cut %s still claims to lead: %+v %v", lname, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.Heal(lname); err != nil {
		t.Fatal(err)
	}
	healed = true
	h.waitFollowing(t, li)

	nctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	st, err := c.ReconcilerClient(ni).Status(nctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for i, a := range c.Agents {
		cl := c.AgentClient(i)
		for {
			ctx, cancel := context.WithTimeout(h.ctx, 3*time.Second)
			list, err := cl.Pods(ctx)
			cancel()
			if err == nil && list.Term >= st.Term {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s applied term %d, want the new leader's %d (%v)", a.Name, list.Term, st.Term, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	pods := h.waitRunning(t, "the base pods after the heal", haBase, time.Minute)
	if diffs := unchanged(before, snapshot(pods)); len(diffs) > 0 {
		t.Errorf("pods changed across the leader's partition:\n%v", diffs)
	}
}

// (e) Every process is restarted from its data dir: all reconcilers are
// killed at once (so the new group has only its data dirs to go on) and
// started again, then each agent is restarted: pods keep running and no
// container restarts.
func (h *haCluster) testRestartEverything(t *testing.T) {
	c := h.c
	before := snapshot(h.waitRunning(t, "the base pods", haBase, time.Minute))
	for i := range c.Reconcilers {
		c.KillReconciler(i)
	}
	for i := range c.Reconcilers {
		if err := c.RestartReconciler(i); err != nil {
			t.Fatal(err)
		}
	}
	h.leader(t)
	for i := range c.Reconcilers {
		h.waitFollowing(t, i)
	}
	for i := range c.Agents {
		if err := c.RestartAgent(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitNodes(h.ctx, len(c.Agents), time.Minute); err != nil {
		t.Fatal(err)
	}
	pods := waitPodsWhy(t, h.ctx, c, "every pod as it was after the restarts", haNS, time.Minute, func(ps []rapi.Pod) string {
		if diffs := unchanged(before, snapshot(ps)); len(diffs) > 0 {
			return "restarted: " + strings.Join(diffs, "; ")
		}
		if !allRunning(haApp, haBase)(ps) {
			return "not all Running"
		}
		return ""
	})
	if d := duplicates(pods); len(d) > 0 {
		t.Errorf("duplicated pods: %v", d)
	}
}
