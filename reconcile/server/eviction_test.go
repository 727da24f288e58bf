package server

import (
	"context"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// pressure makes the agent advertise the disk-pressure taint, as an
// agent does from the round its DiskPressure condition turns True (it
// evicts from the next round on).
func (a *fakeAgent) pressure() {
	a.t.Helper()
	tags, err := agentapi.EncodeTags(agentapi.NodeInfo{
		Name: a.name, APIAddr: a.srv.URL,
		Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110},
		Labels:      map[string]string{"zone": "z1"},
		Taints:      []spec.Taint{{Key: agentapi.TaintDiskPressure, Effect: spec.TaintEffectNoSchedule}},
	})
	if err == nil {
		err = a.serf.SetTags(tags)
	}
	if err != nil {
		a.t.Fatalf("failed to advertise the pressure taint: %v", err)
	}
}

// evict makes the agent report its pod named name Failed with reason
// Evicted, as an agent's eviction manager leaves it; it returns the
// evicted UID.
func (a *fakeAgent) evict(name string) string {
	a.mu.Lock()
	st := append([]agentapi.PodStatus(nil), a.status...)
	uid := ""
	for i := range st {
		if st[i].Name != name {
			continue
		}
		uid = st[i].UID
		st[i].Phase, st[i].Reason = agentapi.PodFailed, agentapi.ReasonEvicted
		st[i].Message = "The node was low on resource: ephemeral-storage."
		cs := append([]agentapi.ContainerStatus(nil), st[i].Containers...)
		for j := range cs {
			cs[j].Ready = false
			cs[j].State = agentapi.ContainerState{Terminated: &agentapi.StateTerminated{ExitCode: 137, Reason: "Error"}}
		}
		st[i].Containers = cs
	}
	a.status = st
	a.mu.Unlock()
	a.poke()
	return uid
}

// TestAgentEvictionReplacesPod: a Deployment's pod that its agent evicted
// under disk pressure is re-created with a new UID on the other node (the
// pressure taint keeps it off the first), and the evicted incarnation
// leaves the first node's set.
func TestAgentEvictionReplacesPod(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	_, _, s, a, b := webOnTwoAgents(t, log)
	waitFor(t, 15*time.Second, "one pod on each agent", func() bool { return len(a.last().Pods) == 1 && len(b.last().Pods) == 1 })
	cl, _ := api.NewClient(s.APIURL(), nil)
	a.pressure()
	// The pressure travels in the agent's gossip tags: seconds on a loaded
	// machine (make test runs three packages at once).
	waitFor(t, 30*time.Second, "node-a's pressure taint known", func() bool {
		nodes, _ := cl.Nodes(context.Background())
		for _, n := range nodes {
			if n.Name == "node-a" && len(n.Taints) == 1 && n.Taints[0].Key == agentapi.TaintDiskPressure {
				return true
			}
		}
		return false
	})
	victim := a.last().Pods[0]
	if uid := a.evict(victim.Name); uid != victim.UID {
		t.Fatalf("evicted uid %q, want %q", uid, victim.UID)
	}
	waitFor(t, 15*time.Second, "the evicted pod re-created on node-b", func() bool {
		for _, p := range b.last().Pods {
			if p.Name == victim.Name && p.UID != victim.UID {
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "the evicted incarnation gone from node-a's set", func() bool {
		for _, p := range a.last().Pods {
			if p.UID == victim.UID {
				return false
			}
		}
		return true
	})
	if n := len(a.last().Pods); n != 0 {
		t.Errorf("node-a (under disk pressure) got %d pods, want none", n)
	}
}
