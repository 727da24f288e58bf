package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestTokens: a token is created for a user and groups, shown once, listed
// without its secret, resolves to its user in tokenUser, lapses at its
// expiry and stops working when revoked. Neither the raft log and
// snapshots in the data directory nor the logs hold the secret; a
// snapshot restores the tokens.
func TestTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, logs := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dataDir := t.TempDir()
	s := startServer(t, repo.dir, dataDir, log)
	waitFor(t, 15*time.Second, "leading", s.IsLeader)
	ctx := context.Background()
	cl, _ := api.NewClient(s.APIURL(), nil)

	created, err := cl.CreateToken(ctx, api.TokenRequest{User: "ci@example.com", Groups: []string{"deployers"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Secret, tokenPrefix+created.ID+"_") || len(created.Secret) < 40 || created.User != "ci@example.com" {
		t.Fatalf("created = %+v", created)
	}
	u, ok := s.tokenUser(created.Secret)
	if !ok || u.Name != "ci@example.com" || !u.InGroup("deployers") {
		t.Fatalf("tokenUser = %v, %v", u, ok)
	}
	// Forged and truncated tokens, and the right ID with another secret.
	for _, bad := range []string{"", "sdt_", created.Secret[:len(created.Secret)-1], created.Secret + "x",
		tokenPrefix + created.ID + "_" + strings.Repeat("A", 43), "Bearer " + created.Secret, created.ID, created.Secret + strings.Repeat("A", 1<<20)} {
		if u, ok := s.tokenUser(bad); ok {
			t.Errorf("tokenUser(%q) = %v", bad, u)
		}
	}
	short, err := cl.CreateToken(ctx, api.TokenRequest{User: "temp", TTLSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.tokenUser(short.Secret); !ok {
		t.Fatal("a fresh token with a TTL does not work")
	}
	list, err := cl.Tokens(ctx)
	// Tokens created in the same second are listed by ID.
	if err != nil || len(list) != 2 {
		t.Fatalf("tokens = %+v, %v", list, err)
	}
	for _, tk := range list {
		if (tk.ID == created.ID) != tk.Expires.IsZero() || (tk.ID != created.ID && tk.ID != short.ID) {
			t.Fatalf("tokens = %+v: want %s without expiry and %s with one", list, created.ID, short.ID)
		}
	}
	// The list never carries a secret.
	resp, err := http.Get(s.APIURL() + api.PathTokens)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(raw, []byte(created.Secret)) || bytes.Contains(raw, []byte(hashToken(created.Secret))) || bytes.Contains(raw, []byte("secret")) {
		t.Fatalf("the token list shows a secret: %s", raw)
	}
	// Invalid requests.
	for _, req := range []api.TokenRequest{{}, {User: "x", TTLSeconds: -1}, {User: strings.Repeat("x", 300)}, {User: "x", Groups: []string{""}}} {
		if _, err := cl.CreateToken(ctx, req); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("CreateToken(%+v) = %v, want invalid", req, err)
		}
	}
	waitFor(t, 5*time.Second, "the short token lapsed", func() bool { _, ok := s.tokenUser(short.Secret); return !ok })

	// A snapshot holds the hashes, and restores them.
	snap, err := s.store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(&snap.(*fsmSnapshot).st); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(created.Secret)) || !bytes.Contains(buf.Bytes(), []byte(hashToken(created.Secret))) {
		t.Fatal("the snapshot holds the secret, or not the hash")
	}
	restored := &Server{store: newStore()}
	if err := restored.store.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if u, ok := restored.tokenUser(created.Secret); !ok || u.Name != "ci@example.com" {
		t.Fatalf("restored tokenUser = %v, %v", u, ok)
	}

	// Revoked: refused at once; revoking again is not found.
	if err := cl.DeleteToken(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.tokenUser(created.Secret); ok {
		t.Fatal("a revoked token still works")
	}
	if err := cl.DeleteToken(ctx, created.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	// No secret anywhere on disk or in the logs.
	_ = filepath.Walk(dataDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, sec := range []string{created.Secret, short.Secret} {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%s holds a token secret", p)
			}
		}
		return nil
	})
	for _, sec := range []string{created.Secret, short.Secret} {
		if strings.Contains(logs.String(), sec) {
			t.Error("the logs hold a token secret")
		}
	}
}

// TestTokenCreationNeedsRBAC: only a user RBAC allows to create tokens
// (cluster-admin by default) may, and the creator is recorded.
func TestTokenCreationNeedsRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 15*time.Second, "leading", s.IsLeader)
	h := s.Handler()
	body := `{"user":"eve","groups":["system:masters"]}`
	if code, out := serveAs(h, &policy.User{Name: "eve", Groups: []string{"dev"}}, "POST", api.PathTokens, body); code != http.StatusForbidden {
		t.Fatalf("eve creates a masters token: %d %s", code, out)
	}
	admin := &policy.User{Name: policy.UserAdmin, Groups: []string{policy.GroupMasters}}
	code, out := serveAs(h, admin, "POST", api.PathTokens, `{"user":"ci"}`)
	var ct api.CreatedToken
	if code != http.StatusCreated || json.Unmarshal([]byte(out), &ct) != nil || ct.CreatedBy != policy.UserAdmin {
		t.Fatalf("admin creates a token: %d %s", code, out)
	}
	if code, out := serveAs(h, &policy.User{Name: "ci"}, "DELETE", "/v1/tokens/"+ct.ID, ""); code != http.StatusForbidden {
		t.Fatalf("ci revokes its own token: %d %s", code, out)
	}

	// Allowed to create tokens is not allowed to mint any identity: the
	// user and each group need impersonate (found by review).
	repo.commit("token creators", map[string]string{"rbac.yaml": tokenCreatorRBAC})
	if res, err := s.SyncNow(context.Background()); err != nil || !res.Applied {
		t.Fatalf("sync: %+v %v", res, err)
	}
	creator := &policy.User{Name: "ci-admin@example.com"}
	if code, out := serveAs(h, creator, "POST", api.PathTokens, `{"user":"bot","groups":["system:masters"]}`); code != http.StatusForbidden || !strings.Contains(out, "system:masters") || !strings.Contains(out, "needs the verb impersonate") {
		t.Fatalf("a token creator mints a masters token: %d %s", code, out)
	}
	if code, out := serveAs(h, creator, "POST", api.PathTokens, `{"user":"root"}`); code != http.StatusForbidden || !strings.Contains(out, "impersonate") {
		t.Fatalf("a token creator mints a token for a user it may not impersonate: %d %s", code, out)
	}
	if code, out := serveAs(h, creator, "POST", api.PathTokens, `{"user":"bot","groups":["deployers"]}`); code != http.StatusCreated {
		t.Fatalf("a token creator mints a token it may impersonate: %d %s", code, out)
	}
}

const tokenCreatorRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: token-creator}
rules:
- apiGroups: ["stevedore.dev"]
  resources: ["tokens"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["users"]
  resourceNames: ["bot"]
  verbs: ["impersonate"]
- apiGroups: [""]
  resources: ["groups"]
  resourceNames: ["deployers"]
  verbs: ["impersonate"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: token-creator}
subjects: [{kind: User, name: ci-admin@example.com}]
`
