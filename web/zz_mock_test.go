package web

// THROWAWAY: a mock API of 10,000 pods and a chatty log, for looking at
// the UI's speed in chromium.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMockUI(t *testing.T) {
	if os.Getenv("UIMOCK") == "" {
		t.Skip("UIMOCK unset")
	}
	const n = 10000
	type cs struct {
		Name         string         `json:"name"`
		Ready        bool           `json:"ready"`
		RestartCount int            `json:"restartCount"`
		State        map[string]any `json:"state"`
	}
	pod := func(i int, phase string) map[string]any {
		ns := fmt.Sprintf("ns-%d", i%20)
		return map[string]any{
			"uid": fmt.Sprintf("uid-%d", i), "namespace": ns, "name": fmt.Sprintf("web-%05d", i), "owner": "Deployment/" + ns + "/web",
			"labels": map[string]string{"app": "web", "shard": fmt.Sprint(i % 7)}, "node": fmt.Sprintf("node-%02d", i%50), "phase": phase,
			"podIP": fmt.Sprintf("10.1.%d.%d", i/250, i%250), "created": time.Now().Add(-time.Duration(i) * time.Second).Format(time.RFC3339Nano),
			"status": map[string]any{"phase": phase, "containers": []cs{{Name: "web", Ready: phase == "Running", RestartCount: i % 3, State: map[string]any{"running": map[string]any{"startedAt": time.Now().Format(time.RFC3339)}}}}},
		}
	}
	mux := http.NewServeMux()
	js := func(w http.ResponseWriter, v any) { w.Header().Set("Content-Type", "application/json"); json.NewEncoder(w).Encode(v) }
	mux.HandleFunc("/v1/whoami", func(w http.ResponseWriter, r *http.Request) { js(w, map[string]any{"user": "mock"}) })
	mux.HandleFunc("/v1/accessreview", func(w http.ResponseWriter, r *http.Request) {
		var ar map[string][]map[string]any
		json.NewDecoder(r.Body).Decode(&ar)
		for _, c := range ar["checks"] {
			c["allowed"] = true
		}
		js(w, ar)
	})
	mux.HandleFunc("/v1/namespaces", func(w http.ResponseWriter, r *http.Request) {
		var l []map[string]any
		for i := 0; i < 20; i++ {
			l = append(l, map[string]any{"name": fmt.Sprintf("ns-%d", i)})
		}
		js(w, map[string]any{"namespaces": l})
	})
	mux.HandleFunc("/v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		var l []map[string]any
		for i := 0; i < 50; i++ {
			l = append(l, map[string]any{"name": fmt.Sprintf("node-%02d", i)})
		}
		js(w, map[string]any{"nodes": l})
	})
	mux.HandleFunc("/v1/pods", func(w http.ResponseWriter, r *http.Request) {
		ns := r.URL.Query().Get("namespace")
		fl := w.(http.Flusher)
		enc := json.NewEncoder(w)
		ev := func(typ string, o any) { b, _ := json.Marshal(o); enc.Encode(map[string]any{"type": typ, "object": json.RawMessage(b)}) }
		for i := 0; i < n; i++ {
			if p := pod(i, "Running"); ns == "" || p["namespace"] == ns {
				ev("ADDED", p)
			}
		}
		ev("BOOKMARK", nil)
		fl.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
			i := rand.Intn(n)
			ph := []string{"Running", "Pending", "Failed"}[rand.Intn(3)]
			if p := pod(i, ph); ns == "" || p["namespace"] == ns {
				ev("MODIFIED", p)
				fl.Flush()
			}
		}
	})
	mux.HandleFunc("/v1/logs", func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 20000; i++ {
			fmt.Fprintf(w, "%s line %d of the initial burst: lorem ipsum dolor sit amet\n", time.Now().Format(time.RFC3339Nano), i)
			if i%1000 == 999 {
				fl.Flush()
			}
		}
		fl.Flush()
		if r.URL.Query().Get("follow") != "1" {
			return
		}
		for i := 0; ; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			fmt.Fprintf(w, "followed line %d\n", i)
			fl.Flush()
		}
	})
	mux.HandleFunc("/v1/pods/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) {
		p := pod(1, "Running")
		p["spec"] = map[string]any{"containers": []map[string]any{{"name": "web", "image": "x"}}}
		js(w, map[string]any{"pod": p, "events": []any{}})
	})
	dir := "ui"
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Cache-Control", "no-store")
		name := filepath.Join(dir, filepath.Clean("/"+strings.TrimPrefix(r.URL.Path, "/ui/")))
		if st, err := os.Stat(name); err != nil || st.IsDir() {
			name = filepath.Join(dir, "index.html")
		}
		http.ServeFile(w, r, name)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	os.WriteFile("/tmp/s14vb_mock", []byte(hs.URL), 0o644)
	deadline := time.Now().Add(40 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/tmp/s14vb_mockstop"); err == nil {
			os.Remove("/tmp/s14vb_mockstop")
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
