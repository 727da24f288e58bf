package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/spec"
)

func pod(name string) api.Pod {
	return api.Pod{
		UID: "uid-" + name, Namespace: "default", Name: name,
		Spec: spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "busybox"}}},
	}
}

func podSet(term, gen uint64, names ...string) api.PodSet {
	ps := api.PodSet{Node: "n1", Term: term, Generation: gen, Pods: []api.Pod{}}
	for _, n := range names {
		ps.Pods = append(ps.Pods, pod(n))
	}
	return ps
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestApplyIsIdempotentAndReportsPods(t *testing.T) {
	rt := newFakeRuntime()
	a := startAgent(t, testConfig(t, "n1"), rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)

	res, err := c.Apply(ctx, podSet(1, 1, "b", "a"))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res != (api.ApplyResult{Term: 1, Generation: 1}) {
		t.Errorf("ApplyResult = %+v", res)
	}
	// The same set again, pods in another order: no second Sync.
	if _, err := c.Apply(ctx, podSet(1, 1, "a", "b")); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if n := rt.syncCount(); n != 1 {
		t.Errorf("Sync called %d times for the same set twice, want 1", n)
	}
	l, err := c.Pods(ctx)
	if err != nil {
		t.Fatalf("Pods: %v", err)
	}
	if l.Node != "n1" || l.Term != 1 || l.Generation != 1 || len(l.Pods) != 2 {
		t.Fatalf("Pods = %+v", l)
	}
	for _, p := range l.Pods {
		if p.Node != "n1" || p.Phase != api.PodRunning {
			t.Errorf("pod %s: node %q phase %q", p.Name, p.Node, p.Phase)
		}
	}
	// A new generation is synced.
	if _, err := c.Apply(ctx, podSet(1, 2, "a")); err != nil {
		t.Fatalf("Apply gen 2: %v", err)
	}
	if n := rt.syncCount(); n != 2 {
		t.Errorf("Sync called %d times, want 2", n)
	}
	if got := rt.syncs[1]; len(got) != 1 || got[0].Name != "a" {
		t.Errorf("second Sync got %+v", got)
	}
}

func TestFencing(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	a := startAgent(t, cfg, rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)

	if _, err := c.Apply(ctx, podSet(5, 7, "a")); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, tc := range []struct {
		name string
		ps   api.PodSet
	}{
		{"lower term, higher generation", podSet(4, 100, "a", "x")},
		{"same term, lower generation", podSet(5, 6, "x")},
		{"same term and generation, other pods", podSet(5, 7, "x")},
	} {
		_, err := c.Apply(ctx, tc.ps)
		if !errors.Is(err, api.ErrStale) {
			t.Errorf("%s: err = %v, want ErrStale", tc.name, err)
		}
	}
	if n := rt.syncCount(); n != 1 {
		t.Errorf("refused sets reached the runtime: %d syncs", n)
	}
	// A new leader's term wins whatever its generation.
	if _, err := c.Apply(ctx, podSet(6, 1, "b")); err != nil {
		t.Fatalf("Apply term 6: %v", err)
	}
	if _, err := c.Apply(ctx, podSet(5, 8, "a")); !errors.Is(err, api.ErrStale) {
		t.Errorf("deposed leader's set: err = %v, want ErrStale", err)
	}
}

func TestFencingSurvivesRestart(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	a, err := New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(a.APIURL(), nil)
	if _, err := c.Apply(ctx, podSet(3, 4, "a")); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}

	rt2 := newFakeRuntime()
	b := startAgent(t, cfg, rt2)
	c = api.NewClient(b.APIURL(), nil)
	l, err := c.Pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.Term != 3 || l.Generation != 4 {
		t.Errorf("restarted agent reports term %d generation %d, want 3 4", l.Term, l.Generation)
	}
	if _, err := c.Apply(ctx, podSet(2, 99, "evil")); !errors.Is(err, api.ErrStale) {
		t.Errorf("deposed leader after restart: err = %v, want ErrStale", err)
	}
	if _, err := c.Apply(ctx, podSet(3, 3, "old")); !errors.Is(err, api.ErrStale) {
		t.Errorf("older generation after restart: err = %v, want ErrStale", err)
	}
	// The set applied before the restart is handed to the new runtime once
	// (it needs the specs to supervise the pods it adopted), then a no-op.
	for range 2 {
		if _, err := c.Apply(ctx, podSet(3, 4, "a")); err != nil {
			t.Fatalf("re-apply after restart: %v", err)
		}
	}
	if n := rt2.syncCount(); n != 1 {
		t.Errorf("Sync after restart called %d times, want 1", n)
	}
}

// A corrupt fence must never read as "no fence" (term 0 would let any
// deposed leader in): the agent refuses to start, naming the file.
func TestCorruptFenceStateRefusesToStart(t *testing.T) {
	good, _ := json.Marshal(fenceState{Term: 12, Generation: 3})
	for name, content := range map[string][]byte{
		"garbage":   []byte("{trunc"),
		"truncated": good[:len(good)/2],
		"empty":     nil,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "n1")
			path := filepath.Join(cfg.DataDir, fenceFile)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(cfg, newFakeRuntime())
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("New = %v, want an error naming %s", err, path)
			}
		})
	}
}

func TestSyncFailureIsRetried(t *testing.T) {
	rt := newFakeRuntime()
	a := startAgent(t, testConfig(t, "n1"), rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)

	rt.setSyncErr(errors.New("containerd is down"))
	_, err := c.Apply(ctx, podSet(1, 1, "a"))
	var se *api.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusInternalServerError || se.Code != "internal" ||
		!strings.Contains(se.Message, "containerd is down") {
		t.Fatalf("Apply with failing runtime: err = %v", err)
	}
	rt.setSyncErr(nil)
	if _, err := c.Apply(ctx, podSet(1, 1, "a")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := rt.syncCount(); n != 2 {
		t.Errorf("Sync called %d times, want 2 (the failed one retried)", n)
	}
	l, _ := c.Pods(ctx)
	if len(l.Pods) != 1 || l.Generation != 1 {
		t.Errorf("Pods after retry = %+v", l)
	}
}

func TestBadRequests(t *testing.T) {
	a := startAgent(t, testConfig(t, "n1"), newFakeRuntime())
	dup := podSet(1, 1, "a", "a")
	noUID := podSet(1, 1, "a")
	noUID.Pods[0].UID = ""
	other := podSet(1, 1, "a")
	other.Node = "n2"
	badCtr := podSet(1, 1, "a")
	badCtr.Pods[0].Spec.Containers[0].Name = "../../x"
	dupCtr := podSet(1, 1, "a")
	dupCtr.Pods[0].Spec.Containers = append(dupCtr.Pods[0].Spec.Containers, dupCtr.Pods[0].Spec.Containers[0])
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"bad JSON", "PUT", api.PathPodSet, `{"term":`, 400, "invalid"},
		{"wrong type", "PUT", api.PathPodSet, `{"term":"one"}`, 400, "invalid"},
		{"unknown field", "PUT", api.PathPodSet, `{"term":1,"generation":1,"pods":[],"bogus":1}`, 400, "invalid"},
		{"trailing data", "PUT", api.PathPodSet, `{"term":1} {}`, 400, "invalid"},
		{"duplicate pod", "PUT", api.PathPodSet, enc(dup), 400, "invalid"},
		{"missing uid", "PUT", api.PathPodSet, enc(noUID), 400, "invalid"},
		{"other node", "PUT", api.PathPodSet, enc(other), 400, "invalid"},
		{"bad container name", "PUT", api.PathPodSet, enc(badCtr), 400, "invalid"},
		{"duplicate container", "PUT", api.PathPodSet, enc(dupCtr), 400, "invalid"},
		{"wrong method", "POST", api.PathPodSet, `{}`, 405, "invalid"},
		{"wrong method on pods", "PUT", api.PathPods, `{}`, 405, "invalid"},
		{"unknown path", "GET", "/v2/pods", "", 404, "not_found"},
		{"logs without pod", "GET", api.PathLogs + "?namespace=default", "", 400, "invalid"},
		{"logs bad tail", "GET", api.PathLogs + "?namespace=default&pod=a&tail=-1", "", 400, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, a.APIURL()+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.code == "" {
				return
			}
			var e api.Error
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("error body is not api.Error JSON: %v", err)
			}
			if e.Code != tc.code || e.Error == "" {
				t.Errorf("error body %+v, want code %q and a message", e, tc.code)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	cfg := testConfig(t, "n1")
	cfg.Labels = map[string]string{"zone": "a", "disk": "ssd"}
	cfg.Taints = []spec.Taint{{Key: "gpu", Value: "yes", Effect: spec.TaintEffectNoSchedule}}
	cfg.AllocatableMilliCPU = 1500
	cfg.AllocatableMemory = 2 << 30
	cfg.MaxPods = 7
	cfg.ExtendedResources = map[string]int64{"nvidia.com/gpu": 2, "hugepages-2Mi": 64 << 20}
	cfg.PodCIDR = "10.99.1.0/24"
	a := startAgent(t, cfg, newFakeRuntime())
	got, err := api.NewClient(a.APIURL(), nil).Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	want := api.NodeInfo{
		Name: "n1", APIAddr: a.APIURL(),
		Allocatable: api.Resources{MilliCPU: 1500, Memory: 2 << 30, Pods: 7, Extended: cfg.ExtendedResources},
		// The well-known labels join the configured ones.
		Labels: map[string]string{"zone": "a", "disk": "ssd", "kubernetes.io/hostname": "n1",
			"kubernetes.io/os": runtime.GOOS, "kubernetes.io/arch": runtime.GOARCH},
		Taints: cfg.Taints, PodCIDR: "10.99.1.0/24",
		Version: version.Get().ReleaseVersion(), Protocol: api.Supported(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.APIAddr, "http://127.0.0.1:") {
		t.Errorf("APIAddr %q", got.APIAddr)
	}
}

func TestInfoDefaultsFromHost(t *testing.T) {
	a := startAgent(t, testConfig(t, "n1"), newFakeRuntime())
	got := a.Info().Allocatable
	if got.MilliCPU != int64(runtime.NumCPU())*1000 || got.Pods != DefaultMaxPods || got.Memory < 64<<20 {
		t.Errorf("default allocatable = %+v", got)
	}
	// No default pod CIDR: the leader allocates one; a node advertising
	// a default that every node shares is what issue 7 was about.
	if a.Info().PodCIDR != "" {
		t.Errorf("default pod CIDR %q, want none advertised", a.Info().PodCIDR)
	}
}

func TestLogs(t *testing.T) {
	rt := newFakeRuntime()
	rt.logs["ns1/p/c"] = "line 1\nline 2\n"
	a := startAgent(t, testConfig(t, "n1"), rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)
	since := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	r, err := c.Logs(ctx, "ns1", "p", api.LogOptions{Container: "c", Tail: 5, Follow: true, Previous: true, Timestamps: true, SinceTime: since, SinceSeconds: 7, LimitBytes: 100})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "line 1\nline 2\n" {
		t.Errorf("log = %q", b)
	}
	want := api.LogOptions{Container: "c", Tail: 5, Follow: true, Previous: true, Timestamps: true, SinceTime: since, SinceSeconds: 7, LimitBytes: 100}
	if rt.lastLog.ns != "ns1" || rt.lastLog.pod != "p" || !cmp.Equal(rt.lastLog.opts, want) {
		t.Errorf("runtime asked for %+v", rt.lastLog)
	}
	if _, err := c.Logs(ctx, "ns1", "nope", api.LogOptions{Container: "c"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Logs of unknown pod: err = %v, want ErrNotFound", err)
	}
}

func TestWatchSnapshotsAndHeartbeat(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	cfg.WatchHeartbeat = 200 * time.Millisecond
	a := startAgent(t, cfg, rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got := make(chan api.PodStatusList, 100)
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, func(l api.PodStatusList) { got <- l }) }()

	next := func(what string) api.PodStatusList {
		t.Helper()
		select {
		case l := <-got:
			return l
		case err := <-done:
			t.Fatalf("watch ended waiting for %s: %v", what, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no list waiting for %s", what)
		}
		return api.PodStatusList{}
	}
	if l := next("initial"); l.Node != "n1" || len(l.Pods) != 0 {
		t.Fatalf("initial list = %+v", l)
	}
	// An apply shows up (term and generation, then pods).
	if _, err := c.Apply(ctx, podSet(2, 1, "a")); err != nil {
		t.Fatal(err)
	}
	for {
		l := next("applied set")
		if l.Term == 2 && l.Generation == 1 && len(l.Pods) == 1 {
			break
		}
	}
	// A runtime change with no apply shows up.
	rt.setStatus([]api.PodStatus{{UID: "uid-a", Namespace: "default", Name: "a", Phase: api.PodFailed}})
	for {
		if l := next("runtime change"); len(l.Pods) == 1 && l.Pods[0].Phase == api.PodFailed {
			break
		}
	}
	// Quiet node: heartbeats keep coming, each the full current state.
	start := time.Now()
	for range 3 {
		if l := next("heartbeat"); len(l.Pods) != 1 || l.Pods[0].Phase != api.PodFailed {
			t.Fatalf("heartbeat list = %+v", l)
		}
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("3 heartbeats at 200ms took %s", d)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel: %v, want context.Canceled", err)
	}
}

// A consumer that stops reading must neither block the runtime nor keep
// other watchers from the latest state; when it resumes it gets the latest
// state, not every intermediate one.
func TestWatchCoalescesAndNeverBlocks(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	cfg.WatchHeartbeat = time.Hour
	a := startAgent(t, cfg, rt)

	// A stalled watcher: a raw connection that never reads.
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.APIURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", api.PathPodsWatch)

	// A slow watcher: its callback blocks until released.
	c := api.NewClient(a.APIURL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	release := make(chan struct{})
	var listsMu sync.Mutex
	var lists []api.PodStatusList
	count := func() int { listsMu.Lock(); defer listsMu.Unlock(); return len(lists) }
	final := make(chan struct{})
	var finalOnce sync.Once
	go c.Watch(ctx, func(l api.PodStatusList) {
		if count() == 1 {
			<-release
		}
		listsMu.Lock()
		lists = append(lists, l)
		listsMu.Unlock()
		if len(l.Pods) == 1 && l.Pods[0].Message == "change 1999" {
			finalOnce.Do(func() { close(final) })
		}
	})

	// 2000 changes with large statuses (enough to fill socket buffers of
	// the stalled watcher), each signalled without blocking.
	big := strings.Repeat("x", 4096)
	start := time.Now()
	for i := range 2000 {
		rt.setStatus([]api.PodStatus{{UID: "u", Namespace: "default", Name: "a", Phase: api.PodRunning,
			Reason: big, Message: fmt.Sprintf("change %d", i)}})
		if i == 1 {
			time.Sleep(50 * time.Millisecond) // let the slow watcher block on its second list
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("2000 status changes took %s: the runtime was blocked", d)
	}
	close(release)
	select {
	case <-final:
	case <-time.After(10 * time.Second):
		t.Fatalf("slow watcher never saw the final state (got %d lists)", count())
	}
	if n := count(); n > 100 {
		t.Errorf("slow watcher got %d lists for 2000 changes; want them coalesced", n)
	}
	t.Logf("slow watcher received %d lists for 2000 changes", count())

	// A fresh watcher still gets the latest state at connect.
	var first api.PodStatusList
	wctx, wcancel := context.WithCancel(ctx)
	c.Watch(wctx, func(l api.PodStatusList) { first = l; wcancel() })
	if len(first.Pods) != 1 || first.Pods[0].Message != "change 1999" {
		t.Errorf("new watcher's first list = %+v", first.Pods)
	}
}

// TestAnotherClusterNeedsAHigherTerm: once an agent took sets from one
// control plane, another (a rebuilt one, whose raft terms started again)
// must come with a strictly higher term; the refusal names the term and
// the cluster, so that the new leader can raise its token past it. The
// cluster survives a restart of the agent.
func TestAnotherClusterNeedsAHigherTerm(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	a := startAgent(t, cfg, rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)
	withCluster := func(ps api.PodSet, id string) api.PodSet { ps.Cluster = id; return ps }

	if _, err := c.Apply(ctx, withCluster(podSet(2, 1, "a"), "c1")); err != nil {
		t.Fatal(err)
	}
	// The same (term, generation) from another cluster: refused, even
	// with the same pods.
	_, err := c.Apply(ctx, withCluster(podSet(2, 1, "a"), "c2"))
	if term, ok := api.StaleTerm(err); !errors.Is(err, api.ErrStale) || !ok || term != 2 || api.StaleCluster(err) != "c1" {
		t.Fatalf("same term from another cluster: err = %v (term %d, cluster %q)", err, term, api.StaleCluster(err))
	}
	if _, err := c.Apply(ctx, withCluster(podSet(2, 9, "b"), "c2")); !errors.Is(err, api.ErrStale) {
		t.Errorf("higher generation, same term, another cluster: %v, want stale", err)
	}
	// A higher term from the other cluster: taken, and the agent now
	// belongs to it.
	if _, err := c.Apply(ctx, withCluster(podSet(3, 1, "b"), "c2")); err != nil {
		t.Fatalf("higher term from another cluster: %v", err)
	}
	ps, err := c.PodSet(ctx)
	if err != nil || ps.Cluster != "c2" || ps.Term != 3 {
		t.Fatalf("podset = %+v, %v; want cluster c2 at term 3", ps, err)
	}
	// The old cluster, even at its next term, is now the other one.
	if _, err := c.Apply(ctx, withCluster(podSet(3, 5, "a"), "c1")); !errors.Is(err, api.ErrStale) || api.StaleCluster(err) != "c2" {
		t.Errorf("old cluster at the same term: %v", err)
	}
	// A set without a cluster (an older reconciler) keeps the agent's.
	if _, err := c.Apply(ctx, podSet(3, 2, "b")); err != nil {
		t.Fatal(err)
	}
	ps, _ = c.PodSet(ctx)
	if ps.Cluster != "c2" {
		t.Errorf("cluster after a set without one = %q", ps.Cluster)
	}
}
