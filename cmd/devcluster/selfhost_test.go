package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// selfHostNS is the self-hosted reconciler's namespace; selfHostApp a
// workload that must never restart while the control plane changes hands.
const (
	selfHostNS  = "stevedore-system"
	selfHostApp = "web"
	// selfHostAPIPort is the pod reconciler's API port on its node (the
	// harness's agent there listens on 7071 for its API and 7946 for
	// gossip, devenv's nsAgentPort and nsGossipPort).
	selfHostAPIPort = 7080
)

// selfHost is the state of TestSelfHosting.
type selfHost struct {
	t    *testing.T
	ctx  context.Context
	c    *devenv.Cluster
	vars map[string]string
	// name and url are the pod reconciler's raft name and API URL.
	name, url string
	pod       *rapi.Client
}

// TestSelfHosting: a bootstrap reconciler (a process) runs; committing the
// self-hosted reconciler's DaemonSet (hostNetwork, data dir on a hostPath,
// on the control-plane node) starts it as a pod, which joins the raft
// group; `ctl reconciler retire` hands the bootstrap's vote to it and the
// bootstrap is stopped. Then the pod's process is killed (kill -9): the
// agent restarts it, it comes back from its data dir and leads again.
// Then committing a new image tag upgrades it: its leader replaces its own
// pod in one set, and the new pod leads. Through all of it the workload's
// pods never restart, and the cluster keeps applying commits.
func TestSelfHosting(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: a cluster in network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := buildBinaries(t)
	secret := "selfhost-" + strconv.Itoa(os.Getpid())
	c, err := devenv.StartCluster(ctx, devenv.ClusterConfig{
		BinDir:        bin,
		Agents:        2,
		Netns:         true,
		NodePrefix:    fmt.Sprintf("sh%d", os.Getpid()%1000),
		WebhookSecret: secret,
		// The reconciler's pod uses the host's network: its node must
		// allow host-network pods (docs/self-hosting.md, step 1).
		AgentArgs: []string{"--allow-privileged"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &selfHost{t: t, ctx: ctx, c: c}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- bootstrap reconciler log (tail) ---\n%s", c.LogTail(c.Reconcilers[0].Name, 40))
			for _, a := range c.Agents {
				t.Logf("--- %s log (tail) ---\n%s", a.Name, c.LogTail(a.Name, 30))
			}
			t.Logf("--- self-hosted reconciler logs (tail) ---\n%s", s.podLogs())
		}
		if err := c.Stop(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	// The reconciler's image, and a second tag of it: the upgrade.
	v1, v2 := c.Image("stevedore/reconciler:v1"), c.Image("stevedore/reconciler:v2")
	if err := devenv.GoImage(ctx, v1, "../reconciler"); err != nil {
		t.Fatal(err)
	}
	if err := devenv.TagImage(ctx, v1, v2); err != nil {
		t.Fatal(err)
	}
	node := c.Agents[0]
	host, _, _ := net.SplitHostPort(node.APIAddr)
	boot := c.Reconcilers[0]
	s.name = "reconciler-" + node.Name
	s.url = "https://" + net.JoinHostPort(host, strconv.Itoa(selfHostAPIPort))
	conf, err := rapi.LoadClientConfig(c.Creds.AdminConf)
	if err != nil {
		t.Fatal(err)
	}
	if s.pod, err = rapi.NewClientFromConfig(conf, s.url); err != nil {
		t.Fatal(err)
	}
	subnet := strings.Split(node.PodCIDR, ".")[1]
	s.vars = map[string]string{
		"Node": node.Name, "Image": v1, "Repo": c.Repo.Bare, "Branch": c.Repo.Branch,
		"Join": boot.Gossip, "Server": boot.URL, "WebhookSecret": secret,
		"ClusterCIDR": "10." + subnet + ".0.0/17", "ServiceCIDR": "10." + subnet + ".128.0/17",
		"DataDir":   filepath.Join(c.Dir, "selfhost", "reconciler"),
		"TokenFile": c.Creds.ReconcilerTokenFile, "AgeKeyFile": c.AgeKeyFile,
	}

	// Bootstrap → self-hosted.
	start := time.Now()
	s.commit("self-hosted reconciler", map[string][]byte{
		"system/reconciler.yaml": s.manifest(),
		"apps/ns.yaml":           []byte(namespaceYAML(selfHostApp)),
		"apps/web.yaml":          []byte(deployment(c, selfHostApp, selfHostApp, 2)),
	})
	s.waitStatus("the pod reconciler in the raft group", c.Client, func(st *rapi.Status) string {
		for _, p := range st.Peers {
			if p.Name == s.name {
				return ""
			}
		}
		return fmt.Sprintf("peers %v", peerNames(st))
	}, 2*time.Minute)
	web := snapshot(waitPodsOf(t, ctx, c, "the workload", selfHostApp, time.Minute, allRunning(selfHostApp, 2)))
	t.Logf("self-hosted reconciler joined after %s", time.Since(start).Round(time.Millisecond))

	out, err := c.Ctl(ctx, "reconciler", "retire", boot.Name, "--successor", s.name)
	if err != nil || !strings.Contains(out, "demoted") {
		t.Fatalf("ctl reconciler retire: %v\n%s", err, out)
	}
	s.waitLeader("the pod reconciler leading", time.Minute)
	if err := c.StopReconciler(0); err != nil {
		t.Fatalf("stopping the bootstrap reconciler: %v", err)
	}
	// Gone: retiring it again drops it from the configuration.
	var res *rapi.RetireResult
	s.eventually("the bootstrap reconciler removed", 30*time.Second, func() string {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		r, err := s.pod.RetireReconciler(rctx, boot.Name, "")
		if err != nil {
			return err.Error()
		}
		if res = r; r.Action != rapi.RetireRemoved && r.Action != rapi.RetireAbsent {
			return "action " + r.Action
		}
		return ""
	})
	if len(res.Voters) != 1 || res.Voters[0] != s.name {
		t.Fatalf("voters after retiring the bootstrap: %v, want only %s", res.Voters, s.name)
	}
	// From here on the cluster's only control plane is the pod.
	c.Client = s.pod
	if err := c.Repo.SetWebhookCA(s.url+rapi.PathWebhook, secret, c.Creds.CAFile); err != nil {
		t.Fatal(err)
	}
	s.checkWeb("after the hand-over", web)
	t.Logf("self-hosted after %s", time.Since(start).Round(time.Millisecond))

	// kill -9 of its own process: the agent restarts it from its data dir.
	killed := time.Now()
	pid := s.podPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	s.eventually("the killed reconciler restarted and leading", 90*time.Second, func() string {
		if why := s.leads(); why != "" {
			return why
		}
		p := s.reconcilerPod()
		if p == nil || p.Status == nil || len(p.Status.Containers) == 0 || p.Status.Containers[0].RestartCount < 1 {
			return "its container has not restarted"
		}
		return ""
	})
	t.Logf("leading again %s after kill -9", time.Since(killed).Round(time.Millisecond))
	s.checkWeb("after kill -9 of the reconciler", web)

	// Upgrade by committing a new image tag.
	upgraded := time.Now()
	old := s.reconcilerPod()
	s.vars["Image"] = v2
	commit := s.commit("reconciler v2", map[string][]byte{"system/reconciler.yaml": s.manifest()})
	s.eventually("the upgraded reconciler running and leading", 2*time.Minute, func() string {
		if why := s.leads(); why != "" {
			return why
		}
		p := s.reconcilerPod()
		switch {
		case p == nil:
			return "no reconciler pod"
		case p.UID == old.UID || p.Spec.Containers[0].Image != v2:
			return "still the old pod " + p.Name
		case p.Phase != api.PodRunning || p.Status == nil || p.Status.Containers[0].Image != v2:
			return "new pod " + p.Name + " is " + p.Phase
		}
		sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
		defer scancel()
		st, err := s.pod.Status(sctx)
		if err != nil || st.Applied == nil || st.Applied.Hash != commit {
			return fmt.Sprintf("the upgrade commit is not applied: %v", err)
		}
		return ""
	})
	t.Logf("upgraded in %s", time.Since(upgraded).Round(time.Millisecond))
	s.checkWeb("after the upgrade", web)

	// The cluster keeps working: a commit after the upgrade is applied.
	s.commit("web: 3 replicas", map[string][]byte{"apps/web.yaml": []byte(deployment(c, selfHostApp, selfHostApp, 3))})
	waitPodsOf(t, ctx, c, "the workload scaled", selfHostApp, time.Minute, allRunning(selfHostApp, 3))
	s.checkWeb("after scaling", web)
}

// manifest renders testdata/selfhost/reconciler.yaml with s.vars.
func (s *selfHost) manifest() []byte {
	s.t.Helper()
	tmpl, err := template.ParseFiles("testdata/selfhost/reconciler.yaml")
	if err != nil {
		s.t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, s.vars); err != nil {
		s.t.Fatal(err)
	}
	return b.Bytes()
}

func (s *selfHost) commit(msg string, files map[string][]byte) string {
	s.t.Helper()
	h, err := s.c.Repo.Commit(s.ctx, msg, files)
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// eventually polls why every 200 ms until it returns "".
func (s *selfHost) eventually(what string, timeout time.Duration, why func() string) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		reason := why()
		if reason == "" {
			return
		}
		if time.Now().After(deadline) || s.ctx.Err() != nil {
			s.t.Fatalf("waiting for %s: %s", what, reason)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *selfHost) waitStatus(what string, cl *rapi.Client, why func(*rapi.Status) string, timeout time.Duration) {
	s.t.Helper()
	s.eventually(what, timeout, func() string {
		sctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
		defer cancel()
		st, err := cl.Status(sctx)
		if err != nil {
			return err.Error()
		}
		return why(st)
	})
}

// leads says why the pod reconciler does not lead, "" when it does.
func (s *selfHost) leads() string {
	sctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	defer cancel()
	st, err := s.pod.Status(sctx)
	switch {
	case err != nil:
		return err.Error()
	case st.Leader != s.name:
		return fmt.Sprintf("leader is %q", st.Leader)
	}
	return ""
}

func (s *selfHost) waitLeader(what string, timeout time.Duration) {
	s.t.Helper()
	s.eventually(what, timeout, s.leads)
}

// reconcilerPod is the current (not terminating) reconciler pod, as the
// pod reconciler lists it.
func (s *selfHost) reconcilerPod() *rapi.Pod {
	sctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	defer cancel()
	pods, err := s.pod.Pods(sctx, selfHostNS)
	if err != nil {
		return nil
	}
	for _, p := range rapi.CurrentPods(pods) {
		if p.Labels["app"] == "stevedore-reconciler" {
			return &p
		}
	}
	return nil
}

// checkWeb fails the test when a pod of the workload restarted.
func (s *selfHost) checkWeb(when string, before map[string]podSeen) {
	s.t.Helper()
	pods := waitPodsOf(s.t, s.ctx, s.c, "the workload "+when, selfHostApp, time.Minute, func(ps []rapi.Pod) bool {
		return allRunning(selfHostApp, len(before))(ps) || len(ps) > len(before)
	})
	if d := unchanged(before, snapshot(pods)); len(d) > 0 {
		s.t.Fatalf("workload pods restarted %s: %v", when, d)
	}
}

// podPID finds the self-hosted reconciler's process: the container's
// entrypoint with its --name.
func (s *selfHost) podPID() int {
	s.t.Helper()
	var found int
	s.eventually("the reconciler pod's process", 30*time.Second, func() string {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(b), "\x00")
			if args[0] == "/usr/local/bin/reconciler" && strings.Contains(string(b), "--name="+s.name+"\x00") {
				found = pid
				return ""
			}
		}
		return "no process runs --name=" + s.name
	})
	return found
}

// podLogs is the tail of the reconciler pods' logs on their node.
func (s *selfHost) podLogs() string {
	var b strings.Builder
	// <namespace>_<pod>_<uid>/<container>/<restart>.log
	files, _ := filepath.Glob(filepath.Join(s.c.Agents[0].DataDir, "logs", selfHostNS+"_*", "*", "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}

func peerNames(st *rapi.Status) []string {
	var out []string
	for _, p := range st.Peers {
		out = append(out, p.Name)
	}
	return out
}
