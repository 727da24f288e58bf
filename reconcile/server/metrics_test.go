package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/promtest"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

func scrape(t *testing.T, base string) promtest.Families {
	t.Helper()
	return promtest.Scrape(t, base+api.PathMetrics)
}

// TestMetricsFollowTheCluster scrapes a leader with fake agents: the
// gauges show the view (pods by phase, nodes, the deployment, the applied
// commit, raft), and the counters move when the thing happens (a sync, a
// webhook delivery, a plan).
func TestMetricsFollowTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	c1 := repo.commit("web: 2 replicas", map[string]string{"ns.yaml": nsYAML, "web.yaml": deploymentYAML(2, "img:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())

	var mfs promtest.Families
	get := func(name string, kv ...string) float64 { return mfs.Get(name, kv...) }
	waitFor(t, 15*time.Second, "2 Running pods in stevedore_pods", func() bool {
		mfs = scrape(t, s.APIURL())
		return get("stevedore_pods", "phase", "Running") == 2
	})
	for _, c := range []struct {
		name string
		kv   []string
		want float64
	}{
		{"stevedore_raft_leader", nil, 1},
		{"stevedore_pods", []string{"phase", "Pending"}, 0},
		{"stevedore_nodes", []string{"state", "ready"}, 1},
		{"stevedore_nodes", []string{"state", "not_ready"}, 0},
		{"stevedore_revision_info", []string{"application", "default", "commit", c1}, 1},
		{"stevedore_deployment_spec_replicas", []string{"namespace", "shop", "deployment", "web"}, 2},
		{"stevedore_deployment_status_replicas_updated", []string{"namespace", "shop", "deployment", "web"}, 2},
		{"stevedore_syncs_total", []string{"application", "default", "result", syncApplied}, 1},
	} {
		if got, ok := mfs.Value(c.name, c.kv...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.kv, got, ok, c.want)
		}
	}
	if get("stevedore_raft_term") < 1 || get("stevedore_raft_applied_index") < 1 || get("stevedore_raft_last_index") < get("stevedore_raft_applied_index") {
		t.Errorf("raft gauges: term %v, last %v, applied %v", get("stevedore_raft_term"), get("stevedore_raft_last_index"), get("stevedore_raft_applied_index"))
	}
	if get("stevedore_fencing_token") != float64(s.Term()) {
		t.Errorf("stevedore_fencing_token = %v, want %d", get("stevedore_fencing_token"), s.Term())
	}
	if get("stevedore_plan_duration_seconds") < 1 || get("stevedore_sync_duration_seconds", "result", syncApplied) != 1 {
		t.Errorf("histograms: plans %v, applied syncs %v", get("stevedore_plan_duration_seconds"), get("stevedore_sync_duration_seconds", "result", syncApplied))
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("%s missing: the Go and process collectors are not registered", name)
		}
	}

	// A sync of the same head: unchanged.
	cl, _ := api.NewClient(s.APIURL(), nil)
	if _, err := cl.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	mfs = scrape(t, s.APIURL())
	if got := get("stevedore_syncs_total", "application", "default", "result", syncUnchanged); got != 1 {
		t.Errorf("unchanged syncs = %v after one sync of the same head, want 1", got)
	}

	// A bad commit, pushed by webhook: invalid, one delivery accepted;
	// a ping and a malformed delivery counted by their results.
	repo.commit("typo", map[string]string{"web.yaml": strings.Replace(deploymentYAML(3, "img:1"), "replicas: 3", "replicaz: 3", 1)})
	for _, d := range []struct{ event, body string }{{"push", `{"ref":"refs/heads/main"}`}, {"ping", `{}`}, {"push", `{`}} {
		req, _ := http.NewRequest(http.MethodPost, s.APIURL()+api.PathWebhook, strings.NewReader(d.body))
		req.Header.Set("X-GitHub-Event", d.event)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitFor(t, 10*time.Second, "the invalid sync counted", func() bool {
		mfs = scrape(t, s.APIURL())
		return get("stevedore_syncs_total", "application", "default", "result", syncInvalid) == 1
	})
	for result, want := range map[string]float64{"accepted": 1, "ping": 1, "invalid": 1} {
		if got := get("stevedore_webhook_deliveries_total", "result", result); got != want {
			t.Errorf("webhook deliveries %s = %v, want %v", result, got, want)
		}
	}
	if got := get("stevedore_revision_info", "commit", c1); got != 1 {
		t.Errorf("revision_info of %s = %v after an invalid commit, want 1 (the last good one)", c1, got)
	}

	// The agent goes: its node is not ready and its pods are not Running.
	a.crash()
	waitFor(t, 20*time.Second, "node-a not ready", func() bool {
		mfs = scrape(t, s.APIURL())
		return get("stevedore_nodes", "state", "not_ready") == 1 && get("stevedore_nodes", "state", "ready") == 0
	})
}

// TestMetricsPushErrors: a refused set counts as a stale push error of its
// node.
func TestMetricsPushErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	s, _ := onePodOneAgent(t, log, func(a *fakeAgent) { a.refuseAll = true })
	waitFor(t, 10*time.Second, "a stale push error of node-a", func() bool {
		v := scrape(t, s.APIURL()).Get("stevedore_push_errors_total", "node", "node-a", "reason", "stale")
		return v >= 1
	})

}

// TestMetricsFollowerView: a reconciler with a follower's (empty) view
// leaves the cluster gauges out (they would be counted once per
// reconciler) and still exports what it has of its own.
func TestMetricsFollowerView(t *testing.T) {
	s := &Server{store: newStore()}
	s.store.bootstrap = "default"
	s.store.st.Revision = &savedRevision{Commit: api.Commit{Hash: "abc123"}}
	s.view.Store(&view{})
	s.metrics = newServerMetrics(s)
	srv := httptest.NewServer(s.metrics.handler())
	defer srv.Close()
	mfs := promtest.Scrape(t, srv.URL)
	for _, name := range []string{"stevedore_pods", "stevedore_nodes", "stevedore_deployment_spec_replicas"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("a follower exports %s", name)
		}
	}
	if v, ok := mfs.Value("stevedore_revision_info", "application", "default", "commit", "abc123"); !ok || v != 1 {
		t.Errorf("revision_info = %v, %v; want the store's revision", v, ok)
	}
	if v, ok := mfs.Value("stevedore_fencing_token"); !ok || v != 0 {
		t.Errorf("fencing token = %v, %v; want 0 on a follower", v, ok)
	}
}

func TestSyncResultLabel(t *testing.T) {
	for _, c := range []struct {
		res     api.SyncResult
		planned bool
		want    string
	}{
		{api.SyncResult{}, true, syncApplied},
		{api.SyncResult{}, false, syncUnchanged},
		{api.SyncResult{Error: &api.SyncError{Stage: api.StageFetch}}, false, syncFetchErr},
		{api.SyncResult{Error: &api.SyncError{Stage: api.StageLoad}}, false, syncInvalid},
		{api.SyncResult{Error: &api.SyncError{Stage: api.StageConflict}}, false, syncConflict},
		{api.SyncResult{Error: &api.SyncError{Stage: api.StageApply}}, false, syncApplyErr},
	} {
		if got := syncResultLabel(c.res, c.planned); got != c.want {
			t.Errorf("%s: got %s", fmt.Sprint(c.res.Error), got)
		}
	}
	var m *serverMetrics // a bare server's: nothing panics
	m.observePlan(time.Second)
	m.pushFailed("n", true)
	m.observeSync("a", api.SyncResult{}, true, time.Second)
}
