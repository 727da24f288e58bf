package scheduler

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// benchCase is one scheduler benchmark: a cluster and a workload placed
// from scratch in one Schedule call.
type benchCase struct {
	name   string
	nodes  int
	pods   int
	kind   string // requests, nodeSelector, spread, antiAffinity, overflow, nomad, nomadSpread
	perPod bool   // every pod its own *spec.PodSpec, as the reconciler passes them
	placed int    // pods already running, spread round-robin (each its own spec)
	pct    int    // PercentageOfNodesToScore; 0 adaptive
}

func benchCases() []benchCase {
	var cs []benchCase
	for _, size := range [][2]int{{500, 10000}, {5000, 150000}} {
		for _, kind := range []string{"requests", "nodeSelector", "spread", "antiAffinity"} {
			cs = append(cs, benchCase{name: fmt.Sprintf("%s/%dNodes_%dPods", kind, size[0], size[1]), nodes: size[0], pods: size[1], kind: kind})
		}
	}
	cs = append(cs,
		benchCase{name: "requests/5000Nodes_150000Pods/specPerPod", nodes: 5000, pods: 150000, kind: "requests", perPod: true},
		benchCase{name: "requests/5000Nodes_20000Pods/exact", nodes: 5000, pods: 20000, kind: "requests", pct: 100},
		benchCase{name: "overflow/5000Nodes_20000Pods", nodes: 5000, pods: 20000, kind: "overflow"},
		benchCase{name: "steady/5000Nodes_150000Placed_1000Pods", nodes: 5000, pods: 1000, kind: "requests", perPod: true, placed: 150000},
		benchCase{name: "nomad/5000Nodes_1200Pods", nodes: 5000, pods: 1200, kind: "nomad"},
		benchCase{name: "nomadSpread/5000Nodes_1200Pods", nodes: 5000, pods: 1200, kind: "nomadSpread"},
	)
	return cs
}

// build makes the case's cluster: Kubernetes scheduler_perf-sized nodes
// (8 cpu, 64 GiB, 110 pods) in 10 zones, and workloads of 100 replicas
// (30 for anti-affinity) sharing a template, as Deployments do.
func (bc benchCase) build() ([]Node, []Pod, []Pod) {
	nodes := make([]Node, bc.nodes)
	for i := range nodes {
		labels := map[string]string{
			"kubernetes.io/hostname":      nodeName(i),
			"topology.kubernetes.io/zone": "zone-" + strconv.Itoa(i%10),
			"rack":                        "rack-" + strconv.Itoa(i%25),
		}
		if i%2 == 0 {
			labels["pool"] = "a"
		}
		nodes[i] = Node{Name: nodeName(i), Labels: labels, Allocatable: Resources{MilliCPU: 8000, Memory: 64 << 30, Pods: 110}}
		if bc.kind == "overflow" {
			nodes[i].Allocatable.MilliCPU = 200 // room for 10,000 of the 20,000 pods
		}
		if bc.kind == "nomad" || bc.kind == "nomadSpread" {
			nodes[i].Allocatable.MilliCPU = 4000 // two 1500m pods per node
		}
	}
	group := 100
	switch bc.kind {
	case "antiAffinity":
		group = 30
	case "nomad", "nomadSpread":
		group = bc.pods
	}
	pods := make([]Pod, bc.pods)
	var sp *spec.PodSpec
	var labels map[string]string
	for i := range pods {
		if i%group == 0 || bc.perPod {
			app := "app-" + strconv.Itoa(i/group)
			labels = map[string]string{"app": app, "tier": "web"}
			sp = mkSpec(100, 500)
			sel := &spec.LabelSelector{MatchLabels: map[string]string{"app": app}}
			switch bc.kind {
			case "nodeSelector":
				sp.NodeSelector = map[string]string{"pool": "a"}
			case "spread":
				sp.TopologySpreadConstraints = []spec.TopologySpreadConstraint{{MaxSkew: 1,
					TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: spec.DoNotSchedule, LabelSelector: sel}}
			case "antiAffinity":
				sp.Affinity = &spec.Affinity{PodAntiAffinity: &spec.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []spec.PodAffinityTerm{
					{LabelSelector: sel, TopologyKey: "kubernetes.io/hostname"}}}}
			case "nomad", "nomadSpread":
				sp = mkSpec(1500, 256)
				var racks []string
				for r := 0; r < 25; r += 2 {
					racks = append(racks, "rack-"+strconv.Itoa(r))
				}
				sp.Affinity = &spec.Affinity{NodeAffinity: &spec.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &spec.NodeSelector{
					NodeSelectorTerms: []spec.NodeSelectorTerm{{MatchExpressions: []spec.NodeSelectorRequirement{{Key: "rack", Operator: "In", Values: racks}}}}}}}
				if bc.kind == "nomadSpread" {
					sp.TopologySpreadConstraints = []spec.TopologySpreadConstraint{{MaxSkew: 1,
						TopologyKey: "rack", WhenUnsatisfiable: spec.DoNotSchedule, LabelSelector: sel}}
				}
			}
		}
		pods[i] = Pod{Namespace: "default", Name: "pod-" + strconv.Itoa(i), Labels: labels, Spec: sp}
	}
	placed := make([]Pod, bc.placed)
	for i := range placed {
		placed[i] = Pod{Namespace: "default", Name: "old-" + strconv.Itoa(i), Labels: map[string]string{"app": "old-" + strconv.Itoa(i/100)},
			Spec: mkSpec(100, 500), Node: nodeName(i % bc.nodes)}
	}
	return nodes, placed, pods
}

type benchResult struct {
	podsPerSec float64
	// podsPerCPUSec divides by the process's user+system CPU time instead of
	// wall time: on a machine shared with other work it is the better
	// estimate of one uncontended core (it includes GC on other threads).
	podsPerCPUSec             float64
	cpu                       time.Duration
	allocsPerPod, bytesPerPod float64
	placed, pending           int
	elapsed                   time.Duration
}

func (bc benchCase) run(tb testing.TB, nodes []Node, placed, pods []Pod) benchResult {
	prof := DefaultProfile()
	prof.PercentageOfNodesToScore = bc.pct
	s := newSched(tb, Config{Profiles: []Profile{prof}})
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	res := s.Schedule(nodes, placed, pods)
	el := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	r := benchResult{elapsed: el, cpu: cpu}
	for _, x := range res {
		if x.Node != "" {
			r.placed++
		} else {
			r.pending++
		}
	}
	n := float64(len(pods))
	r.podsPerSec = n / el.Seconds()
	r.podsPerCPUSec = n / cpu.Seconds()
	r.allocsPerPod = float64(m1.Mallocs-m0.Mallocs) / n
	r.bytesPerPod = float64(m1.TotalAlloc-m0.TotalAlloc) / n
	return r
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSchedule places each case's pods from scratch. Big cases take
// seconds per iteration: run with -benchtime=1x on a shared machine.
func BenchmarkSchedule(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			nodes, placed, pods := bc.build()
			var total, cpu time.Duration
			var last benchResult
			b.ResetTimer()
			for range b.N {
				last = bc.run(b, nodes, placed, pods)
				total += last.elapsed
				cpu += last.cpu
			}
			b.ReportMetric(float64(len(pods))*float64(b.N)/total.Seconds(), "pods/s")
			b.ReportMetric(float64(len(pods))*float64(b.N)/cpu.Seconds(), "pods/cpu-s")
			b.ReportMetric(last.allocsPerPod, "allocs/pod")
			b.ReportMetric(last.bytesPerPod, "B/pod")
			b.ReportMetric(float64(last.pending), "pending")
		})
	}
}

var benchTable = flag.String("benchtable", "", "run every scheduler benchmark case once and write a Markdown table to this file (- for stdout)")

// TestBenchTable is what `make bench` calls to summarise the scheduler in
// docs/benchmarks.md:
//
//	go test ./reconcile/scheduler -run TestBenchTable -benchtable out.md
//
// Without -benchtable it does nothing (it is a measurement, not a test).
func TestBenchTable(t *testing.T) {
	if *benchTable == "" {
		return
	}
	var w io.Writer = os.Stdout
	if *benchTable != "-" {
		f, err := os.Create(*benchTable)
		if err != nil {
			t.Fatalf("failed to create %s: %v", *benchTable, err)
		}
		defer f.Close()
		w = f
	}
	if err := BenchTable(t, w); err != nil {
		t.Fatal(err)
	}
}

// BenchTable runs every benchmark case once and writes a Markdown table.
func BenchTable(tb testing.TB, w io.Writer) error {
	if _, err := fmt.Fprintf(w, "| case | nodes | pods | placed | pending | wall s | pods/s (wall) | pods/s (CPU) | allocs/pod | bytes/pod |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"); err != nil {
		return fmt.Errorf("failed to write table: %w", err)
	}
	for _, bc := range benchCases() {
		nodes, placed, pods := bc.build()
		r := bc.run(tb, nodes, placed, pods)
		if _, err := fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %.2f | %.0f | %.0f | %.2f | %.0f |\n", bc.name, bc.nodes, bc.pods,
			r.placed, r.pending, r.elapsed.Seconds(), r.podsPerSec, r.podsPerCPUSec, r.allocsPerPod, r.bytesPerPod); err != nil {
			return fmt.Errorf("failed to write table: %w", err)
		}
	}
	var load string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil && len(b) > 14 {
		load = ", load average " + string(b[:14])
	}
	_, err := fmt.Fprintf(w, "\nGOMAXPROCS=%d, %s/%s, %s%s. One Schedule call per case, placing every pod from scratch;\n"+
		"pods/s (CPU) divides by the process's CPU time, the fairer figure on a shared machine.\n",
		runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
	if err != nil {
		return fmt.Errorf("failed to write table: %w", err)
	}
	return nil
}
