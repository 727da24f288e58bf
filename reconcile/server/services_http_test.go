package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// svcViews are two Services: web (NodePort, two ports, one named target
// port a pod lacks, a not-Ready pod, pods excluded) and db (headless, no
// ports) in another namespace.
func svcViews() []reconcile.ServiceView {
	web := &spec.Service{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindService},
		ObjectMeta: spec.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: spec.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "web"}, SessionAffinity: "None",
			Ports: []spec.ServicePort{
				{Name: "http", Protocol: "TCP", Port: 80, TargetPort: spec.FromString("http")},
				{Name: "metrics", Protocol: "TCP", Port: 9090, TargetPort: spec.FromInt(9090)},
			}},
	}
	db := &spec.Service{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindService},
		ObjectMeta: spec.ObjectMeta{Name: "db", Namespace: "data"},
		Spec:       spec.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}},
	}
	return []reconcile.ServiceView{
		{Object: db, Resolved: agentapi.Service{Namespace: "data", Name: "db", Type: "ClusterIP", ClusterIP: "None", SessionAffinity: "None",
			Endpoints: []agentapi.Endpoint{{IP: "10.244.2.10", Node: "node-b", Pod: "db-0", Hostname: "db-0", Ready: true}}}},
		{Object: web, Resolved: agentapi.Service{Namespace: "shop", Name: "web", Type: "NodePort", ClusterIP: "10.96.0.10", SessionAffinity: "None",
			Ports: []agentapi.ServicePort{{Name: "http", Protocol: "TCP", Port: 80, NodePort: 30080}, {Name: "metrics", Protocol: "TCP", Port: 9090, NodePort: 30090}},
			Endpoints: []agentapi.Endpoint{
				{IP: "10.244.1.10", Node: "node-a", Pod: "web-2", Ready: true, Ports: []int32{8080, 9090}},
				{IP: "10.244.1.9", Node: "node-a", Pod: "web-1", Ready: false, Ports: []int32{8080, 9090}},
				{IP: "10.244.2.3", Node: "node-b", Pod: "web-3", Ready: true, Ports: []int32{0, 9090}},
			}},
			Excluded: []reconcile.EndpointExclusion{
				{Pod: "api-0", Node: "node-b", Reason: reconcile.ExclusionSelectorMismatch, Message: "selector wants app=web, the pod has app=api"},
				{Pod: "web-4", Reason: reconcile.ExclusionNoIP, Message: "the pod has no IP yet"},
			}},
	}
}

// serveServices serves the Service routes of a Server whose view is v,
// without raft (the handlers read only the view).
func serveServices(t *testing.T, v *view) (*Server, *api.Client) {
	t.Helper()
	s := &Server{}
	s.view.Store(v)
	mux := http.NewServeMux()
	s.registerServiceRoutes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(s.viewChanged.stop)
	cl, err := api.NewClient(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, cl
}

func TestServicesHTTP(t *testing.T) {
	_, cl := serveServices(t, &view{leader: true, services: svcViews()})
	ctx := context.Background()

	all, err := cl.Services(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("Services(all) = %d, %v", len(all), err)
	}
	shop, err := cl.Services(ctx, "shop")
	if err != nil || len(shop) != 1 {
		t.Fatalf("Services(shop) = %v, %v", shop, err)
	}
	want := api.Service{APIVersion: "v1", Kind: "Service",
		Metadata: api.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: api.ServiceSpec{Type: "NodePort", ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			IPFamilies: []string{"IPv4"}, IPFamilyPolicy: "SingleStack", Selector: map[string]string{"app": "web"}, SessionAffinity: "None",
			Ports: []api.ServicePort{
				{Name: "http", Protocol: "TCP", Port: 80, TargetPort: spec.FromString("http"), NodePort: 30080},
				{Name: "metrics", Protocol: "TCP", Port: 9090, TargetPort: spec.FromInt(9090), NodePort: 30090},
			}}}
	if d := cmp.Diff(want, shop[0]); d != "" {
		t.Errorf("web (-want +got):\n%s", d)
	}

	// The raw JSON is Kubernetes' shape: a ServiceList with items, and an
	// empty status.loadBalancer.
	resp, err := http.Get(cl.BaseURL() + api.PathServices + "?namespace=data")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	items, _ := raw["items"].([]any)
	if raw["kind"] != "ServiceList" || raw["apiVersion"] != "v1" || len(items) != 1 {
		t.Fatalf("raw list = %v", raw)
	}
	db := items[0].(map[string]any)
	if st, _ := db["status"].(map[string]any); st == nil || st["loadBalancer"] == nil {
		t.Errorf("db status = %v, want {loadBalancer: {}}", db["status"])
	}
	if db["spec"].(map[string]any)["clusterIP"] != "None" {
		t.Errorf("db spec = %v", db["spec"])
	}

	d, err := cl.DescribeService(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	if d.MatchingPods != 4 || len(d.Excluded) != 2 || d.Excluded[0].Reason != api.ExclusionSelectorMismatch {
		t.Errorf("description: matching %d, excluded %+v", d.MatchingPods, d.Excluded)
	}
	if _, err := cl.DescribeService(ctx, "shop", "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown service: err = %v, want not found", err)
	}
}

// TestEndpointsHTTP checks Kubernetes' packing: pods serving the same ports
// share a subset, not-Ready ones are notReadyAddresses, IPs sort
// numerically, a headless Service without ports lists bare addresses.
func TestEndpointsHTTP(t *testing.T) {
	_, cl := serveServices(t, &view{leader: true, services: svcViews()})
	ctx := context.Background()
	eps, err := cl.Endpoints(ctx, "")
	if err != nil || len(eps) != 2 {
		t.Fatalf("Endpoints = %v, %v", eps, err)
	}
	ref := func(ns, pod string) *api.ObjectReference {
		return &api.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod}
	}
	wantDB := api.Endpoints{APIVersion: "v1", Kind: "Endpoints", Metadata: api.ObjectMeta{Name: "db", Namespace: "data"},
		Subsets: []api.EndpointSubset{{Addresses: []api.EndpointAddress{{IP: "10.244.2.10", Hostname: "db-0", NodeName: "node-b", TargetRef: ref("data", "db-0")}}}}}
	if d := cmp.Diff(wantDB, eps[0]); d != "" {
		t.Errorf("db (-want +got):\n%s", d)
	}
	web, err := cl.EndpointsOf(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	wantWeb := api.Endpoints{APIVersion: "v1", Kind: "Endpoints", Metadata: api.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Subsets: []api.EndpointSubset{
			{
				Addresses:         []api.EndpointAddress{{IP: "10.244.1.10", NodeName: "node-a", TargetRef: ref("shop", "web-2")}},
				NotReadyAddresses: []api.EndpointAddress{{IP: "10.244.1.9", NodeName: "node-a", TargetRef: ref("shop", "web-1")}},
				Ports:             []api.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "metrics", Port: 9090, Protocol: "TCP"}},
			},
			{
				Addresses: []api.EndpointAddress{{IP: "10.244.2.3", NodeName: "node-b", TargetRef: ref("shop", "web-3")}},
				Ports:     []api.EndpointPort{{Name: "metrics", Port: 9090, Protocol: "TCP"}},
			},
		}}
	if d := cmp.Diff(wantWeb, *web); d != "" {
		t.Errorf("web (-want +got):\n%s", d)
	}
	if _, err := cl.EndpointsOf(ctx, "shop", "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown endpoints: err = %v, want not found", err)
	}
}

// TestWatchServices follows a Service's cluster IP changing and the
// Service going away.
func TestWatchServices(t *testing.T) {
	s, cl := serveServices(t, &view{leader: true, services: svcViews()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := cl.Watch(ctx, api.PathServices, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next := func(typ string) api.Service {
		t.Helper()
		ev, err := w.Next()
		if err != nil || ev.Type != typ {
			t.Fatalf("event = %+v, %v; want %s", ev, err, typ)
		}
		var svc api.Service
		if typ != api.WatchBookmark {
			json.Unmarshal(ev.Object, &svc)
		}
		return svc
	}
	if svc := next(api.WatchAdded); svc.Metadata.Name != "web" {
		t.Fatalf("added %+v", svc)
	}
	next(api.WatchBookmark)
	views := svcViews()
	views[1].Resolved.Ports[0].NodePort = 31000
	s.view.Store(&view{leader: true, services: views})
	s.viewChanged.notify()
	if svc := next(api.WatchModified); svc.Spec.Ports[0].NodePort != 31000 {
		t.Fatalf("modified %+v", svc)
	}
	s.view.Store(&view{leader: true, services: views[:1]})
	s.viewChanged.notify()
	next(api.WatchDeleted)
}

// TestServiceRoutes: the real API serves the Service and Endpoints paths
// (an empty list before any Service is committed, not found for one).
func TestServiceRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the services list", func() bool {
		svcs, err := cl.Services(ctx, "shop")
		return err == nil && len(svcs) == 0
	})
	if eps, err := cl.Endpoints(ctx, ""); err != nil || len(eps) != 0 {
		t.Errorf("Endpoints = %v, %v", eps, err)
	}
	// Not found by the handler, not by the mux's catch-all.
	if _, err := cl.DescribeService(ctx, "shop", "web"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "service shop/web not found") {
		t.Errorf("DescribeService of nothing: %v, want not found", err)
	}
	if _, err := cl.EndpointsOf(ctx, "shop", "web"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "service shop/web not found") {
		t.Errorf("EndpointsOf of nothing: %v, want not found", err)
	}
}
