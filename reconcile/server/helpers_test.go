package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/signtest"
)

// lockedBuffer collects logs from many goroutines; a failing test prints it.
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

// testLogger returns a logger whose output is printed if the test fails
// (or always with STEVEDORE_TEST_LOG=1).
func testLogger(t *testing.T) (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("STEVEDORE_TEST_LOG") != "" {
			t.Logf("logs:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// gitRepo is a work-tree repository made with the git CLI; the server
// fetches it by path.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Ada Lovelace", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada Lovelace", "GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(bytes.TrimSpace(out))
}

// commit writes files (path → content; "" deletes) and commits them,
// returning the commit hash.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	signtest.WriteFiles(r.t, r.dir, files)
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

const nsYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
`

func deploymentYAML(replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: %d
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: %s
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
`, replicas, image)
}

// fakeAgent speaks the agent API over HTTP and joins serf with agent tags,
// like a real agent with an instant runtime: every pod of an applied set is
// Running at once (or ErrImagePull for badImage).
type fakeAgent struct {
	t    *testing.T
	name string
	srv  *httptest.Server
	serf *serf.Serf

	mu       sync.Mutex
	term     uint64
	gen      uint64
	sets     []agentapi.PodSet
	status   []agentapi.PodStatus
	changed  chan struct{}
	badImage string
	// refuseAll answers every set with 409 stale, without a term.
	refuseAll bool
	// clock is added to the time the agent stamps its reports with.
	clock   time.Duration
	applied chan struct{} // gets a value after each applied set
	// extended is what the agent advertises of extended resources and
	// hugepages (set before join).
	extended map[string]int64
	// notReady names pods whose containers report not Ready (networking
	// tests: endpoints follow readiness).
	notReady map[string]bool
	// podCIDR is the override the agent advertises (set before join).
	podCIDR string
	// Events, as an agent numbers and keeps them (record): epoch names
	// the process, events the kept ones. watchQueries are the event
	// cursors the watches asked with ("epoch/after", "" for none);
	// watchDown makes watches fail (503) as an agent restarting would.
	epoch        string
	seq          uint64
	events       []agentapi.Event
	watchQueries []string
	watchDown    bool
	// crashed makes every API call fail (503), as a dead agent's would,
	// from crash until the next join.
	crashed bool
	// hold, when set, holds every PUT of a set until it is closed, as a
	// slow or stuck agent would (push_test.go).
	hold chan struct{}
	// version and protocol are what the agent advertises (set before
	// join); zero advertises nothing, as a v0.15 agent. protocols
	// counts the agentapi.HeaderProtocol values of the requests received
	// ("" for none).
	version   string
	protocol  agentapi.ProtocolRange
	protocols map[string]int
}

func newFakeAgent(t *testing.T, name string) *fakeAgent {
	t.Helper()
	a := &fakeAgent{t: t, name: name, changed: make(chan struct{}), applied: make(chan struct{}, 100), epoch: name + "-epoch-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+agentapi.PathPodSet, a.handleApply)
	mux.HandleFunc("GET "+agentapi.PathPodsWatch, a.handleWatch)
	mux.HandleFunc("GET "+agentapi.PathPodSet, func(w http.ResponseWriter, r *http.Request) {
		set := a.last()
		set.Node = a.name
		if set.Pods == nil {
			set.Pods = []agentapi.Pod{}
		}
		json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET "+agentapi.PathLogs, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, "log of %s/%s/%s tail=%s on %s\n", q.Get("namespace"), q.Get("pod"), q.Get("container"), q.Get("tail"), a.name)
		if q.Get(agentapi.QueryFollow) == "1" {
			// A follow: the query, then nothing until the caller goes.
			fmt.Fprintf(w, "query %s\n", q.Encode())
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	mux.HandleFunc("POST "+agentapi.PathExec, a.handleExec) // exec_http_test.go
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		down := a.crashed
		if a.protocols == nil {
			a.protocols = map[string]int{}
		}
		a.protocols[r.Header.Get(agentapi.HeaderProtocol)]++
		a.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.close)
	return a
}

func (a *fakeAgent) close() {
	a.leave()
	a.srv.CloseClientConnections()
	a.srv.Close()
}

// join starts the agent's serf member and joins it to addrs.
func (a *fakeAgent) join(addrs ...string) {
	a.t.Helper()
	a.mu.Lock()
	a.crashed = false
	a.mu.Unlock()
	tags, err := agentapi.EncodeTags(agentapi.NodeInfo{
		Name:        a.name,
		APIAddr:     a.srv.URL,
		Allocatable: agentapi.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110, Extended: a.extended},
		Labels:      map[string]string{"zone": "z1"},
		PodCIDR:     a.podCIDR,
		Version:     a.version,
		Protocol:    a.protocol,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	conf := serf.DefaultConfig()
	conf.Init()
	conf.NodeName = a.name
	conf.Tags = tags
	ml := memberlist.DefaultLocalConfig()
	ml.BindAddr, ml.BindPort, ml.AdvertisePort = "127.0.0.1", 0, 0
	ml.LogOutput = io.Discard
	conf.MemberlistConfig = ml
	conf.LogOutput = io.Discard
	s, err := serf.Create(conf)
	if err != nil {
		a.t.Fatal(err)
	}
	a.serf = s
	if _, err := s.Join(addrs, true); err != nil {
		a.t.Fatalf("agent %s failed to join %v: %v", a.name, addrs, err)
	}
}

// leave leaves serf gracefully.
func (a *fakeAgent) leave() {
	if a.serf != nil {
		_ = a.serf.Leave()
		_ = a.serf.Shutdown()
		a.serf = nil
	}
}

// crash stops serf without leaving, as a killed agent does.
func (a *fakeAgent) crash() {
	a.mu.Lock()
	a.crashed = true
	a.mu.Unlock()
	if a.serf != nil {
		_ = a.serf.Shutdown()
		a.serf = nil
	}
	a.srv.CloseClientConnections()
}

func (a *fakeAgent) handleApply(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	hold := a.hold
	a.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	var set agentapi.PodSet
	if err := json.NewDecoder(r.Body).Decode(&set); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	if a.refuseAll {
		a.mu.Unlock()
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(agentapi.Error{Error: "refused", Code: "stale"})
		return
	}
	if set.Term < a.term || set.Term == a.term && set.Generation < a.gen {
		term := a.term
		a.mu.Unlock()
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(agentapi.Error{Error: "stale", Code: "stale", Term: term})
		return
	}
	a.term, a.gen = set.Term, set.Generation
	a.sets = append(a.sets, set)
	now := time.Now()
	// A pod that ran to completion keeps its phase, as an agent never
	// restarts a finished pod of restartPolicy Never.
	finished := map[string]agentapi.PodStatus{}
	for _, st := range a.status {
		if st.Phase == agentapi.PodSucceeded || st.Phase == agentapi.PodFailed {
			finished[st.UID] = st
		}
	}
	a.status = nil
	for i, p := range set.Pods {
		if st, ok := finished[p.UID]; ok {
			a.status = append(a.status, st)
			continue
		}
		st := agentapi.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: a.name, Phase: agentapi.PodRunning,
			PodIP: "10.88." + strconv.Itoa(len(a.name)) + "." + strconv.Itoa(i+2), StartTime: &now}
		for _, c := range p.Spec.Containers {
			cs := agentapi.ContainerStatus{Name: c.Name, Image: c.Image, Ready: !a.notReady[p.Name], State: agentapi.ContainerState{Running: &agentapi.StateRunning{StartedAt: now}}}
			if c.Image == a.badImage {
				st.Phase = agentapi.PodPending
				cs.Ready = false
				cs.State = agentapi.ContainerState{Waiting: &agentapi.StateWaiting{Reason: agentapi.ReasonErrImagePull, Message: "not found"}}
			}
			st.Containers = append(st.Containers, cs)
		}
		a.status = append(a.status, st)
	}
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	select {
	case a.applied <- struct{}{}:
	default:
	}
	json.NewEncoder(w).Encode(agentapi.ApplyResult{Term: set.Term, Generation: set.Generation})
}

func (a *fakeAgent) handleWatch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	down := a.watchDown
	query := ""
	if ep := q.Get(agentapi.QueryEpoch); ep != "" {
		query = ep + "/" + q.Get(agentapi.QueryEventsAfter)
	}
	a.watchQueries = append(a.watchQueries, query)
	// The events after the cursor of this epoch; all kept ones otherwise.
	var sent uint64
	if q.Get(agentapi.QueryEpoch) == a.epoch {
		sent, _ = strconv.ParseUint(q.Get(agentapi.QueryEventsAfter), 10, 64)
	}
	epoch := a.epoch
	a.mu.Unlock()
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	fl := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for {
		a.mu.Lock()
		if a.epoch != epoch {
			// Restarted under this stream: it ends, as the process would.
			a.mu.Unlock()
			return
		}
		l := agentapi.PodStatusList{Node: a.name, Term: a.term, Generation: a.gen, Pods: a.status, Time: time.Now().Add(a.clock), Epoch: a.epoch}
		for _, e := range a.events {
			if e.Seq > sent {
				l.Events = append(l.Events, e)
			}
		}
		if n := len(l.Events); n > 0 {
			sent = l.Events[n-1].Seq
		}
		ch := a.changed
		a.mu.Unlock()
		if err := enc.Encode(l); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-ch:
		case <-time.After(2 * time.Second): // heartbeat
		}
	}
}

// setReady makes a pod's containers report Ready or not, now and in
// every set applied later, and sends the list at once.
func (a *fakeAgent) setReady(pod string, ready bool) {
	a.mu.Lock()
	if a.notReady == nil {
		a.notReady = map[string]bool{}
	}
	a.notReady[pod] = !ready
	// A new slice: the watch stream may be encoding the old one.
	st := append([]agentapi.PodStatus(nil), a.status...)
	for i := range st {
		if st[i].Name == pod {
			cs := append([]agentapi.ContainerStatus(nil), st[i].Containers...)
			for j := range cs {
				cs[j].Ready = ready
			}
			st[i].Containers = cs
		}
	}
	a.status = st
	a.mu.Unlock()
	a.poke()
}

// record numbers events as the agent does, keeps them and sends them.
func (a *fakeAgent) record(evs ...agentapi.Event) {
	a.mu.Lock()
	for _, e := range evs {
		a.seq++
		e.Seq = a.seq
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		a.events = append(a.events, e)
	}
	a.mu.Unlock()
	a.poke()
}

// restartEvents starts a new epoch with no events, as a restarted agent
// process does, ending the current watches.
func (a *fakeAgent) restartEvents(epoch string) {
	a.mu.Lock()
	a.epoch, a.seq, a.events = epoch, 0, nil
	a.mu.Unlock()
	a.poke()
}

// queries returns the event cursors the watches asked with so far.
func (a *fakeAgent) queries() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.watchQueries...)
}

// poke makes the watch stream send the list again at once.
func (a *fakeAgent) poke() {
	a.mu.Lock()
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}

// last returns the last set the agent applied.
func (a *fakeAgent) last() agentapi.PodSet {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sets) == 0 {
		return agentapi.PodSet{}
	}
	return a.sets[len(a.sets)-1]
}

func (a *fakeAgent) setCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sets)
}

// uids returns the UIDs (sorted) of the pods in the agents' last sets.
func uids(agents ...*fakeAgent) []string {
	var out []string
	for _, a := range agents {
		for _, p := range a.last().Pods {
			out = append(out, p.UID)
		}
	}
	sort.Strings(out)
	return out
}

func podCount(agents ...*fakeAgent) int {
	n := 0
	for _, a := range agents {
		n += len(a.last().Pods)
	}
	return n
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startServer starts a reconciler on free loopback ports.
func startServer(t *testing.T, repo, dataDir string, log *slog.Logger, opts ...func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Source.URL = repo
	cfg.DataDir = dataDir
	cfg.APIAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.Raft.Addr = "127.0.0.1:0"
	cfg.PollInterval = -1
	// A new store waits this long for agents to adopt from before its
	// first pods (adopt.go); tests start clusters from nothing.
	cfg.NodeLossGrace = 2 * time.Second
	cfg.Logger = log
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}
