package webhook

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPostReceiveHook runs the post-receive hook that docs/sync.md shows
// (testdata/post-receive) in a real bare repository and pushes to it with
// the git CLI: the hook's curl+openssl signature must pass the handler.
func TestPostReceiveHook(t *testing.T) {
	for _, tool := range []string{"git", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed by the documented post-receive hook (apt-get install %s): %v", tool, tool, err)
		}
	}
	var n atomic.Int32
	srv := httptest.NewServer(Handler(Config{Secret: secret, Branch: "main", Logger: quiet()}, func() { n.Add(1) }))
	defer srv.Close()

	dir := t.TempDir()
	env := append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		// The hook's curl must reach the test server directly.
		"http_proxy=", "HTTP_PROXY=", "no_proxy=*")
	git := func(wd string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = wd
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	bare := filepath.Join(dir, "config.git")
	work := filepath.Join(dir, "work")
	git(dir, "init", "-q", "--bare", "-b", "main", bare)
	hook, err := os.ReadFile("testdata/post-receive")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bare, "hooks", "post-receive"), hook, 0o755); err != nil {
		t.Fatal(err)
	}
	git(bare, "config", "stevedore.webhook-url", srv.URL+"/v1/webhook")
	git(bare, "config", "stevedore.webhook-secret", secret)
	git(dir, "init", "-q", "-b", "main", work)
	git(work, "remote", "add", "origin", bare)
	if err := os.WriteFile(filepath.Join(work, "a.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "one")

	out := git(work, "push", "origin", "main")
	if n.Load() != 1 {
		t.Fatalf("push to main: %d triggers, want 1; push said:\n%s", n.Load(), out)
	}
	out = git(work, "push", "origin", "main:dev")
	if n.Load() != 1 {
		t.Fatalf("push to dev triggered a sync; push said:\n%s", out)
	}

	// A hook with the wrong secret is refused, and the push still succeeds.
	git(bare, "config", "stevedore.webhook-secret", "wrong")
	git(work, "commit", "-q", "--allow-empty", "-m", "two")
	out = git(work, "push", "origin", "main")
	if n.Load() != 1 {
		t.Fatalf("badly signed hook call triggered a sync")
	}
	if !strings.Contains(out, "webhook call failed") {
		t.Errorf("push output does not report the failed call:\n%s", out)
	}
}
