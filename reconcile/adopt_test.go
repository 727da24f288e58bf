package reconcile

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestAdopt: a lost inventory is rebuilt from the agents' last applied sets
// with the same UIDs, nodes and creation times, so nothing restarts; a
// completed batch pod is not run again; a pod Git no longer wants is dropped.
func TestAdopt(t *testing.T) {
	batch := bare("default", "batch", "job:1")
	batch.Spec.RestartPolicy = spec.RestartPolicyNever
	set := setOf(deployment("default", "web", 4, "img:1"), batch, bare("default", "old", "img:1"))
	ns := nodes(3)
	first := Plan(Input{Desired: set, Nodes: ns, Now: t0, NewUID: counter()})
	obs := runningStatuses(first)
	for node, sts := range obs {
		for i := range sts {
			if sts[i].Name == "batch" {
				sts[i].Phase = api.PodSucceeded
				sts[i].Containers[0].State = api.ContainerState{Terminated: &api.StateTerminated{Reason: "Completed"}}
				obs[node] = sts
			}
		}
	}
	for _, pods := range first.PodSets {
		for _, p := range pods {
			rec := first.Memory.Pods[p.Namespace+"/"+p.Name]
			if p.Owner != rec.Owner || p.Hash != rec.Hash || !p.Created.Equal(rec.Created) || p.Hash == "" {
				t.Fatalf("pod set entry %s lacks its record's owner, hash or creation: %+v", p.Name, p)
			}
		}
	}

	// The inventory is lost while Git deletes a pod.
	next := setOf(deployment("default", "web", 4, "img:1"), batch)
	in := Input{Desired: next, Nodes: ns, Observed: obs, Adopt: first.PodSets, Now: t0.Add(time.Hour),
		NewUID: func() string { t.Fatal("adoption created a pod"); return "" }}
	out := Plan(in)
	for _, e := range out.Events {
		if e.Reason != EventAdopted && !(e.Reason == EventDeleted && e.Object == "Pod/default/old") {
			t.Errorf("unexpected event %s %s: %s", e.Object, e.Reason, e.Message)
		}
	}
	want := maps.Clone(first.Memory.Pods)
	delete(want, "default/old")
	if !reflect.DeepEqual(out.Memory.Pods, want) {
		t.Fatalf("adopted memory differs from the lost one:\n%s\n%s", mustJSON(t, out.Memory.Pods), mustJSON(t, want))
	}
	if !reflect.DeepEqual(out.PodSets, withoutPod(first.PodSets, "old")) {
		t.Fatalf("adopted sets differ:\n%s\n%s", mustJSON(t, out.PodSets), mustJSON(t, first.PodSets))
	}
	if len(out.Changed) != len(want) || len(out.Deleted) != 0 {
		t.Fatalf("delta from an empty memory: changed %q deleted %q", out.Changed, out.Deleted)
	}
	// The batch pod is still reported done, under its UID.
	for _, p := range out.Pods {
		if p.Name == "batch" && p.Phase != api.PodSucceeded {
			t.Fatalf("completed batch pod shows %s", p.Phase)
		}
	}

	// With memory, Adopt is ignored.
	in.Memory = out.Memory
	in.Adopt = map[string][]api.Pod{"node-000": {{UID: "stray", Namespace: "default", Name: "stray"}}}
	if again := Plan(in); len(again.Events) != 0 || again.MemoryChanged {
		t.Fatalf("adoption with memory: %s", mustJSON(t, again.Events))
	}

	// Unloaded, adoption still rebuilds the sets agents run.
	unloaded := Plan(Input{Nodes: ns, Adopt: first.PodSets, Now: t0})
	if !reflect.DeepEqual(unloaded.PodSets, first.PodSets) || !reflect.DeepEqual(unloaded.Memory.Pods, first.Memory.Pods) {
		t.Fatalf("unloaded adoption: %s", mustJSON(t, unloaded.PodSets))
	}
}

// TestAdoptDuplicate: two nodes reporting one pod key keep the later
// incarnation, whatever the nodes' names; the other is stopped.
func TestAdoptDuplicate(t *testing.T) {
	set := setOf(bare("default", "p", "img:1"))
	ns := nodes(2)
	pod := func(uid string, created time.Time) api.Pod {
		p := bare("default", "p", "img:1")
		return api.Pod{UID: uid, Namespace: "default", Name: "p", Spec: p.Spec, Hash: SpecHash(&p.Spec), Created: created}
	}
	for _, tc := range []struct {
		name   string
		a, b   api.Pod // on node-000, node-001
		winner string
	}{
		{"later on the second node", pod("old", t0), pod("new", t0.Add(time.Minute)), "new"},
		{"later on the first node", pod("new", t0.Add(time.Minute)), pod("old", t0), "new"},
		{"tie: greater UID", pod("b", t0), pod("a", t0), "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Plan(Input{Desired: set, Nodes: ns, Now: t0.Add(time.Hour), NewUID: counter(),
				Adopt: map[string][]api.Pod{"node-000": {tc.a}, "node-001": {tc.b}}})
			rec := out.Memory.Pods["default/p"]
			if rec.UID != tc.winner {
				t.Fatalf("kept %s, want %s", rec.UID, tc.winner)
			}
			var sets []string
			for _, node := range sortedKeys(out.PodSets) {
				for _, p := range out.PodSets[node] {
					sets = append(sets, node+":"+p.UID)
				}
			}
			if !slices.Equal(sets, []string{rec.Node + ":" + tc.winner}) {
				t.Fatalf("sets %q: the loser must be in none", sets)
			}
			deleted := 0
			for _, e := range out.Events {
				if e.Reason == EventDeleted {
					deleted++
				}
			}
			if deleted != 1 {
				t.Fatalf("want one Deleted event for the loser: %s", mustJSON(t, out.Events))
			}
		})
	}
}

func withoutPod(sets map[string][]api.Pod, name string) map[string][]api.Pod {
	out := map[string][]api.Pod{}
	for node, pods := range sets {
		out[node] = []api.Pod{}
		for _, p := range pods {
			if p.Name != name {
				out[node] = append(out[node], p)
			}
		}
	}
	return out
}
