package agent

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/promtest"
)

// fakeStats is a statsSource whose sample the test sets.
type fakeStats struct {
	mu sync.Mutex
	st api.NodeStats
	ok bool
}

func (f *fakeStats) Latest() (api.NodeStats, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.ok
}

func (f *fakeStats) set(st api.NodeStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st, f.ok = st, true
}

// TestMetrics scrapes an agent with a fake runtime and a fake stats
// source: applies are counted by result, the fence term and the pods by
// phase follow the applied set, restarts and container states come from
// the runtime's status, and the container figures appear (with cAdvisor's
// and the kubelet's names) once the stats source has a sample.
func TestMetrics(t *testing.T) {
	rt := newFakeRuntime()
	stats := &fakeStats{}
	m := NewMetrics()
	a := startAgent(t, testConfig(t, "n1"), rt, WithMetrics(m), withMetricsStats(stats))
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)
	url := a.APIURL() + api.PathMetrics

	f := promtest.Scrape(t, url)
	if v, ok := f.Value("stevedore_agent_pods", "phase", api.PodRunning); !ok || v != 0 {
		t.Errorf("pods Running before any set = %v, %v", v, ok)
	}
	if _, ok := f["container_cpu_usage_seconds_total"]; ok {
		t.Error("container figures without a stats sample")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := f[name]; !ok {
			t.Errorf("%s missing: no Go or process collector", name)
		}
	}

	if _, err := c.Apply(ctx, podSet(3, 1, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, podSet(2, 9, "x")); !errors.Is(err, api.ErrStale) {
		t.Fatalf("lower term: %v, want stale", err)
	}
	f = promtest.Scrape(t, url)
	for _, want := range []struct {
		name string
		kv   []string
		v    float64
	}{
		{"stevedore_agent_pods", []string{"phase", api.PodRunning}, 2},
		{"stevedore_agent_fence_term", nil, 3},
		{"stevedore_agent_applied_generation", nil, 1},
		{"stevedore_agent_pod_set_applies_total", []string{"result", applyApplied}, 1},
		{"stevedore_agent_pod_set_applies_total", []string{"result", applyStale}, 1},
	} {
		if v, ok := f.Value(want.name, want.kv...); !ok || v != want.v {
			t.Errorf("%s%v = %v (present %v), want %v", want.name, want.kv, v, ok, want.v)
		}
	}

	// A crash-looping container, and a terminating incarnation listed
	// beside its successor of the same name: one series each, and the
	// scrape still parses.
	now := time.Now()
	rt.setStatus([]api.PodStatus{
		{Namespace: "default", Name: "a", Phase: api.PodRunning, Containers: []api.ContainerStatus{
			{Name: "c", RestartCount: 4, State: api.ContainerState{Waiting: &api.StateWaiting{Reason: "CrashLoopBackOff"}}}}},
		{Namespace: "default", Name: "a", Phase: api.PodRunning, DeletionTimestamp: &now, Containers: []api.ContainerStatus{
			{Name: "c", RestartCount: 1, State: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 1}}}}},
		{Namespace: "default", Name: "b", Phase: api.PodPending, InitContainers: []api.ContainerStatus{
			{Name: "init", State: api.ContainerState{Running: &api.StateRunning{StartedAt: now}}}}},
	})
	m.ProbeResult("Liveness", "failed")
	m.ImagePulled(2*time.Second, nil)
	m.ImagePulled(time.Second, errors.New("not found"))
	stats.set(api.NodeStats{Node: "n1", Time: now,
		CPU:    api.CPUStats{UsageCoreNanoSeconds: 10e9},
		Memory: api.MemoryStats{WorkingSetBytes: 1 << 30},
		Pods: []api.PodStats{{Namespace: "default", Name: "a", CPU: api.CPUStats{UsageCoreNanoSeconds: 3e9},
			Memory: api.MemoryStats{WorkingSetBytes: 5 << 20}, Network: api.NetworkStats{RxBytes: 1000, TxBytes: 2000},
			Containers: []api.ContainerStats{{Name: "c", CPU: api.CPUStats{UsageCoreNanoSeconds: 2.5e9},
				Memory: api.MemoryStats{WorkingSetBytes: 4 << 20}, Rootfs: api.FsStats{UsedBytes: 4096}}}},
			{Namespace: "default", Name: "a"}, // a duplicate: left out
		}})
	f = promtest.Scrape(t, url)
	for _, want := range []struct {
		name string
		kv   []string
		v    float64
	}{
		{"stevedore_agent_container_restarts_total", []string{"pod", "a", "container", "c"}, 4},
		{"stevedore_agent_containers", []string{"state", "waiting"}, 1},
		{"stevedore_agent_containers", []string{"state", "terminated"}, 1},
		{"stevedore_agent_containers", []string{"state", "running"}, 1},
		{"stevedore_agent_pods", []string{"phase", api.PodPending}, 1},
		{"stevedore_agent_probes_total", []string{"probe_type", "Liveness", "result", "failed"}, 1},
		{"stevedore_agent_image_pulls_total", []string{"result", "success"}, 1},
		{"stevedore_agent_image_pulls_total", []string{"result", "error"}, 1},
		{"stevedore_agent_image_pull_duration_seconds", []string{"result", "success"}, 1},
		{"container_cpu_usage_seconds_total", []string{"namespace", "default", "pod", "a", "container", "c"}, 2.5},
		{"container_memory_working_set_bytes", []string{"pod", "a", "container", "c"}, 4 << 20},
		{"container_fs_usage_bytes", []string{"pod", "a", "container", "c"}, 4096},
		{"container_network_receive_bytes_total", []string{"pod", "a"}, 1000},
		{"container_network_transmit_bytes_total", []string{"pod", "a"}, 2000},
		{"pod_cpu_usage_seconds_total", []string{"pod", "a"}, 3},
		{"pod_memory_working_set_bytes", []string{"pod", "a"}, 5 << 20},
		{"node_cpu_usage_seconds_total", nil, 10},
		{"node_memory_working_set_bytes", nil, 1 << 30},
	} {
		if v, ok := f.Value(want.name, want.kv...); !ok || v != want.v {
			t.Errorf("%s%v = %v (present %v), want %v", want.name, want.kv, v, ok, want.v)
		}
	}
	if n := len(f["pod_cpu_usage_seconds_total"].GetMetric()); n != 1 {
		t.Errorf("%d pod_cpu series, want 1 (the duplicate left out)", n)
	}
	if ts := f["container_cpu_usage_seconds_total"].GetMetric()[0].GetTimestampMs(); ts != now.UnixMilli() {
		t.Errorf("sample timestamp %d, want the stats' time %d", ts, now.UnixMilli())
	}
}

// TestMetricsPerAgent: two agents in one process have their own
// registries, and one Metrics cannot serve two agents.
func TestMetricsPerAgent(t *testing.T) {
	a1 := startAgent(t, testConfig(t, "n1"), newFakeRuntime())
	a2 := startAgent(t, testConfig(t, "n2"), newFakeRuntime())
	if _, err := api.NewClient(a1.APIURL(), nil).Apply(ctxT(t), podSet(7, 1)); err != nil {
		t.Fatal(err)
	}
	if v := promtest.Scrape(t, a1.APIURL()+api.PathMetrics).Get("stevedore_agent_fence_term"); v != 7 {
		t.Errorf("n1 fence term = %v, want 7", v)
	}
	if v := promtest.Scrape(t, a2.APIURL()+api.PathMetrics).Get("stevedore_agent_fence_term"); v != 0 {
		t.Errorf("n2 fence term = %v, want 0 (its own registry)", v)
	}
	m := NewMetrics()
	startAgent(t, testConfig(t, "n3"), newFakeRuntime(), WithMetrics(m))
	if _, err := New(testConfig(t, "n4"), newFakeRuntime(), WithMetrics(m)); err == nil {
		t.Error("a Metrics registered for a second agent")
	}
}
