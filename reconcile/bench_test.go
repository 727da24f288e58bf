package reconcile

import (
	"fmt"
	"testing"
)

// largeCluster is a steady cluster of the size the design's benchmarks
// name (5,000 nodes, 150,000 pods): every pod placed and running. The
// placements are made round-robin rather than by a first plan, so that
// building it does not cost a 150,000-pod scheduling run.
func largeCluster(tb testing.TB, nodeCount, pods int) Input {
	set := bigSet(pods)
	ns := nodes(nodeCount)
	mem := Memory{Pods: map[string]PodRecord{}}
	for i, d := range ExpandPods(set) {
		mem.Pods[d.Key()] = PodRecord{
			UID: fmt.Sprintf("uid-%d", i), Namespace: d.Namespace, Name: d.Name, Owner: d.Owner,
			Node: ns[i%len(ns)].Info.Name, Created: t0, Hash: d.Hash,
			Labels: d.Labels, Annotations: d.Annotations, Spec: *d.Spec,
		}
	}
	in := Input{Desired: set, Nodes: ns, Memory: mem, Now: t0, NewUID: counter()}
	in.Observed = runningStatuses(Plan(in))
	if out := Plan(in); out.MemoryChanged || len(out.Events) > 0 {
		tb.Fatalf("the large cluster is not steady: %d events", len(out.Events))
	}
	return in
}

// BenchmarkPlanLarge measures the steady state at 5,000 nodes and 150,000
// pods: nothing changed, the plan the daemon runs on every input change.
func BenchmarkPlanLarge(b *testing.B) {
	in := largeCluster(b, 5000, 150000)
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		Plan(in)
	}
}
