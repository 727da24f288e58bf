package stats

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
)

func TestV1Read(t *testing.T) {
	r := DetectCgroups("testdata/v1")
	if r.Version() != 1 {
		t.Fatalf("DetectCgroups(testdata/v1) is v%d, want v1", r.Version())
	}
	got, err := r.Read("/ns/c1")
	if err != nil {
		t.Fatal(err)
	}
	want := CgroupStats{
		CPUUsageNanos: 123456789000,
		MemoryUsage:   104857600,
		WorkingSet:    104857600 - 31457280, // total_inactive_file, not inactive_file
		RSS:           62914560,             // total_rss
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("v1 Read (-want +got):\n%s", diff)
	}
	if _, err := r.Read("/ns/gone"); err == nil {
		t.Error("Read of a missing cgroup succeeded")
	}
}

func TestV2Read(t *testing.T) {
	r := DetectCgroups("testdata/v2")
	if r.Version() != 2 {
		t.Fatalf("DetectCgroups(testdata/v2) is v%d, want v2", r.Version())
	}
	got, err := r.Read("/ns/c1")
	if err != nil {
		t.Fatal(err)
	}
	want := CgroupStats{
		CPUUsageNanos: 2500000 * 1000,
		MemoryUsage:   209715200,
		WorkingSet:    209715200 - 52428800,
		RSS:           104857600,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("v2 Read (-want +got):\n%s", diff)
	}
}

func TestWorkingSetNeverNegative(t *testing.T) {
	dir := t.TempDir()
	cg := filepath.Join(dir, "x")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"cpu.stat":       "usage_usec 1\n",
		"memory.current": "100\n",
		"memory.stat":    "anon 10\ninactive_file 500\n",
	} {
		if err := os.WriteFile(filepath.Join(cg, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := V2{Root: dir}.Read("/x")
	if err != nil {
		t.Fatal(err)
	}
	if got.WorkingSet != 0 {
		t.Errorf("working set = %d, want 0 when inactive_file exceeds usage", got.WorkingSet)
	}
}

func TestProcParsers(t *testing.T) {
	b, err := os.ReadFile("testdata/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	busy, err := parseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	// user+nice+system+irq+softirq+steal = 1000+50+300+10+20+5 ticks of 10ms.
	if want := uint64(1385) * 10_000_000; busy != want {
		t.Errorf("busy = %d, want %d", busy, want)
	}
	if _, err := parseProcStat([]byte("intr 0\n")); err == nil {
		t.Error("parseProcStat without a cpu line succeeded")
	}

	b, err = os.ReadFile("testdata/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseMeminfo(b)
	if err != nil {
		t.Fatal(err)
	}
	const k = 1024
	want := api.MemoryStats{
		UsageBytes:      6000000 * k,
		WorkingSetBytes: 4500000 * k,
		RSSBytes:        2500000 * k,
		AvailableBytes:  3500000 * k,
	}
	if diff := cmp.Diff(want, m.stats()); diff != "" {
		t.Errorf("meminfo (-want +got):\n%s", diff)
	}

	b, err = os.ReadFile("testdata/proc/42/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	n, err := parseNetDev(b, skipLoopback)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.NetworkStats{RxBytes: 1048576, TxBytes: 524288, RxErrors: 2, TxErrors: 1}, n); diff != "" {
		t.Errorf("net/dev (-want +got):\n%s", diff)
	}
}
