package hollow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime/runtimetest"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestSuite: the hollow runtime behaves as the agent daemon needs, as the
// containerd runtime does (agent/runtime's TestSuite).
func TestSuite(t *testing.T) {
	t.Run("Default", func(t *testing.T) {
		runtimetest.Run(t, newRuntime(Config{}), runtimetest.WithTimeout(5*time.Second))
	})
	// With a delay every start goes through a timer.
	t.Run("StartDelay", func(t *testing.T) {
		runtimetest.Run(t, newRuntime(Config{StartDelay: time.Millisecond}), runtimetest.WithTimeout(5*time.Second))
	})
}

func newRuntime(cfg Config) func(t *testing.T) runtimetest.Runtime {
	return func(t *testing.T) runtimetest.Runtime {
		r := New(cfg)
		t.Cleanup(r.Close)
		return r
	}
}

var _ runtimetest.Runtime = (*Runtime)(nil)

func testPod(name string, containers ...string) api.Pod {
	if len(containers) == 0 {
		containers = []string{"main"}
	}
	p := api.Pod{UID: name + "-uid", Namespace: "default", Name: name}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, spec.Container{Name: c, Image: "img"})
	}
	return p
}

func pods(prefix string, n int) []api.Pod {
	out := make([]api.Pod, n)
	for i := range out {
		out[i] = testPod(fmt.Sprintf("%s%03d", prefix, i))
	}
	return out
}

// running returns a runtime with network 10.0.0.0/24 and pods synced.
func running(t testing.TB, cfg Config, ps ...api.Pod) *Runtime {
	t.Helper()
	r := New(cfg)
	t.Cleanup(r.Close)
	if err := r.SetNetwork(context.Background(), api.Network{PodCIDR: "10.0.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	return r
}

func statusOf(t testing.TB, r *Runtime, uid string) api.PodStatus {
	t.Helper()
	for _, ps := range r.Status() {
		if ps.UID == uid {
			return ps
		}
	}
	t.Fatalf("no status for %s", uid)
	return api.PodStatus{}
}

// waitChange waits for the runtime's next signal.
func waitChange(t testing.TB, r *Runtime) {
	t.Helper()
	select {
	case <-r.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled")
	}
}

// TestStartDelay: a pod waits in ContainerCreating, with no IP, until its
// delay is over, then runs; a pod removed meanwhile never starts.
func TestStartDelay(t *testing.T) {
	// An hour: the test calls delayed itself, as the timer would.
	r := running(t, Config{StartDelay: time.Hour})
	a, b := testPod("a"), testPod("b")
	if err := r.Sync(context.Background(), []api.Pod{a, b}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []api.Pod{a, b} {
		ps := statusOf(t, r, p.UID)
		if ps.Phase != api.PodPending || ps.Reason != api.ReasonContainerCreating || ps.PodIP != "" || ps.StartTime != nil {
			t.Fatalf("pod %s during its delay: %+v", p.Name, ps)
		}
	}
	r.mu.Lock()
	pa, pb := r.pods[a.UID], r.pods[b.UID]
	if pa.timer == nil || pb.timer == nil {
		r.mu.Unlock()
		t.Fatal("no timer for a delayed pod")
	}
	r.mu.Unlock()
	if err := r.Sync(context.Background(), []api.Pod{a}); err != nil {
		t.Fatal(err)
	}
	r.delayed(pa)
	r.delayed(pb) // removed: must stay gone
	st := r.Status()
	if len(st) != 1 || st[0].UID != a.UID || st[0].Phase != api.PodRunning || st[0].PodIP == "" {
		t.Fatalf("after the delay: %+v", st)
	}
}

// TestStartDelayTimer: with a short real delay the pod runs by itself and
// Changes says so.
func TestStartDelayTimer(t *testing.T) {
	p := testPod("p")
	r := running(t, Config{StartDelay: 10 * time.Millisecond}, p)
	for statusOf(t, r, p.UID).Phase != api.PodRunning {
		waitChange(t, r)
	}
	if ps := statusOf(t, r, p.UID); ps.PodIP == "" || !ps.Containers[0].Ready {
		t.Fatalf("after the delay: %+v", ps)
	}
}

// TestFailureRate: about FailureRate of the pods crash-loop (first
// container waiting in CrashLoopBackOff after one exit, pod Running but
// not Ready), the others run; the same Seed fails the same pods whatever
// the order of the set, another Seed others.
func TestFailureRate(t *testing.T) {
	set := pods("p", 200)
	failedWith := func(seed uint64, ps []api.Pod) map[string]bool {
		r := running(t, Config{FailureRate: 0.25, Seed: seed}, ps...)
		failed := map[string]bool{}
		for _, st := range r.Status() {
			c := st.Containers[0]
			if c.State.Waiting == nil {
				if !c.Ready || st.Conditions[1].Status != api.ConditionTrue {
					t.Fatalf("a pod that did not fail is not ready: %+v", st)
				}
				continue
			}
			failed[st.UID] = true
			if c.State.Waiting.Reason != api.ReasonCrashLoopBackOff || c.Ready || c.Started != nil || c.RestartCount != 1 ||
				c.LastTerminationState.Terminated == nil || st.Phase != api.PodRunning {
				t.Fatalf("failed container: %+v", st)
			}
			for _, cond := range st.Conditions[1:] {
				if cond.Status != api.ConditionFalse {
					t.Fatalf("failed pod's %s condition is %s", cond.Type, cond.Status)
				}
			}
		}
		return failed
	}
	one := failedWith(7, set)
	if n := len(one); n < 30 || n > 70 {
		t.Fatalf("%d of 200 pods failed with FailureRate 0.25", n)
	}
	reversed := make([]api.Pod, len(set))
	for i, p := range set {
		reversed[len(set)-1-i] = p
	}
	if again := failedWith(7, reversed); fmt.Sprint(again) != fmt.Sprint(one) {
		t.Fatalf("the same seed failed other pods: %v then %v", one, again)
	}
	if other := failedWith(8, set); fmt.Sprint(other) == fmt.Sprint(one) {
		t.Fatal("another seed failed the same pods")
	}
}

// TestIPWrapAround: addresses go round-robin through the CIDR (never the
// network's, the bridge's or the broadcast's), wrap around, and skip every
// address a pod holds; with all taken a pod waits, and starts when one is
// freed.
func TestIPWrapAround(t *testing.T) {
	r := New(Config{})
	t.Cleanup(r.Close)
	ctx := context.Background()
	if err := r.SetNetwork(ctx, api.Network{PodCIDR: "10.0.0.0/29"}); err != nil { // .2 to .6
		t.Fatal(err)
	}
	set := pods("p", 5)
	if err := r.Sync(ctx, set); err != nil {
		t.Fatal(err)
	}
	ipOf := func(p api.Pod) string { return statusOf(t, r, p.UID).PodIP }
	for i, p := range set {
		if got, want := ipOf(p), fmt.Sprintf("10.0.0.%d", i+2); got != want {
			t.Fatalf("pod %d got %s, want %s", i, got, want)
		}
	}
	// Full: a sixth pod waits.
	extra := testPod("extra")
	if err := r.Sync(ctx, append(set, extra)); err != nil {
		t.Fatal(err)
	}
	if ps := statusOf(t, r, extra.UID); ps.Phase != api.PodPending || ps.PodIP != "" {
		t.Fatalf("pod with no free address: %+v", ps)
	}
	// Free .3 (p001); the waiting pod gets it, the only free one.
	kept := []api.Pod{set[0], set[2], set[3], set[4], extra}
	if err := r.Sync(ctx, kept); err != nil {
		t.Fatal(err)
	}
	if got := ipOf(extra); got != "10.0.0.3" {
		t.Fatalf("waiting pod got %q, want the freed 10.0.0.3", got)
	}
	// Free .2 and .5: the search goes on after .3, so the next pod
	// skips the held .4 for .5, and the one after that wraps past the
	// held .6 to .2.
	kept = []api.Pod{set[2], set[4], extra}
	n1, n2 := testPod("n1"), testPod("n2")
	if err := r.Sync(ctx, append(kept, n1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx, append(kept, n1, n2)); err != nil {
		t.Fatal(err)
	}
	if a, b := ipOf(n1), ipOf(n2); a != "10.0.0.5" || b != "10.0.0.2" {
		t.Fatalf("after wrapping: n1 %s n2 %s, want 10.0.0.5 and 10.0.0.2", a, b)
	}
	seen := map[string]string{}
	for _, ps := range r.Status() {
		if other, dup := seen[ps.PodIP]; dup {
			t.Fatalf("%s and %s share %s", other, ps.Name, ps.PodIP)
		}
		seen[ps.PodIP] = ps.Name
	}
}

// TestIPPoolNeverReusesHeld allocates and frees at random over a small
// pool: a given address is never one still held.
func TestIPPoolNeverReusesHeld(t *testing.T) {
	pool := newIPPool(netip.MustParsePrefix("10.1.0.0/28")) // 13 usable
	held := map[netip.Addr]bool{}
	var order []netip.Addr
	for i := range 1000 {
		if i%3 == 2 && len(order) > 0 {
			ip := order[(i*7)%len(order)]
			pool.release(ip)
			delete(held, ip)
			order = deleteAddr(order, ip)
			continue
		}
		ip := pool.alloc()
		if len(held) == 13 {
			if ip.IsValid() {
				t.Fatalf("full pool gave %s", ip)
			}
			continue
		}
		if !ip.IsValid() || held[ip] || ip.As4()[3] < 2 || ip.As4()[3] > 14 {
			t.Fatalf("alloc %d gave %v (held: %v)", i, ip, held)
		}
		held[ip] = true
		order = append(order, ip)
	}
}

func deleteAddr(s []netip.Addr, ip netip.Addr) []netip.Addr {
	for i := range s {
		if s[i] == ip {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// TestSetNetworkChange: a pod outside a new pod CIDR moves into it; an
// empty CIDR changes nothing; a bad one is an error.
func TestSetNetworkChange(t *testing.T) {
	p := testPod("p")
	r := running(t, Config{}, p)
	ctx := context.Background()
	if err := r.SetNetwork(ctx, api.Network{}); err != nil {
		t.Fatalf("empty network: %v", err)
	}
	if err := r.SetNetwork(ctx, api.Network{PodCIDR: "nonsense"}); err == nil {
		t.Fatal("a bad CIDR was taken")
	}
	if err := r.SetNetwork(ctx, api.Network{PodCIDR: "10.9.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	ps := statusOf(t, r, p.UID)
	if !netip.MustParsePrefix("10.9.0.0/24").Contains(netip.MustParseAddr(ps.PodIP)) || ps.Phase != api.PodRunning {
		t.Fatalf("after the change: %+v", ps)
	}
}

// TestSpecChange: a new spec under the same UID starts the pod again with
// it, as the containerd runtime replaces such a pod.
func TestSpecChange(t *testing.T) {
	p := testPod("p", "a")
	r := running(t, Config{}, p)
	q := testPod("p", "a", "b")
	if err := r.Sync(context.Background(), []api.Pod{q}); err != nil {
		t.Fatal(err)
	}
	if ps := statusOf(t, r, p.UID); len(ps.Containers) != 2 || ps.Phase != api.PodRunning {
		t.Fatalf("after a spec change: %+v", ps)
	}
	if got := r.Pods(); len(got) != 1 || len(got[0].Spec.Containers) != 2 {
		t.Fatalf("Pods after a spec change: %+v", got)
	}
}

// TestLogsOnePodOfSeveral: like the containerd runtime, no container name
// picks a single container and is an error (not found) with several.
func TestLogsOnePodOfSeveral(t *testing.T) {
	one, two := testPod("one"), testPod("two", "a", "b")
	r := running(t, Config{}, one, two)
	rc, err := r.Logs(context.Background(), "default", "one", api.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	if len(b) == 0 {
		t.Error("empty log for a started container")
	}
	if _, err := r.Logs(context.Background(), "default", "two", api.LogOptions{}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("no container named in a pod of two: %v", err)
	}
}

// TestClose: Close stops the timers (a delayed pod never starts), Sync
// and SetNetwork fail after it, and it can be called twice.
func TestClose(t *testing.T) {
	p := testPod("p")
	r := running(t, Config{StartDelay: time.Hour}, p)
	r.mu.Lock()
	pd := r.pods[p.UID]
	timer := pd.timer
	r.mu.Unlock()
	r.Close()
	r.Close()
	if timer.Stop() {
		t.Fatal("Close left the start timer running")
	}
	r.delayed(pd) // as a timer that had fired just before Close
	if ps := statusOf(t, r, p.UID); ps.Phase != api.PodPending {
		t.Fatalf("a pod started after Close: %+v", ps)
	}
	if err := r.Sync(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
	if err := r.SetNetwork(context.Background(), api.Network{PodCIDR: "10.1.0.0/24"}); !errors.Is(err, ErrClosed) {
		t.Errorf("SetNetwork after Close: %v", err)
	}
}

// TestEmptyUID: a pod without a UID is refused, as by the containerd
// runtime.
func TestEmptyUID(t *testing.T) {
	r := New(Config{})
	if err := r.Sync(context.Background(), []api.Pod{{Name: "x"}}); err == nil {
		t.Fatal("a pod without UID was synced")
	}
}

// BenchmarkSync30 is one hollow node's work for a new set of 30 pods: Sync
// then Status, as the daemon does on a PodSet.
func BenchmarkSync30(b *testing.B) {
	set := pods("p", 30)
	for i := range set {
		set[i].Spec.Containers = append(set[i].Spec.Containers, spec.Container{Name: "sidecar", Image: "img"})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := New(Config{})
		if err := r.SetNetwork(ctx, api.Network{PodCIDR: "10.0.0.0/24"}); err != nil {
			b.Fatal(err)
		}
		if err := r.Sync(ctx, set); err != nil {
			b.Fatal(err)
		}
		if st := r.Status(); len(st) != 30 {
			b.Fatalf("%d statuses", len(st))
		}
	}
}

// BenchmarkResync30 is the steady state: the same 30 pods synced again
// (the daemon syncs every PodSet it applies), then Status.
func BenchmarkResync30(b *testing.B) {
	set := pods("p", 30)
	r := running(b, Config{}, set...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Sync(ctx, set); err != nil {
			b.Fatal(err)
		}
		if st := r.Status(); len(st) != 30 {
			b.Fatalf("%d statuses", len(st))
		}
	}
}
