package main

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
)

var rewrite = flag.Bool("rewrite", false, "rewrite cmd/ctl/testdata/*/*.golden from the current output")

// goldenRevision is the applied revision the fake serves: the specs,
// labels and annotations of the workloads and namespaces.
var goldenRevision = map[string][]byte{
	"ns.yaml": []byte(`apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: shop}
  annotations: {owner: ada@example.com}
`),
	"web.yaml": []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, tier: front}
  annotations: {note: served by three pods}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxUnavailable: 1}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: hello:1
        ports:
        - containerPort: 8080
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 100m, memory: 64Mi}
`),
	"cache.yaml": []byte(`apiVersion: v1
kind: ReplicationController
metadata:
  name: cache
  namespace: shop
  labels: {app: cache}
spec:
  replicas: 1
  selector: {app: cache}
  template:
    metadata:
      labels: {app: cache}
    spec:
      containers:
      - name: redis
        image: redis:7
`),
}

// goldenFake is a reconciler with pods in every state, a Deployment and a
// ReplicationController, three nodes and two namespaces.
func goldenFake() *fakeReconciler {
	web1 := running("web-1", "node-a", "10.88.0.2", 0)
	web2 := running("web-2", "node-b", "10.88.1.2", 3)
	web3 := waiting("web-3", "node-c", agentapi.ReasonCrashLoopBackOff)
	web4 := unschedulable("web-4")
	start := t0.Add(-80 * time.Second)
	for _, p := range []*api.Pod{&web1, &web2, &web3, &web4} {
		p.Labels = map[string]string{"app": "web", "pod-template-hash": "5d9c1a2b3c"}
		p.Spec.Containers[0].Resources.Requests = map[string]k8sresource.Quantity{"cpu": k8sresource.MustParse("100m")}
		if p.Status != nil {
			p.Status.StartTime = &start
			p.Status.Containers[0].Image, p.Status.Containers[0].ImageID = "hello:1", "sha256:0a1b"
			p.Status.Containers[0].ContainerID = "containerd://" + p.Name
		}
	}
	web1.Status.Containers[0].State.Running.StartedAt = start
	web2.Status.Containers[0].LastTerminationState = agentapi.ContainerState{Terminated: &agentapi.StateTerminated{
		ExitCode: 137, Signal: 9, Reason: "OOMKilled", StartedAt: t0.Add(-70 * time.Second), FinishedAt: t0.Add(-60 * time.Second)}}
	cache := running("cache-0", "node-a", "10.88.0.3", 0)
	cache.Owner, cache.Labels = "ReplicationController/shop/cache", map[string]string{"app": "cache"}
	cache.Spec.Containers[0].Name, cache.Spec.Containers[0].Image = "redis", "redis:7"
	cache.Status.Containers[0].Name = "redis"
	f := goldenOthers()
	f.pods = [][]api.Pod{{cache, web1, web2, web3, web4}}
	f.revision = api.Revision{Commit: &api.Commit{Hash: "c0ffee"}, Files: goldenRevision}
	return f
}

func goldenOthers() *fakeReconciler {
	return &fakeReconciler{
		wl: []api.Workload{
			{Kind: "Deployment", Namespace: "shop", Name: "web", Replicas: 3, Current: 4, Ready: 2, UpToDate: 3, Available: 2, Created: t0.Add(-10 * time.Minute),
				Containers: []string{"web"}, Images: []string{"hello:1"}, Selector: map[string]string{"app": "web"},
				Progress: api.ProgressProgressing, Message: "waiting for 1 pod of the current template to become available"},
			{Kind: "ReplicationController", Namespace: "shop", Name: "cache", Replicas: 1, Current: 1, Ready: 1, UpToDate: 1, Available: 1, Created: t0.Add(-3 * 24 * time.Hour),
				Containers: []string{"redis"}, Images: []string{"redis:7"}, Selector: map[string]string{"app": "cache"}, Progress: api.ProgressComplete},
		},
		nodes: []api.Node{
			{Name: "node-a", State: api.NodeAlive, Status: api.NodeReady, StatusSince: t0.Add(-time.Hour), Pods: 2,
				Allocatable: agentapi.Resources{MilliCPU: 2000, Memory: 4 << 30, Pods: 110}, Requested: agentapi.Resources{MilliCPU: 1500, Memory: 768 << 20},
				Since: t0.Add(-time.Hour), APIAddr: "http://127.0.0.1:7001", Addr: "127.0.0.1:7946", Labels: map[string]string{"zone": "a"}, PodCIDR: "10.88.0.0/24"},
			{Name: "node-b", State: api.NodeFailed, Status: api.NodeNotReady, StatusSince: t0.Add(-30 * time.Second), Pods: 0,
				Allocatable: agentapi.Resources{MilliCPU: 2000, Memory: 512 << 20, Pods: 110}, Since: t0.Add(-3 * 24 * time.Hour), Addr: "127.0.0.2:7946",
				Labels: map[string]string{"zone": "b"}, PodCIDR: "10.88.1.0/24"},
			{Name: "node-c", State: api.NodeAlive, Status: api.NodeSchedulingDisabled, StatusSince: t0.Add(-5 * time.Minute), Pods: 1, Cordoned: true,
				Allocatable: agentapi.Resources{MilliCPU: 4500, Memory: 3 << 29, Pods: 110}, Requested: agentapi.Resources{MilliCPU: 2000, Memory: 1 << 30},
				Since: t0.Add(-2 * time.Hour), Addr: "127.0.0.3:7946", Labels: map[string]string{"zone": "a"},
				Taints: []spec.Taint{{Key: "stevedore.dev/cordoned", Effect: "NoSchedule"}}},
		},
		nss: []api.Namespace{{Name: "default", Status: "Active"}, {Name: "shop", Status: "Active", Pods: 5}},
		apps: []api.Application{
			{Name: "stevedore", Bootstrap: true, Repo: "https://git.example.com/ops/cluster.git", Branch: "main", Prune: true,
				Applied: &api.Commit{Hash: "c0ffee1234567890"}, Created: t0.Add(-48 * time.Hour), Sync: api.SyncSynced, Health: api.HealthHealthy},
			{Name: "shop", Repo: "https://git.example.com/shop/deploy.git", Branch: "main", Path: "prod",
				Applied: &api.Commit{Hash: "beef00112233"}, Created: t0.Add(-time.Hour), Sync: api.SyncOutOfSync, Health: api.HealthProgressing,
				HealthMessage: "Deployment shop/web: 2 of 3 replicas available"},
		},
		events: []api.Event{
			{Time: t0.Add(-10 * time.Minute), Object: "commit/c0ffee1", Reason: "Synced", Message: "applied c0ffee1 (web: 3 replicas)"},
			{Time: t0.Add(-10 * time.Minute), Object: "Pod/shop/web-1", Reason: api.EventCreated, Message: "created"},
			// An agent's repeated event, listed before older ones: the
			// table is sorted by last time.
			{Time: t0.Add(-2 * time.Minute), FirstTime: t0.Add(-10 * time.Minute), Count: 4, Object: "Pod/shop/web-3", UID: "uid-web-3", Container: "web",
				Type: api.EventWarning, Reason: "BackOff", Message: `Back-off pulling image "hello:2"`, Source: "node-c"},
			{Time: t0.Add(-9 * time.Minute), Object: "Pod/shop/web-1", Reason: api.EventScheduled, Message: "placed on node-a"},
			{Time: t0.Add(-8 * time.Minute), Object: "Pod/shop/web-1", UID: "uid-web-1", Container: "web", Type: api.EventNormal, Reason: "Started", Message: "Started container web", Source: "node-a"},
			{Time: t0.Add(-5 * time.Minute), Object: "Pod/shop/web-4", Reason: api.EventFailedScheduling, Message: "0/3 nodes are available: 3 Insufficient memory."},
			{Time: t0.Add(-30 * time.Second), Object: "node/node-b", Reason: "NodeFailed", Message: "node-b failed"},
			{Time: t0.Add(-20 * time.Second), Object: "Pod/other/job-0", Reason: api.EventCreated, Message: "created"},
		},
	}
}

// TestGetGolden prints every kind in every output format and compares with
// testdata/get/NAME.golden (go test -run TestGetGolden -rewrite rewrites
// them).
func TestGetGolden(t *testing.T) {
	url := startFake(t, goldenFake())
	formats := []struct{ name, flag string }{
		{"table", ""}, {"wide", "wide"}, {"json", "json"}, {"yaml", "yaml"}, {"name", "name"},
		{"jsonpath", "jsonpath={range .items[*]}{.kind}/{.metadata.name}{\"\\t\"}{.metadata.labels}{\"\\n\"}{end}"},
		{"columns", "custom-columns=NAME:.metadata.name,KIND:.kind,CREATED:.metadata.creationTimestamp,STATUS:.status.conditions[*].type"},
	}
	kinds := []struct{ name string }{{"pods"}, {"deployments"}, {"rc"}, {"nodes"}, {"namespaces"}, {"events"}, {"applications"}, {"all"}}
	type run struct {
		name string
		args []string
	}
	var runs []run
	for _, k := range kinds {
		for _, f := range formats {
			args := []string{"get", k.name, "-n", "shop"}
			if f.flag != "" {
				args = append(args, "-o", f.flag)
			}
			runs = append(runs, run{k.name + "-" + f.name, args})
		}
	}
	runs = append(runs,
		run{"pod-single-yaml", []string{"get", "pod", "web-2", "-n", "shop", "-o", "yaml"}},
		run{"deployment-single-json", []string{"get", "deploy", "web", "-n", "shop", "-o", "json"}},
		run{"node-single-yaml", []string{"get", "node", "node-c", "-o", "yaml"}},
		run{"pods-all-namespaces", []string{"get", "pods", "-A"}},
		run{"pods-sort-by-restarts", []string{"get", "pods", "-n", "shop", "--sort-by", ".status.containerStatuses[0].restartCount", "-o", "name"}},
		run{"pods-sort-by-node", []string{"get", "pods", "-n", "shop", "--sort-by", "{.spec.nodeName}"}},
		run{"pods-selector", []string{"get", "pods", "-n", "shop", "-l", "app=web,pod-template-hash in (5d9c1a2b3c)", "--field-selector", "status.phase=Running,spec.nodeName!=node-b"}},
		run{"nodes-selector", []string{"get", "nodes", "-l", "zone=a", "--field-selector", "spec.unschedulable=false", "-o", "name"}},
		run{"deployments-selector", []string{"get", "deploy", "-n", "shop", "-l", "tier", "-o", "name"}},
		run{"events-all-namespaces", []string{"get", "events", "-A"}},
		run{"events-warnings", []string{"get", "ev", "-A", "--field-selector", "type=Warning", "-o", "custom-columns=OBJECT:.involvedObject.name,REASON:.reason"}},
		run{"pods-jsonpath-single", []string{"get", "pod", "web-1", "-n", "shop", "-o", "jsonpath={.status.podIP} {.status.hostIP} {.spec.nodeName}"}},
	)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			code, out, errOut := ctl(t, url, r.args...)
			if code != 0 {
				t.Fatalf("ctl %s = %d %q", strings.Join(r.args, " "), code, errOut)
			}
			golden(t, filepath.Join("testdata", "get", r.name+".golden"), out)
		})
	}
}

// TestGetShapes checks, beyond the goldens, the fields people's jq and yq
// scripts read, decoded the way they would be.
func TestGetShapes(t *testing.T) {
	url := startFake(t, goldenFake())
	get := func(args ...string) map[string]any {
		t.Helper()
		code, out, errOut := ctl(t, url, append([]string{"get"}, args...)...)
		var v map[string]any
		if code != 0 {
			t.Fatalf("ctl get %v = %d %s", args, code, errOut)
		}
		if err := yaml.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("ctl get %v: %v\n%s", args, err, out)
		}
		return v
	}
	at := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	pod := get("pod", "web-1", "-n", "shop", "-o", "yaml")
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"apiVersion"}, "v1"},
		{[]any{"kind"}, "Pod"},
		{[]any{"metadata", "uid"}, "uid-web-1"},
		{[]any{"metadata", "creationTimestamp"}, "2026-11-25T11:58:30Z"},
		{[]any{"metadata", "ownerReferences", 0, "kind"}, "Deployment"},
		{[]any{"metadata", "ownerReferences", 0, "apiVersion"}, "apps/v1"},
		{[]any{"spec", "nodeName"}, "node-a"},
		{[]any{"status", "phase"}, "Running"},
		{[]any{"status", "podIP"}, "10.88.0.2"},
		{[]any{"status", "hostIP"}, "127.0.0.1"},
		{[]any{"status", "startTime"}, "2026-11-25T11:58:40Z"},
		{[]any{"status", "qosClass"}, "Burstable"},
		{[]any{"status", "containerStatuses", 0, "ready"}, true},
		{[]any{"status", "containerStatuses", 0, "state", "running", "startedAt"}, "2026-11-25T11:58:40Z"},
	} {
		if got := at(pod, c.path...); got != c.want {
			t.Errorf("pod %v = %v, want %v", c.path, got, c.want)
		}
	}
	conds := map[string]string{}
	for _, c := range at(pod, "status", "conditions").([]any) {
		conds[at(c, "type").(string)] = at(c, "status").(string)
	}
	if d := cmp.Diff(map[string]string{"Initialized": "True", "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}, conds); d != "" {
		t.Errorf("pod conditions (-want +got):\n%s", d)
	}
	dep := get("deployment", "web", "-n", "shop", "-o", "json")
	if at(dep, "apiVersion") != "apps/v1" || at(dep, "spec", "replicas") != 3.0 || at(dep, "status", "readyReplicas") != 2.0 ||
		at(dep, "status", "updatedReplicas") != 3.0 || at(dep, "status", "availableReplicas") != 2.0 ||
		at(dep, "metadata", "labels", "tier") != "front" || at(dep, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort") != 8080.0 {
		t.Errorf("deployment = %v", dep)
	}
	// 2 available of 3 with maxUnavailable 1: Available.
	if at(dep, "status", "conditions", 0, "type") != "Available" || at(dep, "status", "conditions", 0, "status") != "True" ||
		at(dep, "status", "conditions", 1, "reason") != "ReplicaSetUpdated" {
		t.Errorf("deployment conditions = %v", at(dep, "status", "conditions"))
	}
	node := get("node", "node-a", "-o", "yaml")
	if at(node, "status", "capacity", "memory") != "4Gi" || at(node, "status", "allocatable", "cpu") != "2" ||
		at(node, "status", "addresses", 0, "address") != "127.0.0.1" || at(node, "status", "conditions", 0, "type") != "Ready" ||
		at(node, "spec", "podCIDR") != "10.88.0.0/24" {
		t.Errorf("node = %v", node)
	}
	ns := get("ns", "shop", "-o", "yaml")
	if at(ns, "status", "phase") != "Active" || at(ns, "spec", "finalizers", 0) != "kubernetes" || at(ns, "metadata", "labels", "team") != "shop" {
		t.Errorf("namespace = %v", ns)
	}
	list := get("pods", "-A", "-o", "json")
	if at(list, "kind") != "List" || at(list, "apiVersion") != "v1" || len(at(list, "items").([]any)) != 5 {
		t.Errorf("list = %v", list)
	}
}

// TestGetErrors checks what kubectl users would mistype.
func TestGetErrors(t *testing.T) {
	url := startFake(t, goldenFake())
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"get", "pod", "nope", "-n", "shop"}, 1, `pods "nope" not found`},
		{[]string{"get", "pods", "-o", "jsonpath"}, 2, "jsonpath format specified but no template given"},
		{[]string{"get", "pods", "-o", "jsonpath={.items[}"}, 2, "failed to parse jsonpath template"},
		{[]string{"get", "pods", "-o", "custom-columns=NAME"}, 2, "expected <header>:<json-path-expr>"},
		{[]string{"get", "pods", "-o", "jsonpath="}, 2, "jsonpath format specified but no template given"},
		{[]string{"get", "pods", "-o", "custom-columns=NAME:.metadata.name,X:{.x"}, 2, "custom-columns column X: unexpected path string"},
		{[]string{"get", "pods", "-o", "custom-columns=X:.x}"}, 2, "custom-columns column X: unexpected path string"},
		{[]string{"get", "pods", "-n", "shop", "--sort-by", "{.metadata.name"}, 2, `--sort-by "{.metadata.name": unexpected path string`},
		{[]string{"get", "pods", "-l", "app=(web"}, 2, "failed to parse label selector"},
		{[]string{"get", "pods", "-n", "shop", "--field-selector", "spec.hostname=x"}, 2, "field label not supported for pod: spec.hostname"},
		{[]string{"get", "pods", "-n", "empty", "--field-selector", "spec.hostname=x"}, 2, "field label not supported for pod: spec.hostname"},
		{[]string{"get", "nodes", "--field-selector", "status.phase=Running"}, 2, "supported: metadata.name, spec.unschedulable"},
		{[]string{"get", "pods", "-n", "shop", "--sort-by", ".spec.containers[*].name", "-o", "name"}, 0, ""},
		{[]string{"get", "pods", "-n", "shop", "--sort-by", ".spec.containers[*].resources.requests.cpu", "-o", "name"}, 0, ""},
		{[]string{"get", "pods", "-n", "shop", "--sort-by", ".status.conditions[*].type"}, 2, "sorting needs one"},
		{[]string{"get", "pods,nodes", "web-1"}, 2, "names cannot be given with several resource types"},
		{[]string{"get", "namespaces", "-w"}, 2, "--watch takes one resource type"},
	} {
		code, _, errOut := ctl(t, url, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("ctl %s = %d %q, want %d %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}
