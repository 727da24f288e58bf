package server

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// filterServer is a server with no raft, serf or Git, whose view holds
// pods, workloads and events, for the handlers' filters.
func filterServer(t *testing.T) *Server {
	t.Helper()
	s := &Server{store: newStore(), log: slog.Default(), events: newEventRing(100)}
	s.metrics = newServerMetrics(s)
	pod := func(ns, name, node, phase string, labels map[string]string) reconcile.PodView {
		return reconcile.PodView{UID: ns + "-" + name, Namespace: ns, Name: name, Node: node, Phase: phase, Labels: labels,
			Spec: spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "registry.local/x:1"}}}}
	}
	set, err := spec.Load(map[string][]byte{"ns.yaml": []byte(nsYAML), "w.yaml": []byte(strings.ReplaceAll(deploymentYAML(2, "registry.local/hello:1"),
		"  namespace: shop\n", "  namespace: shop\n  labels: {tier: front}\n"))})
	if err != nil {
		t.Fatal(err)
	}
	s.view.Store(&view{leader: true, set: set,
		views: []reconcile.PodView{
			pod("db", "pg-0", "n2", "Running", map[string]string{"app": "pg", "tier": "back"}),
			pod("shop", "web-1", "n1", "Running", map[string]string{"app": "web", "tier": "front"}),
			pod("shop", "web-2", "", "Pending", map[string]string{"app": "web", "tier": "front", "canary": "true"}),
		},
		workloads: []reconcile.WorkloadView{
			{Kind: spec.KindDeployment, Namespace: "shop", Name: "web", Replicas: 2},
			{Kind: spec.KindDeployment, Namespace: "db", Name: "pg", Replicas: 1},
		}})
	s.events.append([]reconcile.Event{
		{Time: time.Now(), Object: "Pod/shop/web-1", Reason: "Started", Message: "container web started"},
		{Time: time.Now(), Object: "Pod/shop/web-2", Reason: "FailedScheduling", Message: "0/2 nodes fit", Type: "Warning"},
		{Time: time.Now(), Object: "Pod/db/pg-0", Reason: "Started", Message: "container pg started"},
	})
	return s
}

func getFrom(t *testing.T, h http.HandlerFunc, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", target, nil))
	return rec.Code, strings.ReplaceAll(rec.Body.String(), `\"`, `"`)
}

// TestListFilters: every filter of the pods, workloads and events lists,
// through their handlers, and a 400 naming what is wrong for each bad one.
func TestListFilters(t *testing.T) {
	t.Parallel()
	s := filterServer(t)
	podNames := func(body string) []string {
		var l api.PodList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		var out []string
		for _, p := range l.Pods {
			out = append(out, p.Namespace+"/"+p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"db/pg-0", "shop/web-1", "shop/web-2"}},
		{"?namespace=shop", []string{"shop/web-1", "shop/web-2"}},
		{"?q=WEB-", []string{"shop/web-1", "shop/web-2"}},
		{"?q=n2", []string{"db/pg-0"}}, // the node
		{"?q=pending", []string{"shop/web-2"}},
		{"?q=shop/web-1", []string{"shop/web-1"}},
		{"?labelSelector=app%3Dweb", []string{"shop/web-1", "shop/web-2"}},
		{"?labelSelector=tier+in+(front,back),!canary", []string{"db/pg-0", "shop/web-1"}},
		{"?labelSelector=canary!%3Dtrue", []string{"db/pg-0", "shop/web-1"}},
		{"?fieldSelector=status.phase%3DRunning", []string{"db/pg-0", "shop/web-1"}},
		{"?fieldSelector=spec.nodeName%3D%3D", []string{"shop/web-2"}}, // unscheduled, as kubectl asks for them
		{"?fieldSelector=spec.nodeName!%3Dn1,metadata.namespace%3Dshop", []string{"shop/web-2"}},
		{"?fieldSelector=metadata.name%3Dweb-1&labelSelector=app%3Dweb&q=shop", []string{"shop/web-1"}},
		{"?q=nothing-matches", nil},
	} {
		code, body := getFrom(t, s.handlePods, "/v1/pods"+tc.query)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.query, code, body)
		}
		if got := podNames(body); !slices.Equal(got, tc.want) {
			t.Errorf("pods%s = %v, want %v", tc.query, got, tc.want)
		}
	}

	code, body := getFrom(t, s.handleDeployments, "/v1/deployments?labelSelector=tier%3Dfront")
	if code != http.StatusOK || !strings.Contains(body, `"name":"web"`) || strings.Contains(body, `"name":"pg"`) {
		t.Errorf("deployments by the Deployment's own labels: %d %s", code, body)
	}
	code, body = getFrom(t, s.handleDeployments, "/v1/deployments?q=DB/")
	if code != http.StatusOK || strings.Contains(body, `"name":"web"`) || !strings.Contains(body, `"name":"pg"`) {
		t.Errorf("deployments?q=DB/: %d %s", code, body)
	}
	code, body = getFrom(t, s.handleEvents, "/v1/events?type=Warning")
	if code != http.StatusOK || !strings.Contains(body, "FailedScheduling") || strings.Contains(body, "Started") {
		t.Errorf("events?type=Warning: %d %s", code, body)
	}
	code, body = getFrom(t, s.handleEvents, "/v1/events?type=normal&q=PG")
	if code != http.StatusOK || !strings.Contains(body, "container pg started") || strings.Contains(body, "web") {
		t.Errorf("events?type=normal&q=PG: %d %s", code, body)
	}

	for _, tc := range []struct {
		h      http.HandlerFunc
		target string
		msg    string
	}{
		{s.handlePods, "/v1/pods?labelSelector=app%3D%3D%3D", "invalid label selector"},
		{s.handlePods, "/v1/pods?fieldSelector=spec.containers%3Dx", `field "spec.containers" is not supported on pods (metadata.name, metadata.namespace, spec.nodeName, status.phase)`},
		{s.handlePods, "/v1/pods?fieldSelector=status.phase", `invalid field selector "status.phase"`},
		{s.handlePods, "/v1/pods?view=full", `the only view is summary`},
		{s.handlePods, "/v1/pods?type=Warning", "type is not supported on a list of pods"},
		{s.handleDeployments, "/v1/deployments?fieldSelector=status.phase%3DRunning", `field "status.phase" is not supported on workloads`},
		{s.handleDeployments, "/v1/deployments?view=summary", "view is not supported on a list of workloads"},
		{s.handleEvents, "/v1/events?type=Error", `type="Error": want Normal or Warning`},
		{s.handleEvents, "/v1/events?labelSelector=a", "labelSelector is not supported on a list of events"},
		{s.handleEvents, "/v1/events?fieldSelector=a%3Db", "fieldSelector is not supported on a list of events"},
	} {
		code, body := getFrom(t, tc.h, tc.target)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.target, code, body, tc.msg)
		}
	}
}

// TestFilteredWatch: a watch sends only what its filters keep, in the
// summary view when asked.
func TestFilteredWatch(t *testing.T) {
	t.Parallel()
	s := filterServer(t)
	srv := httptest.NewServer(http.HandlerFunc(s.handlePods))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/pods?watch=1&labelSelector=app%3Dweb&fieldSelector=status.phase%3DRunning&view=summary", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var got []api.Pod
	for sc.Scan() {
		var ev api.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == api.WatchBookmark {
			break
		}
		var p api.Pod
		if err := json.Unmarshal(ev.Object, &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if len(got) != 1 || got[0].Name != "web-1" || len(got[0].Spec.Containers) != 0 {
		t.Fatalf("watch sent %+v, want web-1 alone, without its spec", got)
	}
}

// TestPodSummarySize measures what view=summary saves on a pod of the
// examples (the hello Deployment of examples-repo, running with a full
// report from its node): the figure docs/ui.md quotes.
func TestPodSummarySize(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../examples-repo/apps/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := spec.Load(map[string][]byte{"apps/hello.yaml": b, "ns.yaml": []byte(strings.ReplaceAll(nsYAML, "shop", "demo"))})
	if err != nil {
		t.Fatal(err)
	}
	var ps *spec.PodSpec
	var labels map[string]string
	for _, o := range set.Objects {
		if d, ok := o.(*spec.Deployment); ok {
			ps, labels = &d.Spec.Template.Spec, d.Spec.Template.Labels
		}
	}
	if ps == nil {
		t.Fatal("no Deployment in examples-repo/apps/hello.yaml")
	}
	now := time.Now()
	started := true
	st := &agentapi.PodStatus{UID: "0b7f6c1e-8d1a-4a57-9a7c-1f0e2d3c4b5a", Namespace: "default", Name: "hello-7d4b9c8f6d-x2x9k", Node: "node-1",
		Phase: "Running", PodIP: "10.244.1.17", StartTime: &now, Owner: "Deployment/default/hello", Hash: "7d4b9c8f6d",
		Conditions: []agentapi.Condition{{Type: agentapi.PodInitialized, Status: "True", LastTransitionTime: now},
			{Type: agentapi.PodContainersReady, Status: "True", LastTransitionTime: now}, {Type: agentapi.PodReady, Status: "True", LastTransitionTime: now}}}
	for _, c := range ps.Containers {
		st.Containers = append(st.Containers, agentapi.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "sha256:" + strings.Repeat("ab", 32),
			ContainerID: "containerd://" + strings.Repeat("cd", 32), State: agentapi.ContainerState{Running: &agentapi.StateRunning{StartedAt: now}},
			Ready: true, Started: &started})
	}
	full := api.Pod{PodView: api.PodView{UID: st.UID, Namespace: st.Namespace, Name: st.Name, Owner: st.Owner, Labels: labels, Node: st.Node,
		Phase: st.Phase, PodIP: st.PodIP, Status: st, Spec: *ps, Created: now}}
	fb, _ := json.Marshal(full)
	sb, _ := json.Marshal(summaryPod(full))
	t.Logf("a pod of examples-repo/apps/hello.yaml: %d bytes in full, %d in the summary view", len(fb), len(sb))
	if len(sb)*2 > len(fb) {
		t.Errorf("summary %d bytes, full %d: want less than half", len(sb), len(fb))
	}
	var back api.Pod
	if err := json.Unmarshal(sb, &back); err != nil || back.Status == nil || len(back.Status.Containers) != len(ps.Containers) ||
		!back.Status.Containers[0].Ready || back.Status.Containers[0].State.Running == nil || back.Phase != "Running" || back.Node != "node-1" {
		t.Errorf("summary lost what a table shows: %s", sb)
	}
}
