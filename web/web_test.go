package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestAssetsAndDeepLinks(t *testing.T) {
	h := Handler("/ui/")
	index, err := assets.ReadFile("ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	appJS, err := assets.ReadFile("ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		want  []byte
		ctype string
	}{
		{"/ui/", index, "text/html"},
		{"/ui/pods/default/web-0", index, "text/html"}, // a deep link opens the UI at its page
		{"/ui/apps/a%2Fb/diff", index, "text/html"},
		{"/ui/app.js", appJS, "javascript"},
		{"/ui/../../etc/passwd", index, "text/html"}, // cleaned: never leaves the embedded tree
	} {
		resp := get(t, h, http.MethodGet, tc.path, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, tc.want) {
			t.Errorf("GET %s: %d, %d bytes; want 200 and the %d bytes of the asset", tc.path, resp.StatusCode, len(body), len(tc.want))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", tc.path, h)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") {
			t.Errorf("CSP allows unsafe sources: %s", csp)
		}
	}
}

func TestGzipAndETag(t *testing.T) {
	h := Handler("/ui/")
	raw, _ := assets.ReadFile("ui/vendor/preact-htm.js")
	resp := get(t, h, http.MethodGet, "/ui/vendor/preact-htm.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip for a client that accepts it: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if !bytes.Equal(body, raw) {
		t.Fatalf("gzip body decodes to %d bytes, want the asset's %d", len(body), len(raw))
	}
	resp2 := get(t, h, http.MethodGet, "/ui/vendor/preact-htm.js", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp2.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the ETag: %d, want 304", resp2.StatusCode)
	}
	plain := get(t, h, http.MethodGet, "/ui/vendor/preact-htm.js", nil)
	if plain.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip sent to a client that did not ask for it")
	}
	if post := get(t, h, http.MethodPost, "/ui/", nil); post.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ui/: %d, want 405", post.StatusCode)
	}
}

// TestNoInlineScript keeps the index loadable under the CSP, which allows
// only the UI's own script files.
func TestNoInlineScript(t *testing.T) {
	index, _ := assets.ReadFile("ui/index.html")
	for _, bad := range []string{"<script>", "onload=", "onclick=", "javascript:", "<style"} {
		if bytes.Contains(bytes.ToLower(index), []byte(bad)) {
			t.Errorf("index.html contains %q, which the CSP blocks", bad)
		}
	}
}
