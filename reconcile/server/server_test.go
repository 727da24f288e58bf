package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/sync/source"
	"github.com/stevedore-dev/stevedore/sync/webhook"
)

// TestServer walks the reconciler through its life with a real Git repo,
// real serf members and fake agents: first sync, a bad commit that must
// change nothing, a webhook-triggered scale-up, the read API, a restart that
// must keep every pod's UID, and an agent crash.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	c1 := repo.commit("web: 3 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(3, "registry.local/hello:1")})
	dataDir := t.TempDir()
	ctx := context.Background()

	s := startServer(t, repo.dir, dataDir, log)
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	a.join(s.GossipAddr())
	b.join(s.GossipAddr())
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}

	// First sync: 3 pods spread over both agents, all Running.
	waitFor(t, 10*time.Second, "3 pods on the agents", func() bool { return podCount(a, b) == 3 })
	if len(a.last().Pods) == 0 || len(b.last().Pods) == 0 {
		t.Errorf("pods not spread: a=%d b=%d", len(a.last().Pods), len(b.last().Pods))
	}
	if got := a.last().Term; got != s.Term() || got == 0 {
		t.Errorf("term pushed = %d, want %d (the leader's token)", got, s.Term())
	}
	waitFor(t, 5*time.Second, "3 pods Running in the API", func() bool {
		pods, err := cl.Pods(ctx, "shop")
		if err != nil || len(pods) != 3 {
			return false
		}
		for _, p := range pods {
			if p.Phase != agentapi.PodRunning || p.PodIP == "" || p.Node == "" || p.Created.IsZero() {
				return false
			}
		}
		return true
	})
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied == nil || st.Applied.Hash != c1 || st.Applied.Author != "Ada Lovelace" || !strings.Contains(st.Applied.Message, "3 replicas") {
		t.Errorf("status applied = %+v, want commit %s by Ada Lovelace", st.Applied, c1)
	}
	if st.LastError != nil || st.Branch != "main" || st.Repo != repo.dir {
		t.Errorf("status = %+v", st)
	}

	// A bad commit: unknown field. Nothing may change on the agents; the
	// status names the file and line.
	setsA, setsB := a.setCount(), b.setCount()
	uidsBefore := uids(a, b)
	bad := strings.Replace(deploymentYAML(6, "registry.local/hello:2"), "  replicas: 6", "  replicaz: 6", 1)
	c2 := repo.commit("typo", map[string]string{"apps/web.yaml": bad})
	res, err := cl.Sync(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Applied || res.Error.Commit == nil || res.Error.Commit.Hash != c2 {
		t.Fatalf("sync of a bad commit = %+v, want a load error for %s", res, c2)
	}
	var entry *api.ErrorEntry
	for i, e := range res.Error.Entries {
		if e.File == "apps/web.yaml" && e.Line > 0 && strings.Contains(e.Field+e.Message, "replicaz") {
			entry = &res.Error.Entries[i]
		}
	}
	if entry == nil {
		t.Fatalf("error entries %+v do not name apps/web.yaml:line and replicaz", res.Error.Entries)
	}
	time.Sleep(100 * time.Millisecond) // a wrongly pushed set would land now
	if a.setCount() != setsA || b.setCount() != setsB || !slices.Equal(uids(a, b), uidsBefore) {
		t.Errorf("a bad commit changed the agents' sets")
	}
	st, _ = cl.Status(ctx)
	if st.Applied == nil || st.Applied.Hash != c1 || st.LastError == nil || st.LastError.Commit.Hash != c2 || len(st.LastError.Entries) == 0 {
		t.Errorf("status after bad commit = applied %+v, last error %+v", st.Applied, st.LastError)
	}
	if st.Fetched == nil || st.Fetched.Hash != c2 {
		t.Errorf("status fetched = %+v, want %s", st.Fetched, c2)
	}
	d, err := cl.Diff(ctx)
	if err != nil || d.Error == nil || len(d.Changes) != 0 {
		t.Errorf("diff of a bad head = %+v, %v; want its load error", d, err)
	}

	// The fix, pushed through the webhook: scale to 6. Time it.
	c3 := repo.commit("web: 6 replicas", map[string]string{"apps/web.yaml": deploymentYAML(6, "registry.local/hello:1")})
	d, err = cl.Diff(ctx)
	if err != nil || d.Error != nil || len(d.Changes) != 1 || d.Changes[0].Action != reconcile.ActionChanged || len(d.Changes[0].PodsStarted) != 3 {
		t.Errorf("diff before the webhook = %+v, %v; want Deployment changed with 3 pods started", d, err)
	}
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+api.PathWebhook, strings.NewReader(`{"ref":"refs/heads/main","after":"x"}`))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("webhook answered %s", resp.Status)
	}
	waitFor(t, 5*time.Second, "6 pods after the webhook", func() bool { return podCount(a, b) == 6 })
	t.Logf("webhook to 6 pods on the agents: %s", time.Since(start))
	for _, u := range uidsBefore {
		if !slices.Contains(uids(a, b), u) {
			t.Errorf("scaling up replaced pod %s", u)
		}
	}
	waitFor(t, 5*time.Second, "status applied c3", func() bool {
		st, err := cl.Status(ctx)
		return err == nil && st.Applied != nil && st.Applied.Hash == c3 && st.LastError == nil
	})

	// The read API.
	nodes, err := cl.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].Name != "node-a" || nodes[0].State != api.NodeAlive || nodes[0].Pods+nodes[1].Pods != 6 || nodes[0].APIAddr != a.srv.URL {
		t.Errorf("nodes = %+v, %v", nodes, err)
	}
	waitFor(t, 5*time.Second, "deployment web 6/6 ready", func() bool {
		wl, err := cl.Deployments(ctx, "")
		return err == nil && len(wl) == 1 && wl[0].Name == "web" && wl[0].Replicas == 6 && wl[0].Ready == 6 && wl[0].UpToDate == 6
	})
	nss, err := cl.Namespaces(ctx)
	if err != nil || len(nss) != 2 || nss[0].Name != "default" || nss[1].Name != "shop" || nss[1].Pods != 6 {
		t.Errorf("namespaces = %+v, %v", nss, err)
	}
	rev, err := cl.Revision(ctx)
	if err != nil || rev.Commit == nil || rev.Commit.Hash != c3 || !strings.Contains(string(rev.Files["apps/web.yaml"]), "replicas: 6") {
		t.Errorf("revision = %+v, %v", rev, err)
	}
	pods, _ := cl.Pods(ctx, "shop")
	rc, err := cl.Logs(ctx, api.LogsOptions{Namespace: "shop", Pod: pods[0].Name, LogOptions: agentapi.LogOptions{Container: "web", Tail: 5}})
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(rc)
	rc.Close()
	if want := "log of shop/" + pods[0].Name + "/web tail=5 on " + pods[0].Node; !strings.Contains(string(logs), want) {
		t.Errorf("logs = %q, want %q", logs, want)
	}
	// Every option reaches the agent, and a follow streams through: its
	// lines arrive while the agent's answer goes on.
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	rc, err = cl.Logs(fctx, api.LogsOptions{Namespace: "shop", Pod: pods[0].Name, LogOptions: agentapi.LogOptions{Container: "web", Tail: 2, Follow: true,
		Previous: true, Timestamps: true, SinceSeconds: 30, SinceTime: since, LimitBytes: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(rc)
	br.ReadString('\n')
	line, err := br.ReadString('\n')
	want := "query container=web&follow=1&limitBytes=1000&namespace=shop&pod=" + pods[0].Name + "&previous=1&sinceSeconds=30&sinceTime=2026-01-02T03%3A04%3A05Z&tail=2&timestamps=1\n"
	if err != nil || line != want {
		t.Errorf("followed log's second line = %q, %v; want %q", line, err, want)
	}
	rc.Close()
	fcancel()
	if _, err := cl.Logs(ctx, api.LogsOptions{Namespace: "shop", Pod: "nope"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("logs of a missing pod: %v, want not found", err)
	}
	ev, err := cl.Events(ctx)
	if err != nil || len(ev) == 0 {
		t.Errorf("events = %d, %v", len(ev), err)
	}

	// Restart on the same DataDir: a new term, the same pods (same UIDs),
	// found again through serf's snapshot without the agents rejoining.
	uidsBefore = uids(a, b)
	oldTerm := s.Term()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	s2 := startServer(t, repo.dir, dataDir, log)
	waitFor(t, 10*time.Second, "the restarted reconciler to lead", s2.IsLeader)
	if s2.Term() <= oldTerm {
		t.Errorf("term after restart = %d, want more than %d", s2.Term(), oldTerm)
	}
	waitFor(t, 15*time.Second, "both agents to get the new term's set", func() bool {
		return a.last().Term == s2.Term() && b.last().Term == s2.Term()
	})
	if got := uids(a, b); !slices.Equal(got, uidsBefore) {
		t.Errorf("restart changed the pods:\n got %v\nwant %v", got, uidsBefore)
	}
	cl2, _ := api.NewClient(s2.APIURL(), nil)
	st, _ = cl2.Status(ctx)
	if st.Applied == nil || st.Applied.Hash != c3 {
		t.Errorf("status after restart applied = %+v, want %s (from DataDir)", st.Applied, c3)
	}

	// An agent crashes: its pods move to the other one.
	b.crash()
	waitFor(t, 20*time.Second, "6 pods on node-a after node-b failed", func() bool { return len(a.last().Pods) == 6 })
	nodes, _ = cl2.Nodes(ctx)
	if len(nodes) != 2 || nodes[1].State != api.NodeFailed {
		t.Errorf("nodes after crash = %+v", nodes)
	}
}

// TestRefusedSetIsANodeError checks that a pod set an agent refuses is not
// retried in a loop and shows as an error of that node in the status and
// node APIs, until the agent takes a set again.
func TestRefusedSetIsANodeError(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, logs := testLogger(t)
	s, a := onePodOneAgent(t, log, func(a *fakeAgent) { a.refuseAll = true })
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()
	waitFor(t, 10*time.Second, "node-a's error in the status", func() bool {
		st, err := cl.Status(ctx)
		return err == nil && len(st.NodeErrors) == 1 && st.NodeErrors[0].Node == "node-a" && strings.Contains(st.NodeErrors[0].Message, "stale")
	})
	nodes, err := cl.Nodes(ctx)
	if err != nil || len(nodes) != 1 || !strings.Contains(nodes[0].Error, "stale") {
		t.Errorf("nodes = %+v, %v; want node-a with the refusal as its error", nodes, err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := strings.Count(logs.String(), "refused pod set as stale"); n > 2 {
		t.Errorf("stale set pushed %d times, want no retry loop", n)
	}
	if a.setCount() != 0 {
		t.Errorf("agent applied a refused set")
	}
}

// TestHigherAgentTermIsRecovered is the control plane rebuilt from lost
// state: its raft terms start again, below what the agents have seen. The
// leader raises its token past the agent's (through raft, once) instead of
// leaving every pod set refused for ever.
func TestHigherAgentTermIsRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	s, a := onePodOneAgent(t, log, func(a *fakeAgent) { a.term = 1000 })
	waitFor(t, 10*time.Second, "the agent to take a set above term 1000", func() bool { return a.last().Term > 1000 && len(a.last().Pods) == 1 })
	if s.Term() != a.last().Term {
		t.Errorf("leader token %d, agent's set term %d", s.Term(), a.last().Term)
	}
	cl, _ := api.NewClient(s.APIURL(), nil)
	waitFor(t, 5*time.Second, "the node error to clear", func() bool {
		st, err := cl.Status(context.Background())
		return err == nil && len(st.NodeErrors) == 0
	})
}

func TestConfigValidate(t *testing.T) {
	c := Config{}
	if err := c.validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("empty config: %v, want ErrInvalidConfig", err)
	}
	c = Config{Source: source.Config{URL: "/tmp/x"}, DataDir: "/tmp/d"}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.Source.Branch != "main" || c.Raft.BootstrapExpect != 1 || c.Raft.Addr != "127.0.0.1:7947" || c.PollInterval != 30*time.Second || c.APIAddr != "127.0.0.1:7070" || c.Logger == nil {
		t.Errorf("defaults not filled: %+v", c)
	}
	c = Config{Source: source.Config{URL: "/tmp/x"}, DataDir: "/tmp/d", APIAddr: "nope"}
	if err := c.validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad APIAddr: %v", err)
	}
}

func TestStripCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok@github.com/o/r.git": "https://github.com/o/r.git",
		"https://tok@github.com/o/r.git":      "https://github.com/o/r.git",
		"ssh://git@github.com/o/r.git":        "ssh://git@github.com/o/r.git",
		"git@github.com:o/r.git":              "git@github.com:o/r.git",
		"/srv/git/config.git":                 "/srv/git/config.git",
	} {
		if got := StripCredentials(in); got != want {
			t.Errorf("StripCredentials(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Source: source.Config{URL: "/nonexistent"}, DataDir: dir, Raft: RaftConfig{Addr: "127.0.0.1:0"}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if _, err := New(Config{Source: source.Config{URL: "/nonexistent"}, DataDir: dir, Raft: RaftConfig{Addr: "127.0.0.1:0"}}); !errors.Is(err, ErrDataDirLocked) {
		t.Errorf("second New on one DataDir: %v, want ErrDataDirLocked", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2, err := New(Config{Source: source.Config{URL: "/nonexistent"}, DataDir: dir, Raft: RaftConfig{Addr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatalf("New after Shutdown: %v", err)
	}
	s2.Shutdown(context.Background())
}

// TestWebhookTo30Running measures what the reconciler adds between a push
// and 30 pods Running: a webhook-triggered fetch, load, plan, three pushes
// and the agents' reports (the fake agents start pods instantly). It only
// fails far above the 1 s target, so a loaded machine does not flake it;
// the real number is logged and docs/benchmarks.md has the end-to-end one.
func TestWebhookTo30Running(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 0 replicas", map[string]string{"ns.yaml": nsYAML, "web.yaml": deploymentYAML(0, "img:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	agents := []*fakeAgent{newFakeAgent(t, "node-1"), newFakeAgent(t, "node-2"), newFakeAgent(t, "node-3")}
	for _, a := range agents {
		a.join(s.GossipAddr())
	}
	waitFor(t, 10*time.Second, "3 agents with a first set", func() bool {
		for _, a := range agents {
			if a.setCount() == 0 {
				return false
			}
		}
		return true
	})
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()
	repo.commit("web: 30 replicas", map[string]string{"web.yaml": deploymentYAML(30, "img:1")})

	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+api.PathWebhook, strings.NewReader(`{"ref":"refs/heads/main","after":"x"}`))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var pushed time.Duration
	waitFor(t, 5*time.Second, "30 pods Running at the reconciler", func() bool {
		if pushed == 0 && podCount(agents...) == 30 {
			pushed = time.Since(start)
		}
		pods, err := cl.Pods(ctx, "shop")
		if err != nil || len(pods) != 30 {
			return false
		}
		for _, p := range pods {
			if p.Phase != agentapi.PodRunning {
				return false
			}
		}
		return true
	})
	running := time.Since(start)
	t.Logf("webhook → 30 pods pushed to 3 agents: %s; → all Running at the reconciler: %s", pushed, running)
	for _, a := range agents {
		if n := len(a.last().Pods); n != 10 {
			t.Errorf("%s has %d pods, want 10 (least loaded spreading)", a.name, n)
		}
	}
}

// TestWebhookSecret checks that with a secret only signed pushes sync.
func TestWebhookSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	c1 := repo.commit("one", map[string]string{"ns.yaml": nsYAML})
	cfg := DefaultConfig()
	cfg.Source.URL, cfg.DataDir, cfg.Logger, cfg.Raft.Addr = repo.dir, t.TempDir(), log, "127.0.0.1:0"
	cfg.APIAddr, cfg.GossipAddr, cfg.PollInterval = "127.0.0.1:0", "127.0.0.1:0", -1
	cfg.Webhook.Secret = "s3cret"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	waitFor(t, 5*time.Second, "first sync", func() bool { st := s.Status(); return st.Applied != nil && st.Applied.Hash == c1 })
	c2 := repo.commit("two", map[string]string{"more.yaml": strings.Replace(nsYAML, "shop", "more", 1)})

	post := func(sig string) int {
		body := `{"ref":"refs/heads/main"}`
		req, _ := http.NewRequest(http.MethodPost, s.APIURL()+api.PathWebhook, strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code/100 == 2 {
		t.Errorf("unsigned webhook answered %d, want a refusal", code)
	}
	if code := post("sha256=00"); code/100 == 2 {
		t.Errorf("badly signed webhook answered %d, want a refusal", code)
	}
	time.Sleep(200 * time.Millisecond)
	if st := s.Status(); st.Applied.Hash != c1 {
		t.Fatalf("a refused webhook synced %s", st.Applied.Hash)
	}
	if code := post(webhook.Sign("s3cret", []byte(`{"ref":"refs/heads/main"}`))); code/100 != 2 {
		t.Fatalf("signed webhook answered %d", code)
	}
	waitFor(t, 5*time.Second, "the signed push to sync", func() bool { return s.Status().Applied.Hash == c2 })
}

// TestAgentRestartGetsItsSetAgain checks level-triggered recovery: an agent
// that restarts and forgets its set (its watch stream breaks and comes back
// at generation 0) gets the same set again, with the same UIDs, although
// nothing in Git or membership changed.
func TestAgentRestartGetsItsSetAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("two pods", map[string]string{"ns.yaml": nsYAML, "web.yaml": deploymentYAML(2, "img:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())
	waitFor(t, 10*time.Second, "2 pods on node-a", func() bool { return len(a.last().Pods) == 2 })
	before := uids(a)
	n := a.setCount()

	// "Restart": forget everything and drop the watch connection.
	a.mu.Lock()
	a.term, a.gen, a.sets, a.status = 0, 0, nil, nil
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	a.srv.CloseClientConnections()

	waitFor(t, 10*time.Second, "the set pushed again", func() bool { return a.setCount() > 0 })
	if got := uids(a); !slices.Equal(got, before) {
		t.Errorf("re-pushed set has UIDs %v, want %v", got, before)
	}
	if n == 0 {
		t.Fatal("no set before the restart")
	}
}

// TestClockSkewIsANodeError: an agent whose clock is far from the
// reconciler's shows an error on its node, and the error goes once the
// clocks agree.
func TestClockSkewIsANodeError(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	s, a := onePodOneAgent(t, log, func(a *fakeAgent) { a.clock = 10 * time.Second })
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the skew in the status", func() bool {
		st, err := cl.Status(ctx)
		return err == nil && len(st.NodeErrors) == 1 && strings.Contains(st.NodeErrors[0].Message, "10s ahead of")
	})
	a.mu.Lock()
	a.clock = 0
	a.mu.Unlock()
	a.poke()
	waitFor(t, 10*time.Second, "the skew to clear", func() bool {
		st, err := cl.Status(ctx)
		return err == nil && len(st.NodeErrors) == 0
	})
}

// onePodOneAgent starts a reconciler tracking a one-replica Deployment and
// one fake agent, set up by prepare before it joins.
func onePodOneAgent(t *testing.T, log *slog.Logger, prepare func(*fakeAgent)) (*Server, *fakeAgent) {
	t.Helper()
	repo := newGitRepo(t)
	repo.commit("one pod", map[string]string{"ns.yaml": nsYAML, "web.yaml": deploymentYAML(1, "img:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a := newFakeAgent(t, "node-a")
	a.mu.Lock()
	prepare(a)
	a.mu.Unlock()
	a.join(s.GossipAddr())
	return s, a
}
