package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
)

func mustCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestCAIssuesIdentities(t *testing.T) {
	ca := mustCA(t)
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Sub(ca.Cert.NotBefore) < CAValidity {
		t.Errorf("CA: IsCA %v, validity %s", ca.Cert.IsCA, ca.Cert.NotAfter.Sub(ca.Cert.NotBefore))
	}
	if k, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key algorithm %v", ca.Cert.PublicKeyAlgorithm)
	}
	for _, tc := range []struct {
		user   policy.User
		ips    []net.IP
		server bool
	}{
		{ReconcilerUser("r1"), []net.IP{net.IPv4(10, 0, 0, 1)}, true},
		{NodeUser("n1"), []net.IP{net.IPv4(10, 0, 0, 2)}, true},
		{AdminUser(), nil, false},
	} {
		certPEM, keyPEM, err := ca.Issue(Request{User: tc.user, IPs: tc.ips})
		if err != nil {
			t.Fatal(err)
		}
		if !SameKey(certPEM, keyPEM) {
			t.Fatalf("%s: key does not match", tc.user)
		}
		c, _ := ParseCert(certPEM)
		u, err := ca.Verify(c, false)
		if err != nil || u.Name != tc.user.Name || strings.Join(u.Groups, ",") != strings.Join(tc.user.Groups, ",") {
			t.Errorf("%s: verified as %v, %v", tc.user, u, err)
		}
		if _, err := ca.Verify(c, true); (err == nil) != tc.server {
			t.Errorf("%s: server usage %v, want %v", tc.user, err == nil, tc.server)
		}
		if tc.server && !c.IPAddresses[0].Equal(tc.ips[0]) {
			t.Errorf("%s: SANs %v", tc.user, c.IPAddresses)
		}
	}
	if u := ReconcilerUser("r1"); u.Name != "system:reconciler:r1" || !u.InGroup(policy.GroupReconcilers) {
		t.Errorf("reconciler identity %s", u)
	}
	if u := NodeUser("n1"); u.Name != "system:node:n1" || !u.InGroup(policy.GroupNodes) {
		t.Errorf("node identity %s", u)
	}
	if u := AdminUser(); u.Name != "admin" || !u.InGroup(policy.GroupMasters) {
		t.Errorf("admin identity %s", u)
	}
	// Another CA's certificate does not verify.
	other := mustCA(t)
	oc, _, _ := other.Issue(Request{User: AdminUser()})
	c, _ := ParseCert(oc)
	if _, err := ca.Verify(c, false); err == nil {
		t.Error("another CA's certificate verified")
	}
	// A CA without its key issues nothing; a mismatched key is refused.
	pub, _ := LoadCA(ca.CertPEM, nil)
	if _, _, err := pub.Issue(Request{User: AdminUser()}); err == nil {
		t.Error("a CA without a key issued")
	}
	if _, err := LoadCA(ca.CertPEM, other.KeyPEM); err == nil {
		t.Error("a CA with another's key loaded")
	}
}

func TestCSR(t *testing.T) {
	ca := mustCA(t)
	csr, key, err := NewCSR(NodeUser("n1"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseCSR(csr)
	if err != nil {
		t.Fatal(err)
	}
	// The CA names the identity, whatever the CSR asked for.
	cert, none, err := ca.Issue(Request{User: NodeUser("n2"), PublicKey: pub})
	if err != nil || none != nil || !SameKey(cert, key) {
		t.Fatalf("issue from CSR: %v %v", err, none)
	}
	if _, err := ParseCSR([]byte("garbage")); err == nil {
		t.Error("garbage CSR parsed")
	}
	// A tampered request fails its signature check.
	bad := []byte(strings.Replace(string(csr), string(csr[len(csr)-40:len(csr)-30]), "AAAAAAAAAA", 1))
	if _, err := ParseCSR(bad); err == nil {
		t.Error("a tampered CSR parsed")
	}
}

func TestToken(t *testing.T) {
	ca := mustCA(t)
	tok, err := NewToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "stv1."+ca.Hash()+".") || len(s) != 4+1+64+1+64 {
		t.Errorf("token %q", s)
	}
	p, err := ParseToken(" " + s + "\n")
	if err != nil || p != tok {
		t.Fatalf("parse: %v %v", p, err)
	}
	h := tok.Hash()
	if strings.Contains(h, tok.Secret) || !p.Matches(h) {
		t.Error("hash does not match its token")
	}
	other, _ := NewToken(ca)
	if other.Matches(h) || tok.Matches("") {
		t.Error("another token matches")
	}
	for _, bad := range []string{"", "stv1", "stv2." + ca.Hash() + "." + tok.Secret, "stv1.xyz." + tok.Secret, "stv1." + ca.Hash() + ".short", s + ".x"} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) = %v", bad, err)
		} else if tok.Secret != "" && strings.Contains(err.Error(), tok.Secret) {
			t.Error("the error repeats the secret")
		}
	}
	k, err := NewGossipKey()
	if err != nil || len(k) != 32 {
		t.Fatal(err)
	}
	if d, err := DecodeGossipKey(EncodeGossipKey(k)); err != nil || string(d) != string(k) {
		t.Error("gossip key round trip")
	}
	if _, err := DecodeGossipKey("c2hvcnQ="); err == nil {
		t.Error("a short gossip key decoded")
	}
}

func TestMaterialDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := LoadDir(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
	ca := mustCA(t)
	cert, key, _ := ca.Issue(Request{User: ReconcilerUser("r1"), IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	gk, _ := NewGossipKey()
	m := &Material{CA: ca, GossipKey: gk, Self: KeyPair{cert, key}, TokenHash: "abc"}
	if err := m.SaveDir(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", e.Name(), fi.Mode().Perm())
		}
	}
	got, err := LoadDir(dir)
	if err != nil || got.TokenHash != "abc" || got.CA.Key == nil || string(got.GossipKey) != string(gk) {
		t.Fatalf("load: %+v %v", got, err)
	}
	// A certificate that does not certify the key is refused.
	_, otherKey, _ := ca.Issue(Request{User: AdminUser()})
	os.WriteFile(filepath.Join(dir, FileKey), otherKey, 0o600)
	if _, err := LoadDir(dir); err == nil {
		t.Error("mismatched key loaded")
	}
}

// TestTLSRoles: a server requiring reconcilers refuses other members'
// certificates and other CAs' in the handshake; PinnedTLS accepts only the
// CA the token names.
func TestTLSRoles(t *testing.T) {
	ca := mustCA(t)
	kp := func(c *CA, u policy.User) KeyPair {
		cert, key, err := c.Issue(Request{User: u, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
		if err != nil {
			t.Fatal(err)
		}
		return KeyPair{cert, key}
	}
	srvConf, err := ca.ServerTLS(kp(ca, ReconcilerUser("r1")), true)
	if err != nil {
		t.Fatal(err)
	}
	ca.RequireGroups(srvConf, policy.GroupReconcilers)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = srvConf
	srv.StartTLS()
	defer srv.Close()
	other := mustCA(t)
	call := func(conf *tls.Config) error {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		resp, err := hc.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for what, k := range map[string]KeyPair{"none": {}, "node": kp(ca, NodeUser("n1")), "admin": kp(ca, AdminUser()), "other CA": kp(other, ReconcilerUser("r1"))} {
		conf, err := ca.ClientTLS(k, policy.GroupReconcilers)
		if err != nil {
			t.Fatal(err)
		}
		if err := call(conf); err == nil {
			t.Errorf("%s: admitted", what)
		}
	}
	conf, _ := ca.ClientTLS(kp(ca, ReconcilerUser("r2")), policy.GroupReconcilers)
	if err := call(conf); err != nil {
		t.Errorf("reconciler refused: %v", err)
	}
	// The client refuses a server of another role or CA.
	conf, _ = ca.ClientTLS(kp(ca, ReconcilerUser("r2")), policy.GroupNodes)
	if err := call(conf); err == nil {
		t.Error("a client wanting a node accepted a reconciler")
	}
	conf, _ = other.ClientTLS(kp(other, ReconcilerUser("r2")))
	if err := call(conf); err == nil {
		t.Error("a client of another CA accepted the server")
	}
	// Pinning: the right hash passes the handshake (the server then wants
	// a certificate, which a joiner does not have: the handshake itself is
	// what is tested here through VerifyConnection).
	c, err := tls.Dial("tcp", srv.Listener.Addr().String(), PinnedTLS(other.Hash()))
	if err == nil {
		c.Close()
		t.Error("a pin of another CA accepted the server")
	} else if !strings.Contains(err.Error(), "does not hold the CA") {
		t.Errorf("wrong pin: %v", err)
	}
	good := PinnedTLS(ca.Hash())
	good.Certificates = []tls.Certificate{mustTLSCert(t, ca, kp(ca, ReconcilerUser("r3")))}
	c, err = tls.Dial("tcp", srv.Listener.Addr().String(), good)
	if err != nil {
		t.Errorf("the right pin: %v", err)
	} else {
		c.Close()
	}
}

func mustTLSCert(t *testing.T, ca *CA, kp KeyPair) tls.Certificate {
	t.Helper()
	c, err := ca.TLSCertificate(kp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
