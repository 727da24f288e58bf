package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

const (
	upNS  = "up"
	upApp = "web"
	// upStoreFormat is the store format this release writes
	// (reconcile/server/store_format.go).
	upStoreFormat = 2
)

// TestUpgradeFromPreviousRelease upgrades a whole cluster of the previous
// release (devenv.PreviousRelease: 3 reconcilers whose store has no format,
// format 1, and 3 agents that advertise no protocol, protocol 1) the way
// docs/upgrading.md says, in one shared cluster:
//   - the reconcilers one at a time, followers first, waiting for a leader
//     and every reconciler caught up between steps: no pod restarts or is
//     replaced, the set of pods never changes, the store stays in format 1
//     while a reconciler of the previous release is a member and moves to
//     format 2 after the last one, and a commit after it is applied;
//   - then, with this release's reconcilers and the previous release's
//     agents, pods run on those agents and their Service and logs work
//     (mixedVersions, version_test.go); one agent upgraded in place keeps
//     its containers and speaks protocol 2; an agent of a release too new
//     is refused by name, keeps its pods, and gets no new one;
//   - last, a reconciler whose data dir a newer release marked refuses to
//     start, saying what to do.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: 3 reconcilers and 3 agents in network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := buildBinaries(t)
	old, err := devenv.BuildRelease(ctx, "", devenv.PreviousReleaseCommit)
	if err != nil {
		t.Fatal(err)
	}
	tooNew := buildTooNewAgent(t)
	c, err := devenv.StartCluster(ctx, devenv.ClusterConfig{
		BinDir:           bin,
		ReconcilerBinDir: old,
		AgentBinDir:      old,
		Reconcilers:      3,
		Agents:           3,
		Netns:            true,
		Examples:         "../../examples-repo",
		SkipSeed:         true,
		NodePrefix:       fmt.Sprintf("up%d", os.Getpid()%1000),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range c.Reconcilers {
				t.Logf("--- %s log (tail) ---\n%s", r.Name, c.LogTail(r.Name, 40))
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if _, _, err := c.WaitLeader(ctx, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	commit := func(replicas int) {
		t.Helper()
		_, err := c.Repo.Commit(ctx, fmt.Sprintf("%s: %d replicas", upApp, replicas), map[string][]byte{
			"namespaces/up.yaml": []byte(namespaceYAML(upNS)),
			"apps/web.yaml":      []byte(deployment(c, upNS, upApp, replicas) + upService),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	commit(4)
	pods := waitPodsOf(t, ctx, c, "4 pods of the previous release's reconcilers", upNS, 2*time.Minute, allRunning(upApp, 4))
	before := snapshot(pods)
	clusterIP := upServiceIP(t, ctx, c)
	for i := range c.Reconcilers {
		if v := upVersion(t, ctx, c, i); v.StoreFormat != 0 {
			t.Fatalf("%s of the previous release reports store format %d", c.Reconcilers[i].Name, v.StoreFormat)
		}
	}

	// Watch the pod set through the whole upgrade.
	mon := watchPodSet(ctx, c, pods)

	lead, _, err := c.WaitLeader(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	for i := range c.Reconcilers {
		if i != lead {
			order = append(order, i)
		}
	}
	order = append(order, lead)
	for step, i := range order {
		name := c.Reconcilers[i].Name
		t.Logf("upgrading %s (step %d of 3)", name, step+1)
		if err := c.UpgradeReconciler(i, bin); err != nil {
			t.Fatal(err)
		}
		waitCaughtUp(t, ctx, c)
		if step < len(order)-1 {
			// A reconciler of the previous release is still a member: the
			// store stays in the format it reads.
			if v := upVersion(t, ctx, c, i); v.StoreFormat != 1 || v.StoreFormatMax != upStoreFormat {
				t.Fatalf("upgraded %s with the previous release still a member: store format %d (reads up to %d), want 1 (up to %d)",
					name, v.StoreFormat, v.StoreFormatMax, upStoreFormat)
			}
		}
	}
	// Every reconciler reads format 2 now: the leader moves the store.
	upWait(t, ctx, 30*time.Second, "every reconciler's store in format 2", func() error {
		for i, r := range c.Reconcilers {
			if v := upVersion(t, ctx, c, i); v.StoreFormat != upStoreFormat {
				return fmt.Errorf("%s: format %d", r.Name, v.StoreFormat)
			}
		}
		return nil
	})
	changes, listed := mon.stop()
	if len(changes) > 0 {
		t.Errorf("the pod set changed during the upgrade:\n%s", strings.Join(changes, "\n"))
	}
	if listed < 10 {
		t.Errorf("only %d listings of the pods answered during the upgrade: too few to say the set never changed", listed)
	}
	t.Logf("%d listings of the pods during the upgrade, all the same set", listed)
	after := snapshot(waitPodsOf(t, ctx, c, "the 4 pods after the upgrade", upNS, time.Minute, allRunning(upApp, 4)))
	if d := unchanged(before, after); len(d) > 0 {
		t.Errorf("pods restarted or replaced by the upgrade:\n%s", strings.Join(d, "\n"))
	}
	if ip := upServiceIP(t, ctx, c); ip != clusterIP {
		t.Errorf("the Service's clusterIP moved from %s to %s", clusterIP, ip)
	}

	// A commit after the upgrade is applied, and the pods that ran keep
	// running.
	commit(5)
	after = snapshot(waitPodsOf(t, ctx, c, "5 pods after a commit", upNS, 2*time.Minute, allRunning(upApp, 5)))
	if d := unchanged(before, after); len(d) > 0 {
		t.Errorf("pods restarted by the scale-up after the upgrade:\n%s", strings.Join(d, "\n"))
	}

	// This release's reconcilers with the previous release's agents, then
	// agents upgraded in place, and one too new.
	mixedVersions(t, ctx, c, bin, tooNew)

	// A data dir that a newer release moved on: this binary refuses it at
	// start, naming it and saying what to do; the others go on.
	lead, _, err = c.WaitLeader(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := (lead + 1) % len(c.Reconcilers)
	r := c.Reconcilers[f]
	c.KillReconciler(f)
	marker := filepath.Join(r.DataDir, "store-format")
	good, err := os.ReadFile(marker)
	if err != nil || !strings.Contains(string(good), `"format":2`) {
		t.Fatalf("%s's store-format marker = %q, %v", r.Name, good, err)
	}
	if err := os.WriteFile(marker, []byte(`{"format":3,"release":"v0.17.0"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartReconciler(f); err != nil {
		t.Fatal(err)
	}
	upWait(t, ctx, 30*time.Second, r.Name+" to refuse the format-3 data dir and exit", func() error {
		if c.ReconcilerRunning(f) {
			return fmt.Errorf("still running")
		}
		return nil
	})
	if log := c.LogTail(r.Name, 20); !strings.Contains(log, r.DataDir) || !strings.Contains(log, "is of format 3 (written by v0.17.0)") ||
		!strings.Contains(log, "run v0.17.0 or newer, or restore the backup taken before the upgrade") {
		t.Errorf("%s's refusal does not say what the store is and what to do:\n%s", r.Name, log)
	}
	if err := os.WriteFile(marker, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartReconciler(f); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, ctx, c)
}

const upService = `---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: up}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

func upServiceIP(t *testing.T, ctx context.Context, c *devenv.Cluster) string {
	t.Helper()
	var ip string
	upWait(t, ctx, time.Minute, "the Service's clusterIP", func() error {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		svcs, err := c.Client.Services(sctx, upNS)
		if err != nil {
			return err
		}
		for _, s := range svcs {
			if s.Metadata.Name == "web" && s.Spec.ClusterIP != "" {
				ip = s.Spec.ClusterIP
				return nil
			}
		}
		return fmt.Errorf("no clusterIP yet")
	})
	return ip
}

// upVersion is reconciler i's own /v1/version.
func upVersion(t *testing.T, ctx context.Context, c *devenv.Cluster, i int) *rapi.Version {
	t.Helper()
	var v *rapi.Version
	upWait(t, ctx, 30*time.Second, c.Reconcilers[i].Name+"'s version", func() error {
		vctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var err error
		v, err = c.ReconcilerClient(i).Version(vctx)
		return err
	})
	return v
}

// waitCaughtUp waits until a leader is elected and every reconciler
// follows it and has applied at least what the leader had applied.
func waitCaughtUp(t *testing.T, ctx context.Context, c *devenv.Cluster) {
	t.Helper()
	lead, name, err := c.WaitLeader(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	self := func(st *rapi.Status) uint64 {
		for _, p := range st.Peers {
			if p.Name == st.Name {
				return p.AppliedIndex
			}
		}
		return 0
	}
	var target uint64
	upWait(t, ctx, time.Minute, "every reconciler caught up with "+name, func() error {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if target == 0 {
			st, err := c.ReconcilerClient(lead).Status(sctx)
			if err != nil {
				return err
			}
			if target = self(st); target == 0 {
				return fmt.Errorf("%s reports no applied index", name)
			}
		}
		for i, r := range c.Reconcilers {
			st, err := c.ReconcilerClient(i).Status(sctx)
			if err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			if st.Leader != name || len(st.Peers) != len(c.Reconcilers) {
				return fmt.Errorf("%s: leader %q, %d peers", r.Name, st.Leader, len(st.Peers))
			}
			if got := self(st); got < target {
				return fmt.Errorf("%s: applied %d of %d", r.Name, got, target)
			}
		}
		return nil
	})
}

// upWait polls cond every 100 ms until it returns nil, failing the test
// with its last error after timeout.
func upWait(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-wctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// podSetMonitor lists the pods every 100 ms and records every listing
// whose set of pods (namespace/name and UID) differs from the first.
type podSetMonitor struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	changes []string
	// listed counts the listings that answered.
	listed int
}

func podSet(pods []rapi.Pod) string {
	var keys []string
	for _, p := range pods {
		keys = append(keys, p.Namespace+"/"+p.Name+"="+p.UID)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

func watchPodSet(ctx context.Context, c *devenv.Cluster, initial []rapi.Pod) *podSetMonitor {
	ctx, cancel := context.WithCancel(ctx)
	m := &podSetMonitor{cancel: cancel, done: make(chan struct{})}
	want := podSet(initial)
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
			pods, err := c.Client.Pods(lctx, upNS)
			lcancel()
			// A listing that fails (a reconciler stopping, an election)
			// says nothing of the pods.
			if err == nil {
				m.mu.Lock()
				m.listed++
				m.mu.Unlock()
				if got := podSet(rapi.CurrentPods(pods)); got != want {
					m.mu.Lock()
					m.changes = append(m.changes, time.Now().Format(time.TimeOnly)+": "+got)
					m.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return m
}

// stop ends the watch and returns the changes seen and how many listings
// answered.
func (m *podSetMonitor) stop() ([]string, int) {
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changes, m.listed
}
