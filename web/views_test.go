package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// chromium finds a headless-capable Chromium (Debian's). make test
// installs it (DEB_PACKAGES); a machine without it fails the test rather
// than passing it unchecked.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: `make deps` installs Debian's chromium package")
	return ""
}

// TestViewHelpersInChromium runs testdata/views_test.js, the views'
// selector and pod helpers against Kubernetes' meaning, in a real browser
// importing the embedded modules as the UI does.
func TestViewHelpersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	bin := chromium(t)
	mux := http.NewServeMux()
	mux.Handle("/ui/", Handler("/ui/"))
	mux.Handle("/t/", http.StripPrefix("/t/", http.FileServer(http.Dir("testdata"))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir="+profile,
		"--virtual-time-budget=10000", "--dump-dom", srv.URL+"/t/views.html")
	cmd.Env = append(os.Environ(), "HOME="+profile)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no result in the page:\n%s", out)
	}
	var res struct {
		Pass int      `json:"pass"`
		Fail []string `json:"fail"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &res); err != nil {
		t.Fatalf("the page did not finish (%v): %s", err, m[1])
	}
	for _, f := range res.Fail {
		t.Error(f)
	}
	t.Logf("%d checks passed", res.Pass)
	if res.Pass < 50 {
		t.Errorf("%d checks passed; the page runs more: it stopped early", res.Pass)
	}
}
