package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// serveServices answers the fake's Service and Endpoints paths (called with
// f.mu held); false for any other path.
func (f *fakeReconciler) serveServices(w http.ResponseWriter, r *http.Request) bool {
	ns := r.URL.Query().Get("namespace")
	if rest, ok := strings.CutPrefix(r.URL.Path, api.PathServices+"/"); ok {
		d, found := f.svcDescribe[rest]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "service " + rest + " not found", Code: api.CodeNotFound})
			return true
		}
		json.NewEncoder(w).Encode(d)
		return true
	}
	switch r.URL.Path {
	case api.PathServices:
		l := api.ServiceList{APIVersion: "v1", Kind: api.KindServiceList, Items: []api.Service{}}
		for _, s := range f.services {
			if ns == "" || s.Metadata.Namespace == ns {
				l.Items = append(l.Items, s)
			}
		}
		json.NewEncoder(w).Encode(l)
	case api.PathEndpoints:
		l := api.EndpointsList{APIVersion: "v1", Kind: api.KindEndpointsList, Items: []api.Endpoints{}}
		for _, e := range f.endpoints {
			if ns == "" || e.Metadata.Namespace == ns {
				l.Items = append(l.Items, e)
			}
		}
		json.NewEncoder(w).Encode(l)
	default:
		return false
	}
	return true
}

// goldenServices are what the reconciler would answer for three Services:
// web (NodePort, two named ports, a not-Ready pod), cache (ClusterIP,
// ClientIP affinity, 4 endpoints) and db (headless, no ports).
func goldenServices() ([]api.Service, []api.Endpoints) {
	ipv4 := []string{"IPv4"}
	svc := func(name, typ, ip string, sel map[string]string, ports ...api.ServicePort) api.Service {
		s := api.Service{APIVersion: "v1", Kind: "Service", Metadata: api.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": name}},
			Spec: api.ServiceSpec{Type: typ, ClusterIP: ip, ClusterIPs: []string{ip}, IPFamilies: ipv4, IPFamilyPolicy: "SingleStack",
				Selector: sel, SessionAffinity: "None", Ports: ports}}
		return s
	}
	web := svc("web", "NodePort", "10.96.0.10", map[string]string{"app": "web"},
		api.ServicePort{Name: "http", Protocol: "TCP", Port: 80, TargetPort: spec.FromString("http"), NodePort: 30080},
		api.ServicePort{Name: "metrics", Protocol: "TCP", Port: 9090, TargetPort: spec.FromInt(9090), NodePort: 30090})
	web.Metadata.Annotations = map[string]string{"owner": "ada@example.com"}
	cache := svc("cache", "ClusterIP", "10.96.0.11", map[string]string{"app": "cache"},
		api.ServicePort{Protocol: "TCP", Port: 6379, TargetPort: spec.FromInt(6379)})
	cache.Spec.SessionAffinity = "ClientIP"
	timeout := int32(10800)
	cache.Spec.SessionAffinityConfig = &spec.SessionAffinityConfig{ClientIP: &spec.ClientIPConfig{TimeoutSeconds: &timeout}}
	db := svc("db", "ClusterIP", "None", map[string]string{"app": "db"})
	ref := func(pod string) *api.ObjectReference {
		return &api.ObjectReference{Kind: "Pod", Namespace: "shop", Name: pod}
	}
	addr := func(ip, node, pod string) api.EndpointAddress {
		return api.EndpointAddress{IP: ip, NodeName: node, TargetRef: ref(pod)}
	}
	eps := []api.Endpoints{
		{APIVersion: "v1", Kind: "Endpoints", Metadata: api.ObjectMeta{Name: "cache", Namespace: "shop", Labels: map[string]string{"app": "cache"}},
			Subsets: []api.EndpointSubset{{
				Addresses: []api.EndpointAddress{addr("10.244.0.3", "node-a", "cache-0"), addr("10.244.0.4", "node-a", "cache-1"),
					addr("10.244.1.3", "node-b", "cache-2"), addr("10.244.2.3", "node-c", "cache-3")},
				Ports: []api.EndpointPort{{Port: 6379, Protocol: "TCP"}}}}},
		{APIVersion: "v1", Kind: "Endpoints", Metadata: api.ObjectMeta{Name: "db", Namespace: "shop", Labels: map[string]string{"app": "db"}}},
		{APIVersion: "v1", Kind: "Endpoints", Metadata: api.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
			Subsets: []api.EndpointSubset{{
				Addresses:         []api.EndpointAddress{addr("10.88.0.2", "node-a", "web-1")},
				NotReadyAddresses: []api.EndpointAddress{addr("10.88.1.2", "node-b", "web-2")},
				Ports:             []api.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "metrics", Port: 9090, Protocol: "TCP"}}}}},
	}
	return []api.Service{cache, db, web}, eps
}

// TestServicesGolden prints Services and Endpoints in every format, and
// `describe service` for the three kinds of answer (endpoints with pods
// excluded, a selector matching nothing, a headless Service).
func TestServicesGolden(t *testing.T) {
	f := goldenFake()
	f.services, f.endpoints = goldenServices()
	web, cache, db := f.services[2], f.services[0], f.services[1]
	f.svcDescribe = map[string]api.ServiceDescription{
		"shop/web": {Service: web, Endpoints: f.endpoints[2], MatchingPods: 3, Excluded: []api.EndpointExclusion{
			{Pod: "api-0", Node: "node-c", Reason: api.ExclusionSelectorMismatch, Message: "selector wants app=web, the pod has app=api"},
			{Pod: "web-2", Node: "node-b", Reason: api.ExclusionNotReady, Message: "container web is not ready"},
			{Pod: "web-4", Reason: api.ExclusionNoIP, Message: "the pod is Pending: 0/3 nodes are available"},
		}},
		"shop/cache": {Service: cache, Endpoints: f.endpoints[0], MatchingPods: 4},
		"shop/db": {Service: db, Endpoints: f.endpoints[1], Excluded: []api.EndpointExclusion{
			{Pod: "db-backup-0", Node: "node-a", Reason: api.ExclusionSelectorMismatch, Message: "selector wants app=db, the pod has app=db-backup"},
		}},
	}
	url := startFake(t, f)
	formats := []struct{ name, flag string }{
		{"table", ""}, {"wide", "wide"}, {"json", "json"}, {"yaml", "yaml"}, {"name", "name"},
		{"jsonpath", "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.spec.clusterIP}{\"\\n\"}{end}"},
		{"columns", "custom-columns=NAME:.metadata.name,IP:.spec.clusterIP,PORTS:.spec.ports[*].port"},
	}
	type run struct {
		name string
		args []string
	}
	var runs []run
	for _, k := range []string{"services", "endpoints"} {
		for _, fm := range formats {
			args := []string{"get", k, "-n", "shop"}
			if fm.flag != "" {
				args = append(args, "-o", fm.flag)
			}
			runs = append(runs, run{k + "-" + fm.name, args})
		}
	}
	runs = append(runs,
		run{"svc-single-yaml", []string{"get", "svc", "web", "-n", "shop", "-o", "yaml"}},
		run{"ep-single-json", []string{"get", "ep", "cache", "-n", "shop", "-o", "json"}},
		run{"services-all-namespaces", []string{"get", "svc", "-A"}},
		run{"services-selector", []string{"get", "service", "-n", "shop", "-l", "app in (web,db)", "--field-selector", "spec.type=ClusterIP", "-o", "name"}},
		run{"all-with-services", []string{"get", "all", "-n", "shop"}},
		run{"describe-web", []string{"describe", "service", "web", "-n", "shop"}},
		run{"describe-cache", []string{"describe", "svc", "cache", "-n", "shop"}},
		run{"describe-db", []string{"describe", "svc", "db", "-n", "shop"}},
	)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			code, out, errOut := ctl(t, url, r.args...)
			if code != 0 {
				t.Fatalf("ctl %s = %d %q", strings.Join(r.args, " "), code, errOut)
			}
			golden(t, filepath.Join("testdata", "services", r.name+".golden"), out)
		})
	}
}

// TestGetServicesContract is the issue's contract: `ctl get services -o
// json` prints a v1 List of Services with spec.clusterIP and spec.ports.
func TestGetServicesContract(t *testing.T) {
	f := goldenFake()
	f.services, f.endpoints = goldenServices()
	url := startFake(t, f)
	code, out, errOut := ctl(t, url, "get", "services", "-n", "shop", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct {
		APIVersion, Kind string
		Items            []struct {
			APIVersion, Kind string
			Metadata         struct{ Name string }
			Spec             struct {
				ClusterIP string `json:"clusterIP"`
				Ports     []struct {
					Port       int
					TargetPort any `json:"targetPort"`
					NodePort   int `json:"nodePort"`
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != 3 {
		t.Fatalf("list = %+v", list)
	}
	web := list.Items[2]
	if web.Kind != "Service" || web.APIVersion != "v1" || web.Metadata.Name != "web" || web.Spec.ClusterIP != "10.96.0.10" ||
		len(web.Spec.Ports) != 2 || web.Spec.Ports[0].Port != 80 || web.Spec.Ports[0].NodePort != 30080 || web.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("web = %+v", web)
	}
}

func TestDescribeServiceErrors(t *testing.T) {
	f := goldenFake()
	url := startFake(t, f)
	if code, _, errOut := ctl(t, url, "describe", "svc", "nope", "-n", "shop"); code != exitChanges || !strings.Contains(errOut, "service shop/nope not found") {
		t.Errorf("unknown service: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "describe", "secrets", "x"); code == 0 || !strings.Contains(errOut, "describe supports pods, nodes, namespaces, services, deployments, statefulsets, replicasets, daemonsets, persistentvolumeclaims, jobs and cronjobs") {
		t.Errorf("describe secrets: exit %d, %q", code, errOut)
	}
}

// TestGetServicesWatch: `ctl get svc -w` prints the list, then a row per
// change, from the reconciler's watch stream of Services.
func TestGetServicesWatch(t *testing.T) {
	svcs, _ := goldenServices()
	ev := func(typ string, s api.Service) api.WatchEvent {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return api.WatchEvent{Type: typ, Object: b}
	}
	moved := svcs[2]
	moved.Spec.Ports = moved.Spec.Ports[:1]
	f := &fakeReconciler{watches: [][]api.WatchEvent{{
		ev(api.WatchAdded, svcs[0]), ev(api.WatchAdded, svcs[2]), {Type: api.WatchBookmark},
		ev(api.WatchModified, moved), ev(api.WatchDeleted, svcs[0]),
	}}}
	url := startFake(t, f)
	var out, errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		env := func(k string) string {
			if k == EnvServer {
				return url
			}
			return ""
		}
		done <- run(ctx, []string{"get", "svc", "-n", "shop", "-w"}, &out, &errOut, env)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := `NAME    TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)                       AGE
cache   ClusterIP   10.96.0.11   <none>        6379/TCP                      <unknown>
web     NodePort    10.96.0.10   <none>        80:30080/TCP,9090:30090/TCP   <unknown>
web     NodePort    10.96.0.10   <none>        80:30080/TCP                  <unknown>
cache   ClusterIP   10.96.0.11   <none>        6379/TCP                      <unknown>
`
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("ctl get svc -w (-want +got):\n%s", d)
	}
}
