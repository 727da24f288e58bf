package devenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// The cluster's credentials (docs/security.md): reconciler 0 founds the
// cluster and writes its bootstrap token and admin.conf; the harness
// copies both into the cluster's directory, and issues itself a
// reconciler-role certificate from reconciler 0's CA to call the agents
// directly (tests and benchmarks) and for Prometheus to scrape them.

// Credentials the harness keeps, under Cluster.Dir.
type Credentials struct {
	// AdminConf is the admin client config (ctl --config; STEVEDORE_CONFIG)
	// naming every reconciler; TokenFile the bootstrap token agents join
	// with, ReconcilerTokenFile the one further reconcilers join with.
	AdminConf           string
	TokenFile           string
	ReconcilerTokenFile string
	// CAFile, CertFile and KeyFile are the cluster CA and the harness's
	// reconciler-role certificate (PEM).
	CAFile, CertFile, KeyFile string
	// MonitorCertFile and MonitorKeyFile are Prometheus's certificate, in
	// policy.GroupMonitoring: /metrics only, on reconcilers and agents.
	MonitorCertFile, MonitorKeyFile string
	// admin and member are TLS configs: admin is the admin's (to the
	// reconcilers), member the harness certificate (to agents and
	// reconcilers).
	admin, member *tls.Config
}

// harnessName is the harness's reconciler-role certificate's name.
const harnessName = "devenv-harness"

// waitBootstrap waits for reconciler 0 to found the cluster and loads its
// credentials.
func (c *Cluster) waitBootstrap(ctx context.Context, timeout time.Duration) error {
	r := c.Reconcilers[0]
	tokenPath := filepath.Join(r.DataDir, "bootstrap-token")
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(tokenPath); err == nil {
			break
		}
		if c.reconcilerProc(0).exited() {
			return fmt.Errorf("reconciler %s exited before writing its bootstrap token:\n%s", r.Name, c.LogTail(r.Name, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reconciler %s wrote no bootstrap token in %s:\n%s", r.Name, timeout, c.LogTail(r.Name, 20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	cr := &Credentials{
		AdminConf:           filepath.Join(c.Dir, "admin.conf"),
		TokenFile:           filepath.Join(c.Dir, "bootstrap-token"),
		ReconcilerTokenFile: filepath.Join(c.Dir, "reconciler-token"),
		CAFile:              filepath.Join(c.Dir, "pki", "ca.crt"),
		CertFile:            filepath.Join(c.Dir, "pki", "harness.crt"),
		KeyFile:             filepath.Join(c.Dir, "pki", "harness.key"),
		MonitorCertFile:     filepath.Join(c.Dir, "pki", "monitoring.crt"),
		MonitorKeyFile:      filepath.Join(c.Dir, "pki", "monitoring.key"),
	}
	tok, err := os.ReadFile(tokenPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "pki"), 0o700); err != nil {
		return err
	}
	if err := pki.WriteFile(cr.TokenFile, tok); err != nil {
		return err
	}
	rtok, err := os.ReadFile(filepath.Join(r.DataDir, "reconciler-token"))
	if err != nil {
		return err
	}
	if err := pki.WriteFile(cr.ReconcilerTokenFile, rtok); err != nil {
		return err
	}
	conf, err := api.LoadClientConfig(filepath.Join(r.DataDir, "admin.conf"))
	if err != nil {
		return err
	}
	conf.Clusters[0].Cluster.Server = c.ServerURLs()
	if err := api.WriteClientConfig(cr.AdminConf, conf); err != nil {
		return err
	}
	if cr.admin, err = conf.TLSConfig(); err != nil {
		return err
	}
	m, err := pki.LoadDir(filepath.Join(r.DataDir, "pki"))
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := m.CA.Issue(pki.Request{User: pki.ReconcilerUser(harnessName)})
	if err != nil {
		return err
	}
	monCert, monKey, err := m.CA.Issue(pki.Request{User: policy.User{Name: "prometheus", Groups: []string{policy.GroupMonitoring}}})
	if err != nil {
		return err
	}
	for path, b := range map[string][]byte{cr.CAFile: m.CA.CertPEM, cr.CertFile: certPEM, cr.KeyFile: keyPEM,
		cr.MonitorCertFile: monCert, cr.MonitorKeyFile: monKey} {
		if err := pki.WriteFile(path, b); err != nil {
			return err
		}
	}
	if cr.member, err = m.CA.ClientTLS(pki.KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, policy.GroupNodes, policy.GroupReconcilers); err != nil {
		return err
	}
	c.Creds = cr
	return nil
}

// adminTransport is a transport to the reconcilers with the admin's
// credentials, dialling with dial (nil: a 2 s timeout).
func (c *Cluster) adminTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	}
	t := &http.Transport{DialContext: dial, Proxy: nil}
	if c.Creds != nil {
		t.TLSClientConfig = c.Creds.admin
	}
	return t
}

// AdminHTTPClient is an HTTP client with the admin's credentials, for the
// reconcilers' routes the API client has no method for (/metrics).
func (c *Cluster) AdminHTTPClient() *http.Client {
	return &http.Client{Transport: c.adminTransport(nil), Timeout: 30 * time.Second}
}

// AgentHTTPClient is an HTTP client that calls agents' APIs with the
// harness's reconciler-role certificate.
func (c *Cluster) AgentHTTPClient() *http.Client {
	t := &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext, Proxy: nil}
	if c.Creds != nil {
		t.TLSClientConfig = c.Creds.member
	}
	return &http.Client{Transport: t}
}

// AgentClient is a client of agent i's API (0-based), with the harness's
// reconciler-role certificate.
func (c *Cluster) AgentClient(i int) *agentapi.Client {
	return agentapi.NewClient(c.AgentURL(i), c.AgentHTTPClient())
}

// scheme is the URL scheme of the daemons' APIs.
func (c *Cluster) scheme() string { return "https://" }

// CtlEnv is what to export for a shell's ctl to reach the cluster.
func (c *Cluster) CtlEnv() string {
	if c.Creds == nil {
		return "STEVEDORE_SERVER=" + c.ServerURLs()
	}
	return "STEVEDORE_CONFIG=" + c.Creds.AdminConf
}

// uiTokenTTL is how long the token of UILink lives: a working day and
// more of make run.
const uiTokenTTL = 24 * time.Hour

// UILink mints a token for the admin (the user and groups the cluster
// authenticates the admin credentials as) through the API and returns the
// web UI's sign-in link with it, on the reconciler the harness's client
// talks to: https://HOST:PORT/ui/#token=… (docs/ui.md). The token is in
// the fragment, which the browser never sends.
func (c *Cluster) UILink(ctx context.Context) (string, error) {
	if c.Client == nil {
		return "", fmt.Errorf("failed to make a UI link: the cluster has no API client")
	}
	who, err := c.Client.WhoAmI(ctx)
	if err != nil {
		return "", fmt.Errorf("failed to make a UI link: %w", err)
	}
	var groups []string
	for _, g := range who.Groups {
		if g != policy.GroupAuthenticated { // every caller's anyway
			groups = append(groups, g)
		}
	}
	t, err := c.Client.CreateToken(ctx, api.TokenRequest{User: who.User, Groups: groups, TTLSeconds: int64(uiTokenTTL / time.Second)})
	if err != nil {
		return "", fmt.Errorf("failed to make a UI link: %w", err)
	}
	return strings.TrimSuffix(c.Client.BaseURL(), "/") + api.PathUI + "#token=" + url.QueryEscape(t.Secret), nil
}

// joinArgs are the flags a joiner (an agent; with reconciler set, a
// reconciler's names) takes the bootstrap token and servers with.
func (c *Cluster) joinArgs(reconciler bool) []string {
	if c.Creds == nil {
		return nil
	}
	flag, file := "--token-file", c.Creds.TokenFile
	if reconciler {
		flag, file = "--bootstrap-token-file", c.Creds.ReconcilerTokenFile
	}
	// A reconciler joins through the founder; an agent through any.
	servers := c.Reconcilers[0].URL
	if !reconciler {
		servers = c.ServerURLs()
	}
	return []string{flag, file, "--server", servers}
}
