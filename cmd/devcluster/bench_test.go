package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 10; i++ {
		ds = append(ds, time.Duration(11-i)*time.Millisecond)
	}
	if got := percentile(ds, 50); got != 5*time.Millisecond {
		t.Errorf("p50 = %s, want 5ms", got)
	}
	if got := percentile(ds, 99); got != 10*time.Millisecond {
		t.Errorf("p99 = %s, want 10ms", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %s", got)
	}
}

func TestWriteSectionKeepsOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	st := newStamp()
	s1 := renderSection([]time.Duration{time.Second}, []time.Duration{200 * time.Millisecond}, []time.Duration{500 * time.Millisecond}, 30, 3, st)
	if err := writeNamedSection(path, secCommit, s1); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "## Scheduler") || !strings.Contains(string(b), "| commit-to-running, 30 pods on 3 agents | 1 | 1000 ms") {
		t.Fatalf("new file:\n%s", b)
	}
	if !strings.Contains(string(b), "2.00×") || !strings.Contains(string(b), "**missed**") {
		t.Errorf("ratio or verdict missing:\n%s", b)
	}
	// Another benchmark fills its section; re-running ours keeps it.
	sched := beginOf(secScheduler) + "\n## Scheduler\n\n| nodes | pods/s |\n" + endOf(secScheduler)
	if err := writeNamedSection(path, secScheduler, sched); err != nil {
		t.Fatal(err)
	}
	s2 := renderSection([]time.Duration{400 * time.Millisecond}, nil, []time.Duration{350 * time.Millisecond}, 30, 3, st)
	if err := writeNamedSection(path, secCommit, s2); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	doc := string(b)
	if !strings.Contains(doc, "| nodes | pods/s |") || strings.Contains(doc, "1000 ms") || strings.Count(doc, beginMarker) != 1 {
		t.Errorf("rewrite lost or duplicated a section:\n%s", doc)
	}
	// The skeleton's order holds.
	last := -1
	for _, name := range sectionOrder {
		i := strings.Index(doc, beginOf(name))
		if i < last {
			t.Errorf("section %s out of order:\n%s", name, doc)
		}
		last = i
	}
}

// The file as it was before sections other than commit-to-running had
// markers: a heading with a comment under it.
const placeholderDoc = `# Benchmarks

Intro.

<!-- BEGIN commit-to-running (devcluster bench) -->
## Commit to running

old numbers
<!-- END commit-to-running (devcluster bench) -->

## Scheduler

<!-- The scheduler's benchmark writes its table here: pods placed per second at
500 nodes/10k pods and 5,000 nodes/150k pods. -->

## Recovery

<!-- kill -9 an agent holding 10 pods → all 10 Running elsewhere (seconds). -->

## Failover

<!-- kill -9 the leader → the new leader's first plan (seconds); containers restarted (must be 0). -->

## Diff

<!-- ctl diff over 10,000 objects (seconds). -->
`

func TestSpliceSectionReplacesPlaceholders(t *testing.T) {
	doc := placeholderDoc
	for _, name := range []string{secDiff, secScheduler, secFailover, secRecovery} {
		sec := beginOf(name) + "\n## " + sectionTitles[name] + "\n\nmeasured " + name + "\n" + endOf(name)
		doc = spliceSection(doc, name, sec)
	}
	for _, name := range []string{secScheduler, secRecovery, secFailover, secDiff} {
		if strings.Count(doc, "## "+sectionTitles[name]+"\n") != 1 || strings.Count(doc, "measured "+name) != 1 {
			t.Errorf("section %s not replaced exactly once:\n%s", name, doc)
		}
	}
	if strings.Contains(doc, "<!-- kill") || strings.Contains(doc, "<!-- ctl diff") || !strings.Contains(doc, "old numbers") || !strings.HasPrefix(doc, "# Benchmarks\n\nIntro.") {
		t.Errorf("placeholders kept or other text lost:\n%s", doc)
	}
	want := []string{"## Commit to running", "## Scheduler", "## Recovery", "## Failover", "## Diff"}
	last := -1
	for _, h := range want {
		i := strings.Index(doc, h)
		if i < last {
			t.Errorf("%s out of order:\n%s", h, doc)
		}
		last = i
	}
	// Once marked, a second write replaces between the markers.
	again := spliceSection(doc, secRecovery, beginOf(secRecovery)+"\n## Recovery\n\nsecond\n"+endOf(secRecovery))
	if strings.Contains(again, "measured recovery") || !strings.Contains(again, "second") || !strings.Contains(again, "measured failover") {
		t.Errorf("second write:\n%s", again)
	}
	// A file without the section gets it at the end.
	if got := spliceSection("# Benchmarks\n", secDiff, "DIFF"); got != "# Benchmarks\n\nDIFF\n" {
		t.Errorf("appended: %q", got)
	}
}

func TestSpliceSectionInsertsInOrder(t *testing.T) {
	mark := func(name string) string { return beginOf(name) + "\n## " + sectionTitles[name] + "\n" + endOf(name) }
	doc := "# Benchmarks\n\n" + mark(secCommit) + "\n\n" + mark(secScheduler) + "\n\n" + mark(secRecovery) + "\n"
	// controlplane comes after the scheduler, before recovery.
	got := spliceSection(doc, secControlPlane, mark(secControlPlane))
	want := "# Benchmarks\n\n" + mark(secCommit) + "\n\n" + mark(secScheduler) + "\n\n" + mark(secControlPlane) + "\n\n" + mark(secRecovery) + "\n"
	if got != want {
		t.Errorf("after the scheduler:\n%s\nwant:\n%s", got, want)
	}
	// With no earlier section, before the nearest later one.
	got = spliceSection("# B\n\n"+mark(secDiff)+"\n", secFailover, mark(secFailover))
	if want := "# B\n\n" + mark(secFailover) + "\n\n" + mark(secDiff) + "\n"; got != want {
		t.Errorf("before diff:\n%s\nwant:\n%s", got, want)
	}
	// The skeleton lists every section in order.
	sk := skeleton()
	last := -1
	for _, name := range sectionOrder {
		i := strings.Index(sk, beginOf(name))
		if i < last {
			t.Errorf("skeleton: %s out of order", name)
		}
		last = i
	}
}

// schedTable is the scheduler's own output (reconcile/scheduler's
// BenchTable), as committed in docs/scheduler.md.
const schedTable = `| case | nodes | pods | placed | pending | wall s | pods/s (wall) | pods/s (CPU) | allocs/pod | bytes/pod |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| requests/500Nodes_10000Pods | 500 | 10000 | 10000 | 0 | 0.12 | 83321 | 165796 | 0.02 | 198 |
| antiAffinity/5000Nodes_150000Pods | 5000 | 150000 | 150000 | 0 | 18.53 | 8096 | 31925 | 1.47 | 416 |
| requests/5000Nodes_150000Pods | 5000 | 150000 | 150000 | 0 | 10.03 | 14952 | 60256 | 0.01 | 232 |
| steady/5000Nodes_150000Placed_1000Pods | 5000 | 1000 | 1000 | 0 | 0.10 | 10239 | 10688 | 1.10 | 12527 |
| nomad/5000Nodes_1200Pods | 5000 | 1200 | 1200 | 0 | 0.02 | 72612 | 67751 | 0.08 | 1114 |
| nomadSpread/5000Nodes_1200Pods | 5000 | 1200 | 1200 | 0 | 0.04 | 33359 | 33269 | 0.13 | 1173 |

GOMAXPROCS=2, linux/amd64, go1.26.8, load average 32.65 28.44 19. One Schedule call per case, placing every pod from scratch;
pods/s (CPU) divides by the process's CPU time, the fairer figure on a shared machine.
`

func TestParseSchedTable(t *testing.T) {
	rows, tbl, err := parseSchedTable(schedTable)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[2].name != "requests/5000Nodes_150000Pods" || rows[2].perSecWall != 14952 || rows[2].perSecCPU != 60256 ||
		rows[2].nodes != 5000 || rows[2].pods != 150000 || rows[3].bytesPerPod != 12527 {
		t.Errorf("rows = %+v", rows)
	}
	if !strings.HasPrefix(tbl, "| case |") || !strings.HasSuffix(tbl, "| 1173 |") {
		t.Errorf("table = %q", tbl)
	}
	for _, bad := range []string{"", "no table here", "| case | nodes |\n|---|---|\n| x | 1 |\n",
		strings.Replace(schedTable, "| 14952 |", "| fast |", 1)} {
		if _, _, err := parseSchedTable(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestRenderScheduler(t *testing.T) {
	s, err := renderScheduler(schedTable, newStamp())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		beginOf(secScheduler), endOf(secScheduler), "## Scheduler",
		"| requests/5000Nodes_150000Pods | 5000 | 150000 |", // the table itself
		// requests-only: wall 14,952 misses 20,000, CPU 60,256 meets it.
		"| 5,000 nodes, 150,000 pods, requests only | 14,952 | 60,256 | Kubernetes: 100–300 pods/s on real clusters, 680–810 in scheduler_perf | ≥ 20,000 | **missed** | met |",
		"| Nomad-shaped, no spread | 72,612 | 67,751 | Nomad: ~4,400–6,300 pods/s on these machines | ≥ 4× Nomad (25,200) | met | met |",
		"| Nomad-shaped, spread on rack | 33,359 | 33,269 |",
		"| slowest case (wall: antiAffinity/5000Nodes_150000Pods; CPU: steady/5000Nodes_150000Placed_1000Pods) | 8,096 | 10,688 |",
		"load average (1, 5, 15 min)", "CPUs", "GiB memory",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	if _, err := renderScheduler("garbage", newStamp()); err == nil {
		t.Error("no error for a missing table")
	}
}

func TestParseOnly(t *testing.T) {
	w, err := parseOnly("scheduler, diff")
	if err != nil || !w[secScheduler] || !w[secDiff] || w[secCommit] || len(w) != 2 {
		t.Errorf("parseOnly = %v, %v", w, err)
	}
	if w, err := parseOnly("all"); err != nil || len(w) != len(sectionOrder) {
		t.Errorf("all = %v, %v", w, err)
	}
	for _, bad := range []string{"", "sched", "diff,bogus"} {
		if _, err := parseOnly(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 25200: "25,200", 1234567.6: "1,234,568", -4500: "-4,500"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

// The generated revisions load, have the size asked for, and differ by
// exactly the changes counted.
func TestGenDiffRevisions(t *testing.T) {
	applied, next, ch := genDiffRevisions(1000)
	a, err := spec.Load(applied)
	if err != nil {
		t.Fatal(err)
	}
	n, err := spec.Load(next)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Objects) != 1000 {
		t.Errorf("applied has %d objects, want 1000", len(a.Objects))
	}
	if len(n.Objects) != 1000-ch.deleted+ch.created {
		t.Errorf("next has %d objects", len(n.Objects))
	}
	if ch.changedImage == 0 || ch.scaled == 0 || ch.deleted == 0 || ch.created != ch.deleted {
		t.Errorf("changes = %+v", ch)
	}
	changes := reconcile.Diff(a, n)
	if len(changes) != ch.total() {
		t.Errorf("Diff found %d changes, want %d", len(changes), ch.total())
	}
	started := 0
	for _, c := range changes {
		started += len(c.PodsStarted)
	}
	if started == 0 {
		t.Error("no workload change starts a pod")
	}
}

// benchDiff runs the real ctl binary against the stand-in revision server.
func TestBenchDiff(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../ctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ctl: %v\n%s", err, out)
	}
	var log strings.Builder
	s, err := benchDiff(context.Background(), bin, 500, &log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{beginOf(secDiff), endOf(secDiff), "## Diff", "`ctl diff --local`, 500 objects, end to end (wall) |",
		"in process: `reconcile.Diff`", "| ≤ 0.50 s |", "floor: `diff -ru`", "CPU time of the reconciler", "load average"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	if strings.Count(log.String(), "diff run ") != diffRuns {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestCountRestarted(t *testing.T) {
	t0 := time.Unix(100, 0)
	before := map[ctrKey]ctrState{
		{"u1", "a"}: {id: "c1", startedAt: t0},
		{"u2", "a"}: {id: "c2", startedAt: t0},
		{"u3", "a"}: {id: "c3", startedAt: t0},
		{"u4", "a"}: {id: "c4", startedAt: t0},
		{"u5", "a"}: {id: "c5", startedAt: t0, restarts: 1},
	}
	after := map[ctrKey]ctrState{
		{"u1", "a"}: {id: "c1", startedAt: t0},                  // untouched
		{"u2", "a"}: {id: "c2b", startedAt: t0},                 // new container
		{"u3", "a"}: {id: "c3", startedAt: t0.Add(time.Second)}, // started again
		{"u5", "a"}: {id: "c5", startedAt: t0, restarts: 2},     // restarted in place
		{"u9", "a"}: {id: "c9", startedAt: t0.Add(time.Hour)},   // new pods do not count
	} // u4 gone
	if got := countRestarted(before, after); got != 4 {
		t.Errorf("countRestarted = %d, want 4", got)
	}
	if got := countRestarted(before, before); got != 0 {
		t.Errorf("countRestarted(same) = %d", got)
	}
}

func TestRenderRecoveryAndFailover(t *testing.T) {
	st := newStamp()
	r := renderRecovery([]recoveryRun{
		{node: "n-1", held: 10, detected: 2 * time.Second, placed: 2100 * time.Millisecond, running: 3 * time.Second},
		{node: "n-2", held: 10, detected: 3 * time.Second, placed: 3100 * time.Millisecond, running: 5 * time.Second},
		{node: "n-3", held: 10, detected: 1 * time.Second, placed: 1100 * time.Millisecond, running: 4 * time.Second},
	}, 30, 3, st)
	for _, want := range []string{beginOf(secRecovery), endOf(secRecovery), "| 1 | n-1 | 10 | 2.00 s | 2.10 s | 3.00 s |",
		"| median | | | | | **4.00 s** (min 3.00 s, max 5.00 s) |", "p50 ≤ 5.00 s: met (median 4.00 s)", "load average"} {
		if !strings.Contains(r, want) {
			t.Errorf("recovery: missing %q in:\n%s", want, r)
		}
	}
	slow := renderRecovery([]recoveryRun{{node: "n-1", held: 10, running: 6 * time.Second}}, 30, 3, st)
	if !strings.Contains(slow, "p50 ≤ 5.00 s: **missed**") {
		t.Errorf("slow recovery not missed:\n%s", slow)
	}
	f := renderFailover([]failoverRun{
		{killed: "reconciler-1", leader: "reconciler-2", oldToken: 1, newToken: 2, leaderAt: 800 * time.Millisecond, plan: time.Second,
			running: 1500 * time.Millisecond, containers: 30, rejoin: 4 * time.Second},
		{killed: "reconciler-2", leader: "reconciler-3", oldToken: 2, newToken: 3, leaderAt: 900 * time.Millisecond, plan: 2 * time.Second,
			running: 2500 * time.Millisecond, containers: 30, restarted: 1},
		{killed: "reconciler-3", leader: "reconciler-1", oldToken: 3, newToken: 4, leaderAt: 700 * time.Millisecond, plan: 4 * time.Second,
			running: 4500 * time.Millisecond, containers: 30},
	}, 30, 3, 3, st)
	for _, want := range []string{beginOf(secFailover), endOf(secFailover),
		"| 1 | reconciler-1 | reconciler-2 | 1 → 2 | 0.80 s | 1.00 s | 1.50 s | 0 of 30 | 4.00 s |",
		"| median | | | | 0.80 s | **2.00 s** (min 1.00 s, max 4.00 s) | 2.50 s | **1 of 90** | |",
		"| first pod set of the new leader on every agent, p50 ≤ 3.00 s | 2.00 s | met |",
		"| containers restarted: 0 | 1 of 90 | **missed** |", "3 reconcilers form one raft group", "heartbeat timeout (500 ms",
		"load average"} {
		if !strings.Contains(f, want) {
			t.Errorf("failover: missing %q in:\n%s", want, f)
		}
	}
	f = renderFailover([]failoverRun{{oldToken: 1, newToken: 2, plan: 3100 * time.Millisecond, containers: 30}}, 30, 3, 3, st)
	if !strings.Contains(f, "| containers restarted: 0 | 0 of 30 | met |") || !strings.Contains(f, "| 3.10 s | **missed** |") {
		t.Errorf("failover without restarts, slow:\n%s", f)
	}
	if f := renderFailover(nil, 30, 3, 3, st); !strings.Contains(f, "| containers restarted: 0 | 0 of 0 | **missed** |") {
		t.Errorf("failover without runs:\n%s", f)
	}
}

// cpTable is a control plane table as reconcile/server's
// TestBenchControlPlane writes it.
const cpTable = `| step | wall | CPU | target |
|---|---|---|---|
| first plan: 150000 pods placed on 5000 nodes, committed (76.6 MB raft entry) | 16.879377s | 10.37922s |  |
| 2 s with nothing changed (plans run: 0; what CPU there is is the Go runtime returning freed heap to the kernel) | 2.000638s | 9.506ms | ≤ 10 ms CPU per 2 s tick |
| 5000 heartbeats that change nothing | 71.18ms | 64.043ms |  |
| sync of that commit (fetch, load, commit the revision) | 1.134277s | 784.281ms |  |
| plan + commit of one changed 100-replica Deployment, first after the start (builds the scheduler's state; 50414 B raft entry) | 781.5ms | 507.032ms |  |
| plan + commit of one changed 100-replica Deployment, warm (53015 B raft entry; worst of 3: 296ms) | 49.457ms | 39.768ms | ≤ 50 ms |
| one pod's status changed (a whole plan; 0 B committed) | 42.667ms | 42.222ms |  |
| heap in use after the run | 651 MB | | |
`

func TestParseCPTable(t *testing.T) {
	rows, tbl, err := parseCPTable("ok\n" + cpTable + "\nPASS\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 || !strings.HasPrefix(tbl, "| step |") || !strings.HasSuffix(tbl, "| heap in use after the run | 651 MB | | |") {
		t.Fatalf("rows %d, table:\n%s", len(rows), tbl)
	}
	if r := rows[1]; r.wall != 2000638*time.Microsecond || r.cpu != 9506*time.Microsecond {
		t.Errorf("idle row: %+v", r)
	}
	if r := rows[7]; r.wall != 0 || r.cpu != 0 || r.text != "651 MB" {
		t.Errorf("heap row: %+v", r)
	}
	warm, ok := findCPRow(rows, "plan + commit of one changed", "warm")
	if !ok || warm.wall != 49457*time.Microsecond || entryBytes(warm.step) != 53015 {
		t.Errorf("warm row: %+v %v", warm, ok)
	}
	if entryBytes("no entry here") != -1 {
		t.Error("entryBytes found bytes in no entry")
	}
	if _, _, err := parseCPTable("| case | nodes |\n|---|---|\n"); err == nil {
		t.Error("no error for a table without the step header")
	}
	if _, _, err := parseCPTable("| step | wall | CPU | target |\n|---|---|---|---|\n"); err == nil {
		t.Error("no error for a table without rows")
	}
}

func TestRenderControlPlane(t *testing.T) {
	s, err := renderControlPlane(cpTable, newStamp())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{beginOf(secControlPlane), "## Control plane at 5,000 nodes", endOf(secControlPlane),
		"| heap in use after the run | 651 MB | | |",
		"| CPU per 2 s tick with nothing changed ≤ 10.0 ms | 9.5 ms | met |",
		"planned and persisted (warm, wall) ≤ 50.0 ms | 49.5 ms (CPU 39.8 ms; worst of 3: 296ms) | met |",
		"| bytes written to the raft log per such commit | 53,015 B (530 B per changed pod) | no target |", "load average"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	slow := strings.Replace(cpTable, "| 2.000638s | 9.506ms |", "| 2.000638s | 91.506ms |", 1)
	slow = strings.Replace(slow, "| 49.457ms | 39.768ms |", "| 61ms | 39.768ms |", 1)
	s, err = renderControlPlane(slow, newStamp())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(s, "**missed**") != 2 {
		t.Errorf("want 2 targets missed:\n%s", s)
	}
	noWarm := strings.Replace(cpTable, ", warm (", ", hot (", 1)
	if _, err := renderControlPlane(noWarm, newStamp()); err == nil {
		t.Error("no error for a table without the warm commit row")
	}
}

func TestEvenlyRunning(t *testing.T) {
	mk := func(nodes ...string) []rapi.Pod {
		var ps []rapi.Pod
		for _, n := range nodes {
			var p rapi.Pod
			p.Node, p.Phase = n, "Running"
			ps = append(ps, p)
		}
		return ps
	}
	if !evenlyRunning(mk("a", "a", "b", "b"), 2, 2) {
		t.Error("even spread not seen")
	}
	if evenlyRunning(mk("a", "a", "a", "b"), 2, 2) || evenlyRunning(mk("a", "a"), 2, 2) || evenlyRunning(mk("", "", "b", "b"), 2, 2) {
		t.Error("uneven spread seen as even")
	}
	ps := mk("a", "b")
	ps[0].Phase = "Pending"
	if evenlyRunning(ps, 2, 1) {
		t.Error("a pending pod counted as running")
	}
}
