package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestVersionAnsweredWithoutLeader: a reconciler answers /v1/version for
// itself, even with no leader (it is not started here): a leader-only
// endpoint would wait for one and answer 503.
func TestVersionAnsweredWithoutLeader(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Source.URL, cfg.DataDir = t.TempDir(), t.TempDir()
	cfg.Logger, _ = testLogger(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + api.PathVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v api.Version
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", api.PathVersion, resp.StatusCode, err)
	}
	bi := version.Get()
	proto := agentapi.Supported()
	want := api.Version{BuildInfo: api.BuildInfo(bi), ReleaseVersion: bi.ReleaseVersion(), APIVersions: []string{"v1"}, AgentProtocol: &proto,
		StoreFormat: storeFormatJSON, StoreFormatMax: maxStoreFormat}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("version (-want +got):\n%s", diff)
	}
	if h := resp.Header.Get(api.HeaderServerVersion); h != bi.ReleaseVersion() {
		t.Errorf("%s = %q, want %q", api.HeaderServerVersion, h, bi.ReleaseVersion())
	}
}
