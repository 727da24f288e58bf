package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// fakeVersioned is a reconciler that answers GET /v1/version with v (and
// header, when set, in api.HeaderServerVersion), and every other path
// with its router's 404, as a reconciler that lacks the endpoint. It
// records the requests' User-Agent and client version headers.
func fakeVersioned(t *testing.T, v api.Version, header string) (string, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("User-Agent")+"|"+r.Header.Get(api.HeaderClientVersion))
		mu.Unlock()
		if header != "" {
			w.Header().Set(api.HeaderServerVersion, header)
		}
		if r.URL.Path == api.PathVersion {
			json.NewEncoder(w).Encode(v)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(agentapi.Error{Error: "no such endpoint: " + r.Method + " " + r.URL.Path, Code: "not_found"})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestVersionSkewWarning: ctl version warns, as kubectl does, when the
// reconciler is more than one minor release away, and only then; ctl
// names itself and its release on every request.
func TestVersionSkewWarning(t *testing.T) {
	client := version.Get().ReleaseVersion()
	maj, minor, ok := version.MajorMinor(client)
	if !ok {
		t.Fatalf("client release %q does not parse", client)
	}
	for _, c := range []struct {
		name, release, header string
		warn                  bool
	}{
		{"same", client, "", false},
		{"one older", fmt.Sprintf("v%d.%d.0", maj, minor-1), "", false},
		{"one newer", fmt.Sprintf("v%d.%d.3", maj, minor+1), "", false},
		{"three older", fmt.Sprintf("v%d.%d.0", maj, minor-3), "", true},
		{"two newer", fmt.Sprintf("v%d.%d.0", maj, minor+2), "", true},
		// A reconciler that only says it in its header.
		{"header only", "", fmt.Sprintf("v%d.%d.0", maj, minor+5), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			server := c.release
			if server == "" {
				server = c.header
			}
			url, seen := fakeVersioned(t, api.Version{BuildInfo: api.BuildInfo{GitVersion: "(devel)"}, ReleaseVersion: c.release}, c.header)
			code, _, errOut := ctl(t, url, "version")
			smaj, sminor, _ := version.MajorMinor(server)
			want := fmt.Sprintf("WARNING: version difference between client (%d.%d) and server (%d.%d) exceeds the supported minor version skew of +/-1\n",
				maj, minor, smaj, sminor)
			if code != 0 || c.warn != strings.Contains(errOut, want) || !c.warn && errOut != "" {
				t.Errorf("ctl version against %s = %d, stderr %q; want warning %v (%q)", server, code, errOut, c.warn, want)
			}
			ua := "ctl/" + client + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")|" + client
			if s := seen(); len(s) != 1 || s[0] != ua {
				t.Errorf("requests' User-Agent|%s = %q, want %q", api.HeaderClientVersion, s, ua)
			}
		})
	}
}

// TestOlderServerNamesVersions: an endpoint the reconciler does not have
// (a 404 from its router) is reported as an older reconciler, with both
// releases, asked of GET /v1/version when the answer did not say.
func TestOlderServerNamesVersions(t *testing.T) {
	client := version.Get().ReleaseVersion()
	url, _ := fakeVersioned(t, api.Version{BuildInfo: api.BuildInfo{GitVersion: "v0.9.0"}}, "")
	code, _, errOut := ctl(t, url, "get", "nodes")
	want := "the reconciler does not serve GET " + api.PathNodes + ": it runs v0.9.0, this client " + client +
		"; upgrade the reconciler or use a client of its release (docs/versions.md)"
	if code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("get nodes against an older reconciler = %d %q\nwant %q", code, errOut, want)
	}
	// A 404 for an object (not for the endpoint) stays what it is.
	cl, err := api.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.SetUserAgent("ctl", client)
	_, err = cl.Nodes(t.Context())
	var older *api.OlderServerError
	if !errors.As(err, &older) || older.Server != "v0.9.0" || older.Client != client {
		t.Errorf("Nodes = %v; want an OlderServerError", err)
	}
}

// TestDescribeRefusedNode: a node the reconciler refuses by version shows
// why in its Ready condition, its agent's release and protocols, and
// NotReady with the refusal in get nodes.
func TestDescribeRefusedNode(t *testing.T) {
	msg := "agent node-c runs v0.19.0 (protocol 5..6); this reconciler v0.16.0 speaks 1..2: upgrade the reconciler first (docs/compatibility.md)"
	n := api.Node{Name: "node-c", State: api.NodeAlive, Status: api.NodeNotReady, Version: "v0.19.0",
		Protocol: agentapi.ProtocolRange{Min: 5, Max: 6}, VersionRefused: msg, Error: msg}
	var b bytes.Buffer
	printNodeDescription(&b, &api.NodeDescription{Node: n, StatusError: "node is not alive"})
	out := b.String()
	for _, want := range []string{
		"  Ready   False    <none>               VersionSkew   " + msg + "\n",
		"  Agent Version:    v0.19.0\n",
		"  Agent Protocol:   none (5..6)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe node lacks %q:\n%s", want, out)
		}
	}
	if got := nodeProtocol(api.Node{NegotiatedProtocol: 2, Protocol: agentapi.ProtocolRange{Min: 1, Max: 2}}); got != "2 (1..2)" {
		t.Errorf("nodeProtocol = %q", got)
	}
	if got := nodeStatus(n); got != api.NodeNotReady {
		t.Errorf("nodeStatus = %q", got)
	}
}
