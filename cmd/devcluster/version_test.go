package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/internal/version"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// tooNewRelease and tooNewProtocol are what the agent buildTooNewAgent
// builds claims to be: a release that speaks no protocol of this one.
const (
	tooNewRelease  = "v0.19.0"
	tooNewProtocol = "5-6"
)

// buildTooNewAgent builds this tree's agent (and its log driver) claiming
// to be tooNewRelease speaking tooNewProtocol, through the test-only -X
// overrides of agent/api and internal/version (docs/versions.md).
func buildTooNewAgent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ldflags := "-X github.com/stevedore-dev/stevedore/agent/api.protocolOverride=" + tooNewProtocol +
		" -X github.com/stevedore-dev/stevedore/internal/version.releaseOverride=" + tooNewRelease
	cmd := exec.Command("go", "build", "-ldflags="+ldflags, "-o", dir+"/", "../agent", "../stevedore-log-driver")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("failed to build the too-new agent: %v\n%s", err, out)
	}
	return dir
}

const mixedNS = "mixed"

// mixedManifests are hello pods behind a Service.
const mixedManifests = `apiVersion: v1
kind: Namespace
metadata: {name: mixed}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: mixed}
spec:
  replicas: 4
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: hello
          image: 127.0.0.1:5000/stevedore/hello:v1
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: mixed}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: http}]
`

// mixedVersions checks, on a cluster whose reconcilers run this release
// and whose agents run the previous one (devenv.PreviousRelease: protocol
// 1, nothing advertised), that pods run on those agents and that their
// Service and logs work. Then the first agent is upgraded in place to bin:
// its containers are adopted, not restarted, and the reconciler speaks
// protocol 2 to it. Last, the third agent is replaced by tooNew, an agent
// claiming a release whose protocols do not overlap: it is refused with a
// message naming both versions, keeps the pods it ran (they are neither
// stopped nor rescheduled), and gets no new one.
func mixedVersions(t *testing.T, ctx context.Context, c *devenv.Cluster, bin, tooNew string) {
	t.Helper()
	start := time.Now()
	node1, node3 := c.Agents[0].Name, c.Agents[2].Name
	release := version.Get().ReleaseVersion()

	e := &e2e{t: t, ctx: ctx, c: c, seen: map[string]bool{}}
	e.commit("hello behind a Service", map[string]string{"mixed.yaml": mixedManifests})
	pods := waitPodsOf(t, ctx, c, "4 hello pods Running on the old agents", mixedNS, 2*time.Minute, allRunning("hello", 4))
	nodes, err := c.Client.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		// The previous release advertises nothing: protocol 1.
		if n.NegotiatedProtocol != agentapi.Protocol1 || n.Version != "" || n.Status != rapi.NodeReady {
			t.Errorf("%s (old agent) = %+v; want protocol 1, Ready", n.Name, n)
		}
	}

	// The Service reaches every pod on the old agents, from inside one of
	// them; their logs are read through the old agents' API.
	backends := map[string]rapi.Pod{}
	for _, p := range pods {
		backends[p.Name] = p
	}
	clusterIP := strings.TrimSpace(ctlOut(t, ctx, c, "get", "svc", "hello", "-n", mixedNS, "-o", "jsonpath={.spec.clusterIP}"))
	seen := callMany(t, ctx, podNetnsName(pods[0].UID), "http://"+clusterIP+"/", 40)
	wantAll(t, "ClusterIP on the old agents", seen, backends)
	waitLog(t, ctx, c, mixedNS, pods[1].Name, func(l string) bool { return strings.Contains(l, "serving") },
		"the log of a pod on an old agent")
	t.Logf("old agents serve (%s)", time.Since(start).Round(time.Second))

	// Upgrade the first agent in place: its pods keep their containers.
	before := snapshot(onNode(pods, node1))
	if len(before) == 0 {
		t.Fatalf("no pod on %s to watch through the upgrade:\n%s", node1, listPods(pods))
	}
	if err := c.UpgradeAgent(0, bin); err != nil {
		t.Fatal(err)
	}
	waitNode(t, ctx, c, node1, "speaking protocol 2", func(n rapi.Node) bool {
		return n.NegotiatedProtocol == agentapi.Protocol2 && n.Version == release && n.Status == rapi.NodeReady
	})
	var after map[string]podSeen
	waitPodsWhy(t, ctx, c, "the upgraded agent's pods adopted", mixedNS, time.Minute, func(ps []rapi.Pod) string {
		if !allRunning("hello", 4)(ps) {
			return "not all Running"
		}
		after = snapshot(onNode(ps, node1))
		if d := unchanged(before, after); len(d) > 0 {
			return strings.Join(d, "; ")
		}
		return ""
	})
	if d := unchanged(before, after); len(d) > 0 {
		t.Errorf("upgrading the agent restarted containers: %v", d)
	}
	// The same, from the upgraded agent itself (the reconciler's view could
	// still hold what the old one reported), spoken to in protocol 2.
	ac := c.AgentClient(0)
	ac.Protocol = agentapi.Protocol2
	l, err := ac.Pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var own []rapi.Pod
	for i := range l.Pods {
		st := &l.Pods[i]
		if st.Namespace != mixedNS {
			continue
		}
		own = append(own, rapi.Pod{PodView: rapi.PodView{UID: st.UID, Namespace: st.Namespace, Name: st.Name, Node: node1, Phase: st.Phase, Status: st}})
	}
	if d := unchanged(before, snapshot(own)); len(d) > 0 {
		t.Errorf("the upgraded agent reports restarted containers: %v", d)
	}
	out, err := c.Ctl(ctx, "describe", "node", node1)
	if err != nil || !strings.Contains(out, "Agent Protocol:   2 (1..2)") || !strings.Contains(out, "Agent Version:    "+release) {
		t.Errorf("ctl describe node %s = %v\n%s", node1, err, out)
	}

	// The third agent is replaced by one from a release too new: refused,
	// it keeps its pods, and a scale-up places nothing there.
	on3 := podNames(onNode(pods, node3))
	if len(on3) == 0 {
		t.Fatalf("no hello pod on %s to watch through its refusal:\n%s", node3, listPods(pods))
	}
	if err := c.UpgradeAgent(2, tooNew); err != nil {
		t.Fatal(err)
	}
	refusal := "agent " + node3 + " runs " + tooNewRelease + " (protocol 5..6); this reconciler " + release +
		" speaks 1..2: upgrade the reconciler first (docs/compatibility.md)"
	waitNode(t, ctx, c, node3, "refused", func(n rapi.Node) bool {
		return n.VersionRefused == refusal && n.Status == rapi.NodeNotReady && n.Error == refusal
	})
	out, err = c.Ctl(ctx, "describe", "node", node3)
	if err != nil || !strings.Contains(out, "VersionSkew") || !strings.Contains(out, refusal) {
		t.Errorf("ctl describe node %s = %v\n%s", node3, err, out)
	}
	out, err = c.Ctl(ctx, "get", "events", "-A")
	if err != nil || !strings.Contains(out, "VersionSkew") {
		t.Errorf("ctl get events: no VersionSkew event: %v\n%s", err, out)
	}
	e.commit("hello: 6 replicas", map[string]string{"mixed.yaml": strings.Replace(mixedManifests, "replicas: 4", "replicas: 6", 1)})
	waitPodsWhy(t, ctx, c, "6 hello pods, the new ones off the refused node", mixedNS, 2*time.Minute, func(ps []rapi.Pod) string {
		hello := 0
		for _, p := range ps {
			if p.Labels["app"] == "hello" {
				hello++
			}
		}
		if got := podNames(onNode(ps, node3)); !slices.Equal(got, on3) {
			return fmt.Sprintf("pods on the refused %s: %q, want the %q it ran", node3, got, on3)
		}
		running := 0
		for _, p := range ps {
			if p.Labels["app"] == "hello" && p.Node != node3 && p.Phase == agentapi.PodRunning {
				running++
			}
		}
		if want := 6 - len(on3); hello != 6 || running != want {
			return fmt.Sprintf("%d hello pods, %d Running off %s; want 6 and %d", hello, running, node3, want)
		}
		return ""
	})
	t.Logf("mixed versions done in %s", time.Since(start).Round(time.Second))
}

// podNames returns the pods' names, sorted.
func podNames(pods []rapi.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

// waitNode waits until ok holds for node name as the reconciler reports it.
func waitNode(t *testing.T, ctx context.Context, c *devenv.Cluster, name, what string, ok func(rapi.Node) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last rapi.Node
	for {
		nodes, err := c.Client.Nodes(ctx)
		if err == nil {
			for _, n := range nodes {
				if n.Name == name {
					if ok(n) {
						return
					}
					last = n
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for node %s %s; last %+v (err %v)", name, what, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func onNode(pods []rapi.Pod, node string) []rapi.Pod {
	var out []rapi.Pod
	for _, p := range pods {
		if p.Node == node {
			out = append(out, p)
		}
	}
	return out
}

func ctlOut(t *testing.T, ctx context.Context, c *devenv.Cluster, args ...string) string {
	t.Helper()
	out, err := c.Ctl(ctx, args...)
	if err != nil {
		t.Fatalf("ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
