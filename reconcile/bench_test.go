package reconcile

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
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

// plannerCluster is largeCluster plus one 100-replica Deployment, all
// running, planned once by a Planner: the daemon's state before a commit.
func plannerCluster(b *testing.B) (*Planner, Input) {
	in := largeCluster(b, 5000, 150000)
	in.Desired = copySet(in.Desired)
	big := bigDeployment(0)
	in.Desired.Objects[spec.KeyOf(big)] = big
	// largeCluster's records hold uid-0…uid-149999: new UIDs must differ.
	n := 0
	in.NewUID = func() string { n++; return fmt.Sprintf("new-%d", n) }
	pl := NewPlanner()
	out := pl.Plan(in)
	in.Memory = out.Memory
	obs := runningStatuses(out)
	in.Observed = map[string][]api.PodStatus{}
	for node, sts := range obs {
		in.Observed[node] = sts
	}
	out = pl.Plan(in)
	in.Memory = out.Memory
	if out = pl.Plan(in); out.MemoryChanged || len(out.Events) > 0 {
		b.Fatalf("the cluster is not steady: %d events", len(out.Events))
	}
	return pl, in
}

// bigDeployment is the 100-replica Deployment of plannerCluster at image
// version v, rolled out all at once (maxSurge 100%, maxUnavailable 0), so
// that a commit creates and schedules 100 pods.
func bigDeployment(v int) *spec.Deployment {
	d := deployment("ns-big", "big", 100, fmt.Sprintf("img:big-%d", v))
	surge, unav := spec.FromString("100%"), spec.FromInt(0)
	d.Spec.Strategy = spec.DeploymentStrategy{Type: spec.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &spec.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unav}}
	return d
}

// BenchmarkPlannerChangeOneDeployment measures a commit that changes the
// image of one 100-replica Deployment at 5,000 nodes and 150,000 pods:
// the plan that creates and schedules its 100 new pods (commit-ms), and
// the plan after it from its own memory (settle-ms), which the daemon
// runs next. The new revision is a new Set sharing the other objects.
func BenchmarkPlannerChangeOneDeployment(b *testing.B) {
	pl, in := plannerCluster(b)
	var commit, settle, worst time.Duration
	var allocs uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		next := copySet(in.Desired)
		big := bigDeployment(i + 1)
		next.Objects[spec.KeyOf(big)] = big
		in.Desired = next
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		b.StartTimer()
		start := time.Now()
		out := pl.Plan(in)
		took := time.Since(start)
		commit += took
		if i > 0 {
			// The first commit also builds the scheduler state.
			worst = max(worst, took)
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		allocs += ms.Mallocs - before
		// 100 created and scheduled (maxSurge 100%) and the new revision
		// scaled up; from the second commit on, the previous commit's
		// pods (never up) are deleted and their revision scaled down too.
		if n := len(out.Events); n != 201 && n != 302 {
			b.Fatalf("commit plan: %d events, want 201 or 302", n)
		}
		if _, all := pl.ChangedNodes(); all {
			b.Fatal("the commit was planned in full")
		}
		in.Memory = out.Memory
		b.StartTimer()
		start = time.Now()
		out = pl.Plan(in)
		settle += time.Since(start)
		if out.MemoryChanged {
			b.Fatal("the plan after the commit changed memory")
		}
	}
	b.ReportMetric(float64(commit.Microseconds())/1000/float64(b.N), "commit-ms")
	b.ReportMetric(float64(settle.Microseconds())/1000/float64(b.N), "settle-ms")
	b.ReportMetric(float64(allocs)/float64(b.N), "commit-allocs")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-later-commit-ms")
}

// BenchmarkPlannerSteady is the Planner at 5,000 nodes and 150,000 pods
// when nothing changed (BenchmarkPlanLarge for Plan).
func BenchmarkPlannerSteady(b *testing.B) {
	pl, in := plannerCluster(b)
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if out := pl.Plan(in); out.MemoryChanged {
			b.Fatal("a steady plan changed memory")
		}
	}
}
