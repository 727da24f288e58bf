package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestExtendedResourcesEndToEnd: an agent advertises a GPU in its serf
// tags; a Deployment whose pods each need one gets one pod on that agent,
// never on the agent without, and the other replica Pending with
// Kubernetes' reason. The node table shows what is advertised and used.
func TestExtendedResourcesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	gpuDeployment := strings.Replace(deploymentYAML(2, "registry.local/cuda:1"), "            memory: 64Mi\n",
		"            memory: 64Mi\n          limits:\n            nvidia.com/gpu: 1\n", 1)
	repo.commit("web: 2 GPU replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": gpuDeployment})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	b.extended = map[string]int64{"nvidia.com/gpu": 1}
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pods []api.Pod
	waitFor(t, 10*time.Second, "one pod on node-b, one Pending for want of a GPU", func() bool {
		pods, err = cl.Pods(ctx, "shop")
		if err != nil || len(pods) != 2 {
			return false
		}
		var onB, pending int
		for _, p := range pods {
			switch {
			case p.Node == "node-b":
				onB++
			case p.Node == "" && p.Reason == api.ReasonUnschedulable &&
				p.Message == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.":
				pending++
			}
		}
		return onB == 1 && pending == 1
	})
	if n := len(a.last().Pods); n != 0 {
		t.Errorf("node-a, which has no GPU, got %d pods", n)
	}
	nodes, err := cl.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Name != "node-b" {
			continue
		}
		if n.Allocatable.Extended["nvidia.com/gpu"] != 1 || n.Requested.Extended["nvidia.com/gpu"] != 1 {
			t.Errorf("node-b allocatable %+v requested %+v, want 1 GPU advertised and used", n.Allocatable, n.Requested)
		}
	}
}
