package runtime

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestResolvePort: hooks and probes resolve ports alike (resolveProbePort).
func TestResolvePort(t *testing.T) {
	web := spec.Container{Name: "web", Ports: []spec.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	side := spec.Container{Name: "side", Ports: []spec.ContainerPort{{Name: "admin", ContainerPort: 9000}, {Name: "http", ContainerPort: 1}}}
	all := []spec.Container{side, web}
	for _, tc := range []struct {
		port spec.IntOrString
		want int
		err  string
	}{
		{port: spec.FromInt(81), want: 81},
		{port: spec.FromString("82"), want: 82},
		{port: spec.FromString("http"), want: 8080}, // the container's own first
		{port: spec.FromString("admin"), want: 9000},
		{port: spec.FromString("nope"), err: "port nope not found"},
		{port: spec.FromInt(0), err: "invalid port number"},
	} {
		got, err := resolveProbePort(tc.port, &spec.PodSpec{Containers: all}, &web)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolveProbePort(%+v) = %d, %v; want error %q", tc.port, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("resolveProbePort(%+v) = %d, %v; want %d", tc.port, got, err, tc.want)
		}
	}
}

// TestHTTPHook: the GET goes to the pod IP and the named port, with the
// path and headers (Host sets the request's host); 2xx and 3xx succeed,
// redirects are not followed, other statuses fail with the body quoted.
func TestHTTPHook(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "draining failed")
		case "/elsewhere":
			t.Error("the redirect was followed")
		}
	}))
	defer srv.Close()
	host, ps, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(ps)
	c := &ctr{spec: spec.Container{Name: "web", Ports: []spec.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}}
	w := &podWorker{r: &Runtime{}, ip: host, pod: api.Pod{Spec: spec.PodSpec{Containers: []spec.Container{c.spec}}}}
	ctx := context.Background()

	h := &spec.HTTPGetAction{Path: "shutdown", Port: spec.FromString("http"),
		HTTPHeaders: []spec.HTTPHeader{{Name: "X-Why", Value: "preStop"}, {Name: "Host", Value: "app.example"}}}
	if err := w.httpHook(ctx, c, h); err != nil {
		t.Fatalf("httpHook: %v", err)
	}
	if got.URL.Path != "/shutdown" || got.Header.Get("X-Why") != "preStop" || got.Host != "app.example" {
		t.Errorf("request: path %q, X-Why %q, host %q", got.URL.Path, got.Header.Get("X-Why"), got.Host)
	}
	if err := w.httpHook(ctx, c, &spec.HTTPGetAction{Path: "/moved", Port: spec.FromInt(int32(port))}); err != nil {
		t.Errorf("a 302 failed the hook: %v", err)
	}
	err := w.httpHook(ctx, c, &spec.HTTPGetAction{Path: "/broken", Port: spec.FromInt(int32(port)), Host: host})
	if err == nil || !strings.Contains(err.Error(), "status 500") || !strings.Contains(err.Error(), "draining failed") {
		t.Errorf("a 500: %v; want the status and the body", err)
	}
	w.ip = ""
	if err := w.httpHook(ctx, c, h); err == nil || !strings.Contains(err.Error(), "no IP") {
		t.Errorf("a pod without an IP: %v", err)
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "2026-01-01T00:00:00.%09dZ stdout F line %d\n", i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := logTail(dir, 0, 2048, 3)
	if err != nil || string(got) != "line 98\nline 99\nline 100\n" {
		t.Errorf("3 lines: %q, %v", got, err)
	}
	// The byte bound cuts inside a line; what is left is the end.
	got, _ = logTail(dir, 0, 12, 80)
	if string(got) != "99\nline 100\n" {
		t.Errorf("12 bytes: %q", got)
	}
	// A line written in pieces (partial records) is joined.
	_ = os.WriteFile(path, []byte("2026-01-01T00:00:00Z stderr F a\n2026-01-01T00:00:01Z stderr P b\n2026-01-01T00:00:01Z stderr F c\n"), 0o600)
	if got, _ := logTail(dir, 0, 2048, 2); string(got) != "bc\n" {
		t.Errorf("partial: %q", got)
	}
	// Another instance's log is not this one's.
	if got, err := logTail(dir, 1, 2048, 2); err != nil || len(got) != 0 {
		t.Errorf("instance 1: %q, %v", got, err)
	}
}
