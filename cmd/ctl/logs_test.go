package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// logServer answers GET /v1/pods with pods and GET /v1/logs with two
// lines naming the pod and container, recording each logs query.
type logServer struct {
	pods []api.Pod
	// gate, when set, holds every log answer until it is closed.
	gate chan struct{}

	mu      sync.Mutex
	queries []url.Values
	started chan struct{} // a value per logs request
}

func (s *logServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case api.PathPods:
		json.NewEncoder(w).Encode(api.PodList{Pods: s.pods})
	case api.PathLogs:
		q := r.URL.Query()
		s.mu.Lock()
		s.queries = append(s.queries, q)
		s.mu.Unlock()
		if s.started != nil {
			s.started <- struct{}{}
		}
		if s.gate != nil {
			select {
			case <-s.gate:
			case <-time.After(5 * time.Second):
				w.WriteHeader(http.StatusGatewayTimeout)
				return
			}
		}
		if q.Get("pod") == "nope" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "pod default/nope not found", Code: api.CodeNotFound})
			return
		}
		who := q.Get("pod") + "/" + q.Get("container")
		w.Write([]byte("one from " + who + "\ntwo from " + who + "\n"))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (s *logServer) start(t *testing.T) string {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (s *logServer) query(i int) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.queries) {
		return nil
	}
	return s.queries[i]
}

func logPod(name string, labels map[string]string, containers ...string) api.Pod {
	p := api.Pod{PodView: api.PodView{Namespace: "shop", Name: name, Labels: labels}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, spec.Container{Name: c})
	}
	return p
}

// Every flag reaches the reconciler as kubectl's query parameters.
func TestLogsFlagsToQuery(t *testing.T) {
	s := &logServer{}
	url := s.start(t)
	code, out, errOut := ctl(t, url, "logs", "web-1", "-n", "shop", "-c", "web", "-f", "-p", "--since", "1m30s",
		"--timestamps", "--tail", "5", "--limit-bytes", "100")
	if code != 0 || out != "one from web-1/web\ntwo from web-1/web\n" {
		t.Fatalf("logs = %d %q %q", code, out, errOut)
	}
	want := "container=web&follow=1&limitBytes=100&namespace=shop&pod=web-1&previous=1&sinceSeconds=90&tail=5&timestamps=1"
	if got := s.query(0).Encode(); got != want {
		t.Errorf("query = %s, want %s", got, want)
	}
	// --since rounds up to whole seconds; --since-time goes as given.
	ctl(t, url, "logs", "web-1", "--since", "1500ms")
	ctl(t, url, "logs", "web-1", "--since-time", "2026-11-25T12:00:00.5Z")
	if got := s.query(1).Get("sinceSeconds"); got != "2" {
		t.Errorf("--since 1500ms = sinceSeconds %q, want 2", got)
	}
	if got := s.query(2).Get("sinceTime"); got != "2026-11-25T12:00:00.5Z" {
		t.Errorf("sinceTime = %q", got)
	}
	// No options, no parameters: the whole log.
	ctl(t, url, "logs", "web-1")
	if got := s.query(3).Encode(); got != "namespace=default&pod=web-1" {
		t.Errorf("plain query = %s", got)
	}
	// --tail 0 is none (kubectl's), sent as tail=0; -1 is all.
	ctl(t, url, "logs", "web-1", "--tail", "0")
	ctl(t, url, "logs", "web-1", "--tail", "-1")
	if got := s.query(4).Encode(); got != "namespace=default&pod=web-1&tail=0" {
		t.Errorf("--tail 0 query = %s", got)
	}
	if got := s.query(5).Encode(); got != "namespace=default&pod=web-1" {
		t.Errorf("--tail -1 query = %s", got)
	}
	if code, _, errOut := ctl(t, url, "logs", "nope"); code != exitChanges || !strings.Contains(errOut, "not found") {
		t.Errorf("logs of a missing pod = %d %q", code, errOut)
	}
}

func TestLogsBadFlags(t *testing.T) {
	url := (&logServer{}).start(t)
	for _, args := range [][]string{
		{"logs"},
		{"logs", "web-1", "-l", "app=web"},
		{"logs", "web-1", "--since", "1m", "--since-time", "2026-11-25T12:00:00Z"},
		{"logs", "web-1", "-c", "web", "--all-containers"},
		{"logs", "web-1", "--tail", "-2"},
		{"logs", "web-1", "--limit-bytes", "-1"},
		{"logs", "web-1", "--since-time", "yesterday"},
		{"logs", "-l", "app in (", "-n", "shop"},
		{"logs", "a", "b"},
	} {
		if code, _, errOut := ctl(t, url, args...); code != exitError || errOut == "" {
			t.Errorf("%v = %d %q, want a usage error", args, code, errOut)
		}
	}
}

// -l prints the matching pods' logs one after the other (10 lines each by
// default, the first container unless -c), with --prefix naming each
// line's source.
func TestLogsSelector(t *testing.T) {
	s := &logServer{pods: []api.Pod{
		logPod("web-2", map[string]string{"app": "web"}, "web", "sidecar"),
		logPod("db-1", map[string]string{"app": "db"}, "db"),
		logPod("web-1", map[string]string{"app": "web"}, "web"),
	}}
	url := s.start(t)
	code, out, errOut := ctl(t, url, "logs", "-l", "app=web", "-n", "shop", "--prefix")
	want := "[pod/web-1/web] one from web-1/web\n[pod/web-1/web] two from web-1/web\n" +
		"[pod/web-2/web] one from web-2/web\n[pod/web-2/web] two from web-2/web\n"
	if code != 0 || out != want {
		t.Fatalf("logs -l = %d\n%s\nwant\n%s(stderr %q)", code, out, want, errOut)
	}
	if !strings.Contains(errOut, `Defaulted container "web" out of: web, sidecar`) {
		t.Errorf("stderr = %q, want the defaulted container named", errOut)
	}
	if got := s.query(0).Get("tail"); got != "10" {
		t.Errorf("tail with -l = %q, want kubectl's 10", got)
	}
	// --tail given wins, -1 meaning all; no --prefix, no prefix.
	code, out, _ = ctl(t, url, "logs", "-l", "app=db", "-n", "shop", "--tail", "-1")
	if code != 0 || out != "one from db-1/db\ntwo from db-1/db\n" || s.query(2).Has("tail") {
		t.Errorf("logs -l --tail -1 = %d %q, query %v", code, out, s.query(2))
	}
}

// --all-containers prints each container in turn, init containers first.
func TestLogsAllContainers(t *testing.T) {
	p := logPod("web-1", nil, "web", "sidecar")
	p.Spec.InitContainers = []spec.Container{{Name: "setup"}}
	s := &logServer{pods: []api.Pod{p}}
	url := s.start(t)
	code, out, errOut := ctl(t, url, "logs", "web-1", "-n", "shop", "--all-containers", "--prefix", "--tail", "1")
	var want strings.Builder
	for _, c := range []string{"setup", "web", "sidecar"} {
		want.WriteString("[pod/web-1/" + c + "] one from web-1/" + c + "\n[pod/web-1/" + c + "] two from web-1/" + c + "\n")
	}
	if code != 0 || out != want.String() {
		t.Errorf("--all-containers = %d\n%s\n(stderr %q)", code, out, errOut)
	}
	// --prefix alone names the pod's first container.
	code, out, errOut = ctl(t, url, "logs", "web-1", "-n", "shop", "--prefix")
	if code != 0 || out != "[pod/web-1/web] one from web-1/web\n[pod/web-1/web] two from web-1/web\n" || !strings.Contains(errOut, "Defaulted container") {
		t.Errorf("--prefix = %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl(t, url, "logs", "web-2", "-n", "shop", "--all-containers"); code != exitChanges || !strings.Contains(errOut, "not found") {
		t.Errorf("--all-containers of a missing pod = %d %q", code, errOut)
	}
}

// -f with several logs follows them at once, up to --max-log-requests.
func TestLogsFollowConcurrently(t *testing.T) {
	var pods []api.Pod
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		pods = append(pods, logPod(n, map[string]string{"app": "web"}, "web"))
	}
	s := &logServer{pods: pods, gate: make(chan struct{}), started: make(chan struct{}, 3)}
	url := s.start(t)
	if code, _, errOut := ctl(t, url, "logs", "-f", "-l", "app=web", "-n", "shop", "--max-log-requests", "2"); code != exitError || !strings.Contains(errOut, "maximum allowed concurrency is 2") {
		t.Errorf("too many follows = %d %q", code, errOut)
	}
	// The answers are held until all three were asked for: only
	// concurrent requests get there.
	go func() {
		for range 3 {
			<-s.started
		}
		close(s.gate)
	}()
	code, out, errOut := ctl(t, url, "logs", "-f", "-l", "app=web", "-n", "shop", "--prefix")
	if code != 0 {
		t.Fatalf("logs -f -l = %d %q", code, errOut)
	}
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		for _, l := range []string{"one", "two"} {
			if line := "[pod/" + n + "/web] " + l + " from " + n + "/web\n"; !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
	}
	if s.query(0).Get("follow") != "1" {
		t.Errorf("query = %v", s.query(0))
	}
}
