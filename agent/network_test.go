package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
)

func getNetworkStatus(t *testing.T, a *Agent) NetworkStatus {
	t.Helper()
	resp, err := http.Get(a.APIURL() + pathNetwork)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st NetworkStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", pathNetwork, resp.StatusCode, err)
	}
	return st
}

func testNetwork(podCIDR string, services ...string) *api.Network {
	n := &api.Network{
		PodCIDR: podCIDR, ClusterCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/16", ClusterDomain: "cluster.local",
		Nodes: []api.NodeRoute{{Name: "n2", IP: "192.0.2.2", PodCIDR: "10.244.2.0/24"}},
	}
	for i, s := range services {
		n.Services = append(n.Services, api.Service{Namespace: "default", Name: s, Type: api.ServiceTypeClusterIP,
			ClusterIP: "10.96.0." + string(rune('1'+i)), Ports: []api.ServicePort{{Protocol: "TCP", Port: 80}}})
	}
	return n
}

// netAgent is an agent on fakes sharing one event log.
func netAgent(t *testing.T, cfg Config) (*Agent, *fakeRuntime, *fakeNet, *eventLog) {
	t.Helper()
	ev := &eventLog{}
	rt := newFakeRuntime()
	rt.events = ev
	fn := newFakeNet(ev)
	a := startAgent(t, cfg, rt, WithNetworking(fn.networking()))
	return a, rt, fn, ev
}

// The network goes in before the pods, in the documented order, with DNS on
// the bridge address.
func TestNetworkAppliedBeforePods(t *testing.T) {
	cfg := testConfig(t, "n1")
	cfg.DNSPort = 5353
	a, _, fn, ev := netAgent(t, cfg)
	ps := podSet(1, 1, "a", "b")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"runtime.SetNetwork 10.244.1.0/24", "node.Apply 10.244.1.0/24", "proxy.New 10.244.1.0/24 10.244.0.0/16", "proxy.Apply 1",
		"dns.Start 10.244.1.1:5353", "dns.Update 1", "runtime.Sync 2",
	}
	if diff := cmp.Diff(want, ev.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got := fn.running(); len(got) != 1 || got[0].cfg.Domain != "cluster.local" {
		t.Fatalf("DNS servers running: %+v", got)
	}
	if err := a.NetworkError(); err != nil {
		t.Fatalf("NetworkError = %v", err)
	}

	// The same set again changes nothing.
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	if got := ev.take(); len(got) != 0 {
		t.Errorf("repeat of an applied set called %v", got)
	}

	// A set without a network (an older leader) keeps the current one.
	ps2 := podSet(1, 2, "a")
	if _, err := a.apply(ctxT(t), ps2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"runtime.Sync 1"}, ev.take()); diff != "" {
		t.Errorf("set without network (-want +got):\n%s", diff)
	}
}

// A change of the network alone is a new set: the hash covers it.
func TestNetworkOnlyChangeIsApplied(t *testing.T) {
	a, _, fn, ev := netAgent(t, testConfig(t, "n1"))
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	ev.take()

	// Under the same generation a different network is refused like
	// different pods would be.
	other := ps
	other.Network = testNetwork("10.244.1.0/24", "web", "api")
	if _, err := a.apply(ctxT(t), other); !errors.Is(err, api.ErrStale) {
		t.Fatalf("different network under an applied generation: err = %v, want stale", err)
	}
	other.Generation = 2
	if _, err := a.apply(ctxT(t), other); err != nil {
		t.Fatal(err)
	}
	// Only the Services changed: the routes are not applied again.
	want := []string{"runtime.SetNetwork 10.244.1.0/24", "proxy.Apply 2", "dns.Update 2", "runtime.Sync 1"}
	if diff := cmp.Diff(want, ev.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got := fn.running(); len(got) != 1 || len(got[0].services) != 2 {
		t.Fatalf("DNS was not updated in place: %+v", got)
	}
}

// A new pod CIDR (the leader reallocated, or the first allocation after
// an override) moves the DNS server to the new bridge address and gives
// the proxy the new CIDR.
func TestDNSFollowsPodCIDR(t *testing.T) {
	a, _, fn, _ := netAgent(t, testConfig(t, "n1"))
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	ps.Generation, ps.Network = 2, testNetwork("10.244.7.0/24")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	got := fn.running()
	if len(got) != 1 || got[0].cfg.Listen[0] != "10.244.7.1:53" {
		t.Fatalf("DNS servers running: %+v", got)
	}
	fn.set(func(f *fakeNet) {
		if !f.dns[0].stopped {
			t.Error("the DNS server on the old bridge address still runs")
		}
		want := []ProxyConfig{{"10.244.1.0/24", "10.244.0.0/16"}, {"10.244.7.0/24", "10.244.0.0/16"}}
		if diff := cmp.Diff(want, f.proxies); diff != "" {
			t.Errorf("proxies built (-want +got):\n%s", diff)
		}
	})
}

// A failing proxy or DNS does not stop the pods; the network is retried
// until it succeeds. A failing pod network does stop them.
func TestNetworkFailures(t *testing.T) {
	cfg := testConfig(t, "n1")
	cfg.NetworkRetryInterval = 20 * time.Millisecond
	a, rt, fn, _ := netAgent(t, cfg)
	fn.set(func(f *fakeNet) {
		f.proxyErr = errors.New("nft: permission denied")
		f.dnsErr = errors.New("address in use")
	})
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatalf("apply with a failing proxy: %v", err)
	}
	if rt.syncCount() != 1 {
		t.Fatalf("pods were not synced: %d syncs", rt.syncCount())
	}
	if err := a.NetworkError(); err == nil {
		t.Fatal("NetworkError is nil after a proxy failure")
	}
	if st := getNetworkStatus(t, a); !strings.Contains(st.Error, "nft: permission denied") || !strings.Contains(st.Error, "address in use") || st.Network == nil {
		t.Errorf("GET /v1/network while failing: %+v", st)
	}
	fn.set(func(f *fakeNet) { f.proxyErr, f.dnsErr = nil, nil })
	waitFor(t, 5*time.Second, "the network retry to succeed", func() bool { return a.NetworkError() == nil })
	if st := getNetworkStatus(t, a); st.Error != "" || st.Network == nil || st.Network.PodCIDR != "10.244.1.0/24" {
		t.Errorf("GET /v1/network after the retry: %+v", st)
	}
	if got := fn.running(); len(got) != 1 {
		t.Fatalf("DNS servers running after retry: %d", len(got))
	}
	if rt.syncCount() != 1 {
		t.Errorf("the network retry re-synced pods: %d syncs", rt.syncCount())
	}

	rt.mu.Lock()
	rt.netErr = errors.New("bridge: file exists")
	rt.mu.Unlock()
	ps.Generation = 2
	ps.Pods = append(ps.Pods, pod("b"))
	if _, err := a.apply(ctxT(t), ps); err == nil {
		t.Fatal("apply succeeded although the pod network failed")
	}
	if rt.syncCount() != 1 {
		t.Errorf("pods synced although the pod network failed: %d syncs", rt.syncCount())
	}
	rt.mu.Lock()
	rt.netErr = nil
	rt.mu.Unlock()
	// The leader retries the same set, which then goes through.
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	if rt.syncCount() != 2 {
		t.Errorf("retry of the set: %d syncs, want 2", rt.syncCount())
	}
}

// An agent restarted after a kill applies the persisted network before it
// contacts anyone, without re-syncing the pods it adopts; Shutdown stops
// DNS but leaves routes and rules; TeardownNetwork removes them.
func TestNetworkRestoredAtStart(t *testing.T) {
	cfg := testConfig(t, "n1")
	ev := &eventLog{}
	rt := newFakeRuntime()
	fn := newFakeNet(ev)
	a, err := New(cfg, rt, WithNetworking(fn.networking()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ps := podSet(3, 4, "a")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	if err := a.shutdown(ctxT(t), false); err != nil {
		t.Fatal(err)
	}
	if len(fn.running()) != 0 {
		t.Error("DNS still runs after Shutdown")
	}
	fn.set(func(f *fakeNet) {
		if f.teardown != 0 || f.closed != 0 {
			t.Error("Shutdown removed routes or rules")
		}
	})

	ev2 := &eventLog{}
	rt2 := rt.restarted()
	rt2.events = ev2
	fn2 := newFakeNet(ev2)
	b := startAgent(t, cfg, rt2, WithNetworking(fn2.networking()))
	want := []string{"runtime.SetNetwork 10.244.1.0/24", "node.Apply 10.244.1.0/24", "proxy.New 10.244.1.0/24 10.244.0.0/16", "proxy.Apply 1", "dns.Start 10.244.1.1:53", "dns.Update 1"}
	if diff := cmp.Diff(want, ev2.take()); diff != "" {
		t.Errorf("calls at restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]api.Network{*ps.Network}, rt2.networkCalls()); diff != "" {
		t.Errorf("restored network (-want +got):\n%s", diff)
	}
	got, err := api.NewClient(b.APIURL(), nil).PodSet(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ps.Network, got.Network); diff != "" {
		t.Errorf("GET podset network (-want +got):\n%s", diff)
	}

	// The leader's repeat of the same set after the restart re-applies it
	// (idempotent) and syncs the adopted pods to the same set.
	if _, err := b.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	ev2.take()

	if err := b.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.TeardownNetwork(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dns.Shutdown 10.244.1.1:53", "proxy.Close", "node.Teardown"}, ev2.take()); diff != "" {
		t.Errorf("calls at teardown (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, networkFile)); !os.IsNotExist(err) {
		t.Errorf("persisted network remains after teardown: %v", err)
	}
}

// Teardown of a node whose agent was killed: an agent built with New and
// never started removes what the persisted network says was installed.
func TestTeardownAfterKill(t *testing.T) {
	cfg := testConfig(t, "n1")
	a, _, _, _ := netAgent(t, cfg)
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	ev := &eventLog{}
	fn := newFakeNet(ev)
	b, err := New(cfg, newFakeRuntime(), WithNetworking(fn.networking()))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.TeardownNetwork(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"proxy.New 10.244.1.0/24 10.244.0.0/16", "proxy.Close", "node.Teardown"}, ev.take()); diff != "" {
		t.Errorf("calls at teardown (-want +got):\n%s", diff)
	}
}

// An agent without networking pieces (tests, a node run without them)
// still hands the pod network to the runtime.
func TestNetworkWithoutPieces(t *testing.T) {
	rt := newFakeRuntime()
	a := startAgent(t, testConfig(t, "n1"), rt)
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	if len(rt.networkCalls()) != 1 || a.NetworkError() != nil {
		t.Fatalf("network calls %d, err %v", len(rt.networkCalls()), a.NetworkError())
	}
}

// A Start that fails after restoring the network stops the DNS server it
// started.
func TestFailedStartStopsDNS(t *testing.T) {
	cfg := testConfig(t, "n1")
	a, _, _, _ := netAgent(t, cfg)
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	cfg.APIAddr = "127.0.0.1:99999" // cannot be bound
	fn := newFakeNet(&eventLog{})
	b, err := New(cfg, newFakeRuntime(), WithNetworking(fn.networking()))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctxT(t)); err == nil {
		t.Fatal("Start succeeded on an unusable API address")
	}
	fn.set(func(f *fakeNet) {
		if len(f.dns) != 1 || !f.dns[0].started || !f.dns[0].stopped {
			t.Errorf("DNS servers after a failed start: %+v", f.dns)
		}
	})
}

// The leader sends nothing while nothing changes, and a repeated set is a
// no-op: the agent itself applies the network again every
// NetworkRepairInterval, so that routes, the bridge and Service rules that
// someone else removed (a firewall reload flushing nftables) come back
// without a change or a restart, and without re-syncing pods.
func TestNetworkRepairedWithoutNewSets(t *testing.T) {
	cfg := testConfig(t, "n1")
	cfg.NetworkRetryInterval = 10 * time.Millisecond
	cfg.NetworkRepairInterval = 50 * time.Millisecond
	a, rt, fn, _ := netAgent(t, cfg)
	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24", "web")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	counts := func() (nodes, proxies int) {
		fn.mu.Lock()
		defer fn.mu.Unlock()
		return len(fn.nodes), len(fn.services)
	}
	waitFor(t, 5*time.Second, "routes and Service rules applied again", func() bool {
		n, p := counts()
		return n >= 3 && p >= 3
	})
	if rt.syncCount() != 1 {
		t.Errorf("the repair re-synced pods: %d syncs", rt.syncCount())
	}
}
