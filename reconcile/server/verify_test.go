package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/signtest"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// verifyFixture is a repository whose first revision is signed by alice
// (SSH, approver of everything) and whose shop/ directory bob (OpenPGP)
// approves; mallory is trusted but owns nothing, eve is not trusted.
type verifyFixture struct {
	kr                       *signtest.Keyring
	repo                     *signtest.Repo
	alice, bob, mallory, eve *signtest.Key
	trusted                  string
	first                    string
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	kr := signtest.New(t)
	f := &verifyFixture{kr: kr, alice: kr.SSH("alice@example.com"), bob: kr.PGP("bob@example.com"),
		mallory: kr.SSH("mallory@example.com"), eve: kr.SSH("eve@example.com")}
	f.trusted = filepath.Join(t.TempDir(), "trusted-keys")
	if err := os.WriteFile(f.trusted, signtest.Trusted(f.alice, f.bob, f.mallory), 0o600); err != nil {
		t.Fatal(err)
	}
	f.repo = kr.NewRepo(t.TempDir())
	f.first = f.repo.Commit(f.alice, "shop: 1 replica", map[string]string{
		"OWNERS":        "approvers:\n- alice@example.com\n",
		"shop/OWNERS":   "approvers:\n- bob@example.com\n",
		"ns.yaml":       nsYAML,
		"shop/web.yaml": deploymentYAML(1, "registry.local/hello:1"),
	})
	return f
}

func verifyOpts(f *verifyFixture, mode string) func(*Config) {
	return func(c *Config) {
		c.Verify = VerifyConfig{Mode: mode, TrustedKeys: f.trusted}
	}
}

// expectRefused syncs and checks that the sync is refused at the verify
// stage with a message holding every want, that the status says so and
// that the applied revision is still applied.
func expectRefused(t *testing.T, s *Server, cl *api.Client, applied string, want ...string) {
	t.Helper()
	res, err := s.SyncNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Applied || res.Error.Stage != api.StageVerify {
		t.Fatalf("sync: %+v, want a refusal at stage verify", res)
	}
	for _, w := range want {
		if !strings.Contains(res.Error.Message, w) {
			t.Errorf("refusal %q does not say %q", res.Error.Message, w)
		}
	}
	st, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied == nil || st.Applied.Hash != applied || st.LastError == nil || st.LastError.Stage != api.StageVerify ||
		st.LastError.Message != res.Error.Message {
		t.Errorf("status: applied %+v, last error %+v; want %s applied and the refusal", st.Applied, st.LastError, short(applied))
	}
	if rev, _ := s.store.appRevision(""); rev == nil || rev.Commit.Hash != applied {
		t.Errorf("store's applied revision changed: %+v", rev)
	}
	t.Logf("refused: %s", res.Error.Message)
}

func expectApplied(t *testing.T, s *Server, commit string) {
	t.Helper()
	waitFor(t, 10*time.Second, "leadership", s.IsLeader)
	res, err := s.SyncNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil || !res.Applied || res.Commit == nil || res.Commit.Hash != commit {
		t.Fatalf("sync: %+v (error %+v), want %s applied", res, res.Error, short(commit))
	}
}

// TestVerifyCommits walks mode all through the refusals of issue 11 with a
// real repository and real keys: unsigned, untrusted, signed but not an
// owner, an OWNERS escalation, a force push; then approved changes (the
// owner's own commit, and an empty approval commit on top of another's).
func TestVerifyCommits(t *testing.T) {
	f := newVerifyFixture(t)
	log, _ := testLogger(t)
	s := startServer(t, f.repo.Dir, t.TempDir(), log, verifyOpts(f, "all"))
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := f.repo
	expectApplied(t, s, f.first)
	applied := f.first
	reset := func() { r.Git(nil, "reset", "-q", "--hard", applied) }

	// Unsigned (and a signed one on top does not make up for it).
	bad := r.Commit(nil, "shop: 2 replicas", map[string]string{"shop/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	r.Commit(f.bob, "shop: 3 replicas", map[string]string{"shop/web.yaml": deploymentYAML(3, "registry.local/hello:1")})
	expectRefused(t, s, cl, applied, short(bad), `"shop: 2 replicas"`, "nobody@example.com", ": unsigned")
	reset()

	// Signed by a key no one trusts.
	bad = r.Commit(f.eve, "shop: 4 replicas", map[string]string{"shop/web.yaml": deploymentYAML(4, "registry.local/hello:1")})
	expectRefused(t, s, cl, applied, short(bad), "eve@example.com", "signed by an untrusted key "+f.eve.Fingerprint)
	reset()

	// Signed by a trusted key that is not an approver of the file.
	bad = r.Commit(f.mallory, "shop: 5 replicas", map[string]string{"shop/web.yaml": deploymentYAML(5, "registry.local/hello:1")})
	expectRefused(t, s, cl, applied, short(bad), "not approved: file shop/web.yaml needs an approver from OWNERS at shop/OWNERS (bob@example.com) or OWNERS (alice@example.com)",
		"approved by mallory@example.com")
	// What ctl status prints: the entries, each naming its file.
	if st, _ := cl.Status(context.Background()); st.LastError == nil || len(st.LastError.Entries) != 1 ||
		st.LastError.Entries[0].String() != "shop/web.yaml: not approved: needs an approver from OWNERS at shop/OWNERS (bob@example.com) or OWNERS (alice@example.com); approved by mallory@example.com (trusted signatures on this content)" {
		t.Errorf("entries: %+v", st.LastError)
	}
	reset()

	// Posing as bob: the author and committer say bob, the signature is
	// mallory's. The signature decides.
	r.Env = []string{"GIT_AUTHOR_NAME=bob", "GIT_AUTHOR_EMAIL=bob@example.com", "GIT_COMMITTER_NAME=bob", "GIT_COMMITTER_EMAIL=bob@example.com"}
	bad = r.Commit(f.mallory, "shop: 7 replicas", map[string]string{"shop/web.yaml": deploymentYAML(7, "registry.local/hello:1")})
	r.Env = nil
	expectRefused(t, s, cl, applied, short(bad), "by bob <bob@example.com>: not approved", "approved by mallory@example.com")
	reset()

	// An OWNERS escalation: mallory adds herself to shop/OWNERS and
	// approves her own change. The applied revision's OWNERS decide.
	bad = r.Commit(f.mallory, "shop: mallory owns it now", map[string]string{
		"shop/OWNERS":   "approvers:\n- bob@example.com\n- mallory@example.com\n",
		"shop/web.yaml": deploymentYAML(6, "registry.local/evil:1"),
	})
	expectRefused(t, s, cl, applied, short(bad), "file shop/OWNERS needs an approver from OWNERS at OWNERS (alice@example.com)", "and 1 more file")
	// Even approved by bob (an owner of shop/, not of its OWNERS file).
	r.Commit(f.bob, "Approved-by: bob@example.com", nil)
	expectRefused(t, s, cl, applied, "file shop/OWNERS needs an approver from OWNERS at OWNERS (alice@example.com)")
	reset()

	// A broken OWNERS file is refused, even from its approver: applied, it
	// would refuse every revision after it.
	bad = r.Commit(f.alice, "shop: broken OWNERS", map[string]string{"shop/OWNERS": "approvers: [bob@example.com\n"})
	expectRefused(t, s, cl, applied, short(bad), "failed to parse shop/OWNERS")
	reset()

	// The owner's own signed change is deployed.
	good := r.Commit(f.bob, "shop: 2 replicas", map[string]string{"shop/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	expectApplied(t, s, good)
	applied = good

	// Another's change approved by an empty commit the owner signs on top.
	r.Commit(f.mallory, "shop: 3 replicas", map[string]string{"shop/web.yaml": deploymentYAML(3, "registry.local/hello:1")})
	approval := r.Commit(f.bob, "Approved-by: bob@example.com", nil)
	// Who approved what, for the RBAC check of the changes: bob, of the
	// one file that changed.
	rev, err := s.src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := s.store.appRevision("")
	vo, serr := s.verifyRevision(context.Background(), "", s.src, s.cfg.Source, rev, prev)
	if serr != nil || len(vo.Approvers) != 1 || len(vo.Approvers["shop/web.yaml"]) != 1 || vo.Approvers["shop/web.yaml"][0].Name != "bob@example.com" {
		t.Errorf("outcome %+v, %+v; want shop/web.yaml approved by bob", vo, serr)
	}
	expectApplied(t, s, approval)
	applied = approval

	// A force push that drops applied history.
	r.Git(nil, "reset", "-q", "--hard", f.first)
	bad = r.Commit(f.alice, "rewrite", map[string]string{"ns.yaml": nsYAML + "# rewritten\n"})
	expectRefused(t, s, cl, applied, "the branch was force-pushed", short(applied)+" is not an ancestor of "+short(bad))
}

// TestVerifyMerges: with mode merges the tip must be a merge signed by an
// approver; the commits it brings in need not be signed.
func TestVerifyMerges(t *testing.T) {
	f := newVerifyFixture(t)
	log, _ := testLogger(t)
	s := startServer(t, f.repo.Dir, t.TempDir(), log, verifyOpts(f, "merges"))
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := f.repo
	expectApplied(t, s, f.first)

	// A signed commit that is not a merge.
	bad := r.Commit(f.bob, "shop: 2 replicas", map[string]string{"shop/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	expectRefused(t, s, cl, f.first, short(bad), "not a merge commit")
	r.Git(nil, "reset", "-q", "--hard", f.first)

	// An unsigned feature branch merged with an unsigned merge.
	r.Git(nil, "checkout", "-q", "-b", "feature")
	r.Commit(nil, "shop: 3 replicas", map[string]string{"shop/web.yaml": deploymentYAML(3, "registry.local/hello:1")})
	r.Commit(nil, "shop: image 2", map[string]string{"shop/web.yaml": deploymentYAML(3, "registry.local/hello:2")})
	r.Git(nil, "checkout", "-q", "main")
	bad = r.Merge(nil, "feature", "Merge pull request #1")
	expectRefused(t, s, cl, f.first, short(bad), "unsigned")
	r.Git(nil, "reset", "-q", "--hard", f.first)

	// Merged by mallory: trusted, but no owner of shop/.
	bad = r.Merge(f.mallory, "feature", "Merge pull request #1")
	expectRefused(t, s, cl, f.first, short(bad), "file shop/web.yaml needs an approver from OWNERS at shop/OWNERS (bob@example.com) or OWNERS (alice@example.com)")
	r.Git(nil, "reset", "-q", "--hard", f.first)

	// Merged by bob, the owner: deployed, unsigned commits and all.
	good := r.Merge(f.bob, "feature", "Merge pull request #1")
	expectApplied(t, s, good)
}

// TestVerifyApplications: an Application's repository is verified with
// the same trusted keys; its refusal names its commit and keeps its last
// approved revision, the other applications sync on.
func TestVerifyApplications(t *testing.T) {
	f := newVerifyFixture(t)
	team := f.kr.NewRepo(t.TempDir())
	t1 := team.Commit(f.bob, "web", map[string]string{"OWNERS": "approvers: [bob@example.com]\n", "web.yaml": namedDeploy("web", 1, "img:1")})
	f.repo.Commit(f.alice, "team-a", map[string]string{"apps/team-a.yaml": appDoc("team-a", team.Dir, "main", true)})
	log, _ := testLogger(t)
	s := startServer(t, f.repo.Dir, t.TempDir(), log, verifyOpts(f, "all"))
	cl, _ := api.NewClient(s.APIURL(), nil)
	waitFor(t, 20*time.Second, "team-a applied", func() bool {
		a, err := cl.Application(context.Background(), "team-a")
		return err == nil && a.Applied != nil && a.Applied.Hash == t1
	})
	bad := team.Commit(f.mallory, "web: 5", map[string]string{"web.yaml": namedDeploy("web", 5, "img:1")})
	r := syncApp(t, cl, "team-a")
	if r.Error == nil || r.Error.Stage != api.StageVerify || !strings.Contains(r.Error.Message, short(bad)) ||
		!strings.Contains(r.Error.Message, "file web.yaml needs an approver from OWNERS at OWNERS (bob@example.com)") {
		t.Fatalf("team-a sync: %+v", r.Error)
	}
	if a := appByName(t, cl, "team-a"); a.Applied == nil || a.Applied.Hash != t1 || a.LastError == nil || a.LastError.Stage != api.StageVerify {
		t.Errorf("team-a: applied %+v, error %+v", a.Applied, a.LastError)
	}
	unsigned := team.Commit(nil, "web: 6", map[string]string{"web.yaml": namedDeploy("web", 6, "img:1")})
	if r := syncApp(t, cl, "team-a"); r.Error == nil || !strings.Contains(r.Error.Message, short(unsigned)+` "web: 6" by Nobody <nobody@example.com>: unsigned`) {
		t.Errorf("unsigned on top: %+v", r.Error)
	}
}

// TestVerifyLimitsAndForcePush: a range longer than MaxCommits is refused
// saying so; with AllowForcePush a rewritten branch is accepted when its
// new commits are signed, and refused when they are not.
func TestVerifyLimitsAndForcePush(t *testing.T) {
	f := newVerifyFixture(t)
	log, _ := testLogger(t)
	s := startServer(t, f.repo.Dir, t.TempDir(), log, func(c *Config) {
		c.Verify = VerifyConfig{Mode: "all", TrustedKeys: f.trusted, AllowForcePush: true, MaxCommits: 3}
	})
	cl, _ := api.NewClient(s.APIURL(), nil)
	r := f.repo
	expectApplied(t, s, f.first)
	for i := 2; i <= 5; i++ {
		r.Commit(f.alice, fmt.Sprintf("shop: %d", i), map[string]string{"shop/web.yaml": deploymentYAML(i, "registry.local/hello:1")})
	}
	expectRefused(t, s, cl, f.first, "more than 3", "--verify-max-commits")
	r.Git(nil, "reset", "-q", "--hard", "HEAD~2")
	head := r.Git(nil, "rev-parse", "HEAD")
	expectApplied(t, s, head)

	// Rewritten: allowed, the new commit is verified.
	r.Git(nil, "reset", "-q", "--hard", f.first)
	unsigned := r.Commit(nil, "rewrite", map[string]string{"ns.yaml": nsYAML + "# rewritten\n"})
	expectRefused(t, s, cl, head, short(unsigned), "unsigned")
	r.Git(nil, "reset", "-q", "--hard", f.first)
	signed := r.Commit(f.alice, "rewrite", map[string]string{"ns.yaml": nsYAML + "# rewritten\n"})
	expectApplied(t, s, signed)
}

// TestVerifyConfig: verification without keys, with an empty or bad keys
// file, or an unknown mode does not start; a directory of key files does.
func TestVerifyConfig(t *testing.T) {
	f := newVerifyFixture(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("alice@example.com cert-authority "+strings.SplitN(string(f.alice.Trusted), " ", 3)[2]), 0o600)
	keysDir := filepath.Join(dir, "keys.d")
	os.Mkdir(keysDir, 0o700)
	os.WriteFile(filepath.Join(keysDir, "alice"), f.alice.Trusted, 0o600)
	os.WriteFile(filepath.Join(keysDir, "bob.asc"), f.bob.Trusted, 0o600)
	for _, tc := range []struct {
		v    VerifyConfig
		want string
	}{
		{VerifyConfig{Mode: "all"}, "--trusted-keys"},
		{VerifyConfig{Mode: "sometimes", TrustedKeys: f.trusted}, "unknown verification mode"},
		{VerifyConfig{Mode: "merges", TrustedKeys: filepath.Join(dir, "missing")}, "no such file"},
		{VerifyConfig{Mode: "all", TrustedKeys: empty}, "holds no key"},
		{VerifyConfig{Mode: "all", TrustedKeys: bad}, "cert-authority"},
		{VerifyConfig{Mode: "all", TrustedKeys: keysDir}, ""},
		{VerifyConfig{}, ""},
	} {
		cfg := DefaultConfig()
		cfg.Source.URL, cfg.DataDir, cfg.Verify = f.repo.Dir, t.TempDir(), tc.v
		cfg.Raft.Addr = "127.0.0.1:0"
		s, err := New(cfg)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.v, err)
				continue
			}
			if (s.verifier == nil) != (tc.v.Mode == "") || (s.verifier != nil && s.verifier.Keys().Len() != 2) {
				t.Errorf("%+v: verifier %v", tc.v, s.verifier)
			}
			s.Shutdown(context.Background())
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.v, err, tc.want)
		}
		if s != nil {
			s.Shutdown(context.Background())
		}
	}
}
