package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

func TestVersion(t *testing.T) {
	server := api.Version{BuildInfo: api.BuildInfo{GitVersion: "v0.3.0", GitCommit: "0123456789abcdef0123456789abcdef01234567", GitTreeState: "clean",
		BuildDate: "2026-11-01T10:00:00Z", GoVersion: "go1.26.8", Compiler: "gc", Platform: "linux/arm64"}, StoreFormat: 2, StoreFormatMax: 2}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != api.PathVersion {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(server)
	}))
	t.Cleanup(srv.Close)
	client := version.Get()

	code, out, errOut := ctl(t, srv.URL, "version")
	want := "Client Version: " + client.String() + "\nServer Version: v0.3.0 (commit 0123456789ab, 2026-11-01T10:00:00Z) go1.26.8 linux/arm64\n"
	if code != 0 || out != want {
		t.Errorf("version = %d %q\n%s\nwant\n%s", code, errOut, out, want)
	}

	code, out, _ = ctl(t, srv.URL, "version", "-o", "json")
	var got struct {
		Client map[string]any `json:"clientVersion"`
		Server map[string]any `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Server["gitCommit"] != server.GitCommit ||
		got.Server["gitTreeState"] != "clean" || got.Client["goVersion"] != client.GoVersion || got.Client["platform"] != client.Platform {
		t.Errorf("version -o json = %d %v\n%s", code, err, out)
	}
	code, out, _ = ctl(t, srv.URL, "version", "-o", "yaml")
	if err := yaml.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Server["gitVersion"] != "v0.3.0" || got.Client["gitVersion"] != client.GitVersion {
		t.Errorf("version -o yaml = %d %v\n%s", code, err, out)
	}

	before := calls.Load()
	code, out, _ = ctl(t, srv.URL, "version", "--client")
	if code != 0 || out != "Client Version: "+client.String()+"\n" || calls.Load() != before {
		t.Errorf("version --client = %d (%d requests)\n%s", code, calls.Load()-before, out)
	}
	code, out, _ = ctl(t, srv.URL, "version", "--client", "-o", "json")
	if code != 0 || strings.Contains(out, "serverVersion") || !strings.Contains(out, `"clientVersion": {`) {
		t.Errorf("version --client -o json = %d\n%s", code, out)
	}

	// No reconciler: the client's version, then the error, exit 2.
	code, out, errOut = ctl(t, noServer, "version")
	if code != exitError || out != "Client Version: "+client.String()+"\n" || !strings.Contains(errOut, "failed to get the reconciler's version") {
		t.Errorf("version without a server = %d %q %q", code, out, errOut)
	}
	if code, _, errOut = ctl(t, srv.URL, "version", "-o", "xml"); code != exitError || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("version -o xml = %d %q", code, errOut)
	}
}
