package runtime

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// serverPort splits an httptest server's address.
func serverPort(t *testing.T, raw string) (host string, port int32) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, p, _ := net.SplitHostPort(u.Host)
	n, _ := strconv.Atoi(p)
	return h, int32(n)
}

func TestHTTPProbe(t *testing.T) {
	var mu sync.Mutex
	var seen *http.Request
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Clone(context.Background())
		mu.Unlock()
		_, _ = w.Write([]byte("fine"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// A header line longer than the transport's read buffer, and a
		// body longer than what a probe reads.
		w.Header().Set("X-Big", strings.Repeat("h", 8<<10))
		_, _ = w.Write([]byte(strings.Repeat("b", 64<<10)))
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "sick", http.StatusInternalServerError) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/here-bad", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/bad", http.StatusFound) })
	var srvPort int32
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		// Another host name for the same server: not followed.
		http.Redirect(w, r, "http://localhost:"+strconv.Itoa(int(srvPort))+"/bad", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ip, port := serverPort(t, srv.URL)
	srvPort = port
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	_, tlsPort := serverPort(t, tls.URL)

	pod := &spec.PodSpec{Containers: []spec.Container{
		{Name: "app", Ports: []spec.ContainerPort{{Name: "web", ContainerPort: port}}},
		{Name: "side", Ports: []spec.ContainerPort{{Name: "secure", ContainerPort: tlsPort}}},
	}}
	app := &pod.Containers[0]
	free := freePort(t)
	for _, tc := range []struct {
		name    string
		action  spec.HTTPGetAction
		want    probeResult
		out     string // substring of the message
		errPart string // the probe cannot run
	}{
		{name: "200", action: spec.HTTPGetAction{Path: "/ok", Port: spec.FromInt(port)}, want: resultSuccess},
		{name: "long header and body", action: spec.HTTPGetAction{Path: "/big", Port: spec.FromInt(port)}, want: resultSuccess},
		{name: "path without a slash", action: spec.HTTPGetAction{Path: "ok", Port: spec.FromInt(port)}, want: resultSuccess},
		{name: "by name", action: spec.HTTPGetAction{Path: "/ok", Port: spec.FromString("web")}, want: resultSuccess},
		{name: "500", action: spec.HTTPGetAction{Path: "/bad", Port: spec.FromInt(port)}, want: resultFailure, out: "HTTP probe failed with statuscode: 500"},
		{name: "same-host redirect followed", action: spec.HTTPGetAction{Path: "/here", Port: spec.FromInt(port)}, want: resultSuccess},
		{name: "same-host redirect to a failure", action: spec.HTTPGetAction{Path: "/here-bad", Port: spec.FromInt(port)}, want: resultFailure, out: "statuscode: 500"},
		{name: "redirect elsewhere not followed", action: spec.HTTPGetAction{Path: "/away", Port: spec.FromInt(port)}, want: resultWarning, out: "Probe terminated redirects, Response body: "},
		{name: "https, other container's port name", action: spec.HTTPGetAction{Path: "/ok", Port: spec.FromString("secure"), Scheme: spec.URISchemeHTTPS}, want: resultSuccess},
		{name: "timeout", action: spec.HTTPGetAction{Path: "/slow", Port: spec.FromInt(port)}, want: resultFailure, out: "Client.Timeout exceeded"},
		{name: "refused", action: spec.HTTPGetAction{Path: "/ok", Port: spec.FromInt(free)}, want: resultFailure, out: "connection refused"},
		{name: "unknown port name", action: spec.HTTPGetAction{Port: spec.FromString("nope")}, errPart: "port nope not found"},
		{name: "number as a string", action: spec.HTTPGetAction{Path: "/ok", Port: spec.FromString(strconv.Itoa(int(port)))}, want: resultSuccess},
	} {
		h := newHTTPProbe(&tc.action, ip, pod, app)
		res, out, err := h.probe(context.Background(), 300*time.Millisecond)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.errPart)
			}
			continue
		}
		if err != nil || res != tc.want || !strings.Contains(out, tc.out) {
			t.Errorf("%s: %v %q %v, want %v with %q", tc.name, res, out, err, tc.want, tc.out)
		}
	}

	// Headers: a Host header sets the request's host; User-Agent and
	// Accept have the kubelet's defaults unless set.
	h := newHTTPProbe(&spec.HTTPGetAction{Path: "/ok?x=1", Port: spec.FromInt(port), HTTPHeaders: []spec.HTTPHeader{
		{Name: "Host", Value: "example.test"}, {Name: "X-Custom", Value: "v"},
	}}, ip, pod, app)
	if res, out, err := h.probe(context.Background(), time.Second); res != resultSuccess {
		t.Fatalf("probe with headers: %v %q %v", res, out, err)
	}
	mu.Lock()
	r := seen
	mu.Unlock()
	if r.Host != "example.test" || r.Header.Get("X-Custom") != "v" || r.Header.Get("User-Agent") != probeUserAgent || r.Header.Get("Accept") != "*/*" || r.URL.RawQuery != "x=1" {
		t.Fatalf("request host=%q headers=%v query=%q", r.Host, r.Header, r.URL.RawQuery)
	}
}

// freePort returns a loopback port nothing listens on (closed at once).
func freePort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return int32(port)
}

func TestTCPProbe(t *testing.T) {
	open := acceptAndClose(t)
	pod := &spec.PodSpec{Containers: []spec.Container{{Name: "db", Ports: []spec.ContainerPort{{Name: "sql", ContainerPort: open}}}}}
	self := &spec.Container{Name: "side"} // the name is another container's
	if res, out, err := newTCPProbe(&spec.TCPSocketAction{Port: spec.FromString("sql")}, "127.0.0.1", pod, self).probe(context.Background(), time.Second); res != resultSuccess || err != nil {
		t.Fatalf("open port: %v %q %v", res, out, err)
	}
	res, out, err := newTCPProbe(&spec.TCPSocketAction{Port: spec.FromInt(freePort(t)), Host: "127.0.0.1"}, "", pod, self).probe(context.Background(), time.Second)
	if res != resultFailure || err != nil || !strings.Contains(out, "connection refused") {
		t.Fatalf("closed port: %v %q %v", res, out, err)
	}
	if _, _, err := newTCPProbe(&spec.TCPSocketAction{Port: spec.FromInt(0)}, "127.0.0.1", pod, self).probe(context.Background(), time.Second); err == nil {
		t.Fatal("port 0 accepted")
	}
}

func TestGRPCProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go func() { _ = gs.Serve(l) }()
	defer gs.Stop()
	port := int32(l.Addr().(*net.TCPAddr).Port)

	// A gRPC server without the health service.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bare := grpc.NewServer()
	go func() { _ = bare.Serve(l2) }()
	defer bare.Stop()
	barePort := int32(l2.Addr().(*net.TCPAddr).Port)

	svc := func(s string) *string { return &s }
	for _, tc := range []struct {
		name   string
		action spec.GRPCAction
		want   probeResult
		out    string
	}{
		{"serving", spec.GRPCAction{Port: port}, resultSuccess, ""},
		{"not serving", spec.GRPCAction{Port: port, Service: svc("db")}, resultFailure, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", spec.GRPCAction{Port: port, Service: svc("nope")}, resultFailure, "NotFound"},
		{"no health service", spec.GRPCAction{Port: barePort}, resultFailure, "does not implement the grpc health protocol"},
		{"refused", spec.GRPCAction{Port: freePort(t)}, resultFailure, "connection refused"},
	} {
		res, out, err := newGRPCProbe(&tc.action, "127.0.0.1").probe(context.Background(), time.Second)
		if err != nil || res != tc.want || !strings.Contains(out, tc.out) {
			t.Errorf("%s: %v %q %v, want %v with %q", tc.name, res, out, err, tc.want, tc.out)
		}
	}
	// Flipping the server's status flips the probe.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if res, _, _ := newGRPCProbe(&spec.GRPCAction{Port: port}, "127.0.0.1").probe(context.Background(), time.Second); res != resultFailure {
		t.Fatalf("NOT_SERVING probed as %v", res)
	}
}

func TestPodConditions(t *testing.T) {
	ready := api.ContainerStatus{Name: "a", Ready: true, State: api.ContainerState{Running: &api.StateRunning{}}}
	unready := api.ContainerStatus{Name: "b", State: api.ContainerState{Running: &api.StateRunning{}}}
	get := func(cs []api.Condition, typ string) api.Condition {
		c := findCondition(cs, typ)
		if c == nil {
			t.Fatalf("no %s condition in %+v", typ, cs)
		}
		return *c
	}
	conds := podConditions(api.PodRunning, nil, []api.ContainerStatus{ready, ready})
	if get(conds, api.PodInitialized).Status != api.ConditionTrue || get(conds, api.PodReady).Status != api.ConditionTrue || get(conds, api.PodContainersReady).Status != api.ConditionTrue {
		t.Fatalf("all ready: %+v", conds)
	}
	conds = podConditions(api.PodRunning, nil, []api.ContainerStatus{ready, unready})
	if c := get(conds, api.PodReady); c.Status != api.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [b]" {
		t.Fatalf("one unready: %+v", c)
	}
	if c := get(podConditions(api.PodSucceeded, nil, nil), api.PodContainersReady); c.Status != api.ConditionFalse || c.Reason != "PodCompleted" {
		t.Fatalf("succeeded: %+v", c)
	}

	// Transition times change with the status only.
	w := &podWorker{pod: api.Pod{Spec: spec.PodSpec{Containers: []spec.Container{{Name: "b"}}}}}
	c := &ctr{spec: w.pod.Spec.Containers[0], st: unready}
	w.ctrs = []*ctr{c}
	w.refreshConditionsLocked()
	first := get(w.conds, api.PodReady).LastTransitionTime
	init := get(w.conds, api.PodInitialized).LastTransitionTime
	time.Sleep(2 * time.Millisecond)
	w.refreshConditionsLocked()
	if got := get(w.conds, api.PodReady).LastTransitionTime; !got.Equal(first) {
		t.Fatalf("Ready's time moved from %v to %v without a change", first, got)
	}
	c.st.Ready = true
	w.refreshConditionsLocked()
	if got := get(w.conds, api.PodReady); got.Status != api.ConditionTrue || !got.LastTransitionTime.After(first) {
		t.Fatalf("after ready: %+v (was %v)", got, first)
	}
	if got := get(w.conds, api.PodInitialized).LastTransitionTime; !got.Equal(init) {
		t.Fatal("Initialized's time moved")
	}
}

// acceptAndClose listens on a loopback port that accepts and closes every
// connection (until the test ends) and returns the port.
func acceptAndClose(tb testing.TB) int32 {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return int32(l.Addr().(*net.TCPAddr).Port)
}
