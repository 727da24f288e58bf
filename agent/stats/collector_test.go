package stats

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// fakeSource is a Source over fixed pods.
type fakeSource struct {
	pods   []Pod
	rootfs map[string]api.FsStats
	calls  int
}

func (f *fakeSource) StatsPods(context.Context) ([]Pod, error) { return f.pods, nil }

func (f *fakeSource) RootfsUsage(_ context.Context, id string) (api.FsStats, error) {
	f.calls++
	fs, ok := f.rootfs[id]
	if !ok {
		return api.FsStats{}, errors.New("no such snapshot")
	}
	return fs, nil
}

func writeV2(t *testing.T, dir string, usec, current uint64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"cpu.stat":       "usage_usec " + strconv.FormatUint(usec, 10) + "\n",
		"memory.current": strconv.FormatUint(current, 10) + "\n",
		"memory.stat":    "anon 1000\ninactive_file 100\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollectorRatesAndSums(t *testing.T) {
	root := t.TempDir()
	writeV2(t, filepath.Join(root, "ns", "a"), 1_000_000, 5000)
	writeV2(t, filepath.Join(root, "ns", "b"), 2_000_000, 7000)
	if err := os.WriteFile(filepath.Join(root, "ns", "b", "cgroup.procs"), []byte("42\n43\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(logDir, "0.log"), make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{
		pods: []Pod{{Namespace: "default", Name: "p", UID: "u1", Containers: []Container{
			{Name: "a", ID: "a", CgroupPath: "/ns/a", LogFiles: LogFiles(logDir)},
			{Name: "b", ID: "b", CgroupPath: "/ns/b"},
			{Name: "gone", ID: "gone", CgroupPath: "/ns/gone"},
		}}},
		rootfs: map[string]api.FsStats{"a": {UsedBytes: 4096, InodesUsed: 3}},
	}
	c := New(Config{NodeName: "n1", Cgroups: V2{Root: root}, ProcRoot: "testdata/proc", DuInterval: time.Hour}, src)
	if _, err := c.Latest(); !errors.Is(err, ErrNoSample) {
		t.Fatalf("Latest before a sample: err = %v, want ErrNoSample", err)
	}
	first, err := c.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Pods) != 1 || len(first.Pods[0].Containers) != 2 {
		t.Fatalf("first sample: %+v, want one pod with two containers (the unreadable one left out)", first.Pods)
	}
	if got := first.Pods[0].CPU.UsageNanoCores; got != 0 {
		t.Errorf("first sample's rate = %d, want 0 (no earlier point)", got)
	}
	// a uses 0.5s of CPU, b 0.1s, over the interval between the reads.
	writeV2(t, filepath.Join(root, "ns", "a"), 1_500_000, 5000)
	writeV2(t, filepath.Join(root, "ns", "b"), 2_100_000, 7000)
	// A window long enough that the few milliseconds between a sample's
	// time and its cgroup reads (more on a loaded machine) stay small.
	time.Sleep(400 * time.Millisecond)
	second, err := c.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := second.Pods[0]
	window := second.Time.Sub(first.Time).Seconds()
	wantA := 0.5 / window * 1e9
	gotA := float64(p.Containers[0].CPU.UsageNanoCores)
	// The per-container window is the time between its two cgroup reads,
	// a little different from the samples'.
	if gotA < wantA*0.9 || gotA > wantA*1.1 {
		t.Errorf("a's rate = %.0f nanocores, want about %.0f", gotA, wantA)
	}
	if got, want := p.CPU.UsageNanoCores, p.Containers[0].CPU.UsageNanoCores+p.Containers[1].CPU.UsageNanoCores; got != want {
		t.Errorf("pod rate %d, want the containers' sum %d", got, want)
	}
	if p.CPU.UsageCoreNanoSeconds != 3_600_000_000 {
		t.Errorf("pod cumulative CPU = %d, want 3.6e9", p.CPU.UsageCoreNanoSeconds)
	}
	if p.Memory.WorkingSetBytes != (5000-100)+(7000-100) {
		t.Errorf("pod working set = %d", p.Memory.WorkingSetBytes)
	}
	if p.Containers[0].Rootfs.UsedBytes != 4096 || p.Containers[0].Logs.UsedBytes < 8192 {
		t.Errorf("a's rootfs %+v, logs %+v", p.Containers[0].Rootfs, p.Containers[0].Logs)
	}
	if p.EphemeralStorage.UsedBytes != p.Containers[0].Rootfs.UsedBytes+p.Containers[0].Logs.UsedBytes {
		t.Errorf("ephemeral storage %d is not rootfs + logs", p.EphemeralStorage.UsedBytes)
	}
	// Writable layers are measured once per DuInterval, not every sample.
	if src.calls != 3 { // a once (then cached), b twice (a failure is not cached)
		t.Errorf("RootfsUsage called %d times in two samples, want 3", src.calls)
	}
	// The pod's network is its netns' (the process found in b's
	// cgroup.procs, testdata/proc/42), without lo.
	if p.Network.RxBytes != 1048576 || p.Network.TxBytes != 524288 {
		t.Errorf("pod network = %+v, want eth0's counters", p.Network)
	}
	if second.Window <= 0 || second.Memory.WorkingSetBytes == 0 {
		t.Errorf("node figures: window %v, memory %+v", second.Window, second.Memory)
	}
	latest, err := c.Latest()
	if err != nil || !latest.Time.Equal(second.Time) {
		t.Errorf("Latest = %v, %v; want the second sample", latest.Time, err)
	}
}

// BenchmarkSamplePerPod is the collector's cost per pod (one container
// each, cgroup files on tmpfs-like fixtures; writable layers cached as
// between two DuIntervals): what `make bench` reports as the stats cost
// per pod.
func BenchmarkSamplePerPod(b *testing.B) {
	const pods = 50
	root := b.TempDir()
	src := &fakeSource{rootfs: map[string]api.FsStats{}}
	for i := range pods {
		id := "c" + strconv.Itoa(i)
		dir := filepath.Join(root, "ns", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for name, body := range map[string]string{
			"cpu.stat": "usage_usec 1000\n", "memory.current": "5000\n", "memory.stat": "anon 1000\ninactive_file 100\n",
			"cgroup.procs": "1\n",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		src.rootfs[id] = api.FsStats{UsedBytes: 4096}
		src.pods = append(src.pods, Pod{Namespace: "default", Name: "p" + strconv.Itoa(i), UID: id,
			Containers: []Container{{Name: "app", ID: id, CgroupPath: "/ns/" + id}}})
	}
	c := New(Config{NodeName: "n", Cgroups: V2{Root: root}, DuInterval: time.Hour}, src)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pods, "ns/pod")
}
