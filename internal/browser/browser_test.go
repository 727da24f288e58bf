package browser

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startBrowser starts a browser for a test; in -short mode, or with no
// Chromium installed outside CI-like runs, it skips.
func startBrowser(t *testing.T) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	b, err := Start(ctx, Config{})
	if errors.Is(err, ErrNoBrowser) {
		t.Fatalf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// page is a test page whose #v counts up every 100 ms (text and
// data-n), so that waits see a value change.
const page = `<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body>
<p id="v" data-n="0">n=0</p>
<script>
let n = 0;
const timer = setInterval(() => {
  n++;
  const e = document.getElementById('v');
  e.textContent = 'n=' + n;
  e.dataset.n = String(n);
  if (n === 5) clearInterval(timer);
}, 100);
</script></body></html>`

func server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("/throws", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><body><script>setTimeout(() => { throw new Error("kaboom") }, 10)</script></body>`)
	})
	mux.HandleFunc("/console", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><body><script>console.error("it went wrong", 42); console.log("fine")</script></body>`)
	})
	mux.HandleFunc("/missing-module", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><body><script type="module" src="/nope.js"></script></body>`)
	})
	mux.HandleFunc("/nope.js", http.NotFound)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprintf(zw, "<!doctype html><body><pre>%s</pre></body>", strings.Repeat("stevedore ", 20000))
		zw.Close()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestWaitsAndScreenshot(t *testing.T) {
	b := startBrowser(t)
	srv := server(t)
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	// The value moves from 0 to 5: the waits see its later values.
	text, err := b.WaitText("#v", "n=3", 5*time.Second)
	if err != nil || text != "n=3" && text != "n=4" && text != "n=5" {
		t.Fatalf("WaitText: %q, %v", text, err)
	}
	if err := b.WaitAttrIs("#v", "data-n", "5", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// A condition that never holds times out, saying what the page shows.
	_, err = b.WaitText("#v", "n=6", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "n=5") {
		t.Errorf("WaitText of a value never shown: %v", err)
	}
	_, err = b.WaitAttr("#absent", "data-n", nil, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no such element") {
		t.Errorf("WaitAttr of an absent element: %v", err)
	}
	if n, err := b.WaitCount("p", 1, time.Second); err != nil || n != 1 {
		t.Errorf("WaitCount: %d, %v", n, err)
	}

	path := filepath.Join(t.TempDir(), "shot.png")
	if err := b.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1280 || h != 800 {
		t.Errorf("screenshot is %dx%d, want 1280x800", w, h)
	}
	if err := b.SetViewport(390, 844, true); err != nil {
		t.Fatal(err)
	}
	if w, err := Eval[int](b, `window.innerWidth`); err != nil || w != 390 {
		t.Errorf("phone viewport: innerWidth %d, %v", w, err)
	}
	if err := b.SetColorScheme("dark"); err != nil {
		t.Fatal(err)
	}
	if dark, err := Eval[bool](b, `matchMedia('(prefers-color-scheme: dark)').matches`); err != nil || !dark {
		t.Errorf("dark scheme not emulated: %v, %v", dark, err)
	}
	if used, total, err := b.HeapUsage(); err != nil || used <= 0 || total < used {
		t.Errorf("HeapUsage: %v of %v, %v", used, total, err)
	}
	if errs := b.Errors(); len(errs) != 0 {
		t.Errorf("errors on a page without any: %q", errs)
	}
}

func TestErrorsAreRecorded(t *testing.T) {
	b := startBrowser(t)
	srv := server(t)
	for _, c := range []struct{ path, want string }{
		{"/throws", "kaboom"},
		{"/console", "it went wrong 42"},
		{"/missing-module", "404"},
	} {
		b.ResetErrors()
		if err := b.Navigate(srv.URL + c.path); err != nil {
			t.Fatal(err)
		}
		// The error arrives as an event: wait for it, bounded.
		deadline := time.Now().Add(5 * time.Second)
		for {
			errs := b.Errors()
			if len(errs) > 0 && strings.Contains(strings.Join(errs, "\n"), c.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: errors %q, want one with %q", c.path, errs, c.want)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// console.log is not an error.
	for _, e := range b.Errors() {
		if strings.Contains(e, "fine") {
			t.Errorf("console.log recorded as an error: %q", e)
		}
	}
}

func TestRequestsCountBytes(t *testing.T) {
	b := startBrowser(t)
	srv := server(t)
	b.ResetRequests()
	if err := b.Navigate(srv.URL + "/big"); err != nil {
		t.Fatal(err)
	}
	var got *Request
	deadline := time.Now().Add(5 * time.Second)
	for got == nil || !got.Finished {
		for _, r := range b.Requests() {
			if strings.HasSuffix(r.URL, "/big") {
				got = &r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished request for /big: %+v", b.Requests())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// 200,000 bytes of text, gzipped to a few hundred.
	if got.Decoded < 200000 || got.Encoded <= 0 || got.Encoded > 10000 || got.Status != 200 || got.MIMEType != "text/html" {
		t.Errorf("request for /big: %+v", *got)
	}
}

// TestStreamAbortIsNoError: leaving a page while a fetch streams (a watch)
// records no error, so that a test may move between the UI's pages.
func TestStreamAbortIsNoError(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/watch", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"type":"BOOKMARK"}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><body><p id="s">waiting</p><script>
fetch('/watch').then(async (resp) => {
  const reader = resp.body.getReader();
  await reader.read();
  document.getElementById('s').textContent = 'live';
  for (;;) { const { done } = await reader.read(); if (done) return; }
}).catch(() => {});
</script></body>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// After the server: cleanups run last first, and the server waits for
	// the browser's open stream.
	b := startBrowser(t)
	for range 2 {
		if err := b.Navigate(srv.URL + "/"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WaitText("#s", "live", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if errs := b.Errors(); len(errs) != 0 {
		t.Errorf("leaving a streaming page recorded errors: %q", errs)
	}
	var open int
	for _, r := range b.Requests() {
		if strings.HasSuffix(r.URL, "/watch") && !r.Finished {
			open++
		}
	}
	if open == 0 {
		t.Errorf("no unfinished /watch response counted: %+v", b.Requests())
	}
}

// TestTrustSPKI: a server whose certificate no known CA signed is refused,
// and accepted when its key is trusted.
func TestTrustSPKI(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><body><p id="ok">trusted</p></body>`)
	}))
	t.Cleanup(srv.Close)
	b := startBrowser(t)
	if err := b.Navigate(srv.URL + "/"); err == nil {
		if _, err := b.WaitText("#ok", "trusted", time.Second); err == nil {
			t.Errorf("an untrusted certificate was accepted")
		}
	}
	b.Close()
	if testing.Short() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Start(ctx, Config{TrustSPKI: []string{SPKIHash(srv.Certificate())}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitText("#ok", "trusted", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
