package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func init() { now = func() time.Time { return t0 } }

// fakeReconciler serves canned answers of the reconciler API.
type fakeReconciler struct {
	mu       sync.Mutex
	pods     [][]api.Pod // successive answers to GET /v1/pods; the last repeats
	podCalls int
	status   api.Status
	diff     api.DiffResult
	revision api.Revision
	sync     api.SyncResult
	wl       []api.Workload
	nodes    []api.Node
	nss      []api.Namespace
	events   []api.Event
	apps     []api.Application
	// services and endpoints answer GET /v1/services and /v1/endpoints
	// (services.go); svcDescribe GET /v1/services/NS/NAME.
	services    []api.Service
	endpoints   []api.Endpoints
	svcDescribe map[string]api.ServiceDescription
	// storage answers the configuration and storage paths (storage_test.go).
	storage storageAnswers
	// watches are the scripts of successive watch streams: each is sent,
	// then the stream ends, except the last, which stays open.
	watches   [][]api.WatchEvent
	watchOpen int
	describe  map[string]api.PodDescription // by "namespace/name"
	posted    map[string][]byte             // files of the last POST /v1/diff
	lastPath  string
	paths     []string // every request's URL, in order
	// unavailable answers 503 to everything, as a reconciler shutting down.
	unavailable bool
	actions     []string // "cordon node-a", … in order
}

func (f *fakeReconciler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get(api.QueryWatch) != "" {
		f.serveWatch(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastPath = r.URL.String()
	f.paths = append(f.paths, f.lastPath)
	if f.unavailable {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(api.Error{Error: "reconciler is shutting down", Code: api.CodeUnavailable})
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, api.PathNodes+"/"); ok && r.Method == http.MethodPost {
		f.nodeAction(w, rest)
		return
	}
	var v any
	if rest, ok := strings.CutPrefix(r.URL.Path, api.PathPods+"/"); ok {
		d, found := f.describe[rest]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "pod " + rest + " not found", Code: api.CodeNotFound})
			return
		}
		json.NewEncoder(w).Encode(d)
		return
	}
	if f.serveServices(w, r) || f.serveStorage(w, r) {
		return
	}
	if r.URL.Path == api.PathDiff && r.Method == http.MethodPost {
		v = f.diffFiles(r)
		json.NewEncoder(w).Encode(v)
		return
	}
	switch r.URL.Path {
	case api.PathPods:
		// Paged as the reconciler pages (limit, continue), the token the
		// index of the next pod; the pages of one walk are of one answer.
		q := r.URL.Query()
		start, _ := strconv.Atoi(q.Get(api.QueryContinue))
		if start == 0 {
			f.podCalls++
		}
		i := min(f.podCalls-1, len(f.pods)-1)
		var out []api.Pod
		for _, p := range f.pods[i] {
			if ns := q.Get("namespace"); ns == "" || p.Namespace == ns {
				out = append(out, p)
			}
		}
		l := api.PodList{Pods: out[min(start, len(out)):]}
		if limit, _ := strconv.Atoi(q.Get(api.QueryLimit)); limit > 0 && limit < len(l.Pods) {
			l.Pods, l.Continue = l.Pods[:limit], strconv.Itoa(start+limit)
		}
		v = l
	case api.PathStatus:
		v = f.status
	case api.PathDiff:
		v = f.diff
	case api.PathRevision:
		v = f.revision
	case api.PathSync:
		v = f.sync
	case api.PathDeployments:
		v = api.WorkloadList{Workloads: f.wl}
	case api.PathNodes:
		v = api.NodeList{Nodes: f.nodes}
	case api.PathNamespaces:
		v = api.NamespaceList{Namespaces: f.nss}
	case api.PathEvents:
		q := r.URL.Query()
		l := api.EventList{Events: []api.Event{}}
		for _, e := range f.events {
			if api.EventMatches(&e, q.Get("namespace"), q.Get(api.QueryObject)) {
				l.Events = append(l.Events, e)
			}
		}
		v = l
	case api.PathApplications:
		v = api.ApplicationList{Applications: f.apps}
	case api.PathLogs:
		if r.URL.Query().Get("pod") != "web-1" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "pod not found", Code: api.CodeNotFound})
			return
		}
		w.Write([]byte("hello from " + r.URL.Query().Get("container") + "\n"))
		return
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	json.NewEncoder(w).Encode(v)
}

// diffFiles answers POST /v1/diff as the reconciler does, minus the dry
// run: every started pod is placed on "node-x", or Pending when its name
// contains "big".
func (f *fakeReconciler) diffFiles(r *http.Request) api.DiffResult {
	var req api.DiffRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return api.DiffResult{Error: &api.SyncError{Stage: api.StageLoad, Message: err.Error()}}
	}
	f.posted = req.Files
	res := api.DiffResult{Applied: f.revision.Commit}
	base, err := render.Load(f.revision.Files)
	if err != nil {
		return api.DiffResult{Error: &api.SyncError{Stage: api.StageLoad, Message: err.Error()}}
	}
	next, err := render.Load(req.Files)
	if err != nil {
		return api.DiffResult{Error: &api.SyncError{Stage: api.StageLoad, Message: err.Error(), Entries: api.EntriesFromError(err)}}
	}
	// The fake diffs with the core, as the reconciler does.
	for _, ch := range reconcile.Diff(base, next) {
		res.Changes = append(res.Changes, wireChange(ch))
	}
	for _, ch := range res.Changes {
		for _, p := range ch.PodsStarted {
			if strings.Contains(p, "big") {
				res.Placements = append(res.Placements, api.PodPlacement{Pod: p, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient memory."})
			} else {
				res.Placements = append(res.Placements, api.PodPlacement{Pod: p, Node: "node-x"})
			}
		}
	}
	return res
}

// wireChange converts a change of the core as reconcile/server does.
func wireChange(ch reconcile.ObjectChange) api.ObjectChange {
	w := api.ObjectChange{Key: ch.Key, Action: ch.Action, Diff: ch.Diff, PodsStarted: ch.PodsStarted, PodsStopped: ch.PodsStopped}
	for _, f := range ch.Fields {
		w.Fields = append(w.Fields, api.FieldChange(f))
	}
	return w
}

func startFake(t *testing.T, f *fakeReconciler) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// ctl runs the command and returns its exit code, stdout and stderr.
func ctl(t *testing.T, server string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == EnvServer {
			return server
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errOut, env)
	return code, out.String(), errOut.String()
}

func running(name, node, ip string, restarts int32) api.Pod {
	return api.Pod{
		PodView: api.PodView{
			UID: "uid-" + name, Namespace: "shop", Name: name, Owner: "Deployment/shop/web", Node: node, Phase: agentapi.PodRunning, PodIP: ip,
			Spec: spec.PodSpec{Containers: []spec.Container{{Name: "web", Image: "hello:1"}}},
			Status: &agentapi.PodStatus{Phase: agentapi.PodRunning, Containers: []agentapi.ContainerStatus{{
				Name: "web", Ready: true, RestartCount: restarts, State: agentapi.ContainerState{Running: &agentapi.StateRunning{}},
			}}},
			Created: t0.Add(-90 * time.Second),
		},
	}
}

func waiting(name, node, reason string) api.Pod {
	p := running(name, node, "", 0)
	p.Phase = agentapi.PodPending
	p.Status.Phase = agentapi.PodPending
	p.Status.Containers[0].Ready = false
	p.Status.Containers[0].State = agentapi.ContainerState{Waiting: &agentapi.StateWaiting{Reason: reason, Message: "back-off pulling image"}}
	p.Created = t0.Add(-5 * time.Hour)
	return p
}

func unschedulable(name string) api.Pod {
	p := running(name, "", "", 0)
	p.Phase, p.Status = agentapi.PodPending, nil
	p.Reason, p.Message = "Unschedulable", "0/3 nodes are available: 3 Insufficient memory."
	return p
}

func TestGetPods(t *testing.T) {
	f := &fakeReconciler{pods: [][]api.Pod{{
		running("web-1", "node-a", "10.88.0.2", 0),
		running("web-2", "node-b", "10.88.1.2", 3),
		waiting("web-3", "node-c", agentapi.ReasonCrashLoopBackOff),
		unschedulable("web-4"),
	}}}
	url := startFake(t, f)
	code, out, errOut := ctl(t, url, "get", "pods", "-n", "shop")
	want := `NAME    READY   STATUS             RESTARTS   NODE     IP          AGE
web-1   1/1     Running            0          node-a   10.88.0.2   90s
web-2   1/1     Running            3          node-b   10.88.1.2   90s
web-3   0/1     CrashLoopBackOff   0          node-c   <none>      5h
web-4   0/1     Unschedulable      0          <none>   <none>      90s
`
	if code != 0 || out != want {
		t.Errorf("get pods = %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}
	if !strings.Contains(f.lastPath, "namespace=shop") {
		t.Errorf("request %s did not select the namespace", f.lastPath)
	}

	code, out, _ = ctl(t, url, "get", "po", "-A", "-o", "wide")
	if code != 0 || !strings.HasPrefix(out, "NAMESPACE   NAME    READY") || !strings.Contains(out, "OWNER") || !strings.Contains(out, "Deployment/shop/web   uid-web-1") {
		t.Errorf("get pods -A -o wide = %d\n%s", code, out)
	}
	if strings.Contains(f.lastPath, "namespace=") {
		t.Errorf("-A still selected a namespace: %s", f.lastPath)
	}

	code, out, _ = ctl(t, url, "get", "pods", "-A", "-o", "json")
	var l struct {
		Kind  string
		Items []struct {
			Metadata struct{ Name string }
			Status   struct {
				ContainerStatuses []struct {
					State struct{ Waiting struct{ Reason string } }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil || l.Kind != "List" || len(l.Items) != 4 ||
		l.Items[2].Status.ContainerStatuses[0].State.Waiting.Reason != "CrashLoopBackOff" {
		t.Errorf("get pods -o json = %d, %v\n%s", code, err, out)
	}
	code, out, _ = ctl(t, url, "get", "pods", "-A", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "name: web-1") || !strings.Contains(out, "podIP: 10.88.0.2") {
		t.Errorf("get pods -o yaml = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "pods")
	if code != 0 || out != "No pods found.\n" {
		t.Errorf("get pods in default = %d %q", code, out)
	}
	if code, _, errOut := ctl(t, url, "get", "widgets"); code != 2 || !strings.Contains(errOut, "unknown resource") {
		t.Errorf("get widgets = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "get", "pods", "-o", "xml"); code != 2 || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("-o xml = %d %q", code, errOut)
	}
}

func TestGetOthers(t *testing.T) {
	f := &fakeReconciler{
		wl: []api.Workload{
			{Kind: "Deployment", Namespace: "shop", Name: "web", Replicas: 3, Current: 3, Ready: 2, UpToDate: 3, Available: 2, Created: t0.Add(-10 * time.Minute), Containers: []string{"web"}, Images: []string{"hello:1"}, Selector: map[string]string{"app": "web"}},
			{Kind: "ReplicationController", Namespace: "shop", Name: "cache", Replicas: 1, Ready: 1, UpToDate: 1, Available: 1, Created: t0.Add(-3 * 24 * time.Hour)},
		},
		nodes: []api.Node{
			{Name: "node-a", State: api.NodeAlive, Status: api.NodeReady, StatusSince: t0.Add(-time.Hour), Pods: 2,
				Allocatable: agentapi.Resources{MilliCPU: 2000, Memory: 4 << 30, Pods: 110}, Requested: agentapi.Resources{MilliCPU: 1500, Memory: 768 << 20},
				Since: t0.Add(-time.Hour), APIAddr: "http://127.0.0.1:7001", Addr: "127.0.0.1:7946", Labels: map[string]string{"zone": "a"}},
			{Name: "node-b", State: api.NodeFailed, Status: api.NodeNotReady, StatusSince: t0.Add(-30 * time.Second), Pods: 0,
				Allocatable: agentapi.Resources{MilliCPU: 2000, Memory: 512 << 20, Pods: 110}, Since: t0.Add(-3 * 24 * time.Hour)},
			{Name: "node-c", State: api.NodeAlive, Status: api.NodeSchedulingDisabled, StatusSince: t0.Add(-5 * time.Minute), Pods: 1, Cordoned: true,
				Allocatable: agentapi.Resources{MilliCPU: 4500, Memory: 3 << 29, Pods: 110}, Requested: agentapi.Resources{MilliCPU: 2000, Memory: 1 << 30},
				Since: t0.Add(-2 * time.Hour)},
		},
		nss: []api.Namespace{{Name: "default", Status: "Active"}, {Name: "shop", Status: "Active", Pods: 4}},
	}
	url := startFake(t, f)
	code, out, _ := ctl(t, url, "get", "deployments", "-n", "shop")
	want := `NAME       READY   UP-TO-DATE   AVAILABLE   AGE
web        2/3     3            2           10m
rc/cache   1/1     1            1           3d
`
	if code != 0 || out != want {
		t.Errorf("get deployments = %d\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = ctl(t, url, "get", "deploy", "-n", "shop", "-o", "wide")
	if code != 0 || !strings.Contains(out, "hello:1") || !strings.Contains(out, "app=web") {
		t.Errorf("get deployments -o wide = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "nodes")
	want = `NAME     STATUS                     SINCE   PODS    CPU       MEMORY
node-a   Ready                      60m     2/110   1500m/2   768Mi/4Gi
node-b   NotReady                   30s     0/110   0/2       0/512Mi
node-c   Ready,SchedulingDisabled   5m0s    1/110   2/4500m   1Gi/1.5Gi
`
	if code != 0 || out != want {
		t.Errorf("get nodes = %d\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = ctl(t, url, "get", "no", "-o", "wide")
	if code != 0 || !strings.HasPrefix(out, "NAME     STATUS                     SINCE   PODS    CPU       MEMORY      AGE    STATE    API ") ||
		!strings.Contains(out, "768Mi/4Gi   60m    Alive    http://127.0.0.1:7001   127.0.0.1:7946   <none>     zone=a") ||
		!strings.Contains(out, " 3d     Failed ") || strings.Contains(out, "ERROR") {
		t.Errorf("get nodes -o wide = %d\n%s", code, out)
	}
	// An ERROR column appears when a node has one.
	f.mu.Lock()
	f.nodes[0].Error = "pod set of term 3 refused: the agent has seen term 4"
	f.mu.Unlock()
	code, out, _ = ctl(t, url, "get", "nodes")
	want = `NAME     STATUS                     SINCE   PODS    CPU       MEMORY      ERROR
node-a   Ready                      60m     2/110   1500m/2   768Mi/4Gi   pod set of term 3 refused: the agent has seen term 4
node-b   NotReady                   30s     0/110   0/2       0/512Mi     <none>
node-c   Ready,SchedulingDisabled   5m0s    1/110   2/4500m   1Gi/1.5Gi   <none>
`
	if code != 0 || out != want {
		t.Errorf("get nodes with an error = %d\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = ctl(t, url, "get", "nodes", "-o", "json")
	var nl struct {
		Items []struct {
			Spec   struct{ Unschedulable bool }
			Status struct {
				Allocatable map[string]string
				Conditions  []struct{ Type, Status, Message string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &nl); code != 0 || err != nil || len(nl.Items) != 3 || !nl.Items[2].Spec.Unschedulable ||
		nl.Items[2].Status.Allocatable["cpu"] != "4500m" || nl.Items[1].Status.Conditions[0].Status != "Unknown" ||
		!strings.Contains(nl.Items[0].Status.Conditions[0].Message, "refused") {
		t.Errorf("get nodes -o json = %d %v\n%s", code, err, out)
	}
	code, out, _ = ctl(t, url, "get", "ns")
	want = `NAME      STATUS   PODS
default   Active   0
shop      Active   4
`
	if code != 0 || out != want {
		t.Errorf("get namespaces = %d\n%s\nwant:\n%s", code, out, want)
	}
}

func TestDiff(t *testing.T) {
	f := &fakeReconciler{diff: api.DiffResult{
		Applied: &api.Commit{Hash: "1111111111111111111111111111111111111111"},
		Head:    &api.Commit{Hash: "2222222222222222222222222222222222222222"},
		Changes: []api.ObjectChange{
			{Key: spec.ObjectKey{Kind: "Deployment", Namespace: "shop", Name: "web"}, Action: api.ActionChanged,
				Fields: []api.FieldChange{{Path: "spec.replicas", Op: api.FieldChanged, Old: "3", New: "4"}},
				Diff:   "--- a/Deployment/shop/web\n+++ b/Deployment/shop/web\n@@ -1 +1 @@\n-  replicas: 3\n+  replicas: 4\n", PodsStarted: []string{"shop/web-abc-3"}},
			{Key: spec.ObjectKey{Kind: "Deployment", Namespace: "shop", Name: "big"}, Action: api.ActionCreated, PodsStarted: []string{"shop/big-def-0"}},
			{Key: spec.ObjectKey{Kind: "Pod", Namespace: "default", Name: "batch"}, Action: api.ActionDeleted, PodsStopped: []string{"default/batch"}},
		},
		Placements: []api.PodPlacement{
			{Pod: "shop/web-abc-3", Node: "node-b"},
			{Pod: "shop/big-def-0", Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."},
		},
	}}
	url := startFake(t, f)
	code, out, _ := ctl(t, url, "diff")
	// Objects in key order, whatever order the reconciler sent.
	want := `Changes from 111111111111 to 222222222222:

created Deployment/shop/big
  + pod shop/big-def-0 → Pending: 0/3 nodes are available: 3 Insufficient memory.

changed Deployment/shop/web
  spec.replicas: 3 → 4
  + pod shop/web-abc-3 → node-b
--- a/Deployment/shop/web
+++ b/Deployment/shop/web
@@ -1 +1 @@
-  replicas: 3
+  replicas: 4

deleted Pod/default/batch
  - pod default/batch

3 object(s) changed: 1 created, 1 changed, 1 deleted; 2 pod(s) started, 1 stopped.
`
	if code != 1 || out != want {
		t.Errorf("diff = %d\n%s\nwant:\n%s", code, out, want)
	}

	f.mu.Lock()
	f.diff.Changes = nil
	f.mu.Unlock()
	if code, out, _ := ctl(t, url, "diff"); code != 0 || !strings.HasPrefix(out, "No changes") {
		t.Errorf("diff without changes = %d %q", code, out)
	}

	f.mu.Lock()
	f.diff.Error = &api.SyncError{Stage: api.StageLoad, Commit: f.diff.Head, Entries: []api.ErrorEntry{{File: "a.yaml", Line: 3, Message: "bad"}}}
	f.mu.Unlock()
	if code, _, errOut := ctl(t, url, "diff"); code != 2 || !strings.Contains(errOut, "a.yaml:3: bad") {
		t.Errorf("diff of a bad head = %d %q", code, errOut)
	}

	if code, _, errOut := ctl(t, "http://127.0.0.1:1", "diff"); code != 2 || errOut == "" {
		t.Errorf("diff with the server down = %d %q", code, errOut)
	}
}

const webYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: hello:1
`

const nsYAML = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"

func writeDir(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDiffLocal(t *testing.T) {
	f := &fakeReconciler{revision: api.Revision{
		Commit: &api.Commit{Hash: "1111111111111111111111111111111111111111"},
		Files:  map[string][]byte{"ns.yaml": []byte(nsYAML), "apps/web.yaml": []byte(strings.Replace(webYAML, "REPLICAS", "2", 1))},
	}}
	url := startFake(t, f)
	same := writeDir(t, map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1), ".git/config": "x"})
	if code, out, errOut := ctl(t, url, "diff", "--local", same); code != 0 || !strings.HasPrefix(out, "No changes") {
		t.Errorf("diff --local of the applied files = %d %q %q", code, out, errOut)
	}
	big := strings.ReplaceAll(strings.Replace(webYAML, "REPLICAS", "1", 1), "web", "big")
	scaled := writeDir(t, map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "4", 1), "apps/big.yaml": big, "README.md": "not a manifest", ".github/ci.yml": "x: [", "apps/.hidden.yaml": "x: ["})
	code, out, errOut := ctl(t, url, "diff", "--local", scaled)
	if code != 1 || !strings.Contains(out, "Changes from 111111111111 to local "+scaled+":") || !strings.Contains(out, "changed Deployment/shop/web") ||
		strings.Count(out, "  + pod shop/web-") != 2 || strings.Count(out, " → node-x\n") != 2 ||
		!strings.Contains(out, "created Deployment/shop/big\n  + pod shop/big-") || !strings.Contains(out, " → Pending: 0/1 nodes are available: 1 Insufficient memory.\n") {
		t.Errorf("diff --local scaled = %d\n%s%s", code, out, errOut)
	}
	f.mu.Lock()
	posted := f.posted
	f.mu.Unlock()
	if len(posted) != 3 || posted["apps/big.yaml"] == nil || posted["ns.yaml"] == nil {
		t.Errorf("posted files %v, want the 3 manifests only", slices.Sorted(maps.Keys(posted)))
	}
	// Files that fail to load are reported with their lines, as the
	// reconciler found them, and exit 2.
	broken := writeDir(t, map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "two", 1)})
	code, out, errOut = ctl(t, url, "diff", "--local", broken)
	if code != 2 || !strings.Contains(errOut, "apps/web.yaml:7:") || out != "" {
		t.Errorf("diff --local broken = %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl(t, url, "diff", "--local", filepath.Join(broken, "missing")); code != 2 || !strings.Contains(errOut, "failed to read manifests") {
		t.Errorf("diff --local of a missing dir = %d %q", code, errOut)
	}
}

func TestValidate(t *testing.T) {
	good := writeDir(t, map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1)})
	if code, out, errOut := ctl(t, "", "validate", good); code != 0 || !strings.Contains(out, "2 object(s) valid") || errOut != "" {
		t.Errorf("validate good = %d %q %q", code, out, errOut)
	}
	// An older apiVersion loads, with a warning that does not fail it.
	old := writeDir(t, map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(strings.Replace(webYAML, "REPLICAS", "2", 1), "apiVersion: apps/v1", "apiVersion: apps/v1beta2", 1)})
	if code, out, errOut := ctl(t, "", "validate", old); code != 0 || !strings.Contains(out, "2 object(s) valid") ||
		errOut != "warning: apps/web.yaml:1: Deployment shop/web: apps/v1beta2 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment\n" {
		t.Errorf("validate apps/v1beta2 = %d %q %q", code, out, errOut)
	}
	bad := writeDir(t, map[string]string{
		"apps/web.yaml": strings.Replace(strings.Replace(webYAML, "REPLICAS", "2", 1), "image: hello:1", "image: hello:1\n        imagez: x", 1),
		"pod.yaml":      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: nope\nspec:\n  containers:\n  - name: c\n    image: x:1\n",
	})
	code, out, _ := ctl(t, "", "validate", bad)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) < 2 {
		t.Fatalf("validate bad = %d\n%s", code, out)
	}
	var sawField, sawNS bool
	for _, l := range lines {
		sawField = sawField || strings.HasPrefix(l, "apps/web.yaml:17: Deployment shop/web: spec.template.spec.containers[0].imagez: ")
		sawNS = sawNS || strings.HasPrefix(l, "pod.yaml:5: Pod nope/p: metadata.namespace: ")
	}
	if !sawField || !sawNS {
		t.Errorf("validate output lacks file:line: object: field: message lines:\n%s", out)
	}
	if code, _, _ := ctl(t, "", "validate", filepath.Join(bad, "missing")); code != 2 {
		t.Errorf("validate of a missing dir = %d, want 2", code)
	}
}

func TestSync(t *testing.T) {
	commit := &api.Commit{Hash: "3333333333333333333333333333333333333333", Author: "Ada", Message: "scale"}
	pending := running("web-2", "", "", 0)
	pending.Phase, pending.Status = agentapi.PodPending, nil
	f := &fakeReconciler{
		sync: api.SyncResult{Commit: commit, Applied: true},
		pods: [][]api.Pod{
			{waiting("web-1", "node-a", agentapi.ReasonContainerCreating), pending},
			{running("web-1", "node-a", "10.0.0.2", 0), pending},
			{running("web-1", "node-a", "10.0.0.2", 0), running("web-2", "node-b", "10.0.0.3", 0)},
		},
	}
	url := startFake(t, f)
	if code, out, _ := ctl(t, url, "sync"); code != 0 || out != "synced 333333333333 by Ada: scale\n" {
		t.Errorf("sync = %d %q", code, out)
	}
	if f.lastPath != api.PathSync+"?wait=1" {
		t.Errorf("sync asked %s, want the wait form", f.lastPath)
	}
	code, out, errOut := ctl(t, url, "sync", "--wait")
	want := "synced 333333333333 by Ada: scale\n0/2 pods running\n1/2 pods running\n2/2 pods running\n"
	if code != 0 || out != want {
		t.Errorf("sync --wait = %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}

	// A clear failure ends the wait with the pods' reasons.
	f.mu.Lock()
	f.pods, f.podCalls = [][]api.Pod{{running("web-1", "node-a", "10.0.0.2", 0), waiting("web-2", "node-b", agentapi.ReasonErrImagePull), unschedulable("web-3")}}, 0
	f.mu.Unlock()
	code, out, errOut = ctl(t, url, "sync", "--wait")
	if code != 1 || !strings.Contains(out, "1/3 pods running") ||
		!strings.Contains(errOut, "shop/web-2: ErrImagePull on node-b: web: back-off pulling image") ||
		!strings.Contains(errOut, "shop/web-3: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.") {
		t.Errorf("sync --wait with failures = %d\n%s%s", code, out, errOut)
	}

	// Pods that never run: a timeout, exit 2.
	f.mu.Lock()
	f.pods, f.podCalls = [][]api.Pod{{pending}}, 0
	f.mu.Unlock()
	code, _, errOut = ctl(t, url, "sync", "--wait", "--timeout", "600ms")
	if code != 2 || !strings.Contains(errOut, "timed out with 1 pod(s) not running") || !strings.Contains(errOut, "shop/web-2: Pending") {
		t.Errorf("sync --wait timeout = %d %q", code, errOut)
	}

	// A commit that fails to load: exit 1 with its errors.
	f.mu.Lock()
	f.sync = api.SyncResult{Commit: commit, Error: &api.SyncError{Commit: commit, Stage: api.StageLoad, Entries: []api.ErrorEntry{{File: "web.yaml", Line: 9, Object: "Deployment shop/web", Field: "spec.replicas", Message: "must be >= 0"}}}}
	f.mu.Unlock()
	code, _, errOut = ctl(t, url, "sync", "--wait")
	if code != 1 || !strings.Contains(errOut, "web.yaml:9: Deployment shop/web: spec.replicas: must be >= 0") {
		t.Errorf("sync of a bad commit = %d %q", code, errOut)
	}
}

func TestLogs(t *testing.T) {
	url := startFake(t, &fakeReconciler{})
	if code, out, _ := ctl(t, url, "logs", "web-1", "-c", "web", "-n", "shop", "--tail", "3"); code != 0 || out != "hello from web\n" {
		t.Errorf("logs = %d %q", code, out)
	}
	if code, _, errOut := ctl(t, url, "logs", "nope"); code != 1 || !strings.Contains(errOut, "pod not found") {
		t.Errorf("logs of a missing pod = %d %q", code, errOut)
	}
}

func TestDescribe(t *testing.T) {
	web := running("web-1", "node-a", "10.88.0.2", 2)
	web.Labels = map[string]string{"app": "web", "pod-template-hash": "abc"}
	web.Spec.Containers[0].Resources = spec.Resources{
		Requests: spec.ResourceList{"cpu": k8sresource.MustParse("100m"), "memory": k8sresource.MustParse("64Mi")},
		Limits:   spec.ResourceList{"memory": k8sresource.MustParse("128Mi")},
	}
	web.Status.Containers[0].State.Running.StartedAt = t0.Add(-time.Minute)
	web.Status.Containers[0].LastTerminationState = agentapi.ContainerState{Terminated: &agentapi.StateTerminated{
		ExitCode: 137, Signal: 9, Reason: "OOMKilled", StartedAt: t0.Add(-3 * time.Minute), FinishedAt: t0.Add(-2 * time.Minute)}}
	big := unschedulable("big-1")
	f := &fakeReconciler{describe: map[string]api.PodDescription{
		"shop/web-1": {Pod: web, Events: []api.Event{
			{Time: t0.Add(-90 * time.Second), Object: "Pod/shop/web-1", Reason: "Created", Message: "created pod shop/web-1 (uid uid-web-1)"},
			{Time: t0.Add(-90 * time.Second), Object: "Pod/shop/web-1", Reason: "Scheduled", Message: "assigned shop/web-1 to node-a"},
			{Time: t0.Add(-10 * time.Second), FirstTime: t0.Add(-80 * time.Second), Count: 3, Object: "Pod/shop/web-1", UID: "uid-web-1", Container: "web",
				Type: api.EventWarning, Reason: "Unhealthy", Message: "Readiness probe failed: HTTP probe failed with statuscode: 503", Source: "node-a"},
			{Time: t0.Add(-85 * time.Second), Count: 1, Object: "Pod/shop/web-1", UID: "uid-web-1", Container: "web",
				Type: api.EventNormal, Reason: "Pulled", Message: `Container image "hello:1" already present on machine`, Source: "node-a"},
		}},
		"shop/big-1": {Pod: big, Events: []api.Event{}, Scheduling: &api.Scheduling{
			Reason: "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory.",
			Nodes: []api.NodeVerdict{
				{Node: "node-a", Filter: "NodeResourcesFit", Reasons: []string{"Insufficient memory"}},
				{Node: "node-b", Filter: "NodeUnschedulable", Reasons: []string{"node(s) were unschedulable"}},
				{Node: "node-c", Reasons: []string{"Insufficient cpu", "Insufficient memory"}},
			},
		}},
	}}
	url := startFake(t, f)
	code, out, errOut := ctl(t, url, "describe", "pod", "web-1", "-n", "shop")
	want := `Name:               web-1
Namespace:          shop
UID:                uid-web-1
Owner:              Deployment/shop/web
Node:               node-a
IP:                 10.88.0.2
Created:            2026-11-25 11:58:30 UTC (90s ago)
Status:             Running
Labels:             app=web
                    pod-template-hash=abc
Containers:
  web:
    Image:          hello:1
    State:          Running
      Started:      2026-11-25 11:59:00 UTC
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
      Signal:       9
      Started:      2026-11-25 11:57:00 UTC
      Finished:     2026-11-25 11:58:00 UTC
    Ready:          True
    Restart Count:  2
    Requests:
      cpu:          100m
      memory:       64Mi
    Limits:
      memory:       128Mi
Events:
  Type      Reason      Age                 From           Message
  ----      ------      ----                ----           -------
  Normal    Created     90s                 reconciler     created pod shop/web-1 (uid uid-web-1)
  Normal    Scheduled   90s                 reconciler     assigned shop/web-1 to node-a
  Normal    Pulled      85s                 agent/node-a   Container image "hello:1" already present on machine
  Warning   Unhealthy   10s (x3 over 80s)   agent/node-a   Readiness probe failed: HTTP probe failed with statuscode: 503
`
	if code != 0 || out != want {
		t.Errorf("describe running pod = %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}
	if f.lastPath != "/v1/pods/shop/web-1" {
		t.Errorf("asked %s", f.lastPath)
	}

	code, out, _ = ctl(t, url, "describe", "po", "big-1", "-n", "shop")
	for _, s := range []string{
		"Status:             Pending\nReason:             Unschedulable\nMessage:            0/3 nodes are available: 3 Insufficient memory.\n",
		"  web:\n    Image:          hello:1\n    State:          Waiting\n      Reason:       not reported by a node yet\n",
		"Scheduling:\n  0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory.\n",
		"  NODE     VERDICT\n  node-a   NodeResourcesFit: Insufficient memory\n  node-b   NodeUnschedulable: node(s) were unschedulable\n  node-c   Insufficient cpu, Insufficient memory\n",
		"Events:             <none>\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("describe pending pod lacks %q:\n%s", s, out)
		}
	}
	if code != 0 {
		t.Errorf("describe pending pod = %d", code)
	}

	code, out, _ = ctl(t, url, "describe", "pod", "big-1", "-n", "shop", "-o", "json")
	var d api.PodDescription
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Scheduling == nil || len(d.Scheduling.Nodes) != 3 || d.Pod.Name != "big-1" {
		t.Errorf("describe -o json = %d, %v\n%s", code, err, out)
	}
	code, out, _ = ctl(t, url, "describe", "pod", "web-1", "-n", "shop", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "reason: OOMKilled") || !strings.Contains(out, "reason: Scheduled") {
		t.Errorf("describe -o yaml = %d\n%s", code, out)
	}

	if code, _, errOut := ctl(t, url, "describe", "pod", "nope"); code != 1 || !strings.Contains(errOut, "pod default/nope not found") {
		t.Errorf("describe unknown pod = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "describe", "configmap", "x"); code != 2 || !strings.Contains(errOut, "describe supports pods") {
		t.Errorf("describe configmap = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "describe", "pod"); code != 2 || !strings.Contains(errOut, "describe pod NAME") {
		t.Errorf("describe without a name = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "describe", "pod", "web-1", "-o", "wide"); code != 2 || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("describe -o wide = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, "http://127.0.0.1:1", "describe", "pod", "web-1"); code != 2 || errOut == "" {
		t.Errorf("describe with the server down = %d %q", code, errOut)
	}
}

func TestVerdict(t *testing.T) {
	v := api.NodeVerdict{Node: "n", Scores: map[string]int64{"LeastAllocated": 80, "BalancedAllocation": 95}, Total: 175}
	if got, want := verdict(v), "fits, score 175 (BalancedAllocation 95, LeastAllocated 80)"; got != want {
		t.Errorf("verdict = %q, want %q", got, want)
	}
	var b bytes.Buffer
	sc := &api.Scheduling{Node: "n-00", Nodes: make([]api.NodeVerdict, maxVerdicts+5)}
	for i := range sc.Nodes {
		sc.Nodes[i] = api.NodeVerdict{Node: fmt.Sprintf("n-%02d", i), Total: int64(100 - i)}
	}
	printScheduling(&b, sc)
	if out := b.String(); !strings.Contains(out, "fits now on n-00: the next plan places it") ||
		strings.Count(out, "fits, score") != maxVerdicts || !strings.Contains(out, "(5 more nodes; -o yaml lists all)") {
		t.Errorf("printScheduling:\n%s", out)
	}
}

// A cluster with its own service CIDR and node-port range: validate
// checks against the ranges given, not only Kubernetes' defaults.
func TestValidateClusterRanges(t *testing.T) {
	svc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\nspec:\n  type: NodePort\n  clusterIP: 10.100.0.50\n  ports:\n  - port: 80\n    nodePort: 20050\n"
	dir := writeDir(t, map[string]string{"svc.yaml": svc})
	if code, out, _ := ctl(t, "", "validate", dir); code != 1 || !strings.Contains(out, "svc.yaml:8: Service default/web: spec.clusterIP: ") || !strings.Contains(out, "svc.yaml:11: Service default/web: spec.ports[0].nodePort: ") {
		t.Errorf("validate with the default ranges = %d\n%s", code, out)
	}
	if code, out, errOut := ctl(t, "", "validate", "--service-cidr", "10.100.0.0/16", "--service-node-port-range", "20000-20100", dir); code != 0 {
		t.Errorf("validate with the cluster's ranges = %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl(t, "", "validate", "--service-cidr", "10.100.0.0/40", dir); code != 2 || !strings.Contains(errOut, "--service-cidr") {
		t.Errorf("validate with a bad --service-cidr = %d %q", code, errOut)
	}
}
