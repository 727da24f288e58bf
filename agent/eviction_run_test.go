package agent_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestDiskPressureEvictsBestEffortFirst runs an agent on the real runtime
// over a containerd whose root is a 256 MiB loop-mounted ext4: a
// BestEffort pod filling its writable layer puts the node under disk
// pressure (imagefs.available<40%); the agent advertises the
// disk-pressure taint, evicts that pod (Failed, Evicted, the kubelet's
// message), removes its dead container, and the Burstable pod within its
// ephemeral-storage request keeps running; the pressure ends and the
// taint goes after the transition period.
func TestDiskPressureEvictsBestEffortFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reg, err := devenv.StartRegistry(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	img := reg.Addr + "/test/busybox:1"
	if err := devenv.BusyboxImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	devenv.TestLoopFS(t, filepath.Join(dir, "root"), 256<<20)
	ctd, err := devenv.StartContainerd(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctd.Stop() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	rt, err := runtime.New(ctx, runtime.Config{
		NodeName: "evict-node", ContainerdAddress: ctd.Address, DataDir: t.TempDir(), PodCIDR: "10.251.7.0/24",
		BridgeName: "stv-evict0", InsecureRegistries: []string{reg.Addr}, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Teardown(tctx); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		rt.Close()
	})
	cfg := agent.DefaultConfig()
	cfg.NodeName, cfg.APIAddr, cfg.GossipAddr, cfg.DataDir, cfg.Logger = "evict-node", "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), log
	cfg.LeasePort = -1
	cfg.Eviction = agent.EvictionConfig{
		Hard:                     map[string]string{agent.SignalImageFsAvailable: "40%"},
		PressureTransitionPeriod: 2 * time.Second,
		HousekeepingInterval:     300 * time.Millisecond,
		ImageMinimumGCAge:        time.Hour,
	}
	a, err := agent.New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	})

	pod := func(name, script string, req string) api.Pod {
		c := spec.Container{Name: "c", Image: img, Command: []string{"sh", "-c", script}}
		if req != "" {
			c.Resources.Requests = spec.ResourceList{spec.ResourceEphemeralStorage: resource.MustParse(req)}
		}
		grace := int64(1)
		return api.Pod{UID: "uid-" + name, Namespace: "default", Name: name,
			Spec: spec.PodSpec{Containers: []spec.Container{c}, TerminationGracePeriodSeconds: &grace}}
	}
	burst := pod("burstable", "dd if=/dev/zero of=/fill bs=1M count=10 && sync && sleep 3600", "50Mi")
	best := pod("besteffort", "dd if=/dev/zero of=/fill bs=1M count=150; sync; sleep 3600", "")
	if err := rt.Sync(ctx, []api.Pod{burst, best}); err != nil {
		t.Fatal(err)
	}
	status := func(name string) api.PodStatus {
		for _, st := range rt.Status() {
			if st.Name == name {
				return st
			}
		}
		return api.PodStatus{}
	}
	tainted := func() bool {
		return slices.ContainsFunc(a.Info().Taints, func(t spec.Taint) bool { return t.Key == api.TaintDiskPressure })
	}
	waitUntil(t, 90*time.Second, "the BestEffort pod evicted", func() bool {
		st := status("besteffort")
		return st.Phase == api.PodFailed && st.Reason == api.ReasonEvicted
	})
	if msg := status("besteffort").Message; !strings.HasPrefix(msg, "The node was low on resource: ephemeral-storage. Threshold quantity: ") ||
		!strings.Contains(msg, "Container c was using") {
		t.Errorf("eviction message %q", msg)
	}
	if !tainted() {
		t.Errorf("evicted while the node advertises no disk-pressure taint: %v", a.Info().Taints)
	}
	waitUntil(t, 30*time.Second, "the pressure over and its taint gone", func() bool { return !tainted() })
	if st := status("burstable"); st.Phase != api.PodRunning || st.Reason != "" {
		t.Errorf("the Burstable pod within its request: %s %s %s", st.Phase, st.Reason, st.Message)
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
