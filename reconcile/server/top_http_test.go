package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// serveNodeOps adds GET /v1/stats and /v1/node to a fake agent (before it
// joins): each pod of its last set uses 250m and 64 MiB, the node 1500m
// and 1 GiB. delay holds every answer back, as a slow agent would.
func serveNodeOps(a *fakeAgent, delay time.Duration) {
	next := a.srv.Config.Handler
	a.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case agentapi.PathStats, agentapi.PathNode:
		default:
			next.ServeHTTP(w, r)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		if r.URL.Path == agentapi.PathNode {
			json.NewEncoder(w).Encode(agentapi.NodeStatus{
				Info:          agentapi.NodeInfo{Name: a.name},
				Capacity:      agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110},
				Conditions:    []agentapi.NodeCondition{{Type: agentapi.NodeReady, Status: "True"}},
				KernelVersion: "6.1.0-test",
				Images:        []agentapi.Image{{Names: []string{"registry.local/hello:1"}, Size: 5 << 20, InUse: true}},
			})
			return
		}
		ns := agentapi.NodeStats{Node: a.name, Time: time.Now(), Window: 10 * time.Second,
			CPU: agentapi.CPUStats{UsageNanoCores: 1_500_000_000}, Memory: agentapi.MemoryStats{WorkingSetBytes: 1 << 30}}
		for _, p := range a.last().Pods {
			c := agentapi.ContainerStats{Name: "web", CPU: agentapi.CPUStats{UsageNanoCores: 250_000_000}, Memory: agentapi.MemoryStats{WorkingSetBytes: 64 << 20}}
			ns.Pods = append(ns.Pods, agentapi.PodStats{Namespace: p.Namespace, Name: p.Name, UID: p.UID,
				CPU: c.CPU, Memory: c.Memory, Containers: []agentapi.ContainerStats{c}})
		}
		json.NewEncoder(w).Encode(ns)
	})
}

// TestTopAndDescribeNode asks for pods' and nodes' use and a node's
// description with one agent answering and one too slow: the slow one is
// reported as such, without holding up the answer.
func TestTopAndDescribeNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	old := agentQueryTimeout
	agentQueryTimeout = 300 * time.Millisecond
	t.Cleanup(func() { agentQueryTimeout = old })
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(4, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	serveNodeOps(a, 0)
	serveNodeOps(b, time.Minute)
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	onA := 0
	waitFor(t, 10*time.Second, "4 web pods Running on 2 nodes", func() bool {
		pods, err := cl.Pods(ctx, "shop")
		if err != nil || len(pods) != 4 {
			return false
		}
		onA = 0
		for _, p := range pods {
			if p.Phase != agentapi.PodRunning {
				return false
			}
			if p.Node == "node-a" {
				onA++
			}
		}
		return onA > 0 && onA < 4
	})

	start := time.Now()
	tp, err := cl.TopPods(ctx, "shop", "app=web", false)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("top pods took %s: the slow agent held it up", d)
	}
	if len(tp.Items) != onA || len(tp.Problems) != 1 || tp.Problems[0].Node != "node-b" || !strings.Contains(tp.Problems[0].Error, "no answer within") {
		t.Fatalf("top pods = %+v, want node-a's %d pods and node-b reported as not answering", tp, onA)
	}
	for _, p := range tp.Items {
		if p.Node != "node-a" || p.CPUNanoCores != 250_000_000 || p.MemoryBytes != 64<<20 || len(p.Containers) != 1 {
			t.Errorf("pod metrics %+v", p)
		}
	}
	if tp, err := cl.TopPods(ctx, "shop", "app=other", false); err != nil || len(tp.Items) != 0 || len(tp.Problems) != 0 {
		t.Errorf("top pods -l app=other = %+v, %v; want nothing asked, nothing found", tp, err)
	}
	if tp, err := cl.TopPods(ctx, "", "", false); err != nil || len(tp.Items) != 0 {
		t.Errorf("top pods in default = %+v, %v; want none", tp, err)
	}
	if _, err := cl.TopPods(ctx, "shop", "app in (", false); err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("a bad selector: err = %v", err)
	}

	tn, err := cl.TopNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tn.Items) != 2 || tn.Items[0].Name != "node-a" || tn.Items[0].CPUNanoCores != 1_500_000_000 ||
		tn.Items[0].Allocatable.MilliCPU != 4000 || tn.Items[1].Error == "" {
		t.Errorf("top nodes = %+v", tn.Items)
	}

	d, err := cl.DescribeNode(ctx, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if d.Node.Name != "node-a" || d.Status == nil || d.Status.KernelVersion != "6.1.0-test" || len(d.Pods) != onA {
		t.Fatalf("describe node-a = %+v", d)
	}
	if d.Requests.MilliCPU != int64(onA)*100 || d.Requests.Memory != int64(onA)*64<<20 || d.Limits.MilliCPU != 0 {
		t.Errorf("allocated requests %+v limits %+v, want %d × (100m, 64Mi) and no limits", d.Requests, d.Limits, onA)
	}
	joined := false
	for _, e := range d.Events {
		joined = joined || e.Reason == "NodeAlive"
	}
	if !joined {
		t.Errorf("events %+v lack NodeAlive", d.Events)
	}
	if d, err := cl.DescribeNode(ctx, "node-b"); err != nil || d.Status != nil || d.StatusError == "" {
		t.Errorf("describe slow node-b = %+v, %v; want the table entry with a status error", d, err)
	}
	if _, err := cl.DescribeNode(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("describe unknown node: err = %v", err)
	}
}
