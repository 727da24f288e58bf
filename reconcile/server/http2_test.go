package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestSecuredAPIServesHTTP2: a client that offers h2 (a browser) gets
// HTTP/2, so that the UI's many watch streams share one connection; one
// that does not (ctl's transport) keeps HTTP/1.1.
func TestSecuredAPIServesHTTP2(t *testing.T) {
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	s := startServer(t, repo.dir, t.TempDir(), log, secured)
	conf, err := s.sec.m.CA.ClientTLS(pki.KeyPair{}, policy.GroupReconcilers)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		h2    bool
		proto string
	}{{"a client offering h2", true, "HTTP/2.0"}, {"a client without h2", false, "HTTP/1.1"}} {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: conf.Clone(), ForceAttemptHTTP2: c.h2}}
		resp, err := hc.Get(s.APIURL() + api.PathHealthz)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Proto != c.proto {
			t.Errorf("%s: %s over %s, want 200 over %s", c.name, resp.Status, resp.Proto, c.proto)
		}
	}
}
