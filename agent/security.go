package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
)

// The agent's credentials (docs/security.md): on first start it joins
// with the bootstrap token (POST /v1/join to a reconciler, pinned to the
// CA the token names) and keeps its certificate, the CA and the gossip key
// in <DataDir>/pki; later starts need no token. Its API is HTTPS and
// admits only reconcilers' certificates; it calls the reconcilers' lease
// API with its own.

// dirPKI is the agent's credentials directory under DataDir.
const dirPKI = "pki"

// SecurityConfig configures the agent's credentials.
type SecurityConfig struct {
	// Disabled serves plain HTTP with no authentication and gossips in the
	// clear: for tests; cmd/reconciler and cmd/agent have no flag for it.
	// Zero (false) is secured.
	Disabled bool
	// Token is the bootstrap token to join with on first start (a
	// reconciler's <data-dir>/bootstrap-token); ignored once
	// <DataDir>/pki holds credentials, required before.
	Token string
	// Servers are https:// API URLs of reconcilers to join through.
	Servers []string
	// JoinTimeout bounds the first start's join (retried while no server
	// answers); zero means 2 minutes.
	JoinTimeout time.Duration
}

// testInsecureDefault makes DefaultConfig's Security.Disabled true: this
// package's tests set it (security_helpers_test.go). Never set outside
// tests.
var testInsecureDefault bool

// security is a secured agent's credentials.
type security struct {
	m      *pki.Material
	server *tls.Config // the API: reconcilers' certificates only
	client *tls.Config // to the reconcilers: the node's certificate
	// leaseHC calls the reconcilers' lease API (lease.go).
	leaseHC *http.Client
}

// initSecurity loads <DataDir>/pki or joins.
func (a *Agent) initSecurity(ctx context.Context) error {
	if a.cfg.Security.Disabled {
		return nil
	}
	dir := filepath.Join(a.cfg.DataDir, dirPKI)
	m, err := pki.LoadDir(dir)
	switch {
	case err == nil:
	case !errors.Is(err, fs.ErrNotExist):
		return err
	case a.cfg.Security.Token == "":
		return fmt.Errorf("this node has no credentials in %s: join the cluster with a bootstrap token (--token-file, --server)", dir)
	default:
		if m, err = a.join(ctx); err != nil {
			return err
		}
		if err := m.SaveDir(dir); err != nil {
			return err
		}
		a.log.Info("joined the cluster", "via", a.cfg.Security.Servers, "ca", m.CA.Hash())
	}
	cert, err := pki.ParseCert(m.Self.CertPEM)
	if err != nil {
		return err
	}
	if u := pki.UserOf(cert); u.Name != pki.NodeUser(a.cfg.NodeName).Name {
		return fmt.Errorf("the certificate in %s is %s's, not node %s's", dir, u, a.cfg.NodeName)
	}
	srv, err := m.CA.ServerTLS(m.Self, true)
	if err != nil {
		return err
	}
	m.CA.RequireGroups(srv, policy.GroupReconcilers, policy.GroupMonitoring)
	cl, err := m.CA.ClientTLS(m.Self, policy.GroupReconcilers)
	if err != nil {
		return err
	}
	a.sec = &security{m: m, server: srv, client: cl}
	a.sec.leaseHC = &http.Client{Timeout: leaseTimeout, Transport: a.reconcilerTransport()}
	return nil
}

// join asks the servers for a certificate for a new key.
func (a *Agent) join(ctx context.Context) (*pki.Material, error) {
	if len(a.cfg.Security.Servers) == 0 {
		return nil, errors.New("a bootstrap token needs the URL of a reconciler to join through (--server)")
	}
	csr, keyPEM, err := pki.NewCSR(pki.NodeUser(a.cfg.NodeName))
	if err != nil {
		return nil, err
	}
	req := pki.JoinRequest{Token: a.cfg.Security.Token, Role: pki.RoleAgent, Name: a.cfg.NodeName, CSR: string(csr)}
	req.IPs, req.DNSNames = a.certAddresses()
	timeout := a.cfg.Security.JoinTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 250 * time.Millisecond
	for {
		resp, err := pki.Join(ctx, a.cfg.Security.Servers, req)
		switch {
		case err == nil:
			return resp.Material(keyPEM)
		case pki.Final(err):
			return nil, err
		}
		a.log.Warn("failed to join, retrying", "servers", a.cfg.Security.Servers, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up joining: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// certAddresses are the addresses the node's certificate names: the API's
// (advertised and bound), the gossip host and loopback.
func (a *Agent) certAddresses() (ips, dns []string) {
	seen := map[string]bool{}
	add := func(h string) {
		if h == "" || seen[h] {
			return
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				ips = append(ips, ip.String())
			}
			return
		}
		dns = append(dns, h)
	}
	add("127.0.0.1")
	add("localhost")
	if u, err := url.Parse(a.cfg.AdvertiseAPI); err == nil && a.cfg.AdvertiseAPI != "" {
		add(u.Hostname())
	}
	if h, _, err := net.SplitHostPort(a.cfg.APIAddr); err == nil {
		add(h)
	}
	if h, _, err := splitGossip(a.cfg.GossipAddr); err == nil {
		add(h)
	}
	if ip := net.ParseIP(hostOf(a.cfg.APIAddr)); ip == nil || ip.IsUnspecified() {
		add(privateIP().String())
	}
	return ips, dns
}

func hostOf(hostport string) string {
	h, _, _ := net.SplitHostPort(hostport)
	return h
}

// listenTLS wraps the API listener in TLS when secured.
func (a *Agent) listenTLS(ln net.Listener) net.Listener {
	if a.sec == nil {
		return ln
	}
	return tls.NewListener(ln, a.sec.server)
}

// gossipKey is serf's key, nil when security is disabled.
func (a *Agent) gossipKey() []byte {
	if a.sec == nil {
		return nil
	}
	return a.sec.m.GossipKey
}

// requireReconciler answers 403 to a caller that is not a reconciler,
// except a monitoring certificate's GET /metrics. The handshake already
// refuses any other certificate: this holds if a listener is ever served
// without it.
func (a *Agent) requireReconciler(h http.Handler) http.Handler {
	if a.sec == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			errs.WriteHTTP(w, errs.Mark(errors.New("only the cluster's reconcilers may call the agent API"), errPermission))
			return
		}
		u := pki.UserOf(r.TLS.PeerCertificates[0])
		if u.InGroup(policy.GroupMonitoring) && !u.InGroup(policy.GroupReconcilers) && r.Method == http.MethodGet && r.URL.Path == "/metrics" {
			h.ServeHTTP(w, r)
			return
		}
		if !u.InGroup(policy.GroupReconcilers) {
			errs.WriteHTTP(w, errs.Mark(errors.New("only the cluster's reconcilers may call the agent API"), errPermission))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// reconcilerTransport is the transport to the reconcilers' API.
func (a *Agent) reconcilerTransport() http.RoundTripper {
	t := &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	if a.sec != nil {
		t.TLSClientConfig = a.sec.client
	}
	return t
}
