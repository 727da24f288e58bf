package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

const secret = "It's a Secret to Everybody"

// Trimmed real payloads: the fields the forges send that matter here, plus
// a few that do not, so the decoder is seen to ignore them.
const (
	githubPush = `{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","repository":{"full_name":"octo/config"},"pusher":{"name":"octocat"},"commits":[{"id":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","message":"scale web"}]}`
	githubPing = `{"zen":"Keep it logically awesome.","hook_id":1,"hook":{"type":"Repository","events":["push"]}}`
	giteaPush  = `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"28e1879d029cb852e4844d9c718537df08844e03","compare_url":"","commits":[],"repository":{"full_name":"org/config"},"pusher":{"login":"gitea"}}`
	gitlabPush = `{"object_kind":"push","event_name":"push","ref":"refs/heads/main","checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","project":{"path_with_namespace":"org/config"},"commits":[]}`
)

type call struct {
	provider string
	headers  map[string]string
	body     string
}

func githubReq(event, body, sig string) call {
	h := map[string]string{"X-GitHub-Event": event, "Content-Type": "application/json"}
	if sig != "" {
		h["X-Hub-Signature-256"] = sig
	}
	return call{"github", h, body}
}

func giteaReq(header, event, body, sig string) call {
	h := map[string]string{header + "-Event": event, "Content-Type": "application/json",
		// Gitea also sends GitHub's headers; its own must win.
		"X-GitHub-Event": event}
	if sig != "" {
		h[header+"-Signature"] = sig
	}
	return call{"gitea", h, body}
}

func gitlabReq(event, body, token string) call {
	h := map[string]string{"X-Gitlab-Event": event, "Content-Type": "application/json"}
	if token != "" {
		h["X-Gitlab-Token"] = token
	}
	return call{"gitlab", h, body}
}

func hexSig(s, body string) string {
	m := hmac.New(sha256.New, []byte(s))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestHandler(t *testing.T) {
	other := strings.Replace(githubPush, "refs/heads/main", "refs/heads/dev", 1)
	tag := strings.Replace(githubPush, "refs/heads/main", "refs/tags/v1", 1)
	giteaOther := strings.Replace(giteaPush, "refs/heads/main", "refs/heads/dev", 1)
	gitlabOther := strings.Replace(gitlabPush, "refs/heads/main", "refs/heads/dev", 1)
	for _, tc := range []struct {
		name    string
		secret  string
		req     call
		code    int
		trigger bool
	}{
		{"github push", secret, githubReq("push", githubPush, Sign(secret, []byte(githubPush))), 202, true},
		{"github push unsigned, no secret", "", githubReq("push", githubPush, ""), 202, true},
		{"github push missing signature", secret, githubReq("push", githubPush, ""), 401, false},
		{"github push wrong secret", secret, githubReq("push", githubPush, Sign("guess", []byte(githubPush))), 401, false},
		{"github push body tampered", secret, githubReq("push", other, Sign(secret, []byte(githubPush))), 401, false},
		{"github push signature without prefix", secret, githubReq("push", githubPush, hexSig(secret, githubPush)), 401, false},
		{"github push signature not hex", secret, githubReq("push", githubPush, "sha256=zz"), 401, false},
		{"github ping", secret, githubReq("ping", githubPing, Sign(secret, []byte(githubPing))), 200, false},
		{"github ping unsigned", secret, githubReq("ping", githubPing, ""), 401, false},
		{"github push other branch", secret, githubReq("push", other, Sign(secret, []byte(other))), 202, false},
		{"github push tag", secret, githubReq("push", tag, Sign(secret, []byte(tag))), 202, false},
		{"github other event", secret, githubReq("issues", `{}`, Sign(secret, []byte(`{}`))), 202, false},
		{"github bad json", secret, githubReq("push", `{"ref":`, Sign(secret, []byte(`{"ref":`))), 400, false},
		{"github no ref", secret, githubReq("push", `{"after":"x"}`, Sign(secret, []byte(`{"after":"x"}`))), 400, false},
		{"github ref not a string", secret, githubReq("push", `{"ref":1}`, Sign(secret, []byte(`{"ref":1}`))), 400, false},

		{"gitea push", secret, giteaReq("X-Gitea", "push", giteaPush, hexSig(secret, giteaPush)), 202, true},
		{"forgejo push", secret, giteaReq("X-Forgejo", "push", giteaPush, hexSig(secret, giteaPush)), 202, true},
		{"gogs push", secret, giteaReq("X-Gogs", "push", giteaPush, hexSig(secret, giteaPush)), 202, true},
		{"gitea push missing signature", secret, giteaReq("X-Gitea", "push", giteaPush, ""), 401, false},
		{"gitea push wrong signature", secret, giteaReq("X-Gitea", "push", giteaPush, hexSig("guess", giteaPush)), 401, false},
		{"gitea push with github prefix", secret, giteaReq("X-Gitea", "push", giteaPush, "sha256="+hexSig(secret, giteaPush)), 401, false},
		{"gitea push other branch", secret, giteaReq("X-Gitea", "push", giteaOther, hexSig(secret, giteaOther)), 202, false},
		{"gitea bad json", secret, giteaReq("X-Gitea", "push", `[1,2`, hexSig(secret, `[1,2`)), 400, false},
		{"gitea create event", secret, giteaReq("X-Gitea", "create", giteaPush, hexSig(secret, giteaPush)), 202, false},

		{"gitlab push", secret, gitlabReq("Push Hook", gitlabPush, secret), 202, true},
		{"gitlab push missing token", secret, gitlabReq("Push Hook", gitlabPush, ""), 401, false},
		{"gitlab push wrong token", secret, gitlabReq("Push Hook", gitlabPush, secret+"x"), 401, false},
		{"gitlab push other branch", secret, gitlabReq("Push Hook", gitlabOther, secret), 202, false},
		{"gitlab tag push", secret, gitlabReq("Tag Push Hook", gitlabPush, secret), 202, false},
		{"gitlab bad json", secret, gitlabReq("Push Hook", `not json`, secret), 400, false},

		{"unknown sender", secret, call{"none", map[string]string{"Content-Type": "application/json"}, githubPush}, 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			h := Handler(Config{Secret: tc.secret, Branch: "main", Logger: quiet()}, func() { n.Add(1) })
			req := httptest.NewRequest(http.MethodPost, "/v1/webhook", strings.NewReader(tc.req.body))
			for k, v := range tc.req.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tc.code, strings.TrimSpace(rec.Body.String()))
			}
			if got := n.Load() == 1; got != tc.trigger {
				t.Errorf("triggered = %v, want %v", got, tc.trigger)
			}
		})
	}
}

func TestGitHubFormPayload(t *testing.T) {
	body := url.Values{"payload": {githubPush}}.Encode()
	var n atomic.Int32
	h := Handler(Config{Secret: secret, Logger: quiet()}, func() { n.Add(1) })
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", Sign(secret, []byte(body)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 202 || n.Load() != 1 {
		t.Fatalf("status %d, triggers %d: %s", rec.Code, n.Load(), rec.Body)
	}
}

func TestBranchDefaultAndRefForm(t *testing.T) {
	for _, branch := range []string{"", "main", "refs/heads/main"} {
		var n atomic.Int32
		h := Handler(Config{Branch: branch, Logger: quiet()}, func() { n.Add(1) })
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(githubPush))
		req.Header.Set("X-GitHub-Event", "push")
		h.ServeHTTP(httptest.NewRecorder(), req)
		if n.Load() != 1 {
			t.Errorf("Branch %q: push to main did not trigger", branch)
		}
	}
}

func TestMethodAndSize(t *testing.T) {
	var n atomic.Int32
	h := Handler(Config{Secret: secret, MaxBodyBytes: 1024, Logger: quiet()}, func() { n.Add(1) })

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status = %d", rec.Code)
	}

	big := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 2048) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", Sign(secret, []byte(big)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status = %d", rec.Code)
	}
	if n.Load() != 0 {
		t.Errorf("triggered %d times", n.Load())
	}
	if DefaultConfig().MaxBodyBytes != 25<<20 {
		t.Errorf("default limit = %d", DefaultConfig().MaxBodyBytes)
	}
}

// TestSignMatchesOpenSSL checks Sign against the command the documented
// post-receive hook runs, so the hook and the handler agree.
func TestSignMatchesOpenSSL(t *testing.T) {
	if got, want := Sign("key", []byte("The quick brown fox jumps over the lazy dog")),
		"sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Fatalf("Sign = %s, want %s (the well-known HMAC-SHA256 example)", got, want)
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		// The known answer above already pins the algorithm; openssl is only
		// the hook's tool, not something this package needs.
		t.Logf("openssl not installed; checked the known answer only")
		return
	}
	body := []byte(githubPush)
	cmd := exec.Command(openssl, "dgst", "-sha256", "-hmac", secret, "-r")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	hexsum, _, _ := strings.Cut(string(out), " ")
	if got := Sign(secret, body); got != "sha256="+hexsum {
		t.Errorf("Sign = %s, openssl says %s", got, hexsum)
	}
}

// TestOverHTTP posts through a real server and client, as a forge would.
func TestOverHTTP(t *testing.T) {
	triggers := make(chan struct{}, 1)
	h := Handler(Config{Secret: secret, Logger: quiet()}, func() {
		select {
		case triggers <- struct{}{}:
		default: // a sync is already pending; it will see this push too
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(githubPush))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", Sign(secret, []byte(githubPush)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("status = %d", resp.StatusCode)
		}
	}
	if len(triggers) != 1 {
		t.Errorf("pending triggers = %d, want 1 (coalesced)", len(triggers))
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
