package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// ctrSeen is what tells a container that kept running from a restarted
// one, as the reconciler API reports it.
type ctrSeen struct {
	id        string
	startedAt time.Time
	restarts  int32
}

// podSeen is one pod as the reconciler API reports it.
type podSeen struct {
	uid, node  string
	containers map[string]ctrSeen
}

// snapshot keys the Running pods of pods by namespace/name. Pods that are
// not Running (or whose containers are not all running) are left out: only
// what ran can be said to have kept running.
func snapshot(pods []rapi.Pod) map[string]podSeen {
	m := map[string]podSeen{}
	for _, p := range pods {
		if p.Phase != api.PodRunning || p.Status == nil {
			continue
		}
		ps := podSeen{uid: p.UID, node: p.Node, containers: map[string]ctrSeen{}}
		ok := true
		for _, c := range p.Status.Containers {
			if c.State.Running == nil {
				ok = false
				break
			}
			ps.containers[c.Name] = ctrSeen{id: c.ContainerID, startedAt: c.State.Running.StartedAt, restarts: c.RestartCount}
		}
		if ok && len(ps.containers) > 0 {
			m[p.Namespace+"/"+p.Name] = ps
		}
	}
	return m
}

// unchanged lists how each pod of before differs in after: gone, a new UID
// (replaced), or a container with a new ID, a new start time or more
// restarts. Empty means nothing restarted.
func unchanged(before, after map[string]podSeen) []string {
	var diffs []string
	for key, b := range before {
		a, ok := after[key]
		switch {
		case !ok:
			diffs = append(diffs, key+": no longer Running")
			continue
		case a.uid != b.uid:
			diffs = append(diffs, fmt.Sprintf("%s: UID %s → %s", key, b.uid, a.uid))
			continue
		}
		for name, bc := range b.containers {
			ac, ok := a.containers[name]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s/%s: gone", key, name))
			case ac.id != bc.id:
				diffs = append(diffs, fmt.Sprintf("%s/%s: container %s → %s", key, name, bc.id, ac.id))
			case !ac.startedAt.Equal(bc.startedAt):
				diffs = append(diffs, fmt.Sprintf("%s/%s: started %s → %s", key, name, bc.startedAt, ac.startedAt))
			case ac.restarts > bc.restarts:
				diffs = append(diffs, fmt.Sprintf("%s/%s: restarts %d → %d", key, name, bc.restarts, ac.restarts))
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

// duplicates lists the namespace/name keys that more than one pod has.
func duplicates(pods []rapi.Pod) []string {
	n := map[string]int{}
	for _, p := range pods {
		n[p.Namespace+"/"+p.Name]++
	}
	var d []string
	for k, v := range n {
		if v > 1 {
			d = append(d, fmt.Sprintf("%s ×%d", k, v))
		}
	}
	sort.Strings(d)
	return d
}

// waitPodsOf waits until done holds for the pods of ns (polled every 100
// ms through the cluster's client, which fails over between reconcilers)
// and returns them; on timeout it fails the test with the listing.
func waitPodsOf(t *testing.T, ctx context.Context, c *devenv.Cluster, what, ns string, timeout time.Duration, done func([]rapi.Pod) bool) []rapi.Pod {
	t.Helper()
	return waitPodsWhy(t, ctx, c, what, ns, timeout, func(ps []rapi.Pod) string {
		if done(ps) {
			return ""
		}
		return "not yet"
	})
}

// waitPodsWhy is waitPodsOf for a condition that says why it does not hold
// yet ("" when it does): the last reason is in the failure.
func waitPodsWhy(t *testing.T, ctx context.Context, c *devenv.Cluster, what, ns string, timeout time.Duration, why func([]rapi.Pod) string) []rapi.Pod {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last []rapi.Pod
	var lastErr error
	reason := "never listed"
	for {
		pctx, pcancel := context.WithTimeout(wctx, 3*time.Second)
		pods, err := c.Client.Pods(pctx, ns)
		pcancel()
		// Pods being stopped are listed too; the waits are about the
		// desired ones.
		pods = rapi.CurrentPods(pods)
		if err == nil {
			last = pods
			if reason = why(pods); reason == "" {
				return pods
			}
		}
		lastErr = err
		select {
		case <-wctx.Done():
			t.Fatalf("waiting for %s: %v (last error %v; %s); pods:\n%s", what, wctx.Err(), lastErr, reason, listPods(last))
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func listPods(pods []rapi.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		ready := "-"
		if p.Status != nil {
			if c := p.Status.Condition(api.PodReady); c != nil {
				ready = c.Status
			}
		}
		fmt.Fprintf(&b, "  %s/%s uid=%s node=%s phase=%s reason=%s ready=%s hash=%s\n", p.Namespace, p.Name, p.UID, p.Node, p.Phase, p.Reason, ready, p.Labels["pod-template-hash"])
	}
	return b.String()
}

// allRunning returns a predicate: exactly n pods with label app=app, all
// Running, none on a node in avoid.
func allRunning(app string, n int, avoid ...string) func([]rapi.Pod) bool {
	return func(ps []rapi.Pod) bool {
		got := 0
		for _, p := range ps {
			if p.Labels["app"] != app {
				continue
			}
			for _, a := range avoid {
				if p.Node == a {
					return false
				}
			}
			if p.Phase != api.PodRunning {
				return false
			}
			got++
		}
		return got == n
	}
}

// deployment is a busybox Deployment of replicas pods labelled app=name in
// namespace ns, image from the cluster's registry.
func deployment(c *devenv.Cluster, ns, name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
      containers:
        - name: main
          image: %[4]s
          command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
`, ns, name, replicas, c.Image(devenv.BusyboxRepo))
}

func namespaceYAML(ns string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
}

// stopLogging stops c, first printing the tail of every process's log when
// the test failed.
func stopLogging(t *testing.T, c *devenv.Cluster) {
	t.Helper()
	if t.Failed() {
		names := []string{"reconciler"}
		for _, a := range c.Agents {
			names = append(names, a.Name)
		}
		for _, name := range names {
			t.Logf("--- %s log (tail) ---\n%s", name, c.LogTail(name, 40))
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}
