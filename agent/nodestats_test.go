package agent

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/stats"
)

// fakeStatsSource lists one pod whose container's cgroup does not exist
// (as one that just exited): the pod is reported without it.
type fakeStatsSource struct{}

func (fakeStatsSource) StatsPods(context.Context) ([]stats.Pod, error) {
	return []stats.Pod{{Namespace: "default", Name: "web", UID: "u1", Containers: []stats.Container{
		{Name: "app", ID: "gone", CgroupPath: "/stevedore-test/no-such-cgroup"},
	}}}, nil
}

func (fakeStatsSource) RootfsUsage(context.Context, string) (api.FsStats, error) {
	return api.FsStats{}, nil
}

type fakeImages []api.Image

func (f fakeImages) NodeImages(context.Context) ([]api.Image, error) { return f, nil }

func TestStatsAndNodeStatus(t *testing.T) {
	cfg := testConfig(t, "n1")
	cfg.StatsInterval = 50 * time.Millisecond
	imgs := fakeImages{{Names: []string{"registry.local/app:1"}, Size: 1 << 20, InUse: true}}
	a := startAgent(t, cfg, newFakeRuntime(), WithStatsSource(fakeStatsSource{}), WithImages(imgs))
	c := api.NewClient(a.APIURL(), nil)
	// Two samples, so that the node's CPU rate has a window.
	var ns api.NodeStats
	waitFor(t, 5*time.Second, "a second stats sample", func() bool {
		var err error
		ns, err = c.Stats(ctxT(t))
		return err == nil && ns.Window > 0
	})
	if ns.Node != "n1" || len(ns.Pods) != 1 || ns.Pods[0].Name != "web" || len(ns.Pods[0].Containers) != 0 {
		t.Errorf("stats: node %q, pods %+v; want n1 with pod web and no readable container", ns.Node, ns.Pods)
	}
	if ns.Memory.WorkingSetBytes == 0 || ns.Memory.AvailableBytes == 0 || ns.CPU.UsageCoreNanoSeconds == 0 {
		t.Errorf("node figures missing: cpu %+v, memory %+v", ns.CPU, ns.Memory)
	}
	if ns.Fs.CapacityBytes == 0 || ns.Fs.UsedBytes == 0 {
		t.Errorf("data dir fs %+v", ns.Fs)
	}

	st, err := c.NodeStatus(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Info.Name != "n1" || st.Capacity.MilliCPU == 0 || st.Capacity.Memory == 0 || st.KernelVersion == "" || st.OSImage == "" {
		t.Errorf("node status %+v", st)
	}
	if len(st.Images) != 1 || !st.Images[0].InUse {
		t.Errorf("images %+v", st.Images)
	}
	conds := map[string]string{}
	for _, c := range st.Conditions {
		conds[c.Type] = c.Status
	}
	want := map[string]string{api.NodeReady: "True", api.NodeMemoryPressure: "False", api.NodeDiskPressure: "False", api.NodePIDPressure: "False"}
	for k, v := range want {
		if conds[k] != v {
			t.Errorf("condition %s = %q, want %q (all: %v)", k, conds[k], v, st.Conditions)
		}
	}
}

func TestNodeConditionsSeam(t *testing.T) {
	pressure := []api.NodeCondition{{Type: api.NodeDiskPressure, Status: "True", Reason: "KubeletHasDiskPressure"}}
	a := startAgent(t, testConfig(t, "n1"), newFakeRuntime(), WithNodeConditions(func() []api.NodeCondition { return pressure }))
	st, err := api.NewClient(a.APIURL(), nil).NodeStatus(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// The monitor's condition first, then the pressures it did not
	// report (False) and Ready.
	want := []string{"DiskPressure=True", "MemoryPressure=False", "PIDPressure=False", "Ready=True"}
	var got []string
	for _, c := range st.Conditions {
		got = append(got, c.Type+"="+c.Status)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || st.Conditions[0] != pressure[0] {
		t.Errorf("conditions %+v, want %v with the monitor's DiskPressure as given", st.Conditions, want)
	}
}

// imageFsRuntime answers ImageFsPath as containerd would.
type imageFsRuntime struct {
	*evictingRuntime
	path string
}

func (r *imageFsRuntime) ImageFsPath(context.Context) (string, error) { return r.path, nil }

// TestStatsImageDir: without --containerd-root the stats report the image
// file system eviction found (containerd's answer), not a guess.
func TestStatsImageDir(t *testing.T) {
	found := t.TempDir()
	a := &Agent{cfg: testConfig(t, "n1"), rt: &imageFsRuntime{evictingRuntime: &evictingRuntime{fakeRuntime: newFakeRuntime()}, path: found}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a.initPressure(context.Background())
	if got := a.statsImageDir(); got != found {
		t.Errorf("stats image dir %q, want containerd's %q", got, found)
	}
	a.cfg.ContainerdRoot = "/given"
	if got := a.statsImageDir(); got != "/given" {
		t.Errorf("with --containerd-root: %q", got)
	}
	a.cfg.ContainerdRoot, a.pressure.imageFsFound = "", ""
	if got := a.statsImageDir(); got != DefaultContainerdRoot {
		t.Errorf("nothing found: %q", got)
	}
}
