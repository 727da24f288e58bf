package webhook

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzHandler drives the handler with any provider, content type, body and
// signature. It must never panic, answer only the documented codes, and
// never trigger a sync unless the request carries the secret's valid
// signature (GitHub and Gitea HMAC-SHA256 of the exact body, GitLab's
// token): a hostile body cannot forge its way past the check.
func FuzzHandler(f *testing.F) {
	for _, body := range []string{githubPush, githubPing, giteaPush, gitlabPush, `{"ref":"refs/heads/other"}`, `{}`, `[`, "payload=" + url.QueryEscape(githubPush)} {
		for p := range uint8(5) {
			f.Add(p, "application/json", []byte(body), true)
			f.Add(p, "application/x-www-form-urlencoded", []byte(body), false)
		}
	}
	f.Fuzz(func(t *testing.T, provider uint8, contentType string, body []byte, signed bool) {
		triggered := 0
		h := RouteHandler(Config{Secret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(p Push) int {
			triggered++
			return 1
		})
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", contentType)
		sig := Sign(secret, body)
		if !signed {
			sig = Sign("not the secret", body)
		}
		switch provider % 5 {
		case 0:
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-Hub-Signature-256", sig)
		case 1:
			req.Header.Set("X-Gitea-Event", "push")
			req.Header.Set("X-Gitea-Signature", strings.TrimPrefix(sig, "sha256="))
		case 2:
			req.Header.Set("X-Gitlab-Event", "Push Hook")
			if signed {
				req.Header.Set("X-Gitlab-Token", secret)
			} else {
				req.Header.Set("X-Gitlab-Token", string(body))
			}
		case 3:
			req.Header.Set("X-Forgejo-Event", "push")
			req.Header.Set("X-Forgejo-Signature", strings.TrimPrefix(sig, "sha256="))
		case 4:
			// No provider header, the signature in GitHub's.
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if triggered > 0 && (!signed || provider%5 == 4) {
			t.Fatalf("an unsigned request triggered a sync (provider %d): %s", provider%5, rec.Body)
		}
		if triggered > 0 && rec.Code != http.StatusAccepted {
			t.Fatalf("triggered but answered %d", rec.Code)
		}
	})
}

// FuzzParsePayload checks the payload parser: no panic, a parsed payload
// has a ref, and what it parsed survives encoding and parsing again.
func FuzzParsePayload(f *testing.F) {
	for _, body := range []string{githubPush, giteaPush, gitlabPush, githubPing,
		`{"ref":"refs/heads/main","repository":{"clone_url":"https://example.com/a.git","ssh_url":"git@example.com:a.git"},"project":{"git_http_url":"http://x/y.git"}}`} {
		f.Add("application/json", []byte(body))
		f.Add("application/x-www-form-urlencoded; charset=utf-8", []byte("payload="+url.QueryEscape(body)))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		p, err := parsePayload(contentType, body)
		if p == nil {
			t.Fatal("nil payload")
		}
		if err != nil {
			if p.Ref != "" || p.Repository != nil || p.Project != nil {
				t.Fatalf("error %v with a payload %+v", err, p)
			}
			return
		}
		if p.Ref == "" {
			t.Fatal("parsed without a ref")
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := parsePayload("application/json", b)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", b, err)
		}
		if !reflect.DeepEqual(p, p2) || !reflect.DeepEqual(p.urls(), p2.urls()) {
			t.Fatalf("round trip changed %+v into %+v", p, p2)
		}
	})
}
