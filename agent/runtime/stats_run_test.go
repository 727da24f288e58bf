package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/agent/stats"
)

// readCPUAcct reads a container's cumulative CPU straight from its v1
// cgroup, the figure `ctl top` must agree with.
func readCPUAcct(t *testing.T, cgroupPath string) (uint64, time.Time) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stats.DefaultCgroupRoot, "cpuacct", cgroupPath, "cpuacct.usage"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n, time.Now()
}

func containerStats(t *testing.T, ns api.NodeStats, pod, container string) api.ContainerStats {
	t.Helper()
	for _, p := range ns.Pods {
		if p.Name != pod {
			continue
		}
		for _, c := range p.Containers {
			if c.Name == container {
				return c
			}
		}
	}
	t.Fatalf("no stats for %s/%s in %+v", pod, container, ns.Pods)
	return api.ContainerStats{}
}

// TestStatsBusyContainer samples a container that spins (`yes`) and one
// that fills a tmpfs and its writable layer, through containerd and the
// host's cgroups.
func TestStatsBusyContainer(t *testing.T) {
	if stats.DetectCgroups("").Version() != 1 {
		t.Fatal("this test reads cgroup v1 files; the host is expected to run cgroup v1 (docs/stats.md)")
	}
	e := newEnv(t)
	p := newPod("stats", "Always",
		sh("spin", "yes > /dev/null"),
		sh("fill", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 && dd if=/dev/zero of=/layer bs=1M count=16 && echo filled && sleep 3600"),
	)
	e.sync(p)
	e.waitPod("stats", "running", time.Minute, running)
	waitLog(t, e, "stats", "fill", "filled")

	ns := e.rt.ConfigForTest().Namespace
	// Under the pod's cgroup (podcgroup.go).
	spinCg := "/" + ns + "/pod-" + runtime.PodID(p.UID) + "/" + runtime.PodID(p.UID) + "-spin"
	c := stats.New(stats.Config{NodeName: "n", Interval: time.Hour, DuInterval: time.Hour}, e.rt)
	ctx := context.Background()

	// Expected: the cgroup's own counter over a window that brackets the
	// collector's two samples.
	before, t0 := readCPUAcct(t, spinCg)
	if _, err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the measured window
	second, err := c.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, t1 := readCPUAcct(t, spinCg)
	want := float64(after-before) / t1.Sub(t0).Seconds()
	spin := containerStats(t, second, "stats", "spin")
	got := float64(spin.CPU.UsageNanoCores)
	t.Logf("spin: reported %.0fm, cgroup says %.0fm", got/1e6, want/1e6)
	if want < 0.2e9 {
		t.Fatalf("the busy container used only %.0fm of CPU; the machine is too loaded to measure", want/1e6)
	}
	if got < want*0.9 || got > want*1.1 {
		t.Errorf("spin's CPU rate %.0fm is not within 10%% of its cgroup's %.0fm", got/1e6, want/1e6)
	}

	fill := containerStats(t, second, "stats", "fill")
	if fill.Memory.WorkingSetBytes < 48<<20 || fill.Memory.UsageBytes < fill.Memory.WorkingSetBytes {
		t.Errorf("fill's memory %+v: want a working set of at least the 48 MiB in /dev/shm", fill.Memory)
	}
	if fill.Rootfs.UsedBytes < 16<<20 {
		t.Errorf("fill's writable layer %+v: want at least the 16 MiB written to /layer", fill.Rootfs)
	}
	if fill.Logs.UsedBytes == 0 {
		t.Errorf("fill's logs %+v: it wrote a line", fill.Logs)
	}
	var pod api.PodStats
	for _, ps := range second.Pods {
		if ps.Name == "stats" {
			pod = ps
		}
	}
	if pod.CPU.UsageNanoCores < spin.CPU.UsageNanoCores || pod.Memory.WorkingSetBytes < fill.Memory.WorkingSetBytes {
		t.Errorf("pod totals %+v / %+v are below a container's", pod.CPU, pod.Memory)
	}
	if pod.EphemeralStorage.UsedBytes < fill.Rootfs.UsedBytes {
		t.Errorf("pod ephemeral storage %+v below fill's layer", pod.EphemeralStorage)
	}

	imgs, err := e.rt.NodeImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, im := range imgs {
		for _, n := range im.Names {
			if n == busybox {
				found = true
				if !im.InUse || im.Size == 0 {
					t.Errorf("busybox image %+v: want in use with a size", im)
				}
			}
		}
	}
	if !found {
		t.Errorf("images %+v lack %s", imgs, busybox)
	}
}

// waitLog waits until the container's log holds s.
func waitLog(t *testing.T, e *env, pod, container, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(e.logs(pod, container, 0), s) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in %s/%s's log", s, pod, container)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
