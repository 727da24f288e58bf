package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A watch that asks for unchanged heartbeats gets a small frame when the
// list repeats, and the whole list again once something changes; one that
// does not ask gets the whole list every time (what an older reconciler
// expects).
func TestWatchUnchangedHeartbeat(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	cfg.WatchHeartbeat = 100 * time.Millisecond
	a := startAgent(t, cfg, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := api.NewClient(a.APIURL(), nil).Apply(ctx, podSet(2, 1, "a")); err != nil {
		t.Fatal(err)
	}
	frames := func(query string, n int) []map[string]any {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.APIURL()+api.PathPodsWatch+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var out []map[string]any
		for len(out) < n && sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		if len(out) < n {
			t.Fatalf("stream ended after %d frames: %v", len(out), sc.Err())
		}
		return out
	}
	got := frames("?"+api.QueryHeartbeat+"="+api.HeartbeatUnchanged, 3)
	if got[0]["unchanged"] != nil || got[0]["pods"] == nil {
		t.Errorf("first frame = %v, want the whole list", got[0])
	}
	for _, f := range got[1:] {
		if f["unchanged"] != true || f["pods"] != nil || f["node"] != "n1" || f["term"] != float64(2) || f["generation"] != float64(1) || f["time"] == nil {
			t.Errorf("heartbeat frame = %v, want an unchanged frame with node, term, generation and time", f)
		}
	}
	for _, f := range frames("", 3) {
		if f["unchanged"] != nil || f["pods"] == nil {
			t.Errorf("frame without the query = %v, want the whole list", f)
		}
	}

	// A change after unchanged heartbeats is a whole list again, and the
	// client hands its callers whole lists throughout.
	c := api.NewClient(a.APIURL(), nil)
	lists := make(chan api.PodStatusList, 100)
	go func() { _ = c.Watch(ctx, func(l api.PodStatusList) { lists <- l }) }()
	seen := 0
	changed := false
	for l := range lists {
		if len(l.Pods) != 1 {
			t.Fatalf("list %d has %d pods, want 1: %+v", seen, len(l.Pods), l)
		}
		seen++
		if seen == 3 {
			rt.setStatus([]api.PodStatus{{UID: "uid-a", Namespace: "default", Name: "a", Phase: api.PodFailed}})
		}
		if l.Pods[0].Phase == api.PodFailed {
			changed = true
		}
		if changed && seen >= 6 {
			if l.Pods[0].Phase != api.PodFailed {
				t.Errorf("heartbeat after the change repeats the old list: %+v", l)
			}
			break
		}
	}
}
