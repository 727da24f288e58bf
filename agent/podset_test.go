package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A refused set tells the leader the term the agent has seen.
func TestStaleAnswerCarriesTerm(t *testing.T) {
	a := startAgent(t, testConfig(t, "n1"), newFakeRuntime())
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)
	if _, err := c.Apply(ctx, podSet(5, 7, "a")); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, tc := range []struct {
		name string
		ps   api.PodSet
	}{
		{"lower term", podSet(4, 100, "a")},
		{"lower generation", podSet(5, 6, "a")},
		{"same generation, other pods", podSet(5, 7, "x")},
	} {
		_, err := c.Apply(ctx, tc.ps)
		if !errors.Is(err, api.ErrStale) || !errdefs.IsConflict(err) {
			t.Fatalf("%s: err = %v, want a stale conflict", tc.name, err)
		}
		if term, ok := api.StaleTerm(err); !ok || term != 5 {
			t.Errorf("%s: StaleTerm = %d, %v; want 5, true", tc.name, term, ok)
		}
	}
	// A new leader's term raises what later refusals report.
	if _, err := c.Apply(ctx, podSet(9, 1, "b")); err != nil {
		t.Fatalf("Apply term 9: %v", err)
	}
	_, err := c.Apply(ctx, podSet(5, 8, "a"))
	if term, ok := api.StaleTerm(err); !ok || term != 9 {
		t.Errorf("deposed leader: StaleTerm = %d, %v (err %v); want 9, true", term, ok, err)
	}

	// Other errors have no term.
	other := podSet(10, 1, "a")
	other.Node = "n2"
	_, err = c.Apply(ctx, other)
	if _, ok := api.StaleTerm(err); ok || !errdefs.IsInvalidArgument(err) {
		t.Errorf("invalid set: err = %v, StaleTerm ok = %v", err, ok)
	}
	if _, ok := api.StaleTerm(nil); ok {
		t.Error("StaleTerm(nil) reported a term")
	}

	// On the wire: {"error", "code": "stale", "term"}.
	b, _ := json.Marshal(podSet(1, 1, "a"))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, a.APIURL()+api.PathPodSet, strings.NewReader(string(b)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body api.Error
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusConflict || body.Code != "stale" || body.Term != 9 || body.Error == "" {
		t.Errorf("stale answer: %d %+v", resp.StatusCode, body)
	}
}

func ownedPod(name string) api.Pod {
	p := pod(name)
	p.Owner = "Deployment/default/web"
	p.Hash = "5d8f7c9b"
	p.Created = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	p.Labels = map[string]string{"app": "web"}
	return p
}

// GET /v1/podset returns the set last applied, pods as sent, and still does
// after the agent restarts (the runtime adopts its records, the fence keeps
// term and generation).
func TestPodSetSurvivesRestart(t *testing.T) {
	cfg := testConfig(t, "n1")
	rt := newFakeRuntime()
	a, err := New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(a.APIURL(), nil)

	empty, err := c.PodSet(ctx)
	if err != nil {
		t.Fatalf("PodSet of a fresh agent: %v", err)
	}
	if diff := cmp.Diff(&api.PodSet{Node: "n1", Pods: []api.Pod{}}, empty); diff != "" {
		t.Errorf("fresh agent's pod set (-want +got):\n%s", diff)
	}

	want := api.PodSet{Node: "n1", Term: 4, Generation: 2, Pods: []api.Pod{ownedPod("a"), ownedPod("b")}}
	if _, err := c.Apply(ctx, want); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	got, err := c.PodSet(ctx)
	if err != nil {
		t.Fatalf("PodSet: %v", err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("pod set (-want +got):\n%s", diff)
	}

	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	b := startAgent(t, cfg, rt.restarted())
	c = api.NewClient(b.APIURL(), nil)
	got, err = c.PodSet(ctx)
	if err != nil {
		t.Fatalf("PodSet after restart: %v", err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("pod set after restart (-want +got):\n%s", diff)
	}
}
