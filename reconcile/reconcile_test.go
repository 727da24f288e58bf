package reconcile

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func int32p(v int32) *int32 { return &v }

func podSpec(image, cpu string) spec.PodSpec {
	c := spec.Container{Name: "main", Image: image}
	if cpu != "" {
		c.Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse(cpu)}
	}
	return spec.PodSpec{Containers: []spec.Container{c}, RestartPolicy: spec.RestartPolicyAlways}
}

func deployment(ns, name string, replicas int32, image string) *spec.Deployment {
	labels := map[string]string{"app": name}
	return &spec.Deployment{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindDeployment},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: ns},
		Spec: spec.DeploymentSpec{
			Replicas: int32p(replicas),
			Selector: &spec.LabelSelector{MatchLabels: labels},
			Template: spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: labels}, Spec: podSpec(image, "10m")},
		},
	}
}

func bare(ns, name, image string) *spec.Pod {
	return &spec.Pod{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPod},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: ns},
		Spec:       podSpec(image, "10m"),
	}
}

func setOf(objs ...spec.Object) *spec.Set {
	s := spec.NewSet()
	for _, o := range objs {
		s.Objects[spec.KeyOf(o)] = o
	}
	return s
}

func nodes(n int) []NodeState {
	out := make([]NodeState, n)
	for i := range out {
		out[i] = NodeState{Alive: true, Info: api.NodeInfo{
			Name:        fmt.Sprintf("node-%03d", i),
			Allocatable: api.Resources{MilliCPU: 64000, Memory: 256 << 30, Pods: 500},
		}}
	}
	return out
}

func counter() func() string {
	n := 0
	return func() string { n++; return "uid-" + strconv.Itoa(n) }
}

// bigSet has pods pods: deployments of 10 replicas and a bare pod per 100.
func bigSet(pods int) *spec.Set {
	s := spec.NewSet()
	for i := 0; len(s.Objects)*10 < pods*10/11; i++ {
		d := deployment(fmt.Sprintf("ns-%d", i%7), fmt.Sprintf("app-%d", i), 10, fmt.Sprintf("img:%d", i))
		s.Objects[spec.KeyOf(d)] = d
	}
	for i := 0; i < pods/11; i++ {
		p := bare(fmt.Sprintf("ns-%d", i%7), fmt.Sprintf("pod-%d", i), "busybox")
		s.Objects[spec.KeyOf(p)] = p
	}
	return s
}

// runningStatuses reports every placed pod of out as running.
func runningStatuses(out Output) map[string][]api.PodStatus {
	obs := map[string][]api.PodStatus{}
	for node, pods := range out.PodSets {
		for _, p := range pods {
			obs[node] = append(obs[node], api.PodStatus{
				UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: node, Phase: api.PodRunning,
				Containers: []api.ContainerStatus{{Name: "main", Ready: true, State: api.ContainerState{Running: &api.StateRunning{StartedAt: t0}}}},
			})
		}
	}
	return obs
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExpandPods(t *testing.T) {
	d := deployment("web", "front", 3, "img:1")
	rc := &spec.ReplicationController{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindReplicationController},
		ObjectMeta: spec.ObjectMeta{Name: "old", Namespace: "web"},
		Spec:       spec.ReplicationControllerSpec{Template: &d.Spec.Template}, // replicas nil → 1
	}
	empty := &spec.ReplicationController{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindReplicationController},
		ObjectMeta: spec.ObjectMeta{Name: "empty", Namespace: "web"},
	}
	others := []spec.Object{
		&spec.Namespace{TypeMeta: spec.TypeMeta{Kind: spec.KindNamespace}, ObjectMeta: spec.ObjectMeta{Name: "web"}},
		&spec.PodTemplate{TypeMeta: spec.TypeMeta{Kind: spec.KindPodTemplate}, ObjectMeta: spec.ObjectMeta{Name: "t", Namespace: "web"}, Template: d.Spec.Template},
		&spec.Node{TypeMeta: spec.TypeMeta{Kind: spec.KindNode}, ObjectMeta: spec.ObjectMeta{Name: "n1"}},
	}
	p := bare("", "solo", "busybox")
	got := ExpandPods(setOf(append(others, d, rc, empty, p)...))
	hash := spec.TemplateHash(&d.Spec.Template)
	var names []string
	for _, dp := range got {
		names = append(names, dp.Key())
	}
	want := []string{"default/solo", "web/front-" + hash + "-0", "web/front-" + hash + "-1", "web/front-" + hash + "-2", "web/old-" + hash + "-0"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	f := got[1]
	if f.Owner != "Deployment/web/front" || f.Index != 0 || f.Hash != hash {
		t.Errorf("owner/index/hash = %q/%d/%q", f.Owner, f.Index, f.Hash)
	}
	if !reflect.DeepEqual(f.Labels, map[string]string{"app": "front", PodTemplateHashLabel: hash}) {
		t.Errorf("labels = %v", f.Labels)
	}
	if d.Spec.Template.Labels[PodTemplateHashLabel] != "" {
		t.Error("expansion wrote the hash label into the template")
	}
	if got[0].Owner != "" || got[0].Hash != SpecHash(&p.Spec) {
		t.Errorf("bare pod owner/hash = %q/%q", got[0].Owner, got[0].Hash)
	}
	if ExpandPods(nil) != nil {
		t.Error("ExpandPods(nil) is not empty")
	}
}

func TestPlanDeterministic(t *testing.T) {
	set := bigSet(1000)
	first := Plan(Input{Desired: set, Nodes: nodes(10), Now: t0, NewUID: counter()})
	obs := runningStatuses(first)
	in := func(ns []NodeState) Input {
		return Input{Desired: set, Nodes: ns, Observed: obs, Memory: first.Memory, Now: t0.Add(time.Minute), NewUID: counter()}
	}
	// A template change so that the second plan has real work to do.
	set.Objects[spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "ns-0", Name: "app-0"}] = deployment("ns-0", "app-0", 12, "img:new")
	a := Plan(in(nodes(10)))
	reversed := nodes(10)
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	for i := 0; i < 5; i++ {
		b := Plan(in(reversed))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("run %d: plans differ:\n%s\n%s", i, mustJSON(t, a.Events), mustJSON(t, b.Events))
		}
	}
	if len(a.Events) == 0 {
		t.Fatal("template change planned nothing")
	}
}

func TestPlanDoesNotMutateInput(t *testing.T) {
	set := setOf(deployment("default", "web", 3, "img:1"))
	out := Plan(Input{Desired: set, Nodes: nodes(2), Now: t0, NewUID: counter()})
	mem := maps.Clone(out.Memory.Pods)
	before := mustJSON(t, out.Memory)
	set.Objects[spec.KeyOf(deployment("default", "web", 0, ""))] = deployment("default", "web", 1, "img:2")
	Plan(Input{Desired: set, Nodes: nodes(2)[:1], Memory: out.Memory, Now: t0, NewUID: counter()})
	if mustJSON(t, out.Memory) != before || !reflect.DeepEqual(mem, out.Memory.Pods) {
		t.Fatal("Plan wrote to its input memory")
	}
}

func TestPlanStability(t *testing.T) {
	set := bigSet(500)
	ns := nodes(8)
	out := Plan(Input{Desired: set, Nodes: ns, Now: t0, NewUID: counter()})
	// Unrelated changes: a new deployment, a new node, another deleted.
	set.Objects[spec.KeyOf(deployment("other", "new", 20, "img:x"))] = deployment("other", "new", 20, "img:x")
	delete(set.Objects, spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "ns-1", Name: "app-1"})
	ns = append(ns, nodes(9)[8])
	next := Plan(Input{Desired: set, Nodes: ns, Observed: runningStatuses(out), Memory: out.Memory, Now: t0.Add(time.Minute), NewUID: counter()})
	moved := 0
	for key, rec := range out.Memory.Pods {
		after, ok := next.Memory.Pods[key]
		if !ok {
			if rec.Owner != "Deployment/ns-1/app-1" {
				t.Errorf("%s disappeared", key)
			}
			continue
		}
		if after.UID != rec.UID || after.Node != rec.Node || !after.Created.Equal(rec.Created) {
			moved++
		}
	}
	if moved != 0 {
		t.Fatalf("%d unrelated pods changed UID or node", moved)
	}
	if len(next.PodSets["node-008"]) == 0 {
		t.Error("the new node got none of the new pods")
	}
}

func TestMemoryRoundTrip(t *testing.T) {
	set := bigSet(300)
	out := Plan(Input{Desired: set, Nodes: nodes(5), Now: t0, NewUID: counter()})
	b, err := json.Marshal(out.Memory)
	if err != nil {
		t.Fatal(err)
	}
	var mem Memory
	if err := json.Unmarshal(b, &mem); err != nil {
		t.Fatal(err)
	}
	// A restarted reconciler: same revision and nodes, memory from disk.
	restarted := Plan(Input{
		Desired: set, Nodes: nodes(5), Observed: runningStatuses(out), Memory: mem, Now: t0.Add(time.Hour),
		NewUID: func() string { t.Fatal("restarted core created a pod"); return "" },
	})
	if len(restarted.Events) != 0 {
		t.Fatalf("restarted core planned changes: %s", mustJSON(t, restarted.Events))
	}
	if got, want := mustJSON(t, restarted.PodSets), mustJSON(t, out.PodSets); got != want {
		t.Fatal("restarted core's pod sets differ")
	}
	if got := mustJSON(t, restarted.Memory); got != string(b) {
		t.Fatal("restarted core's memory differs")
	}
}

func TestPlanUnloaded(t *testing.T) {
	out := Plan(Input{Desired: setOf(bare("default", "a", "x"), bare("default", "b", "x")), Nodes: nodes(2), Now: t0, NewUID: counter()})
	ns := nodes(2)
	ns[0].Alive = false
	un := Plan(Input{Nodes: ns, Memory: out.Memory, Now: t0, NewUID: counter()})
	if len(un.Events) != 0 || !reflect.DeepEqual(un.Memory, out.Memory) {
		t.Fatalf("unloaded plan changed memory: %s", mustJSON(t, un.Events))
	}
	if len(un.Pods) != 2 || len(un.PodSets) != 1 {
		t.Fatalf("unloaded plan views/sets: %s %s", mustJSON(t, un.Pods), mustJSON(t, un.PodSets))
	}
	for _, p := range un.Pods {
		lost := p.Node == "node-000"
		if lost != (p.Phase == api.PodUnknown && p.Reason == ReasonNodeLost) {
			t.Errorf("%s on %s: %s %s", p.Name, p.Node, p.Phase, p.Reason)
		}
		if inSet := len(un.PodSets["node-001"]) > 0 && un.PodSets["node-001"][0].Name == p.Name; inSet == lost {
			t.Errorf("%s on %s: in node-001's set: %v", p.Name, p.Node, inSet)
		}
	}
}

func TestDerivedUIDs(t *testing.T) {
	out := Plan(Input{Desired: bigSet(100), Nodes: nodes(3), Now: t0})
	seen := map[string]bool{}
	for _, r := range out.Memory.Pods {
		if len(r.UID) != 36 || seen[r.UID] {
			t.Fatalf("bad or duplicate derived UID %q", r.UID)
		}
		seen[r.UID] = true
	}
	again := Plan(Input{Desired: bigSet(100), Nodes: nodes(3), Now: t0})
	if !reflect.DeepEqual(out.Memory, again.Memory) {
		t.Fatal("derived UIDs are not deterministic")
	}
}

func TestScale(t *testing.T) {
	set := bigSet(10000)
	out := Plan(Input{Desired: set, Nodes: nodes(100), Now: t0, NewUID: counter()})
	if len(out.Pods) < 9900 {
		t.Fatalf("planned %d pods", len(out.Pods))
	}
	minN, maxN := len(out.Pods), 0
	for _, pods := range out.PodSets {
		minN, maxN = min(minN, len(pods)), max(maxN, len(pods))
	}
	// How evenly is the scheduler's business; that it spreads at all is the
	// core's (every alive node gets a set and a share).
	if len(out.PodSets) != 100 || minN == 0 || maxN > 2*len(out.Pods)/100 {
		t.Fatalf("unbalanced: %d nodes, %d..%d pods per node", len(out.PodSets), minN, maxN)
	}
	for _, p := range out.Pods {
		if p.Node == "" {
			t.Fatalf("%s/%s unplaced: %s", p.Namespace, p.Name, p.Message)
		}
	}
}

func TestDiff(t *testing.T) {
	web := deployment("default", "web", 2, "img:1")
	web3 := deployment("default", "web", 3, "img:1")
	gone := bare("default", "gone", "x")
	same := bare("default", "same", "x")
	// The same object written differently: 1 CPU as "1000m", nil vs empty env.
	same2 := bare("default", "same", "x")
	same2.Spec.Containers[0].Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse("0.01")}
	same2.Spec.Containers[0].Env = []spec.EnvVar{}
	relabel := bare("default", "relabel", "x")
	relabel2 := bare("default", "relabel", "x")
	relabel2.Labels = map[string]string{"tier": "db"}
	respec := bare("default", "respec", "x")
	respec2 := bare("default", "respec", "y")
	added := bare("default", "added", "x")

	changes := Diff(setOf(web, gone, same, relabel, respec), setOf(web3, same2, relabel2, respec2, added))
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s +%v -%v", c.Action, c.Key, c.PodsStarted, c.PodsStopped))
	}
	h := spec.TemplateHash(&web.Spec.Template)
	want := []string{
		"changed Deployment/default/web +[default/web-" + h + "-2] -[]",
		"created Pod/default/added +[default/added] -[]",
		"deleted Pod/default/gone +[] -[default/gone]",
		"changed Pod/default/relabel +[] -[]",
		"changed Pod/default/respec +[default/respec] -[default/respec]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The field-level rendering has its own tests (diff_test.go).
	if f := changes[0].Fields; len(f) != 1 || f[0] != (FieldChange{Path: "spec.replicas", Op: FieldChanged, Old: "2", New: "3"}) {
		t.Errorf("fields of the scaled Deployment: %+v", f)
	}
	if !strings.HasPrefix(changes[1].Diff, "--- /dev/null\n+++ b/Pod/default/added\n") || !strings.HasPrefix(changes[2].Diff, "--- a/Pod/default/gone\n+++ /dev/null\n") {
		t.Errorf("created or deleted objects are not shown whole:\n%s\n%s", changes[1].Diff, changes[2].Diff)
	}
	if Diff(nil, nil) != nil || len(Diff(nil, setOf(web))) != 1 || Diff(setOf(web), nil)[0].Action != ActionDeleted {
		t.Error("nil sets")
	}
}

// BenchmarkPlan measures a plan over 10,000 pods on 100 nodes: the first
// (every pod new and scheduled) and a steady one (all placed and running).
func BenchmarkPlan(b *testing.B) {
	set := bigSet(10000)
	first := Plan(Input{Desired: set, Nodes: nodes(100), Now: t0, NewUID: counter()})
	obs := runningStatuses(first)
	b.Run("first", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			Plan(Input{Desired: set, Nodes: nodes(100), Now: t0, NewUID: counter()})
		}
	})
	b.Run("steady", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			Plan(Input{Desired: set, Nodes: nodes(100), Observed: obs, Memory: first.Memory, Now: t0, NewUID: counter()})
		}
	})
}

// BenchmarkDiff measures Diff over 10,000 objects of which 100 changed.
func BenchmarkDiff(b *testing.B) {
	a, n := spec.NewSet(), spec.NewSet()
	for i := 0; i < 10000; i++ {
		var o spec.Object = bare("ns", fmt.Sprintf("p-%d", i), "img:1")
		if i%10 == 0 {
			o = deployment("ns", fmt.Sprintf("d-%d", i), 3, "img:1")
		}
		a.Objects[spec.KeyOf(o)] = o
		if i%100 == 0 {
			o = bare("ns", fmt.Sprintf("p-%d", i), "img:2")
		}
		n.Objects[spec.KeyOf(o)] = o
	}
	defer reportCPU(b)()
	for b.Loop() {
		Diff(a, n)
	}
}

// reportCPU adds the process's CPU time (user+system, GC included) per op
// to a benchmark: on a machine shared with other work, wall time per op
// measures the neighbours as much as the code.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
		}
	}
}

func TestDuplicatePodNameIsStable(t *testing.T) {
	d := deployment("default", "web", 1, "img:1")
	clash := bare("default", "web-"+spec.TemplateHash(&d.Spec.Template)+"-0", "other")
	set := setOf(d, clash)
	out := Plan(Input{Desired: set, Nodes: nodes(1), Now: t0, NewUID: counter()})
	for i := 0; i < 3; i++ {
		next := Plan(Input{Desired: set, Nodes: nodes(1), Memory: out.Memory, Now: t0, NewUID: counter()})
		if len(next.Events) != 0 {
			t.Fatalf("plan %d flips the clashing pod: %s", i, mustJSON(t, next.Events))
		}
	}
	if len(out.Pods) != 1 || out.Pods[0].Owner != "" {
		t.Fatalf("want the bare pod to win: %s", mustJSON(t, out.Pods))
	}
}

func TestTemplateHashCanonicalQuantities(t *testing.T) {
	a, b := deployment("d", "w", 1, "img"), deployment("d", "w", 1, "img")
	a.Spec.Template.Spec.Containers[0].Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse("0.25")}
	b.Spec.Template.Spec.Containers[0].Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse("250m")}
	if spec.TemplateHash(&a.Spec.Template) != spec.TemplateHash(&b.Spec.Template) {
		t.Fatal(`"0.25" and "250m" CPUs name different pods`)
	}
}

// TestNodeGrace: a node that left but is in grace keeps its pods (same
// UIDs, shown Unknown) and gets nothing new, even past AbsentNodesLost;
// the same node not in grace loses them.
func TestNodeGrace(t *testing.T) {
	set := setOf(deployment("default", "web", 6, "img:1"))
	ns := nodes(3)
	first := Plan(Input{Desired: set, Nodes: ns, Now: t0, NewUID: counter()})
	gone := ns[1].Info.Name
	var on []string
	for _, p := range first.PodSets[gone] {
		on = append(on, p.UID)
	}
	if len(on) == 0 {
		t.Fatalf("no pod placed on %s: %s", gone, mustJSON(t, first.PodSets))
	}
	leaving := append([]NodeState(nil), ns...)
	leaving[1].Alive, leaving[1].Grace = false, true
	// One more replica arrives while the node is away.
	set2 := setOf(deployment("default", "web", 7, "img:1"))
	in := Input{Desired: set2, Nodes: leaving, Observed: runningStatuses(first), Memory: first.Memory,
		Now: t0.Add(time.Minute), NewUID: counter(), AbsentNodesLost: true}
	in.NewUID = func() string { return "new" }
	out := Plan(in)
	for _, uid := range on {
		var found *PodView
		for i := range out.Pods {
			if out.Pods[i].UID == uid {
				found = &out.Pods[i]
			}
		}
		if found == nil || found.Node != gone || found.Phase != api.PodUnknown {
			t.Fatalf("pod %s of a node in grace: %s", uid, mustJSON(t, found))
		}
	}
	if _, ok := out.PodSets[gone]; ok {
		t.Fatalf("a node in grace got a pod set: %s", mustJSON(t, out.PodSets[gone]))
	}
	for _, p := range out.Pods {
		if p.UID == "new" && p.Node == gone {
			t.Fatalf("new pod placed on a node in grace")
		}
	}
	// Past the grace: the same pods move.
	leaving[1].Grace = false
	in.Nodes = leaving
	moved := Plan(in)
	for _, p := range moved.Pods {
		if p.Node == gone {
			t.Fatalf("pod %s still on a lost node", p.Name)
		}
	}
}

// TestDrainLeavesSucceededPods: a NoExecute taint (ctl drain) evicts a
// running pod but not one that ran to completion: running it again
// elsewhere would repeat its work.
func TestDrainLeavesSucceededPods(t *testing.T) {
	done, running := bare("default", "done", "img:1"), bare("default", "busy", "img:1")
	done.Spec.RestartPolicy = spec.RestartPolicyOnFailure
	ns := nodes(2)
	in := Input{Desired: setOf(done, running), Nodes: ns, Now: t0, NewUID: counter()}
	out := Plan(in)
	in.Memory = out.Memory
	in.Observed = map[string][]api.PodStatus{}
	for _, p := range out.Pods {
		phase := api.PodRunning
		if p.Name == "done" {
			phase = api.PodSucceeded
		}
		in.Observed[p.Node] = append(in.Observed[p.Node], api.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: p.Node, Phase: phase})
	}
	before := map[string]PodRecord{}
	for k, r := range out.Memory.Pods {
		before[k] = r
	}
	// Drain both nodes.
	for i := range in.Nodes {
		in.Nodes[i].Info.Taints = []spec.Taint{{Key: "stevedore.dev/drained", Effect: spec.TaintEffectNoExecute}}
	}
	out = Plan(in)
	if got := out.Memory.Pods["default/done"]; got.UID != before["default/done"].UID {
		t.Errorf("the succeeded pod was evicted: uid %s → %s", before["default/done"].UID, got.UID)
	}
	if got := out.Memory.Pods["default/busy"]; got.UID == before["default/busy"].UID {
		t.Errorf("the running pod was not evicted")
	}
}
