package webhook

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestRouteHandler: a reconciler with several applications hears the
// pushed branch and every URL the forge gives for the repository, and a
// push nobody tracks is a 202 that says so.
func TestRouteHandler(t *testing.T) {
	const ghPush = `{"ref":"refs/heads/prod","repository":{"full_name":"octo/web","clone_url":"https://github.com/octo/web.git","ssh_url":"git@github.com:octo/web.git","html_url":"https://github.com/octo/web"}}`
	const glPush = `{"object_kind":"push","ref":"refs/heads/main","project":{"git_http_url":"https://gitlab.example.com/org/api.git","git_ssh_url":"git@gitlab.example.com:org/api.git"}}`
	var got []Push
	tracked := 1
	h := RouteHandler(Config{Secret: secret}, func(p Push) int { got = append(got, p); return tracked })
	send := func(headers map[string]string, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/webhook", strings.NewReader(body))
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := send(map[string]string{"X-GitHub-Event": "push", "Content-Type": "application/json", "X-Hub-Signature-256": Sign(secret, []byte(ghPush))}, ghPush)
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), "sync triggered for 1 application") {
		t.Fatalf("github push: %d %s", w.Code, w.Body)
	}
	if len(got) != 1 || got[0].Branch != "prod" || !slices.Contains(got[0].URLs, "git@github.com:octo/web.git") || !slices.Contains(got[0].URLs, "https://github.com/octo/web.git") {
		t.Errorf("route saw %+v", got)
	}
	tracked = 0
	w = send(map[string]string{"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json", "X-Gitlab-Token": secret}, glPush)
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), "ignored: no application tracks refs/heads/main") {
		t.Fatalf("untracked gitlab push: %d %s", w.Code, w.Body)
	}
	if len(got) != 2 || got[1].Branch != "main" || !slices.Contains(got[1].URLs, "https://gitlab.example.com/org/api.git") {
		t.Errorf("route saw %+v", got)
	}
	// A tag is no branch: route is not asked. A bad signature still fails.
	tag := `{"ref":"refs/tags/v1"}`
	if w = send(map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": Sign(secret, []byte(tag))}, tag); w.Code != http.StatusAccepted || len(got) != 2 {
		t.Errorf("tag push: %d %s, route calls %d", w.Code, w.Body, len(got))
	}
	if w = send(map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00"}, ghPush); w.Code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d", w.Code)
	}
}
