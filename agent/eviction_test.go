package agent

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestParseEvictionHard(t *testing.T) {
	got, err := ParseEvictionHard("memory.available<100Mi, nodefs.available<10%")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{SignalMemoryAvailable: "100Mi", SignalNodeFsAvailable: "10%"}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	ts, err := parseThresholds(got)
	if err != nil || len(ts) != 2 {
		t.Fatalf("parseThresholds = %+v, %v", ts, err)
	}
	if ts[0].Signal != SignalMemoryAvailable || ts[0].Quantity != 100<<20 || ts[0].limit(1<<40) != 100<<20 {
		t.Errorf("memory threshold %+v", ts[0])
	}
	if ts[1].Percent != 10 || ts[1].limit(1000) != 100 {
		t.Errorf("nodefs threshold %+v", ts[1])
	}
	for _, bad := range []string{"memory.avail<1Gi", "nodefs.available<110%", "nodefs.available<x%", "memory.available<-1", "memory.available=1Gi"} {
		if _, err := ParseEvictionHard(bad); err == nil {
			t.Errorf("ParseEvictionHard(%q) succeeded", bad)
		}
	}
	// A zero threshold turns its signal off.
	if ts, _ := parseThresholds(map[string]string{SignalNodeFsAvailable: "0%"}); len(ts) != 0 {
		t.Errorf("0%% kept: %+v", ts)
	}
	var c EvictionConfig
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if ts, _ := parseThresholds(c.Hard); len(ts) != 4 || c.ImageGCHighThresholdPercent != 85 || c.ImageGCLowThresholdPercent != 80 ||
		c.ImageMinimumGCAge != 2*time.Minute || c.PressureTransitionPeriod != 5*time.Minute || c.HousekeepingInterval != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	c = EvictionConfig{ImageGCHighThresholdPercent: 70, ImageGCLowThresholdPercent: 75}
	if err := c.validate(); !errors.Is(err, errBadImageGC) {
		t.Errorf("low above high: %v", err)
	}
}

func TestPressureTransitions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPressureTracker(time.Minute, t0)
	disk := []threshold{{Signal: SignalNodeFsAvailable, Percent: 10}}
	status := func() map[string]string {
		out := map[string]string{}
		for _, c := range p.conditions() {
			out[c.Type] = c.Status
		}
		return out
	}
	if p.update(t0.Add(time.Second), nil) || status()[api.NodeDiskPressure] != "False" {
		t.Fatalf("no pressure: %v", status())
	}
	if !p.update(t0.Add(2*time.Second), disk) || status()[api.NodeDiskPressure] != "True" || status()[api.NodeMemoryPressure] != "False" {
		t.Fatalf("disk threshold met: %v", status())
	}
	// Back over the threshold: True until the period passes.
	if p.update(t0.Add(30*time.Second), nil) || status()[api.NodeDiskPressure] != "True" {
		t.Fatalf("within the transition period: %v", status())
	}
	// Met again: the period starts over.
	p.update(t0.Add(50*time.Second), disk)
	if p.update(t0.Add(100*time.Second), nil) || status()[api.NodeDiskPressure] != "True" {
		t.Fatalf("period restarted by a new observation: %v", status())
	}
	if !p.update(t0.Add(111*time.Second), nil) || status()[api.NodeDiskPressure] != "False" {
		t.Fatalf("after the period: %v", status())
	}
	for _, c := range p.conditions() {
		if c.Type == api.NodeDiskPressure && !c.LastTransitionTime.Equal(t0.Add(111*time.Second)) {
			t.Errorf("last transition %v", c.LastTransitionTime)
		}
	}
}

// rankPod builds a pod whose containers request mem (empty: nothing).
func rankPod(name string, mem ...string) api.Pod {
	p := api.Pod{UID: "uid-" + name, Namespace: "default", Name: name}
	for i, m := range mem {
		c := spec.Container{Name: "c" + string(rune('0'+i))}
		if m != "" {
			c.Resources.Requests = spec.ResourceList{spec.ResourceMemory: resource.MustParse(m)}
		}
		p.Spec.Containers = append(p.Spec.Containers, c)
	}
	return p
}

func usage(p api.Pod, mem, disk uint64) evictionCandidate {
	s := api.PodStats{UID: p.UID, Namespace: p.Namespace, Name: p.Name}
	s.Memory.WorkingSetBytes = mem
	s.EphemeralStorage.UsedBytes = disk
	s.Containers = []api.ContainerStats{{Name: "c0", Memory: api.MemoryStats{WorkingSetBytes: mem}, Rootfs: api.FsStats{UsedBytes: disk}}}
	return evictionCandidate{Pod: p, Stats: s}
}

func TestRankForEviction(t *testing.T) {
	const mi = 1 << 20
	cands := []evictionCandidate{
		usage(rankPod("burstable-within", "500Mi"), 400*mi, 0),
		usage(rankPod("burstable-over", "100Mi"), 300*mi, 0),
		usage(rankPod("besteffort-small", ""), 50*mi, 0),
		usage(rankPod("burstable-far-within", "1Gi"), 100*mi, 0),
		usage(rankPod("besteffort-big", ""), 150*mi, 0),
	}
	rankForEviction(cands, spec.ResourceMemory)
	var got []string
	for _, c := range cands {
		got = append(got, c.Pod.Name)
	}
	// Over requests first, largest excess first; then the others by
	// (use − request), the one furthest within its requests last.
	want := []string{"burstable-over", "besteffort-big", "besteffort-small", "burstable-within", "burstable-far-within"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("memory order %v, want %v", got, want)
	}
	// Disk: nobody requests ephemeral storage, so the largest user goes.
	cands = []evictionCandidate{usage(rankPod("a", "1Gi"), 0, 10*mi), usage(rankPod("b", ""), 0, 200*mi), usage(rankPod("c", ""), 0, 0)}
	rankForEviction(cands, spec.ResourceEphemeralStorage)
	if cands[0].Pod.Name != "b" || cands[2].Pod.Name != "c" {
		t.Errorf("disk order %s %s %s", cands[0].Pod.Name, cands[1].Pod.Name, cands[2].Pod.Name)
	}
	msg := evictionMessage(threshold{Signal: SignalMemoryAvailable, Quantity: 100 * mi, Raw: "100Mi"},
		observation{Available: 80 * mi, Capacity: 1 << 30}, &evictionCandidate{Pod: rankPod("x", ""), Stats: usage(rankPod("x", ""), 200*mi, 0).Stats})
	if want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. Container c0 was using 200Mi, request is 0, has larger consumption of memory."; msg != want {
		t.Errorf("message\n%s\nwant\n%s", msg, want)
	}
}

// fakeSignals is a signalSource with settable figures.
type fakeSignals struct {
	mu   sync.Mutex
	ws   int64
	fs   fsStat
	errs error
}

func (f *fakeSignals) MemoryWorkingSet() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ws, f.errs
}

func (f *fakeSignals) Fs(string) (fsStat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fs, f.errs
}

func (f *fakeSignals) setFsAvailable(avail int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fs.Available = avail
}

// evictingRuntime is the fake runtime with eviction, usage and image GC.
type evictingRuntime struct {
	*fakeRuntime
	usage   map[string]api.PodStats
	evicted []string
	gcAsked []int64
}

func (e *evictingRuntime) Evict(_ context.Context, uid, msg string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evicted = append(e.evicted, uid+": "+msg)
	for i := range e.status {
		if e.status[i].UID == uid {
			e.status[i].Phase, e.status[i].Reason, e.status[i].Message = api.PodFailed, api.ReasonEvicted, msg
		}
	}
	return nil
}

func (e *evictingRuntime) EvictionUsage(context.Context) ([]api.PodStats, error) {
	var out []api.PodStats
	for _, s := range e.usage {
		out = append(out, s)
	}
	return out, nil
}

func (e *evictingRuntime) ImageFsPath(context.Context) (string, error) { return "", nil }

func (e *evictingRuntime) GarbageCollectImages(_ context.Context, n int64, _ time.Duration) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gcAsked = append(e.gcAsked, n)
	return 0, nil
}

// TestHousekeepingDiskPressure: under disk pressure the agent sets
// DiskPressure and its taint (in its serf tags) in the first round, asks
// image GC to free the space, and from the next round evicts the
// BestEffort pod, one per round; the condition and taint go once the
// transition period has passed without pressure.
func TestHousekeepingDiskPressure(t *testing.T) {
	const gi = 1 << 30
	cfg := testConfig(t, "n1")
	cfg.Eviction.HousekeepingInterval = -1 // rounds driven by the test
	cfg.Eviction.PressureTransitionPeriod = time.Minute
	rt := &evictingRuntime{fakeRuntime: newFakeRuntime()}
	a := startAgent(t, cfg, rt)
	burst, best := rankPod("burstable", "64Mi"), rankPod("besteffort", "")
	if err := rt.Sync(context.Background(), []api.Pod{burst, best}); err != nil {
		t.Fatal(err)
	}
	rt.usage = map[string]api.PodStats{burst.UID: usage(burst, 32<<20, 300<<20).Stats, best.UID: usage(best, 0, 100<<20).Stats}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &fakeSignals{ws: 1 << 30, fs: fsStat{Capacity: 10 * gi, Available: gi / 2, Inodes: 1000, InodesFree: 900}}
	a.pressure = &pressureState{src: src, now: func() time.Time { return now }, memCap: 8 * gi, nodeFs: "/n", imageFs: "/n", sameFs: true,
		tracker: newPressureTracker(cfg.Eviction.PressureTransitionPeriod, now), thresholds: a.pressure.thresholds}
	ctx := context.Background()

	a.housekeep(ctx)
	if c := condition(a, api.NodeDiskPressure); c.Status != "True" {
		t.Fatalf("DiskPressure %+v", c)
	}
	if c := condition(a, api.NodeMemoryPressure); c.Status != "False" {
		t.Errorf("MemoryPressure %+v", c)
	}
	if !hasTaint(a.Info().Taints, api.TaintDiskPressure) || !strings.Contains(a.serf.LocalMember().Tags[api.TagTaints], api.TaintDiskPressure+":NoSchedule") {
		t.Errorf("taints %v, tags %v", a.Info().Taints, a.serf.LocalMember().Tags)
	}
	if len(rt.evicted) != 0 {
		t.Errorf("evicted before the taint was advertised: %v", rt.evicted)
	}
	// Image GC asked for what nodefs needs (10% of 10Gi − 0.5Gi) and
	// also what brings imagefs to 80%.
	if len(rt.gcAsked) == 0 || !events(a, api.EventFreeDiskSpaceFail) || !events(a, api.EventImageGCFailed) {
		t.Errorf("image GC asked %v; events %+v", rt.gcAsked, a.evlog.ring)
	}

	now = now.Add(10 * time.Second)
	a.housekeep(ctx)
	// Neither requests ephemeral storage, so both exceed their requests
	// and the larger user goes first: the Burstable pod (its memory
	// request does not count for disk).
	if len(rt.evicted) != 1 || !strings.HasPrefix(rt.evicted[0], burst.UID+": The node was low on resource: ephemeral-storage.") {
		t.Fatalf("evicted %v", rt.evicted)
	}
	now = now.Add(10 * time.Second)
	a.housekeep(ctx)
	if len(rt.evicted) != 2 || !strings.HasPrefix(rt.evicted[1], best.UID+":") {
		t.Fatalf("second round evicted %v", rt.evicted)
	}
	// Pressure gone: True for the transition period, then False.
	src.setFsAvailable(5 * gi)
	now = now.Add(10 * time.Second)
	a.housekeep(ctx)
	if c := condition(a, api.NodeDiskPressure); c.Status != "True" {
		t.Fatalf("DiskPressure within the period %+v", c)
	}
	now = now.Add(time.Minute)
	a.housekeep(ctx)
	if c := condition(a, api.NodeDiskPressure); c.Status != "False" || hasTaint(a.Info().Taints, api.TaintDiskPressure) {
		t.Fatalf("after the period: %+v, taints %v", c, a.Info().Taints)
	}
	if len(rt.evicted) != 2 {
		t.Errorf("evicted without pressure: %v", rt.evicted)
	}
}

// TestHousekeepingBestEffortFirst: with requests that tell them apart,
// the BestEffort pod goes before a Burstable one within its requests.
func TestHousekeepingBestEffortFirst(t *testing.T) {
	const mi = 1 << 20
	cfg := testConfig(t, "n1")
	cfg.Eviction.HousekeepingInterval = -1
	cfg.Eviction.Hard = map[string]string{SignalMemoryAvailable: "100Mi"}
	rt := &evictingRuntime{fakeRuntime: newFakeRuntime()}
	a := startAgent(t, cfg, rt)
	burst, best := rankPod("burstable", "512Mi"), rankPod("besteffort", "")
	_ = rt.Sync(context.Background(), []api.Pod{burst, best})
	rt.usage = map[string]api.PodStats{burst.UID: usage(burst, 400*mi, 0).Stats, best.UID: usage(best, 50*mi, 0).Stats}
	now := time.Now()
	src := &fakeSignals{ws: 950 * mi, fs: fsStat{Capacity: 1 << 40, Available: 1 << 39}}
	a.pressure = &pressureState{src: src, now: func() time.Time { return now }, memCap: 1024 * mi, nodeFs: "/n", imageFs: "/n",
		tracker: newPressureTracker(time.Minute, now), thresholds: a.pressure.thresholds}
	a.housekeep(context.Background())
	a.housekeep(context.Background())
	if c := condition(a, api.NodeMemoryPressure); c.Status != "True" || !hasTaint(a.Info().Taints, api.TaintMemoryPressure) {
		t.Fatalf("MemoryPressure %+v, taints %v", c, a.Info().Taints)
	}
	if len(rt.evicted) != 1 || !strings.HasPrefix(rt.evicted[0], best.UID+": The node was low on resource: memory. Threshold quantity: 100Mi, available: 74Mi. Container c0 was using 50Mi, request is 0") {
		t.Fatalf("evicted %v", rt.evicted)
	}
	if len(rt.gcAsked) != 0 {
		t.Errorf("image GC for memory pressure: %v", rt.gcAsked)
	}
}

func condition(a *Agent, typ string) api.NodeCondition {
	for _, c := range a.nodeConditions() {
		if c.Type == typ {
			return c
		}
	}
	return api.NodeCondition{}
}

func hasTaint(ts []spec.Taint, key string) bool {
	for _, t := range ts {
		if t.Key == key && t.Effect == spec.TaintEffectNoSchedule {
			return true
		}
	}
	return false
}

func events(a *Agent, reason string) bool {
	evs, _ := a.evlog.After(0)
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// reclaimingRuntime also reclaims evicted pods' content: reclaim runs on
// each call and reports how much it removed.
type reclaimingRuntime struct {
	*evictingRuntime
	reclaims int
	reclaim  func() int
}

func (r *reclaimingRuntime) RemoveDeadContainers(context.Context) (int, error) {
	r.reclaims++
	return r.reclaim(), nil
}

// TestHousekeepingMemoryReclaimsEvicted: under memory pressure an evicted
// pod's content (its tmpfs emptyDirs) is reclaimed once its containers
// are dead, and what that freed is measured before another pod is
// evicted; a running init container keeps an evicted pod alive.
func TestHousekeepingMemoryReclaimsEvicted(t *testing.T) {
	const mi = 1 << 20
	cfg := testConfig(t, "n1")
	cfg.Eviction.HousekeepingInterval = -1
	cfg.Eviction.Hard = map[string]string{SignalMemoryAvailable: "100Mi"}
	src := &fakeSignals{ws: 950 * mi, fs: fsStat{Capacity: 1 << 40, Available: 1 << 39}}
	rt := &reclaimingRuntime{evictingRuntime: &evictingRuntime{fakeRuntime: newFakeRuntime()}}
	rt.reclaim = func() int {
		if len(rt.evicted) == 0 {
			return 0
		}
		src.mu.Lock()
		defer src.mu.Unlock()
		if src.ws == 950*mi { // the evicted pod's tmpfs emptyDir goes
			src.ws = 900 * mi
			return 1
		}
		return 0
	}
	a := startAgent(t, cfg, rt)
	burst, best := rankPod("burstable", "512Mi"), rankPod("besteffort", "")
	_ = rt.Sync(context.Background(), []api.Pod{burst, best})
	rt.usage = map[string]api.PodStats{burst.UID: usage(burst, 400*mi, 0).Stats, best.UID: usage(best, 50*mi, 0).Stats}
	now := time.Now()
	a.pressure = &pressureState{src: src, now: func() time.Time { return now }, memCap: 1024 * mi, nodeFs: "/n", imageFs: "/n",
		tracker: newPressureTracker(time.Minute, now), thresholds: a.pressure.thresholds}
	ctx := context.Background()
	a.housekeep(ctx)
	a.housekeep(ctx)
	if len(rt.evicted) != 1 || !strings.HasPrefix(rt.evicted[0], best.UID+":") {
		t.Fatalf("evicted %v", rt.evicted)
	}
	// Its init container still runs: wait for it.
	st := rt.Status()
	withInit := slices.Clone(st)
	for i := range withInit {
		if withInit[i].UID == best.UID {
			withInit[i].InitContainers = []api.ContainerStatus{{Name: "init", State: api.ContainerState{Running: &api.StateRunning{}}}}
		}
	}
	rt.setStatus(withInit)
	if a.evictedPodDead(best.UID) {
		t.Errorf("evicted pod with a running init container counted as dead")
	}
	rt.setStatus(st)
	for range 3 {
		now = now.Add(10 * time.Second)
		a.housekeep(ctx)
	}
	if len(rt.evicted) != 1 || rt.reclaims == 0 {
		t.Errorf("evicted %v after reclaiming %d times", rt.evicted, rt.reclaims)
	}
}

// TestHousekeepingRetriesTags: a failed advertisement of the pressure
// taint is retried each round, not only at the next transition.
func TestHousekeepingRetriesTags(t *testing.T) {
	const mi = 1 << 20
	cfg := testConfig(t, "n1")
	cfg.Eviction.HousekeepingInterval = -1
	cfg.Eviction.Hard = map[string]string{SignalMemoryAvailable: "100Mi"}
	rt := &evictingRuntime{fakeRuntime: newFakeRuntime()}
	a := startAgent(t, cfg, rt)
	now := time.Now()
	var calls []string
	fail := true
	a.pressure = &pressureState{src: &fakeSignals{ws: 950 * mi, fs: fsStat{Capacity: 1 << 40, Available: 1 << 39}}, now: func() time.Time { return now },
		memCap: 1024 * mi, nodeFs: "/n", imageFs: "/n", tracker: newPressureTracker(time.Minute, now), thresholds: a.pressure.thresholds,
		setTags: func(tags map[string]string) error {
			calls = append(calls, tags[api.TagTaints])
			if fail {
				return errors.New("serf is busy")
			}
			return nil
		}}
	a.housekeep(context.Background())
	if len(calls) != 1 {
		t.Fatalf("tags set %d times in the first round", len(calls))
	}
	fail = false
	a.housekeep(context.Background())
	a.housekeep(context.Background())
	if len(calls) != 2 || !strings.Contains(calls[1], api.TaintMemoryPressure) {
		t.Errorf("tags set %q; want one retry with the taint", calls)
	}
}

// TestImageGCFailedRateLimited: an image file system that stays over the
// high threshold with nothing to remove gives one ImageGCFailed event per
// gcFailedEvery, not one a round.
func TestImageGCFailedRateLimited(t *testing.T) {
	const gi = 1 << 30
	cfg := testConfig(t, "n1")
	cfg.Eviction.HousekeepingInterval = -1
	cfg.Eviction.Hard = map[string]string{SignalMemoryAvailable: "1Mi"}
	rt := &evictingRuntime{fakeRuntime: newFakeRuntime()}
	a := startAgent(t, cfg, rt)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.pressure = &pressureState{src: &fakeSignals{ws: gi, fs: fsStat{Capacity: 10 * gi, Available: gi}}, now: func() time.Time { return now },
		memCap: 8 * gi, nodeFs: "/n", imageFs: "/n", tracker: newPressureTracker(time.Minute, now), thresholds: a.pressure.thresholds}
	count := func() int {
		evs, _ := a.evlog.After(0)
		n := 0
		for _, e := range evs {
			if e.Reason == api.EventImageGCFailed {
				n++
			}
		}
		return n
	}
	for range 10 {
		a.housekeep(context.Background())
		now = now.Add(10 * time.Second)
	}
	if n := count(); n != 1 || len(rt.gcAsked) != 10 {
		t.Errorf("%d ImageGCFailed events in 10 rounds (GC asked %d times); want 1", n, len(rt.gcAsked))
	}
	now = now.Add(gcFailedEvery)
	a.housekeep(context.Background())
	if n := count(); n != 2 {
		t.Errorf("%d ImageGCFailed events after %v; want 2", n, gcFailedEvery)
	}
}
