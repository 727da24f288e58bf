package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
)

// joinServer is a reconciler's join endpoint in miniature (the real one
// is reconcile/server/join.go): it admits a joiner whose token matches.
func joinServer(t *testing.T, ca *pki.CA, tok pki.Token, gossip []byte) *httptest.Server {
	t.Helper()
	cert, key, err := ca.Issue(pki.Request{User: pki.ReconcilerUser("r1"), IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ca.ServerTLS(pki.KeyPair{CertPEM: cert, KeyPEM: key}, false)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req pki.JoinRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		p, err := pki.ParseToken(req.Token)
		if err != nil || !p.Matches(tok.Hash()) {
			http.Error(w, "bootstrap token refused", http.StatusUnauthorized)
			return
		}
		pub, err := pki.ParseCSR([]byte(req.CSR))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var ips []net.IP
		for _, s := range req.IPs {
			ips = append(ips, net.ParseIP(s))
		}
		c, _, err := ca.Issue(pki.Request{User: pki.NodeUser(req.Name), IPs: ips, PublicKey: pub})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(pki.JoinResponse{CACert: string(ca.CertPEM), Cert: string(c), GossipKey: pki.EncodeGossipKey(gossip)})
	}))
	srv.TLS = conf
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestSecuredAgent: an agent joins with the bootstrap token (a wrong one
// is refused and the agent does not start), keeps its credentials for the
// next start, serves HTTPS, applies a pod set from a reconciler's
// certificate and refuses one without a certificate, with another CA's,
// or with a node's.
func TestSecuredAgent(t *testing.T) {
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := pki.NewToken(ca)
	gk, _ := pki.NewGossipKey()
	js := joinServer(t, ca, tok, gk)

	cfg := testConfig(t, "n1")
	cfg.Security = SecurityConfig{Token: pki.Token{CAHash: tok.CAHash, Secret: strings.Repeat("1", 64)}.String(), Servers: []string{js.URL}}
	a, err := New(cfg, newFakeRuntime())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("start with a wrong token: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "pki")); err == nil {
		t.Error("a refused join left credentials")
	}
	// A token of another cluster: the server's CA does not match the pin.
	other, _ := pki.NewCA("other")
	otok, _ := pki.NewToken(other)
	cfg2 := testConfig(t, "n1")
	cfg2.Security = SecurityConfig{Token: otok.String(), Servers: []string{js.URL}}
	a2, _ := New(cfg2, newFakeRuntime())
	if err := a2.Start(ctx); err == nil || !strings.Contains(err.Error(), "does not hold the CA") {
		t.Fatalf("start with another cluster's token: %v", err)
	}
	// No token and no credentials: a clear refusal to start.
	cfg3 := testConfig(t, "n1")
	cfg3.Security = SecurityConfig{}
	a3, _ := New(cfg3, newFakeRuntime())
	if err := a3.Start(ctx); err == nil || !strings.Contains(err.Error(), "bootstrap token") {
		t.Fatalf("start without credentials: %v", err)
	}

	cfg.Security.Token = tok.String()
	a = startAgent(t, cfg, newFakeRuntime())
	if !strings.HasPrefix(a.APIURL(), "https://") {
		t.Fatalf("API URL %s", a.APIURL())
	}
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "pki", pki.FileKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("node key: %v %v", fi, err)
	}

	issue := func(c *pki.CA, u policy.User) pki.KeyPair {
		cert, key, err := c.Issue(pki.Request{User: u})
		if err != nil {
			t.Fatal(err)
		}
		return pki.KeyPair{CertPEM: cert, KeyPEM: key}
	}
	put := func(kp pki.KeyPair, set api.PodSet) (int, error) {
		conf, err := ca.ClientTLS(kp, policy.GroupNodes)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		b, _ := json.Marshal(set)
		req, _ := http.NewRequest(http.MethodPut, a.APIURL()+api.PathPodSet, bytes.NewReader(b))
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	hostile := podSet(1000, 1, "evil")
	for what, kp := range map[string]pki.KeyPair{
		"no certificate":                      {},
		"another CA's reconciler certificate": issue(other, pki.ReconcilerUser("r1")),
		"a node certificate":                  issue(ca, pki.NodeUser("n2")),
		"the admin's certificate":             issue(ca, pki.AdminUser()),
	} {
		if code, err := put(kp, hostile); err == nil {
			t.Errorf("%s: PUT pod set answered %d", what, code)
		}
	}
	// A monitoring certificate reads /metrics and nothing else: its PUT
	// is a 403 behind the handshake.
	monitor := issue(ca, policy.User{Name: "prometheus", Groups: []string{policy.GroupMonitoring}})
	if code, err := put(monitor, hostile); err == nil && code != http.StatusForbidden {
		t.Errorf("a monitoring certificate: PUT pod set answered %d", code)
	}
	monConf, err := ca.ClientTLS(monitor, policy.GroupNodes)
	if err != nil {
		t.Fatal(err)
	}
	monHC := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: monConf}}
	for path, want := range map[string]int{api.PathMetrics: http.StatusOK, api.PathPods: http.StatusForbidden, api.PathStats: http.StatusForbidden} {
		resp, err := monHC.Get(a.APIURL() + path)
		if err != nil {
			t.Fatalf("monitoring GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("monitoring GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if a.fence.Term == 1000 || len(a.rt.Status()) != 0 {
		t.Error("a refused pod set was applied")
	}
	// Plain HTTP on the TLS port is refused too.
	if resp, err := http.Get("http://" + strings.TrimPrefix(a.APIURL(), "https://") + api.PathPods); err == nil {
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP answered %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	// A reconciler's certificate is served.
	if code, err := put(issue(ca, pki.ReconcilerUser("r1")), podSet(1, 1, "web")); err != nil || code != http.StatusOK {
		t.Fatalf("reconciler PUT: %d %v", code, err)
	}

	// The next start needs no token: the credentials are in the data dir.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := a.Shutdown(ctx2); err != nil {
		t.Fatal(err)
	}
	cfg.Security = SecurityConfig{}
	b := startAgent(t, cfg, newFakeRuntime())
	if !strings.HasPrefix(b.APIURL(), "https://") {
		t.Errorf("restart: %s", b.APIURL())
	}
}
