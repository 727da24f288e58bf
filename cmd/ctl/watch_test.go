package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// lockedBuffer is ctl's stdout while it runs in another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// slowAgent speaks the agent API and joins serf like a real agent whose
// runtime takes a moment: a pod it is given reports ContainerCreating
// (Pending) first, then Running 300 ms later.
type slowAgent struct {
	name string
	srv  *httptest.Server
	serf *serf.Serf

	mu      sync.Mutex
	set     agentapi.PodSet
	status  []agentapi.PodStatus
	changed chan struct{}
	// events are every event the agent recorded (Started when a pod
	// runs); each list sends them all, the reconciler takes each once.
	events []agentapi.Event
}

func newSlowAgent(t *testing.T, name string) *slowAgent {
	a := &slowAgent{name: name, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+agentapi.PathPodSet, a.apply)
	mux.HandleFunc("GET "+agentapi.PathPodSet, func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		set := a.set
		a.mu.Unlock()
		set.Node = a.name
		if set.Pods == nil {
			set.Pods = []agentapi.Pod{}
		}
		json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET "+agentapi.PathPodsWatch, a.watch)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		if a.serf != nil {
			a.serf.Leave()
			a.serf.Shutdown()
		}
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

func (a *slowAgent) join(t *testing.T, addr string) {
	tags, err := agentapi.EncodeTags(agentapi.NodeInfo{Name: a.name, APIAddr: a.srv.URL,
		Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}})
	if err != nil {
		t.Fatal(err)
	}
	conf := serf.DefaultConfig()
	conf.Init()
	conf.NodeName, conf.Tags, conf.LogOutput = a.name, tags, io.Discard
	ml := memberlist.DefaultLocalConfig()
	ml.BindAddr, ml.BindPort, ml.AdvertisePort, ml.LogOutput = "127.0.0.1", 0, 0, io.Discard
	conf.MemberlistConfig = ml
	if a.serf, err = serf.Create(conf); err != nil {
		t.Fatal(err)
	}
	if _, err := a.serf.Join([]string{addr}, true); err != nil {
		t.Fatal(err)
	}
}

// report replaces the status list and wakes the watch stream.
func (a *slowAgent) report(st []agentapi.PodStatus) {
	a.mu.Lock()
	a.status = st
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}

func (a *slowAgent) apply(w http.ResponseWriter, r *http.Request) {
	var set agentapi.PodSet
	if err := json.NewDecoder(r.Body).Decode(&set); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.set = set
	a.mu.Unlock()
	status := func(running bool) []agentapi.PodStatus {
		var out []agentapi.PodStatus
		now := time.Now()
		for i, p := range set.Pods {
			st := agentapi.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: a.name, Phase: agentapi.PodPending}
			for _, c := range p.Spec.Containers {
				cs := agentapi.ContainerStatus{Name: c.Name, Image: c.Image,
					State: agentapi.ContainerState{Waiting: &agentapi.StateWaiting{Reason: agentapi.ReasonContainerCreating}}}
				if running {
					st.Phase, st.PodIP, st.StartTime = agentapi.PodRunning, "10.88.0."+string(rune('2'+i)), &now
					cs.Ready, cs.State = true, agentapi.ContainerState{Running: &agentapi.StateRunning{StartedAt: now}}
				}
				st.Containers = append(st.Containers, cs)
			}
			out = append(out, st)
		}
		return out
	}
	a.report(status(false))
	time.AfterFunc(300*time.Millisecond, func() {
		a.mu.Lock()
		for _, p := range set.Pods {
			a.events = append(a.events, agentapi.Event{Seq: uint64(len(a.events) + 1), Time: time.Now(), Object: "Pod/" + p.Namespace + "/" + p.Name,
				UID: p.UID, Container: p.Spec.Containers[0].Name, Type: agentapi.EventNormal, Reason: agentapi.EventStarted,
				Message: "Started container " + p.Spec.Containers[0].Name})
		}
		a.mu.Unlock()
		a.report(status(true))
	})
	json.NewEncoder(w).Encode(agentapi.ApplyResult{Term: set.Term, Generation: set.Generation})
}

func (a *slowAgent) watch(w http.ResponseWriter, r *http.Request) {
	enc := json.NewEncoder(w)
	for {
		a.mu.Lock()
		l := agentapi.PodStatusList{Node: a.name, Term: a.set.Term, Generation: a.set.Generation, Pods: a.status, Time: time.Now(),
			Epoch: a.name + "-1", Events: a.events}
		ch := a.changed
		a.mu.Unlock()
		if enc.Encode(l) != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-ch:
		case <-time.After(2 * time.Second):
		}
	}
}

// TestGetWatch runs `ctl get pods -w` against a real reconciler: the pod
// is listed Pending (no node), then printed again as an agent joins and
// starts it, ContainerCreating and then Running, from the watch stream.
func TestGetWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "web", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "1", 1)})
	s, _ := startReconciler(t, repo, func(c *server.Config) { c.NodeLossGrace = time.Second })
	if code, out, errOut := ctl(t, s.APIURL(), "sync", "--wait", "--timeout", "10s"); code == 2 {
		t.Fatalf("sync = %d %q %q", code, out, errOut)
	}

	var out, errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		env := func(k string) string {
			if k == EnvServer {
				return s.APIURL()
			}
			return ""
		}
		done <- run(ctx, []string{"get", "pods", "-n", "shop", "-w"}, &out, &errOut, env)
	}()
	waitOut := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok(out.String()) {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("ctl get -w did not print %s:\n%s\nstderr: %s", what, out.String(), errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOut("the pending pod", func(s string) bool { return strings.Contains(s, "Unschedulable") })
	a := newSlowAgent(t, "node-a")
	a.join(t, s.GossipAddr())
	waitOut("the pod running", func(s string) bool { return strings.Contains(s, " Running ") })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("ctl get -w exited %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "NAME ") || len(lines) < 3 {
		t.Fatalf("ctl get -w printed:\n%s", out.String())
	}
	// Rows in order: Pending without a node, then Running on node-a, each
	// lined up under the header.
	var states []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		states = append(states, f[2]+"@"+f[4])
		if len(l) > 0 && strings.Index(l, f[1]) != strings.Index(lines[0], "READY") {
			t.Errorf("row %q is not aligned with the header %q", l, lines[0])
		}
	}
	if states[0] != "Unschedulable@<none>" || states[len(states)-1] != "Running@node-a" {
		t.Errorf("states seen = %v, want Unschedulable@<none> first and Running@node-a last\n%s", states, out.String())
	}
	t.Logf("ctl get -w:\n%s", out.String())
}

// serveWatch plays the next watch script.
func (f *fakeReconciler) serveWatch(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	i := f.watchOpen
	f.watchOpen++
	if i >= len(f.watches) {
		f.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(api.Error{Error: "no more streams", Code: api.CodeUnavailable})
		return
	}
	script, last := f.watches[i], i == len(f.watches)-1
	f.mu.Unlock()
	enc := json.NewEncoder(w)
	for _, ev := range script {
		enc.Encode(ev)
	}
	w.(http.Flusher).Flush()
	if last {
		<-r.Context().Done()
	}
}

func watchEvent(t *testing.T, typ string, p api.Pod) api.WatchEvent {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return api.WatchEvent{Type: typ, Object: b}
}

// TestGetWatchFormats plays two watch streams (the first ends, as when
// the leader changes) and checks what each output format prints: the
// initial list, the change, and after the stream is opened again only
// what changed meanwhile (a new pod, a pod gone), never the unchanged one.
func TestGetWatchFormats(t *testing.T) {
	defer func(d time.Duration) { watchRetry = d }(watchRetry)
	watchRetry = 50 * time.Millisecond
	pending := unschedulable("web-1")
	run1 := running("web-1", "node-a", "10.88.0.2", 0)
	web2 := running("web-2", "node-b", "10.88.1.2", 0)
	web3 := running("web-3", "node-a", "10.88.0.3", 0)
	web3.Labels = map[string]string{"app": "web"}
	scripts := func() [][]api.WatchEvent {
		return [][]api.WatchEvent{
			{watchEvent(t, api.WatchAdded, pending), watchEvent(t, api.WatchAdded, web2), {Type: api.WatchBookmark},
				watchEvent(t, api.WatchModified, run1)},
			{watchEvent(t, api.WatchAdded, run1), watchEvent(t, api.WatchAdded, web3), {Type: api.WatchBookmark}},
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-w"}, `NAME    READY   STATUS          RESTARTS   NODE     IP          AGE
web-1   0/1     Unschedulable   0          <none>   <none>      90s
web-2   1/1     Running         0          node-b   10.88.1.2   90s
web-1   1/1     Running         0          node-a   10.88.0.2   90s
web-3   1/1     Running         0          node-a   10.88.0.3   90s
web-2   1/1     Running         0          node-b   10.88.1.2   90s
`},
		{[]string{"--watch-only"}, `NAME    READY   STATUS    RESTARTS   NODE     IP          AGE
web-1   1/1     Running   0          node-a   10.88.0.2   90s
web-3   1/1     Running   0          node-a   10.88.0.3   90s
web-2   1/1     Running   0          node-b   10.88.1.2   90s
`},
		{[]string{"-w", "-o", "name"}, "pod/web-1\npod/web-2\npod/web-1\npod/web-3\npod/web-2\n"},
		{[]string{"-w", "-o", "jsonpath={.metadata.name} {.status.phase}"}, "web-1 Pending\nweb-2 Running\nweb-1 Running\nweb-3 Running\nweb-2 Running\n"},
		{[]string{"-w", "-l", "app=web", "-o", "name"}, "pod/web-3\n"},
		{[]string{"-w", "--field-selector", "metadata.name=web-1", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase"},
			"NAME    PHASE\nweb-1   Pending\nweb-1   Running\n"},
	} {
		f := &fakeReconciler{watches: scripts()}
		url := startFake(t, f)
		lines := strings.Count(c.want, "\n")
		got := watchUntil(t, url, append([]string{"get", "pods", "-n", "shop"}, c.args...), func(s string) bool { return strings.Count(s, "\n") >= lines })
		if got != c.want {
			t.Errorf("ctl get pods %v printed:\n%s\nwant:\n%s", c.args, got, c.want)
		}
	}

	// Watch events, as kubectl's --output-watch-events prints them.
	f := &fakeReconciler{watches: scripts()}
	out := watchUntil(t, startFake(t, f), []string{"get", "pods", "-n", "shop", "-w", "-o", "json", "--output-watch-events"},
		func(s string) bool { return strings.Count(s, "\"DELETED\"") == 1 })
	dec := json.NewDecoder(strings.NewReader(out))
	var seen []string
	for {
		var ev struct {
			Type   string
			Object struct {
				Kind     string
				Metadata struct{ Name string }
				Status   struct{ Phase string }
			}
		}
		if err := dec.Decode(&ev); err != nil {
			break
		}
		seen = append(seen, ev.Type+" "+ev.Object.Kind+"/"+ev.Object.Metadata.Name+" "+ev.Object.Status.Phase)
	}
	want := []string{"ADDED Pod/web-1 Pending", "ADDED Pod/web-2 Running", "MODIFIED Pod/web-1 Running", "ADDED Pod/web-3 Running", "DELETED Pod/web-2 Running"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("watch events = %q, want %q", seen, want)
	}
}

// watchUntil runs ctl until what it printed satisfies done (or 10 s
// passed), then interrupts it and returns what it printed.
func watchUntil(t *testing.T, url string, args []string, done func(string) bool) string {
	t.Helper()
	var out, errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int)
	go func() {
		exited <- run(ctx, args, &out, &errOut, func(k string) string {
			if k == EnvServer {
				return url
			}
			return ""
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !done(out.String()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// A little longer: nothing more may come.
	time.Sleep(200 * time.Millisecond)
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("ctl %v exited %d: %s", args, code, errOut.String())
	}
	return out.String()
}

// TestGetWatchOldReconciler: a reconciler from before watch streams
// answers ?watch=1 with the plain list; ctl says so instead of waiting.
func TestGetWatchOldReconciler(t *testing.T) {
	f := &fakeReconciler{pods: [][]api.Pod{{running("web-1", "node-a", "10.88.0.2", 0)}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.RawQuery = "" // ignores watch=1, as an old reconciler does
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	code, _, errOut := ctl(t, srv.URL, "get", "pods", "-w")
	if code != 2 || !strings.Contains(errOut, "does not stream watch events") {
		t.Errorf("ctl get -w against an old reconciler = %d %q", code, errOut)
	}
}

// TestGetWatchServerDown: a watch whose reconciler cannot be reached says
// why once while it retries, then gives up after --request-timeout.
func TestGetWatchServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	code, out, errOut := ctl(t, url, "get", "pods", "-w", "--request-timeout", "2s")
	if code != exitError || out != "" {
		t.Errorf("get -w = %d %q, want exit %d and nothing printed", code, out, exitError)
	}
	if n := strings.Count(errOut, "watch: "); n != 1 || !strings.Contains(errOut, "retrying every") {
		t.Errorf("stderr says why %d times, want once:\n%s", n, errOut)
	}
}
