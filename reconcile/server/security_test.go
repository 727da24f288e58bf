package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// secured sets a test server's security on.
func secured(c *Config) { c.Security.Disabled = false }

// readToken reads a founder's bootstrap token.
func readToken(t *testing.T, dataDir string) string {
	t.Helper()
	return readTokenFile(t, dataDir, fileBootstrapToken)
}

func readTokenFile(t *testing.T, dataDir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// joinAs joins s as a node (or reconciler) through the real endpoint.
func joinAs(t *testing.T, s *Server, token, role, name string, ips ...string) (*pki.Material, error) {
	t.Helper()
	user := pki.NodeUser(name)
	if role == pki.RoleReconciler {
		user = pki.ReconcilerUser(name)
	}
	csr, key, err := pki.NewCSR(user)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := pki.Join(ctx, []string{s.APIURL()}, pki.JoinRequest{Token: token, Role: role, Name: name, CSR: string(csr), IPs: ips})
	if err != nil {
		return nil, err
	}
	return resp.Material(key)
}

// httpsClient trusts m's CA (as a reconciler's certificate) and presents
// kp, if any.
func httpsClient(t *testing.T, ca *pki.CA, kp pki.KeyPair) *http.Client {
	t.Helper()
	conf, err := ca.ClientTLS(kp, policy.GroupReconcilers)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
}

func httpsGet(t *testing.T, hc *http.Client, url string) (int, string, error) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestSecuredAPI starts a reconciler with security on: it founds a
// cluster (bootstrap-token and admin.conf, 0600), serves HTTPS, answers
// the health check to anyone, refuses a caller without credentials (401)
// and one with another CA's certificate, serves the admin config's
// client, admits a node with the token and refuses a wrong token, and
// records the credentials in the raft store.
func TestSecuredAPI(t *testing.T) {
	log, logs := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dir := t.TempDir()
	s := startServer(t, repo.dir, dir, log, secured)
	if !strings.HasPrefix(s.APIURL(), "https://") {
		t.Fatalf("API URL %s, want https", s.APIURL())
	}
	for _, f := range []string{fileBootstrapToken, fileAdminConf, "pki/ca.key", "pki/tls.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	token := readToken(t, dir)
	conf, err := api.LoadClientConfig(filepath.Join(dir, fileAdminConf))
	if err != nil {
		t.Fatal(err)
	}
	if conf.Server() != s.APIURL() {
		t.Errorf("admin.conf names %s, want %s", conf.Server(), s.APIURL())
	}
	ca := s.sec.m.CA

	// Without credentials: the health check only.
	anon := httpsClient(t, ca, pki.KeyPair{})
	if code, body, err := httpsGet(t, anon, s.APIURL()+api.PathHealthz); err != nil || code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz: %d %q %v", code, body, err)
	}
	for _, p := range []string{api.PathStatus, api.PathPods, api.PathMetrics, api.PathVersion} {
		code, body, err := httpsGet(t, anon, s.APIURL()+p)
		if err != nil || code != http.StatusUnauthorized || !strings.Contains(body, "authentication required") {
			t.Errorf("GET %s without credentials: %d %q %v, want 401", p, code, body, err)
		}
	}
	// A bearer token nobody issued: 401, and the token is not repeated.
	req, _ := http.NewRequest(http.MethodGet, s.APIURL()+api.PathStatus, nil)
	req.Header.Set("Authorization", "Bearer sekrit-token-value")
	resp, err := anon.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(b), "sekrit") {
		t.Errorf("unknown bearer token: %d %q", resp.StatusCode, b)
	}
	// A certificate of another CA: the handshake fails.
	other, err := pki.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	oc, ok, err := other.Issue(pki.Request{User: pki.AdminUser()})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, err := httpsGet(t, httpsClient(t, ca, pki.KeyPair{CertPEM: oc, KeyPEM: ok}), s.APIURL()+api.PathStatus); err == nil {
		t.Errorf("a certificate of another CA was answered %d", code)
	}
	// Forged identity headers from a caller that is not a reconciler are
	// ignored: still 401.
	req, _ = http.NewRequest(http.MethodGet, s.APIURL()+api.PathStatus, nil)
	req.Header.Set(headerUser, "admin")
	req.Header.Add(headerGroup, policy.GroupMasters)
	if resp, err := anon.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged identity headers: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// The admin config's client.
	cl, err := api.NewClientFromConfig(conf, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := cl.Status(ctx); err != nil {
		t.Fatalf("status with admin.conf: %v", err)
	}

	// Joining: a wrong secret, a token of another CA, a malformed one.
	tok, _ := pki.ParseToken(token)
	wrong := pki.Token{CAHash: tok.CAHash, Secret: strings.Repeat("0", 64)}.String()
	if _, err := joinAs(t, s, wrong, pki.RoleAgent, "n1"); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), strings.Repeat("0", 64)) {
		t.Errorf("wrong token: %v", err)
	}
	otherTok, _ := pki.NewToken(other)
	if _, err := joinAs(t, s, otherTok.String(), pki.RoleAgent, "n1"); err == nil || !strings.Contains(err.Error(), "does not hold the CA") {
		t.Errorf("another cluster's token: %v", err)
	}
	if !strings.Contains(logs.String(), "refused a join") {
		t.Error("the refused join was not logged")
	}
	if strings.Contains(logs.String(), tok.Secret) {
		t.Error("the bootstrap token's secret appears in the logs")
	}
	m, err := joinAs(t, s, token, pki.RoleAgent, "n1", "127.0.0.1")
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if m.CA.Key != nil || m.TokenHash != "" {
		t.Error("an agent received the CA key or the token hash")
	}
	cert, _ := pki.ParseCert(m.Self.CertPEM)
	if u := pki.UserOf(cert); u.Name != "system:node:n1" || !u.InGroup(policy.GroupNodes) {
		t.Errorf("node certificate names %s", u)
	}
	if _, err := joinAs(t, s, token, pki.RoleAgent, "../etc"); err == nil {
		t.Error("a join with a bad name was admitted")
	}
	// The node's certificate authenticates (what it may do is RBAC's).
	if code, _, err := httpsGet(t, httpsClient(t, ca, m.Self), s.APIURL()+api.PathVersion); err != nil || code != 200 {
		t.Errorf("node certificate: %d %v", code, err)
	}
	// A node asks for leases only on behalf of its own pods.
	nodeHC := httpsClient(t, ca, m.Self)
	for _, body := range []string{`{"holderIdentity":"web-0_x","node":"n2"}`, `{"holderIdentity":"web-0_x"}`} {
		req := mustReq(t, http.MethodPut, s.APIURL()+agentapi.LeasePath("default", "lock"), body)
		resp, err := nodeHC.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "its own pods") {
			t.Errorf("node n1's lease request %s: %d %s", body, resp.StatusCode, b)
		}
	}
	waitFor(t, 10*time.Second, "the credentials in the raft store", func() bool {
		p := s.store.pki()
		return p != nil && p.CACert == string(ca.CertPEM) && p.TokenHash == tok.Hash()
	})
	// No answer of the API, nor the logs, carries a secret: the token,
	// the CA key, the gossip key.
	adminHC, err := conf.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	caKeyBody := strings.Split(string(ca.KeyPEM), "\n")[1]
	secrets := []string{tok.Secret, caKeyBody, pki.EncodeGossipKey(s.sec.m.GossipKey)}
	for _, p := range []string{api.PathStatus, api.PathPods, api.PathNodes, api.PathRevision, api.PathMetrics, api.PathEvents, api.PathApplications, api.PathVersion} {
		_, body, err := httpsGet(t, adminHC, s.APIURL()+p)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if strings.Contains(body, sec) {
				t.Errorf("GET %s answers a secret", p)
			}
		}
	}
	for _, sec := range secrets {
		if strings.Contains(logs.String(), sec) {
			t.Error("the logs hold a secret")
		}
	}
	snap, err := s.store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.(*fsmSnapshot).st.PKI == nil {
		t.Error("the snapshot lacks the credentials")
	}
}

// secureFakeAgent is a fake agent serving HTTPS with a node certificate
// that admits only reconcilers, and gossiping with key.
func secureFakeAgent(t *testing.T, name string, m *pki.Material) *fakeAgent {
	t.Helper()
	a := newFakeAgent(t, name)
	h := a.srv.Config.Handler
	a.srv.Close()
	srvConf, err := m.CA.ServerTLS(m.Self, true)
	if err != nil {
		t.Fatal(err)
	}
	m.CA.RequireGroups(srvConf, policy.GroupReconcilers)
	a.srv = httptest.NewUnstartedServer(h)
	a.srv.TLS = srvConf
	a.srv.StartTLS()
	return a
}

// joinGossip starts a's serf member with key (nil: none) and joins addrs.
func joinGossip(t *testing.T, a *fakeAgent, key []byte, addrs ...string) error {
	t.Helper()
	tags, err := agentapi.EncodeTags(agentapi.NodeInfo{
		Name: a.name, APIAddr: a.srv.URL,
		Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110},
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := agentapi.SerfConfig(a.name, "127.0.0.1", 0, slog.New(slog.DiscardHandler))
	conf.Tags = tags
	if err := agentapi.EncryptGossip(conf, key); err != nil {
		t.Fatal(err)
	}
	s, err := serf.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	a.serf = s
	t.Cleanup(func() { _ = s.Shutdown() })
	_, err = s.Join(addrs, true)
	return err
}

// TestSecuredAgentsAndGossip: a node that joined with the token gossips
// with the cluster's key, is dialled over mutual TLS and gets its pods; a
// member without the key, or with another, never appears; an agent
// endpoint refuses a caller without a reconciler's certificate.
func TestSecuredAgentsAndGossip(t *testing.T) {
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 2 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	dir := t.TempDir()
	s := startServer(t, repo.dir, dir, log, secured)
	token := readToken(t, dir)
	m, err := joinAs(t, s, token, pki.RoleAgent, "node-a", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	a := secureFakeAgent(t, "node-a", m)
	if err := joinGossip(t, a, m.GossipKey, s.GossipAddr()); err != nil {
		t.Fatalf("join with the key: %v", err)
	}
	waitFor(t, 20*time.Second, "2 pods pushed over mutual TLS", func() bool { return podCount(a) == 2 })

	// Members without the key, or with another, are never seen.
	wrongKey, _ := pki.NewGossipKey()
	for name, key := range map[string][]byte{"no-key": nil, "wrong-key": wrongKey} {
		b := newFakeAgent(t, name)
		err := joinGossip(t, b, key, s.GossipAddr())
		if err == nil {
			t.Errorf("%s: joined the encrypted gossip", name)
		}
	}
	time.Sleep(2 * time.Second)
	for name := range s.members.nodes() {
		if name == "no-key" || name == "wrong-key" {
			t.Errorf("member %s without the key appears", name)
		}
	}
	for _, sm := range s.serf.Members() {
		if sm.Name == "no-key" || sm.Name == "wrong-key" {
			t.Errorf("serf member %s without the key appears", sm.Name)
		}
	}

	// The agent's endpoint: no certificate, another CA's, a node's: refused
	// in the handshake; the reconciler's: served.
	other, _ := pki.NewCA("other")
	oc, ok, _ := other.Issue(pki.Request{User: pki.ReconcilerUser("r9")})
	nodeB, _ := joinAs(t, s, token, pki.RoleAgent, "node-b")
	for what, kp := range map[string]pki.KeyPair{
		"no certificate": {}, "another CA's reconciler certificate": {CertPEM: oc, KeyPEM: ok}, "a node certificate": nodeB.Self,
	} {
		conf, _ := m.CA.ClientTLS(kp, policy.GroupNodes)
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		resp, err := hc.Do(mustReq(t, http.MethodPut, a.srv.URL+agentapi.PathPodSet, `{"node":"node-a","term":999999,"generation":1,"pods":[]}`))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: PUT pod set answered %d", what, resp.StatusCode)
		} else if !isTLSRefusal(err) {
			t.Errorf("%s: %v, want a TLS refusal", what, err)
		}
	}
	if podCount(a) != 2 {
		t.Errorf("the agent holds %d pods after the refused sets, want 2", podCount(a))
	}
}

func mustReq(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func isTLSRefusal(err error) bool {
	var op *net.OpError
	var ae tls.AlertError
	return errors.As(err, &op) || errors.As(err, &ae) || strings.Contains(err.Error(), "tls") || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset")
}

// TestSecuredThreeReconcilers: the founder's token lets two more
// reconcilers join its PKI; the three bootstrap raft over mutual TLS,
// replicate the credentials, forward a follower's request to the leader
// with the caller's identity, and refuse a raft connection from a node's
// certificate.
func TestSecuredThreeReconcilers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	start := func(name, dir string, join []string, sec func(*Config)) *Server {
		return startServer(t, repo.dir, dir, log.With("reconciler", name), secured, sec, func(c *Config) {
			c.Name = name
			c.Raft.BootstrapExpect = 3
			c.Join = join
			c.NodeLossGrace = 5 * time.Second
		})
	}
	r1 := start("r1", dirs[0], nil, func(*Config) {})
	token := readTokenFile(t, dirs[0], fileReconcilerToken)
	joiner := func(c *Config) { c.Security.JoinToken, c.Security.JoinServers = token, []string{r1.APIURL()} }
	r2 := start("r2", dirs[1], []string{r1.GossipAddr()}, joiner)
	r3 := start("r3", dirs[2], []string{r2.GossipAddr()}, joiner)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 20*time.Second, "a leader among three over TLS", func() bool { return leaderOf(servers...) != nil })
	for _, s := range servers {
		if s.sec.m.CA.Hash() != r1.sec.m.CA.Hash() {
			t.Errorf("%s has another CA", s.Name())
		}
		if _, err := os.Stat(filepath.Join(s.cfg.DataDir, fileBootstrapToken)); (err == nil) != (s == r1) {
			t.Errorf("%s: bootstrap-token file: %v", s.Name(), err)
		}
	}
	waitFor(t, 10*time.Second, "the credentials on every reconciler's store", func() bool {
		for _, s := range servers {
			if p := s.store.pki(); p == nil || p.CACert != string(r1.sec.m.CA.CertPEM) {
				return false
			}
		}
		return true
	})
	// A follower forwards with the caller's identity.
	conf, err := api.LoadClientConfig(filepath.Join(dirs[0], fileAdminConf))
	if err != nil {
		t.Fatal(err)
	}
	var follower *Server
	for _, s := range servers {
		if !s.IsLeader() {
			follower = s
		}
	}
	cl, err := api.NewClientFromConfig(conf, follower.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := cl.Pods(ctx, ""); err != nil {
		t.Errorf("GET pods through follower %s: %v", follower.Name(), err)
	}
	// raft refuses a node's certificate in the handshake.
	nodeM, err := joinAs(t, r1, readToken(t, dirs[0]), pki.RoleAgent, "n1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := r1.sec.m.CA.TLSCertificate(nodeM.Self)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", r1.raftAddr(), &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true})
	if err == nil {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Error("raft accepted a node's certificate")
	}
	// Plain TCP gets nothing either.
	pc, err := net.DialTimeout("tcp", r1.raftAddr(), time.Second)
	if err == nil {
		pc.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = pc.Write([]byte{0, 1, 2, 3})
		_, err = pc.Read(make([]byte, 1))
		pc.Close()
		if err == nil {
			t.Error("raft answered plain TCP")
		}
	}
}

// TestJoinHostile sends the join endpoint what a hostile caller would: a
// body past the limit, unknown fields, a role or name it does not issue,
// too many addresses, a CSR that does not verify. Each is a clear
// refusal, and nothing is issued.
func TestJoinHostile(t *testing.T) {
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dir := t.TempDir()
	s := startServer(t, repo.dir, dir, log, secured)
	token := readToken(t, dir)
	// The agents' token, which sits on every agent's host, admits no
	// reconciler (which would receive the CA's key); the reconcilers' does.
	if m, err := joinAs(t, s, token, pki.RoleReconciler, "r9"); err == nil || m != nil {
		t.Fatalf("joined as a reconciler with the agents' bootstrap token: %v", err)
	}
	if m, err := joinAs(t, s, readTokenFile(t, dir, fileReconcilerToken), pki.RoleReconciler, "r9"); err != nil || m.CA.Key == nil {
		t.Fatalf("join as a reconciler with the reconciler token: %v", err)
	}
	if m, err := joinAs(t, s, readTokenFile(t, dir, fileReconcilerToken), pki.RoleAgent, "n9"); err == nil || m != nil {
		t.Fatalf("joined as an agent with the reconciler token: %v", err)
	}
	tok, _ := pki.ParseToken(token)
	csr, _, _ := pki.NewCSR(pki.NodeUser("n1"))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.PinnedTLS(tok.CAHash)}}
	post := func(body string) (int, string) {
		resp, err := hc.Post(s.APIURL()+pki.PathJoin, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	many := make([]string, 40)
	for i := range many {
		many[i] = `"10.0.0.1"`
	}
	tampered := strings.Replace(string(csr), string(csr[100:110]), "AAAAAAAAAA", 1)
	for what, tc := range map[string]struct {
		body string
		code int
		msg  string
	}{
		"oversized":      {`{"token":` + q(token) + `,"name":"` + strings.Repeat("a", pki.MaxJoinBody) + `"}`, 400, "too large"},
		"unknown field":  {`{"token":` + q(token) + `,"role":"agent","name":"n1","csr":` + q(string(csr)) + `,"groups":["system:masters"]}`, 400, "unknown field"},
		"role admin":     {`{"token":` + q(token) + `,"role":"admin","name":"n1","csr":` + q(string(csr)) + `}`, 400, "invalid role"},
		"bad name":       {`{"token":` + q(token) + `,"role":"agent","name":"N1/../x","csr":` + q(string(csr)) + `}`, 400, "invalid name"},
		"many addresses": {`{"token":` + q(token) + `,"role":"agent","name":"n1","csr":` + q(string(csr)) + `,"ips":[` + strings.Join(many, ",") + `]}`, 400, "too many"},
		"bad IP":         {`{"token":` + q(token) + `,"role":"agent","name":"n1","csr":` + q(string(csr)) + `,"ips":["nope"]}`, 400, "invalid IP"},
		"tampered CSR":   {`{"token":` + q(token) + `,"role":"agent","name":"n1","csr":` + q(tampered) + `}`, 400, "certificate request"},
		"no token":       {`{"role":"agent","name":"n1","csr":` + q(string(csr)) + `}`, 401, "malformed bootstrap token"},
		"not JSON":       {`{{{`, 400, "decode"},
	} {
		code, body := post(tc.body)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", what, code, body, tc.code, tc.msg)
		}
		if strings.Contains(body, tok.Secret) {
			t.Errorf("%s: the answer repeats the token", what)
		}
	}
	// Still healthy.
	if code, _, err := httpsGet(t, httpsClient(t, s.sec.m.CA, pki.KeyPair{}), s.APIURL()+api.PathHealthz); err != nil || code != 200 {
		t.Errorf("healthz after the hostile joins: %d %v", code, err)
	}
}

// TestSecuredWebhookNeedsSecret: the webhook is the one route without
// credentials, so a secured reconciler with no webhook secret refuses
// every push instead of letting anyone trigger syncs (found by review).
func TestSecuredWebhookNeedsSecret(t *testing.T) {
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dir := t.TempDir()
	s := startServer(t, repo.dir, dir, log, secured)
	waitFor(t, 15*time.Second, "leading", s.IsLeader)
	tok, err := pki.ParseToken(readToken(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.PinnedTLS(tok.CAHash)}}
	req, _ := http.NewRequest("POST", s.APIURL()+api.PathWebhook, strings.NewReader(`{"ref":"refs/heads/main"}`))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "no --webhook-secret") {
		t.Fatalf("unsigned push to a secured reconciler without a secret: %d %s", resp.StatusCode, b)
	}
}
