package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// secAuth is the API's latency with and without authentication.
const secAuth = "auth"

// authRequests is how many requests each row measures (after as many
// warm-up requests).
const authRequests = 2000

// authBenchViewers binds the view ClusterRole to a group, so that the
// bearer row's requests go through an RBAC binding of the repository, as
// a team's would, not through system:masters.
const authBenchViewers = `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bench-viewers
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: Group
  name: bench-viewers
`

// authBenchToken creates, with the admin's client, a token for a user in
// the group authBenchViewers binds to view.
func authBenchToken(ctx context.Context, cl *rapi.Client) (string, error) {
	t, err := cl.CreateToken(ctx, rapi.TokenRequest{User: "bench@example.com", Groups: []string{"bench-viewers"}, TTLSeconds: 3600})
	if err != nil {
		return "", fmt.Errorf("failed to create the bench's token: %w", err)
	}
	return t.Secret, nil
}

// authVariant is one way to call the API.
type authVariant struct {
	label string
	url   string
	hc    *http.Client
	// header is added to every request (a bearer token).
	header string
	// want is the status every request must answer.
	want int
}

// benchAuth measures GET /v1/status and GET /v1/pods on two in-process
// reconcilers tracking the same small repository: one with security off
// (plain HTTP, the floor) and one secured (HTTPS), called with the admin's
// client certificate over a kept-alive connection, with a new connection
// (a full TLS handshake) per request, and with a bearer token.
func benchAuth(ctx context.Context, out io.Writer) (string, error) {
	st := newStamp()
	dir, err := os.MkdirTemp("", "stevedore-bench-auth-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	repo, err := devenv.NewGitRepo(ctx, filepath.Join(dir, "git"))
	if err != nil {
		return "", err
	}
	if _, err := repo.Commit(ctx, "bench", map[string][]byte{"app.yaml": append(fmt.Appendf(nil, benchDeployment, 20, "registry.local/hello:1"), authBenchViewers...)}); err != nil {
		return "", err
	}
	start := func(name string, secured bool) (*server.Server, error) {
		cfg := server.DefaultConfig()
		cfg.Name = name
		cfg.Source.URL, cfg.Source.Branch, cfg.DataDir = repo.Bare, repo.Branch, filepath.Join(dir, name)
		cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		cfg.PollInterval = -1
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Security.Disabled = !secured
		s, err := server.New(cfg)
		if err != nil {
			return nil, err
		}
		if err := s.Start(ctx); err != nil {
			_ = s.Shutdown(context.Background())
			return nil, err
		}
		return s, nil
	}
	plain, err := start("plain", false)
	if err != nil {
		return "", fmt.Errorf("failed to start the plain reconciler: %w", err)
	}
	defer plain.Shutdown(context.Background())
	sec, err := start("secured", true)
	if err != nil {
		return "", fmt.Errorf("failed to start the secured reconciler: %w", err)
	}
	defer sec.Shutdown(context.Background())
	conf, err := rapi.LoadClientConfig(filepath.Join(dir, "secured", "admin.conf"))
	if err != nil {
		return "", err
	}
	tlsConf, err := conf.TLSConfig()
	if err != nil {
		return "", err
	}
	// Both synced once, so /v1/pods lists the 20 pods (Pending: no agents).
	for _, s := range []*server.Server{plain, sec} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
		cl, err := rapi.NewClient(s.APIURL(), hc)
		if err != nil {
			return "", err
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = cl.Sync(sctx, true)
		cancel()
		if err != nil {
			return "", fmt.Errorf("failed to sync %s: %w", s.Name(), err)
		}
	}
	keepAlive := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, MaxIdleConnsPerHost: 1}}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true}}
	anonTLS := tlsConf.Clone()
	anonTLS.Certificates = nil
	bearer := &http.Client{Transport: &http.Transport{TLSClientConfig: anonTLS, MaxIdleConnsPerHost: 1}}
	admin, err := rapi.NewClient(sec.APIURL(), keepAlive)
	if err != nil {
		return "", err
	}
	token, err := authBenchToken(ctx, admin)
	if err != nil {
		return "", err
	}
	bearerLabel, bearerWant := "bearer token over TLS, RBAC through a repository's binding (kept-alive connection)", http.StatusOK
	variants := []authVariant{
		{label: "plain HTTP, no authentication (floor)", url: plain.APIURL(), hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}, want: 200},
		{label: "mTLS client certificate (kept-alive connection)", url: sec.APIURL(), hc: keepAlive, want: 200},
		{label: bearerLabel, url: sec.APIURL(), hc: bearer, header: "Bearer " + token, want: bearerWant},
		{label: "mTLS client certificate, new connection per request (full handshake)", url: sec.APIURL(), hc: fresh, want: 200},
	}
	type row struct {
		label, path string
		p50, p99    time.Duration
	}
	var rows []row
	for _, path := range []string{rapi.PathStatus, rapi.PathPods} {
		for _, v := range variants {
			n := authRequests
			if v.hc == fresh {
				n = authRequests / 4
			}
			ds, err := timeRequests(ctx, v, path, n)
			if err != nil {
				return "", fmt.Errorf("%s %s: %w", v.label, path, err)
			}
			r := row{label: v.label, path: path, p50: percentile(ds, 50), p99: percentile(ds, 99)}
			fmt.Fprintf(out, "auth: %s GET %s: p50 %s p99 %s\n", v.label, path, usecs(r.p50), usecs(r.p99))
			rows = append(rows, r)
		}
	}
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secAuth))
	fmt.Fprintln(&b, "## API authentication")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Latency of a small GET against two reconcilers in the benchmark's process (reconcile/server, loopback,")
	fmt.Fprintln(&b, "one Deployment of 20 replicas synced, no agents): one with security disabled (plain HTTP, no")
	fmt.Fprintln(&b, "authentication: the floor) and one secured as the daemon always is (HTTPS, TLS 1.3, ECDSA P-256")
	fmt.Fprintln(&b, "certificates; docs/security-cluster.md). Requests one after another from one client; each row")
	fmt.Fprintf(&b, "measures %s requests after as many warm-up ones (the new-connection row a quarter of that).\n", thousands(float64(authRequests)))
	fmt.Fprintln(&b, "RBAC (authz.go) is timed as it is wired in the binary measured.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| request | caller | p50 | p99 |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `GET %s` | %s | %s | %s |\n", r.path, r.label, usecs(r.p50), usecs(r.p99))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secAuth))
	return b.String(), nil
}

// timeRequests sends n warm-up requests then n timed ones.
func timeRequests(ctx context.Context, v authVariant, path string, n int) ([]time.Duration, error) {
	do := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url+path, nil)
		if err != nil {
			return 0, err
		}
		if v.header != "" {
			req.Header.Set("Authorization", v.header)
		}
		t0 := time.Now()
		resp, err := v.hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != v.want {
			return 0, fmt.Errorf("answered %d, want %d", resp.StatusCode, v.want)
		}
		return d, nil
	}
	ds := make([]time.Duration, 0, n)
	for i := range 2 * n {
		d, err := do()
		if err != nil {
			return nil, err
		}
		if i >= n {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

func usecs(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
