package server

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	"k8s.io/apimachinery/pkg/api/resource"
)

// bigYAML is a Deployment whose pods fit on no fake agent (8 GiB each).
const bigYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: big
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: big}
  template:
    metadata:
      labels: {app: big}
    spec:
      containers:
      - name: big
        image: registry.local/big:1
        resources:
          requests: {memory: 16Gi}
          limits: {memory: 16Gi, cpu: "2"}
`

// TestDescribePod describes a running pod and an unschedulable one through
// the API, against real serf members and fake agents.
func TestDescribePod(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web and big", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(2, "registry.local/hello:1"), "apps/big.yaml": bigYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var running, pending api.Pod
	waitFor(t, 10*time.Second, "2 web pods Running and big Unschedulable on 2 nodes", func() bool {
		pods, err := cl.Pods(ctx, "shop")
		if err != nil || len(pods) != 3 {
			return false
		}
		n := 0
		for _, p := range pods {
			switch {
			case strings.HasPrefix(p.Name, "web-") && p.Phase == agentapi.PodRunning:
				running = p
				n++
			case strings.HasPrefix(p.Name, "big-") && strings.HasPrefix(p.Message, "0/2 nodes"):
				pending = p
				n++
			}
		}
		return n == 3
	})

	d, err := cl.DescribePod(ctx, "shop", running.Name)
	if err != nil {
		t.Fatal(err)
	}
	if d.Pod.UID != running.UID || d.Pod.Node == "" || d.Pod.Status == nil || len(d.Pod.Status.Containers) != 1 ||
		d.Pod.Status.Containers[0].State.Running == nil || d.Pod.Created.IsZero() || d.Scheduling != nil {
		t.Errorf("describe running pod = %+v", d)
	}
	var scheduled bool
	for _, e := range d.Events {
		if e.Object != "Pod/shop/"+running.Name {
			t.Errorf("event %+v is not about the pod", e)
		}
		scheduled = scheduled || e.Reason == reconcile.EventScheduled && strings.HasSuffix(e.Message, " to "+d.Pod.Node)
	}
	if !scheduled {
		t.Errorf("events %+v lack the Scheduled one", d.Events)
	}

	d, err = cl.DescribePod(ctx, "shop", pending.Name)
	if err != nil {
		t.Fatal(err)
	}
	want := "0/2 nodes are available: 2 Insufficient memory."
	if d.Pod.Reason != reconcile.ReasonUnschedulable || d.Pod.Message != want {
		t.Errorf("pending pod reason = %q %q", d.Pod.Reason, d.Pod.Message)
	}
	sc := d.Scheduling
	if sc == nil || sc.Reason != want || sc.Node != "" || sc.Error != "" || len(sc.Nodes) != 2 {
		t.Fatalf("scheduling = %+v, want %q with 2 nodes", sc, want)
	}
	for i, name := range []string{"node-a", "node-b"} {
		v := sc.Nodes[i]
		if v.Node != name || v.Filter != "NodeResourcesFit" || !reflect.DeepEqual(v.Reasons, []string{"Insufficient memory"}) || v.Scores != nil {
			t.Errorf("verdict %d = %+v, want %s refused for memory", i, v, name)
		}
	}
	var failed bool
	for _, e := range d.Events {
		failed = failed || e.Reason == reconcile.EventFailedScheduling && e.Message == want
	}
	if !failed {
		t.Errorf("events %+v lack FailedScheduling", d.Events)
	}

	if _, err := cl.DescribePod(ctx, "shop", "nope"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "shop/nope not found") {
		t.Errorf("describe unknown pod = %v, want a 404 naming it", err)
	}
}

// TestExplain checks the explanation against the core's view of nodes: dead
// nodes are left out, a Node object in Git cordons, placed pods count.
func TestExplain(t *testing.T) {
	desired, err := spec.Load(map[string][]byte{"node.yaml": []byte("apiVersion: v1\nkind: Node\nmetadata:\n  name: node-b\nspec:\n  unschedulable: true\n")})
	if err != nil {
		t.Fatal(err)
	}
	alloc := agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}
	nodes := []reconcile.NodeState{
		{Info: agentapi.NodeInfo{Name: "node-a", Allocatable: alloc}, Alive: true},
		{Info: agentapi.NodeInfo{Name: "node-b", Allocatable: alloc}, Alive: true},
		{Info: agentapi.NodeInfo{Name: "node-c", Allocatable: alloc}, Alive: false},
		{Info: agentapi.NodeInfo{Name: "node-d", Allocatable: alloc}, Alive: true},
	}
	withMem := func(mem string) spec.PodSpec {
		return spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "x:1", Resources: spec.Resources{
			Requests: spec.ResourceList{"memory": resource.MustParse(mem)}}}}}
	}
	mem := map[string]reconcile.PodRecord{
		"shop/hog": {Namespace: "shop", Name: "hog", Node: "node-d", Spec: withMem("7Gi")},
		"shop/new": {Namespace: "shop", Name: "new", Spec: withMem("2Gi")},
	}
	rec := mem["shop/new"]
	sc := explain(scheduler.Config{}, nodes, desired, mem, &rec)
	if sc.Error != "" || sc.Node != "node-a" || sc.Reason != "" || len(sc.Nodes) != 3 {
		t.Fatalf("explain a pod that fits = %+v", sc)
	}
	if v := sc.Nodes[0]; v.Node != "node-a" || len(v.Reasons) != 0 || v.Filter != "" || v.Total <= 0 || v.Scores["LeastAllocated"] <= 0 {
		t.Errorf("best node = %+v, want node-a with scores", v)
	}
	if v := sc.Nodes[1]; v.Node != "node-b" || v.Filter != "NodeUnschedulable" || !reflect.DeepEqual(v.Reasons, []string{"node(s) were unschedulable"}) {
		t.Errorf("second verdict = %+v, want node-b cordoned by its Node object", v)
	}
	if v := sc.Nodes[2]; v.Node != "node-d" || !reflect.DeepEqual(v.Reasons, []string{"Insufficient memory"}) {
		t.Errorf("third verdict = %+v, want node-d full of hog", v)
	}

	rec.Spec = withMem("1Gi")
	rec.Spec.SchedulerName = "nope"
	if sc := explain(scheduler.Config{}, nodes, desired, mem, &rec); sc.Error == "" || !strings.Contains(sc.Error, `"nope"`) || len(sc.Nodes) != 0 {
		t.Errorf("explain with an unknown profile = %+v", sc)
	}
	rec.Spec = withMem("9Gi")
	sc = explain(scheduler.Config{}, nodes, desired, mem, &rec)
	if want := "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory."; sc.Node != "" || sc.Reason != want || len(sc.Nodes) != 3 {
		t.Errorf("explain a pod that fits nowhere = %+v, want %q", sc, want)
	}
}

// TestDiffPlacements checks that GET and POST /v1/diff report where the
// pods a sync would start land, from one dry run that changes nothing.
func TestDiffPlacements(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo, _, s, a, b := webOnTwoAgents(t, log)
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor(t, 10*time.Second, "one web pod on each agent", func() bool { return len(a.last().Pods) == 1 && len(b.last().Pods) == 1 })

	files := map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(4, "registry.local/hello:1"), "apps/big.yaml": bigYAML}
	repo.commit("web: 4 replicas, and big", files)
	// A diff is a dry run: it appends nothing to the raft log.
	memBefore := s.store.peek().index
	setsA, setsB := a.setCount(), b.setCount()

	got, err := cl.Diff(ctx)
	if err != nil || got.Error != nil || len(got.Changes) != 2 {
		t.Fatalf("GET diff = %+v, %v; want 2 changes", got, err)
	}
	byPod := map[string]api.PodPlacement{}
	for _, p := range got.Placements {
		byPod[p.Pod] = p
	}
	var started []string
	for _, ch := range got.Changes {
		started = append(started, ch.PodsStarted...)
	}
	if len(started) != 3 || len(got.Placements) != 3 {
		t.Fatalf("started %v, placements %+v; want 3 of each", started, got.Placements)
	}
	nodes := map[string]bool{}
	for _, key := range started {
		p, ok := byPod[key]
		switch {
		case !ok:
			t.Errorf("no placement for %s", key)
		case strings.HasPrefix(key, "shop/big-"):
			if p.Node != "" || p.Reason != reconcile.ReasonUnschedulable || p.Message != "0/2 nodes are available: 2 Insufficient memory." {
				t.Errorf("big placement = %+v, want Pending for memory", p)
			}
		default:
			if p.Node != "node-a" && p.Node != "node-b" || p.Reason != "" {
				t.Errorf("web placement = %+v", p)
			}
			nodes[p.Node] = true
		}
	}
	if len(nodes) != 2 {
		t.Errorf("the 2 new web pods go to %v, want one on each node (least allocated)", nodes)
	}

	raw := map[string][]byte{}
	for k, v := range files {
		raw[k] = []byte(v)
	}
	posted, err := cl.DiffFiles(ctx, raw)
	if err != nil || posted.Error != nil || posted.Head != nil {
		t.Fatalf("POST diff = %+v, %v", posted, err)
	}
	if !reflect.DeepEqual(posted.Changes, got.Changes) || !reflect.DeepEqual(posted.Placements, got.Placements) ||
		posted.Applied == nil || posted.Applied.Hash != got.Applied.Hash {
		t.Errorf("POST diff differs from GET:\n%+v\n%+v", posted, got)
	}
	// A Service a sync would refuse for its address is refused by the diff
	// too, with its file.
	badSvc := maps.Clone(raw)
	badSvc["apps/svc.yaml"] = []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  clusterIP: 10.97.0.1\n  ports:\n  - port: 80\n")
	if res, err := cl.DiffFiles(ctx, badSvc); err != nil || res.Error == nil || !strings.Contains(res.Error.Message, "apps/svc.yaml:1: Service shop/web: spec.clusterIP: 10.97.0.1 is not a host address of the service CIDR") {
		t.Errorf("POST diff of a Service outside the service CIDR = %+v, %v", res.Error, err)
	}

	// Nothing was persisted or pushed, and the API still shows 2 pods.
	time.Sleep(100 * time.Millisecond)
	memAfter := s.store.peek().index
	if err != nil {
		t.Fatal(err)
	}
	if memAfter != memBefore || a.setCount() != setsA || b.setCount() != setsB {
		t.Errorf("a diff changed state: raft index %d→%d, sets %d→%d, %d→%d", memBefore, memAfter, setsA, a.setCount(), setsB, b.setCount())
	}
	if pods, err := cl.Pods(ctx, "shop"); err != nil || len(pods) != 2 {
		t.Errorf("pods after the diffs = %d, %v; want 2", len(pods), err)
	}

	// The applied revision's documents are cached by the sync and reused
	// by a diff: unchanged objects are the applied ones, so posting the
	// applied files changes nothing and plans nothing.
	applied, appliedSet := s.store.appRevision("")
	if s.store.docCache("").Len() == 0 {
		t.Error("the sync left no document cache")
	}
	reloaded, _, err := render.LoadCached(raw, s.store.docCache(""))
	nsKey := spec.ObjectKey{Kind: spec.KindNamespace, Name: "shop"}
	if err != nil || reloaded.Objects[nsKey] != appliedSet.Objects[nsKey] {
		t.Errorf("the unchanged Namespace was decoded again (%v)", err)
	}
	same, err := cl.DiffFiles(ctx, applied.Files)
	if err != nil || same.Error != nil || len(same.Changes) != 0 || same.Placements != nil {
		t.Errorf("POST diff of the applied files = %+v, %v; want nothing", same, err)
	}

	// A Deployment in a deprecated apiVersion loads, with a warning that
	// names its file, line and object (docs/deprecation.md).
	legacy := maps.Clone(raw)
	legacy["apps/web.yaml"] = []byte(strings.Replace(deploymentYAML(4, "x:1"), "apiVersion: apps/v1", "apiVersion: extensions/v1beta1", 1))
	if res, err := cl.DiffFiles(ctx, legacy); err != nil || res.Error != nil || len(res.Warnings) != 1 ||
		!strings.HasPrefix(res.Warnings[0], "apps/web.yaml:1: Deployment shop/web: extensions/v1beta1 Deployment is deprecated") {
		t.Errorf("POST diff of an extensions/v1beta1 Deployment = %+v, %v", res, err)
	}
	if len(posted.Warnings) != 0 {
		t.Errorf("apps/v1 files warned: %q", posted.Warnings)
	}

	raw["apps/web.yaml"] = []byte(strings.Replace(deploymentYAML(4, "x:1"), "  replicas: 4", "  replicaz: 4", 1))
	bad, err := cl.DiffFiles(ctx, raw)
	if err != nil || bad.Error == nil || bad.Error.Stage != api.StageLoad || len(bad.Changes) != 0 || bad.Placements != nil {
		t.Fatalf("POST diff of bad files = %+v, %v", bad, err)
	}
	if e := bad.Error.Entries; len(e) == 0 || e[0].File != "apps/web.yaml" || e[0].Line == 0 {
		t.Errorf("entries = %+v, want apps/web.yaml:line", e)
	}
	resp, err := http.Post(s.APIURL()+api.PathDiff, "application/json", strings.NewReader(`{"filez": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST diff with an unknown field = %d, want 400", resp.StatusCode)
	}
}
