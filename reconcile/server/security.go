package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// The cluster's credentials (docs/security.md): the CA, the gossip key,
// the bootstrap token's hash and this reconciler's certificate, kept in
// <DataDir>/pki and in the raft store (store_pki.go).

// Files a reconciler writes into its data dir on first start.
const (
	dirPKI             = "pki"
	fileBootstrapToken = "bootstrap-token"
	// fileReconcilerToken is the token further reconcilers join with
	// (--bootstrap-token-file): it admits members that receive the CA's key.
	fileReconcilerToken = "reconciler-token"
	fileAdminConf       = "admin.conf"
)

// SecurityConfig configures the cluster's authentication.
type SecurityConfig struct {
	// Disabled serves plain HTTP with no authentication, raft and gossip
	// unencrypted: for tests; cmd/reconciler and cmd/agent have no flag
	// for it. Zero (false) is secured.
	Disabled bool
	// JoinToken is the bootstrap token of the cluster to join on first
	// start (the founder's <data-dir>/bootstrap-token), sent to
	// JoinServers; empty on first start founds a new cluster: a new CA,
	// gossip key and token. Ignored once <DataDir>/pki holds credentials.
	JoinToken string
	// JoinServers are the API URLs (https://) of reconcilers to join
	// through; required with JoinToken.
	JoinServers []string
	// Addresses are further IPs or DNS names this reconciler's
	// certificate is valid for, beside the API's and raft's addresses,
	// 127.0.0.1, ::1 and localhost; empty means none.
	Addresses []string
	// JoinTimeout bounds the first start's join (retried while the
	// servers do not answer); zero means 2 minutes.
	JoinTimeout time.Duration
}

// testInsecureDefault makes DefaultConfig's Security.Disabled true: this
// package's own tests set it (security_helpers_test.go) so that in-process
// servers speak plain HTTP unless a test secures one. Never set outside
// tests.
var testInsecureDefault bool

// security is a secured reconciler's credentials and TLS configs.
type security struct {
	m *pki.Material
	// api serves the API (client certificates verified if given); raft
	// the raft transport (reconciler certificates required).
	api, raft *tls.Config
	// client dials agents with this reconciler's certificate, accepting a
	// node's or a reconciler's; peer dials other reconcilers (forwarding
	// to the leader), accepting only a reconciler's: a node that gossips a
	// reconciler's name with its own address gets no forwarded request.
	client, peer *tls.Config
	// admin is the admin client config written on founding, rewritten by
	// Start with the API's real URL (a port 0 resolved); nil when this
	// start did not found the cluster.
	admin *api.ClientConfig
}

// initSecurity loads <DataDir>/pki, or joins a cluster with
// cfg.Security.JoinToken, or founds one: it writes the bootstrap token and
// an admin client config into DataDir (both 0600).
func initSecurity(cfg Config) (*security, error) {
	if cfg.Security.Disabled {
		return nil, nil
	}
	dir := filepath.Join(cfg.DataDir, dirPKI)
	var admin *api.ClientConfig
	m, err := pki.LoadDir(dir)
	switch {
	case err == nil:
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case cfg.Security.JoinToken != "":
		if m, err = joinCluster(cfg); err != nil {
			return nil, err
		}
		if err := m.SaveDir(dir); err != nil {
			return nil, err
		}
		cfg.Logger.Info("joined the cluster's PKI", "via", cfg.Security.JoinServers, "ca", m.CA.Hash())
	default:
		if m, admin, err = foundCluster(cfg, dir); err != nil {
			return nil, err
		}
	}
	if m.CA.Key == nil || m.TokenHash == "" {
		return nil, fmt.Errorf("failed to load %s: a reconciler needs %s and %s", dir, pki.FileCAKey, pki.FileTokenHash)
	}
	sec, err := newSecurity(cfg, m)
	if err != nil {
		return nil, err
	}
	sec.admin = admin
	return sec, nil
}

// writeAdminConf rewrites the admin client config of a cluster founded by
// this start with the API's URL once it listens.
func (s *Server) writeAdminConf() error {
	if s.sec == nil || s.sec.admin == nil {
		return nil
	}
	s.sec.admin.Clusters[0].Cluster.Server = s.apiURL
	return api.WriteClientConfig(filepath.Join(s.cfg.DataDir, fileAdminConf), s.sec.admin)
}

func newSecurity(cfg Config, m *pki.Material) (*security, error) {
	apiConf, err := m.CA.ServerTLS(m.Self, false)
	if err != nil {
		return nil, err
	}
	raftConf, err := m.CA.ServerTLS(m.Self, true)
	if err != nil {
		return nil, err
	}
	m.CA.RequireGroups(raftConf, policy.GroupReconcilers)
	client, err := m.CA.ClientTLS(m.Self, policy.GroupNodes, policy.GroupReconcilers)
	if err != nil {
		return nil, err
	}
	peer, err := m.CA.ClientTLS(m.Self, policy.GroupReconcilers)
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCert(m.Self.CertPEM)
	if err != nil {
		return nil, err
	}
	u := pki.UserOf(cert)
	if !u.InGroup(policy.GroupReconcilers) {
		return nil, fmt.Errorf("failed to load %s: its certificate is %s's, not a reconciler's", filepath.Join(cfg.DataDir, dirPKI, pki.FileCert), u)
	}
	return &security{m: m, api: apiConf, raft: raftConf, client: client, peer: peer}, nil
}

// foundCluster generates a new cluster's credentials into dir and writes
// the bootstrap token and admin.conf beside it.
func foundCluster(cfg Config, dir string) (*pki.Material, *api.ClientConfig, error) {
	ca, err := pki.NewCA(cfg.Name)
	if err != nil {
		return nil, nil, err
	}
	gk, err := pki.NewGossipKey()
	if err != nil {
		return nil, nil, err
	}
	tok, err := pki.NewToken(ca)
	if err != nil {
		return nil, nil, err
	}
	ips, dns := certAddresses(cfg)
	certPEM, keyPEM, err := ca.Issue(pki.Request{User: pki.ReconcilerUser(cfg.Name), IPs: ips, DNSNames: dns})
	if err != nil {
		return nil, nil, err
	}
	rtok, err := pki.NewToken(ca)
	if err != nil {
		return nil, nil, err
	}
	m := &pki.Material{CA: ca, GossipKey: gk, Self: pki.KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, TokenHash: tok.Hash(), ReconcilerTokenHash: rtok.Hash()}
	adminCert, adminKey, err := ca.Issue(pki.Request{User: pki.AdminUser()})
	if err != nil {
		return nil, nil, err
	}
	conf := api.NewClientConfig("stevedore", "https://"+cfg.APIAddr, ca.CertPEM, policy.UserAdmin,
		api.UserConfig{ClientCertificateData: adminCert, ClientKeyData: adminKey})
	if err := api.WriteClientConfig(filepath.Join(cfg.DataDir, fileAdminConf), conf); err != nil {
		return nil, nil, err
	}
	// The token last: a harness waiting for it finds admin.conf and the
	// CA in place.
	if err := m.SaveDir(dir); err != nil {
		return nil, nil, err
	}
	if err := pki.WriteFile(filepath.Join(cfg.DataDir, fileReconcilerToken), []byte(rtok.String()+"\n")); err != nil {
		return nil, nil, err
	}
	if err := pki.WriteFile(filepath.Join(cfg.DataDir, fileBootstrapToken), []byte(tok.String()+"\n")); err != nil {
		return nil, nil, err
	}
	cfg.Logger.Info("founded a new cluster: CA, gossip key and bootstrap token generated",
		"ca", ca.Hash(), "bootstrap_token_file", filepath.Join(cfg.DataDir, fileBootstrapToken),
		"admin_config", filepath.Join(cfg.DataDir, fileAdminConf))
	return m, conf, nil
}

// joinCluster asks cfg.Security.JoinServers for the cluster's credentials,
// retrying unreachable servers until JoinTimeout; a refusal is final.
func joinCluster(cfg Config) (*pki.Material, error) {
	if len(cfg.Security.JoinServers) == 0 {
		return nil, fmt.Errorf("%w: a join token needs the URL of a reconciler to join through (--server)", ErrInvalidConfig)
	}
	csr, keyPEM, err := pki.NewCSR(pki.ReconcilerUser(cfg.Name))
	if err != nil {
		return nil, err
	}
	ips, dns := certAddresses(cfg)
	req := pki.JoinRequest{Token: cfg.Security.JoinToken, Role: pki.RoleReconciler, Name: cfg.Name, CSR: string(csr), DNSNames: dns}
	for _, ip := range ips {
		req.IPs = append(req.IPs, ip.String())
	}
	timeout := cfg.Security.JoinTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := retryJoin(ctx, cfg.Logger, cfg.Security.JoinServers, req)
	if err != nil {
		return nil, err
	}
	if resp.CAKey == "" || resp.TokenHash == "" || resp.ReconcilerTokenHash == "" {
		return nil, errors.New("failed to join: the answer lacks the CA key or the token hash a reconciler needs")
	}
	return resp.Material(keyPEM)
}

// retryJoin is pki.Join until it is admitted or refused, or ctx ends.
func retryJoin(ctx context.Context, log *slog.Logger, servers []string, req pki.JoinRequest) (*pki.JoinResponse, error) {
	delay := 250 * time.Millisecond
	for {
		resp, err := pki.Join(ctx, servers, req)
		if err == nil || pki.Final(err) {
			return resp, err
		}
		log.Warn("failed to join, retrying", "servers", servers, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up joining: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// certAddresses are the IPs and names this reconciler's certificate is
// valid for.
func certAddresses(cfg Config) ([]net.IP, []string) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	dns := []string{"localhost"}
	add := func(h string) {
		if h == "" {
			return
		}
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() && !containsIP(ips, ip) {
				ips = append(ips, ip)
			}
			return
		}
		for _, d := range dns {
			if d == h {
				return
			}
		}
		dns = append(dns, h)
	}
	for _, a := range []string{cfg.APIAddr, cfg.Raft.Addr, cfg.GossipAddr} {
		if h, _, err := net.SplitHostPort(a); err == nil {
			add(h)
		}
	}
	for _, a := range cfg.Security.Addresses {
		add(strings.TrimSpace(a))
	}
	return ips, dns
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

// scheme is the API's URL scheme.
func (s *Server) scheme() string {
	if s.sec == nil {
		return "http"
	}
	return "https"
}

// listenAPI wraps the API listener in TLS when secured.
func (s *Server) listenAPI(ln net.Listener) net.Listener {
	if s.sec == nil {
		return ln
	}
	// HTTP/2 when the client offers it (browsers): the web UI holds a
	// watch stream per list it shows, and over HTTP/1.1 a browser's six
	// connections per host run out, so that its next page never loads.
	// Go clients (ctl, agents) keep HTTP/1.1: their transports set a TLS
	// config and do not offer h2.
	c := s.sec.api.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return tls.NewListener(ln, c)
}

// agentTransport is the transport to agents; peerTransport to other
// reconcilers.
func agentTransport(sec *security) *http.Transport {
	t := plainTransport()
	if sec != nil {
		// HTTP/1.1 only, as before: exec and logs stream over it.
		t.TLSClientConfig = sec.client
	}
	return t
}

func peerTransport(sec *security) *http.Transport {
	t := plainTransport()
	if sec != nil {
		t.TLSClientConfig = sec.peer
	}
	return t
}

func plainTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil, // agents are on private addresses; never via a proxy
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
}

// GossipKey is the key serf's gossip is encrypted with, nil when
// security is disabled.
func (s *Server) GossipKey() []byte {
	if s.sec == nil {
		return nil
	}
	return s.sec.m.GossipKey
}
