package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// nextWatch reads watch events until one satisfies ok, within d, and
// returns its object (zero for a BOOKMARK).
func nextWatch[T any](t *testing.T, w *api.WatchStream, d time.Duration, what string, ok func(api.WatchEvent, T) bool) T {
	t.Helper()
	type res struct {
		ev  api.WatchEvent
		err error
	}
	deadline := time.After(d)
	for {
		ch := make(chan res, 1)
		go func() { ev, err := w.Next(); ch <- res{ev, err} }()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("waiting for %s: %v", what, r.err)
			}
			var obj T
			if r.ev.Type != api.WatchBookmark {
				if err := json.Unmarshal(r.ev.Object, &obj); err != nil {
					t.Fatalf("event %s: %v", r.ev.Object, err)
				}
			}
			if ok(r.ev, obj) {
				return obj
			}
		case <-deadline:
			t.Fatalf("no event %s within %s", what, d)
		}
	}
}

// nextPodEvent reads events until one satisfies ok, within d.
func nextPodEvent(t *testing.T, w *api.WatchStream, d time.Duration, what string, ok func(api.WatchEvent, api.Pod) bool) {
	t.Helper()
	nextWatch(t, w, d, what, ok)
}

// TestWatchPods follows a pod from Pending (no node) to Running through
// GET /v1/pods?watch=1, beside a watcher that never reads, and checks that
// Shutdown ends the streams.
func TestWatchPods(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 1 replica", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(1, "registry.local/hello:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A client that opens a watch and never reads must not hold up
	// publishing.
	stuck, err := http.Get(s.APIURL() + api.PathPods + "?watch=1")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Body.Close()

	w, err := cl.Watch(ctx, api.PathPods, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var name string
	nextPodEvent(t, w, 10*time.Second, "a Pending pod", func(ev api.WatchEvent, p api.Pod) bool {
		if ev.Type == api.WatchAdded && p.Phase == agentapi.PodPending && p.Node == "" {
			name = p.Name
			return true
		}
		return false
	})

	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())
	nextPodEvent(t, w, 10*time.Second, "the pod Running", func(ev api.WatchEvent, p api.Pod) bool {
		return ev.Type == api.WatchModified && p.Name == name && p.Phase == agentapi.PodRunning && p.Node == "node-a" && p.PodIP != ""
	})

	// Scale to 0: the pod is DELETED, with its last state.
	repo.commit("web: 0 replicas", map[string]string{"apps/web.yaml": deploymentYAML(0, "registry.local/hello:1")})
	if _, err := cl.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	nextPodEvent(t, w, 10*time.Second, "the pod DELETED", func(ev api.WatchEvent, p api.Pod) bool {
		return ev.Type == api.WatchDeleted && p.Name == name
	})

	// Workloads and nodes are watched the same way.
	nw, err := cl.Watch(ctx, api.PathNodes, "")
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	ev, err := nw.Next()
	var n api.Node
	if err != nil || ev.Type != api.WatchAdded || json.Unmarshal(ev.Object, &n) != nil || n.Name != "node-a" {
		t.Errorf("first node event = %+v %v", ev, err)
	}
	if ev, err := nw.Next(); err != nil || ev.Type != api.WatchBookmark {
		t.Errorf("second node event = %+v %v, want the BOOKMARK", ev, err)
	}

	start := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown with open watches: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %s with open watches", d)
	}
	// Events already sent (a terminating pod's view leaving, say) may
	// come first; then the stream ends.
	ended := false
	for range 100 {
		if _, err := w.Next(); err != nil {
			ended = true
			break
		}
	}
	if !ended {
		t.Errorf("the watch stream did not end with the server")
	}
}

// TestWatchThroughFollower watches through a follower of three
// reconcilers (forwarded to the leader, as every read is); when the leader
// shuts down the stream ends, and watching again through the same
// follower reaches the new leader, whose view has the same pods.
func TestWatchThroughFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("web: 2 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": deploymentYAML(2, "registry.local/hello:1")})
	r1 := startPeer(t, "r1", repo.dir, t.TempDir(), 3, nil, log)
	r2 := startPeer(t, "r2", repo.dir, t.TempDir(), 3, []string{r1.GossipAddr()}, log)
	r3 := startPeer(t, "r3", repo.dir, t.TempDir(), 3, []string{r2.GossipAddr()}, log)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })
	lead := leaderOf(servers...)
	var follower *Server
	for _, s := range servers {
		if s != lead {
			follower = s
			break
		}
	}
	fc, err := api.NewClient(follower.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The pods appear (Pending: no agents) once the leader has planned.
	waitFor(t, 20*time.Second, "2 pods through the follower", func() bool {
		pods, err := fc.Pods(ctx, "shop")
		return err == nil && len(pods) == 2
	})
	watchTwo := func(what string) *api.WatchStream {
		t.Helper()
		w, err := fc.Watch(ctx, api.PathPods, "shop")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		added := 0
		nextPodEvent(t, w, 10*time.Second, what, func(ev api.WatchEvent, p api.Pod) bool {
			if ev.Type == api.WatchAdded {
				added++
			}
			return ev.Type == api.WatchBookmark
		})
		if added != 2 {
			t.Errorf("%s: %d pods ADDED before the BOOKMARK, want 2", what, added)
		}
		return w
	}
	w := watchTwo("the watch through the follower")
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	if err := lead.Shutdown(sctx); err != nil {
		t.Fatalf("leader shutdown: %v", err)
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := w.Next(); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the forwarded stream did not end with its leader")
	}
	w.Close()
	var rest []*Server
	for _, s := range servers {
		if s != lead {
			rest = append(rest, s)
		}
	}
	waitFor(t, 15*time.Second, "a new leader", func() bool { return leaderOf(rest...) != nil })
	waitFor(t, 20*time.Second, "the new leader's view", func() bool {
		pods, err := fc.Pods(ctx, "shop")
		return err == nil && len(pods) == 2
	})
	watchTwo("the watch again, from the new leader").Close()
}
