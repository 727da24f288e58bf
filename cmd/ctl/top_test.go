package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// startTopFake serves the top and node-description paths, and the rest
// from a fakeReconciler; queries records the top pods queries.
func startTopFake(t *testing.T, queries *[]string) string {
	t.Helper()
	f := &fakeReconciler{}
	pods := api.PodMetricsList{
		Items: []api.PodMetrics{
			{Namespace: "shop", Name: "web-1", Node: "node-a", CPUNanoCores: 250_000_000, MemoryBytes: 64 << 20,
				Containers: []api.ContainerMetrics{{Name: "web", CPUNanoCores: 200_000_000, MemoryBytes: 48 << 20}, {Name: "sidecar", CPUNanoCores: 50_000_000, MemoryBytes: 16 << 20}}},
			{Namespace: "shop", Name: "web-2", Node: "node-a", CPUNanoCores: 1_200_000_000, MemoryBytes: 20 << 20,
				Containers: []api.ContainerMetrics{{Name: "web", CPUNanoCores: 1_200_000_000, MemoryBytes: 20 << 20}}},
		},
		Problems: []api.NodeProblem{{Node: "node-b", Error: "no answer within 3s"}},
	}
	nodes := api.NodeMetricsList{Items: []api.NodeMetrics{
		{Name: "node-a", CPUNanoCores: 1_500_000_000, MemoryBytes: 1 << 30, Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30}},
		{Name: "node-b", Error: "node is not alive", Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30}},
	}}
	created := t0.Add(-5 * time.Minute)
	desc := api.NodeDescription{
		Node: api.Node{Name: "node-a", State: api.NodeAlive, APIAddr: "http://10.0.0.1:7071", Status: api.NodeReady,
			Labels:      map[string]string{"zone": "z1", "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": ""},
			Taints:      []spec.Taint{{Key: "gpu", Value: "yes", Effect: spec.TaintEffectNoSchedule}},
			Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}, PodCIDR: "10.244.1.0/24"},
		Status: &agentapi.NodeStatus{
			Capacity: agentapi.Resources{MilliCPU: 8000, Memory: 16 << 30, Pods: 110},
			Conditions: []agentapi.NodeCondition{
				{Type: agentapi.NodeMemoryPressure, Status: "False", Reason: "KubeletHasSufficientMemory"},
				{Type: agentapi.NodeDiskPressure, Status: "True", Reason: "KubeletHasDiskPressure", Message: "imagefs.available<15%"},
				{Type: agentapi.NodeReady, Status: "True", Reason: "KubeletReady"},
			},
			KernelVersion: "6.1.0-test", OSImage: "Debian GNU/Linux 12 (bookworm)",
			Images: []agentapi.Image{{Names: []string{"registry.local/hello:1"}, Size: 5 << 20, InUse: true}},
		},
		Pods: []api.NodePod{{Namespace: "shop", Name: "web-1", Created: created,
			Requests: agentapi.Resources{MilliCPU: 100, Memory: 64 << 20}, Limits: agentapi.Resources{MilliCPU: 500, Memory: 128 << 20}}},
		Requests: agentapi.Resources{MilliCPU: 100, Memory: 64 << 20},
		Limits:   agentapi.Resources{MilliCPU: 500, Memory: 128 << 20},
		Events:   []api.Event{{Object: "node/node-a", Reason: "NodeAlive", Message: "agent node-a joined", Time: created, Source: "reconciler"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == api.PathTopPods:
			*queries = append(*queries, r.URL.RawQuery)
			json.NewEncoder(w).Encode(pods)
		case r.URL.Path == api.PathTopNodes:
			json.NewEncoder(w).Encode(nodes)
		case r.URL.Path == "/v1/nodes/node-a":
			json.NewEncoder(w).Encode(desc)
		case strings.HasPrefix(r.URL.Path, "/v1/nodes/") && r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "node not found", Code: api.CodeNotFound})
		default:
			f.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTopPods(t *testing.T) {
	var queries []string
	url := startTopFake(t, &queries)
	code, out, errOut := ctl(t, url, "top", "pods", "-n", "shop", "-l", "app=web")
	want := "" +
		"NAME    CPU(cores)   MEMORY(bytes)\n" +
		"web-1   250m         64Mi\n" +
		"web-2   1200m        20Mi\n"
	if code != 0 || out != want {
		t.Errorf("top pods = %d\n%s\nwant\n%s", code, out, want)
	}
	if !strings.Contains(errOut, "warning: node node-b did not answer") {
		t.Errorf("stderr %q lacks the warning about node-b", errOut)
	}
	if len(queries) != 1 || queries[0] != "namespace=shop&selector=app%3Dweb" {
		t.Errorf("queries %q", queries)
	}

	_, out, _ = ctl(t, url, "top", "pods", "-A", "--sort-by", "cpu", "--no-headers")
	if want := "shop   web-2   1200m   20Mi\nshop   web-1   250m    64Mi\n"; out != want {
		t.Errorf("top pods -A --sort-by cpu --no-headers =\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(queries[1], "all=1") {
		t.Errorf("-A query %q", queries[1])
	}
	_, out, _ = ctl(t, url, "top", "pods", "--containers", "--sort-by", "memory")
	want = "" +
		"POD     NAME      CPU(cores)   MEMORY(bytes)\n" +
		"web-1   web       200m         48Mi\n" +
		"web-1   sidecar   50m          16Mi\n" +
		"web-2   web       1200m        20Mi\n"
	if out != want {
		t.Errorf("top pods --containers =\n%s\nwant\n%s", out, want)
	}
	if code, out, _ := ctl(t, url, "top", "pods", "web-2"); code != 0 || !strings.Contains(out, "web-2") || strings.Contains(out, "web-1") {
		t.Errorf("top pods web-2 = %d\n%s", code, out)
	}
	if code, _, errOut := ctl(t, url, "top", "pods", "nope"); code != 1 || !strings.Contains(errOut, "metrics not available for pod default/nope") {
		t.Errorf("top pods nope = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "top", "pods", "--sort-by", "name"); code != 2 || !strings.Contains(errOut, "--sort-by") {
		t.Errorf("--sort-by name = %d %q", code, errOut)
	}
}

func TestTopNodes(t *testing.T) {
	url := startTopFake(t, new([]string))
	code, out, errOut := ctl(t, url, "top", "nodes")
	want := "" +
		"NAME     CPU(cores)   CPU%        MEMORY(bytes)   MEMORY%\n" +
		"node-a   1500m        37%         1024Mi          12%\n" +
		"node-b   <unknown>    <unknown>   <unknown>       <unknown>\n"
	if code != 0 || out != want {
		t.Errorf("top nodes = %d\n%s\nwant\n%s", code, out, want)
	}
	if !strings.Contains(errOut, "warning: node node-b: node is not alive") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestDescribeNode(t *testing.T) {
	url := startTopFake(t, new([]string))
	code, out, _ := ctl(t, url, "describe", "node", "node-a")
	if code != 0 {
		t.Fatalf("describe node = %d\n%s", code, out)
	}
	for _, want := range []string{
		"Name:               node-a\n",
		"Roles:              worker\n",
		"Labels:             kubernetes.io/arch=amd64\n",
		"Taints:             gpu=yes:NoSchedule\n",
		"Unschedulable:      false\n",
		"  DiskPressure     True     <none>               KubeletHasDiskPressure       imagefs.available<15%\n",
		"  InternalIP:       10.0.0.1\n",
		"Capacity:\n  cpu:              8\n  memory:           16Gi\n  pods:             110\n",
		"Allocatable:\n  cpu:              4\n  memory:           8Gi\n",
		"  Kernel Version:   6.1.0-test\n",
		"  OS Image:         Debian GNU/Linux 12 (bookworm)\n",
		"PodCIDR:            10.244.1.0/24\n",
		"Non-terminated Pods: (1 in total)\n",
		"  shop        web-1   100m (2%)      500m (12%)   64Mi (0%)         128Mi (1%)      5m0s\n",
		"  cpu                 100m (2%)   500m (12%)\n",
		"  memory              64Mi (0%)   128Mi (1%)\n",
		"  registry.local/hello:1   5Mi    true\n",
		"NodeAlive",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe node lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := ctl(t, url, "describe", "node", "nope"); code != 1 || !strings.Contains(errOut, "node nope not found") {
		t.Errorf("describe unknown node = %d %q", code, errOut)
	}
	code, out, _ = ctl(t, url, "describe", "no", "node-a", "-o", "json")
	var d api.NodeDescription
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Status == nil || len(d.Pods) != 1 {
		t.Errorf("describe node -o json = %d %v\n%s", code, err, out)
	}
}
