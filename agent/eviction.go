package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// The node's housekeeping, the kubelet's eviction manager and image GC
// manager in one loop: every HousekeepingInterval it measures the
// eviction signals, keeps the MemoryPressure and DiskPressure conditions
// (advertising their NoSchedule taints in the serf tags while True),
// removes unused images when the image file system passes its high
// threshold, and, while a hard threshold is met, reclaims node-level
// resources (images) and then evicts at most one pod.

// podEvictor fails a pod as evicted: its containers are killed and not
// restarted, its phase is Failed with reason Evicted and message msg
// (agent/runtime.Runtime.Evict).
type podEvictor interface {
	Evict(ctx context.Context, uid, msg string) error
}

// podUsageSource gives the pods' current use for ranking (working set,
// writable layers, logs, emptyDirs). The runtime's EvictionUsage is a
// minimal one; a stats collector (api.NodeStats.Pods) fits as well.
type podUsageSource interface {
	EvictionUsage(ctx context.Context) ([]api.PodStats, error)
}

// deadContainerRemover removes the exited containers of evicted pods
// with their writable layers, and, once none runs, their emptyDirs and
// logs; it returns how many containers and pods' contents it removed
// (agent/runtime evict.go).
type deadContainerRemover interface {
	RemoveDeadContainers(ctx context.Context) (int, error)
}

// imageCollector removes unused images (agent/runtime imagegc.go).
type imageCollector interface {
	// ImageFsPath is a directory on containerd's root file system.
	ImageFsPath(ctx context.Context) (string, error)
	// GarbageCollectImages removes images no container of the node uses,
	// unused for at least minAge, least recently used first, until
	// bytesToFree bytes are freed; it returns what it freed.
	GarbageCollectImages(ctx context.Context, bytesToFree int64, minAge time.Duration) (int64, error)
}

// pressureState is the housekeeping's state; nil until housekeeping
// starts.
type pressureState struct {
	src     signalSource
	now     func() time.Time
	memCap  int64
	nodeFs  string
	imageFs string
	sameFs  bool // imageFs and nodeFs are one file system
	// imageFsFound is imageFs as configured or found (not the nodeFs
	// fallback): the stats report it too (nodestats.go).
	imageFsFound string
	// thresholds are Config.Eviction.Hard, parsed.
	thresholds []threshold

	// pending is the pod evicted last, until its containers are dead and
	// reclaimed or pendingUntil passes: the kubelet likewise waits for an
	// evicted pod's cleanup before it evicts another.
	pending      string
	pendingUntil time.Time

	// tagsStale: the pressure taints are not in the serf tags yet (a
	// failed SetTags); setTags replaces serf's in tests.
	tagsStale bool
	setTags   func(map[string]string) error
	// gcFailedAt is when ImageGCFailed was last recorded; zero after a
	// collection that freed enough.
	gcFailedAt time.Time

	mu      sync.Mutex
	tracker *pressureTracker
	obs     observations
}

// initPressure prepares the housekeeping state (Start calls it).
func (a *Agent) initPressure(ctx context.Context) {
	if a.pressure != nil { // set by a test
		return
	}
	ec := a.cfg.Eviction
	ts, _ := parseThresholds(ec.Hard) // checked by validate
	ps := &pressureState{src: hostSignals{}, now: time.Now, memCap: ec.MemoryCapacity, nodeFs: nodeFsPath(a.cfg.DataDir), thresholds: ts}
	if ps.memCap == 0 {
		ps.memCap, _ = meminfoField("MemTotal")
	}
	ps.imageFs = ec.ImageFsPath
	if gc, ok := a.rt.(imageCollector); ok && ps.imageFs == "" {
		p, err := gc.ImageFsPath(ctx)
		if err != nil {
			a.log.Warn("failed to find the image file system; taking the data dir's", "err", err)
		}
		ps.imageFs = p
	}
	ps.imageFsFound = ps.imageFs
	if ps.imageFs == "" {
		ps.imageFs = ps.nodeFs
	}
	ps.sameFs = sameDevice(ps.nodeFs, ps.imageFs)
	ps.tracker = newPressureTracker(ec.PressureTransitionPeriod, ps.now())
	a.pressure = ps
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return a == b
	}
	return sa.Dev == sb.Dev
}

// pressureConditions is the node's MemoryPressure and DiskPressure
// conditions (GET /v1/node's NodeStatus.Conditions, beside Ready: the
// default of WithNodeConditions, nodestats.go); nil before the first
// housekeeping round.
func (a *Agent) pressureConditions() []api.NodeCondition {
	ps := a.pressure
	if ps == nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.tracker.conditions()
}

// housekeeping runs housekeep every HousekeepingInterval until Shutdown.
func (a *Agent) housekeeping() {
	iv := a.cfg.Eviction.HousekeepingInterval
	if iv < 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		a.housekeep(a.ctx)
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// housekeep is one round.
func (a *Agent) housekeep(ctx context.Context) {
	ps := a.pressure
	obs, err := measure(ps.src, ps.memCap, ps.nodeFs, ps.imageFs)
	if err != nil {
		a.log.Warn("failed to measure eviction signals", "err", err)
	}
	met := thresholdsMet(obs, ps.thresholds)
	ps.mu.Lock()
	ps.obs = obs
	// Pods are evicted for a condition from the round after it turned
	// True: its taint has been gossiped by then, so the replacements the
	// leader schedules stay off this node.
	advertised := map[string]bool{}
	for c, on := range ps.tracker.active {
		advertised[c] = on
	}
	changed := ps.tracker.update(ps.now(), met)
	conds := ps.tracker.conditions()
	ps.mu.Unlock()
	switch {
	case changed:
		a.pressureChanged(conds)
	case ps.tagsStale:
		a.advertisePressure()
	}
	a.imageGC(ctx, obs)
	if len(met) == 0 {
		ps.pending = ""
		return
	}
	if ps.pending != "" {
		if !a.evictedPodDead(ps.pending) && ps.now().Before(ps.pendingUntil) {
			return
		}
		ps.pending = ""
	}
	if a.reclaimNodeResources(ctx, met, obs) {
		// containerd frees a removed container's snapshot in the
		// background: the next round measures what reclaiming gave.
		return
	}
	a.evictFor(ctx, met, obs, advertised)
}

// evictFor evicts one pod for the first threshold met (memory first, as
// the kubelet orders the thresholds to reclaim) whose condition was
// already advertised.
func (a *Agent) evictFor(ctx context.Context, met []threshold, obs observations, advertised map[string]bool) {
	var pick *threshold
	for i, m := range met {
		if !advertised[conditionOf(m.Signal)] {
			continue
		}
		if pick == nil || m.Signal == SignalMemoryAvailable {
			pick = &met[i]
		}
	}
	if pick != nil {
		a.evictOne(ctx, *pick, obs[pick.Signal])
	}
}

// pressureChanged advertises the pressure taints of the True conditions
// (beside the configured taints) and records the transitions.
func (a *Agent) pressureChanged(conds []api.NodeCondition) {
	taints := slices.Clone(a.cfg.Taints)
	for _, c := range conds {
		a.log.Info("node condition", "type", c.Type, "status", c.Status, "reason", c.Reason)
		if c.Status == "True" {
			taints = append(taints, spec.Taint{Key: taintOf(c.Type), Effect: spec.TaintEffectNoSchedule})
		}
		typ := api.EventNormal
		if c.Status == "True" {
			typ = api.EventWarning
		}
		a.evlog.Record(api.Event{Object: "Node/" + a.cfg.NodeName, Type: typ, Reason: "Node" + c.Reason[len("Kubelet"):], Message: "Node " + a.cfg.NodeName + " status is now: " + c.Reason})
	}
	a.mu.Lock()
	info := a.info
	info.Taints = taints
	a.info = info
	a.mu.Unlock()
	a.pressure.tagsStale = true
	a.advertisePressure()
}

// advertisePressure puts the node's info, with its pressure taints, in
// its serf tags; a failure leaves tagsStale set and the next round tries
// again (a transition is not the only chance).
func (a *Agent) advertisePressure() {
	ps := a.pressure
	if a.serf == nil && ps.setTags == nil {
		ps.tagsStale = false
		return
	}
	setTags := ps.setTags
	if setTags == nil {
		setTags = a.serf.SetTags
	}
	tags, err := api.EncodeTags(a.Info())
	if err == nil {
		err = setTags(tags)
	}
	if err != nil {
		a.log.Warn("failed to advertise pressure taints; retrying next round", "err", err)
		return
	}
	ps.tagsStale = false
}

// imageGC removes unused images once the image file system's use reaches
// ImageGCHighThresholdPercent, down to ImageGCLowThresholdPercent (the
// kubelet's image GC manager).
func (a *Agent) imageGC(ctx context.Context, obs observations) {
	gc, ok := a.rt.(imageCollector)
	o, have := obs[SignalImageFsAvailable]
	ec := a.cfg.Eviction
	if !ok || !have || o.Capacity == 0 || ec.ImageGCHighThresholdPercent >= 100 {
		return
	}
	usage := 100 - o.Available*100/o.Capacity
	if usage < int64(ec.ImageGCHighThresholdPercent) {
		return
	}
	toFree := o.Capacity*int64(100-ec.ImageGCLowThresholdPercent)/100 - o.Available
	freed, err := gc.GarbageCollectImages(ctx, toFree, ec.ImageMinimumGCAge)
	lvl := slog.LevelDebug
	if freed > 0 {
		lvl = slog.LevelInfo
	}
	a.log.Log(ctx, lvl, "image garbage collection", "usage%", usage, "toFree", toFree, "freed", freed, "err", err)
	if err == nil && freed < toFree {
		err = fmt.Errorf("freed %d bytes of the %d wanted", freed, toFree)
	}
	ps := a.pressure
	if err == nil {
		ps.gcFailedAt = time.Time{}
		return
	}
	if now := ps.now(); ps.gcFailedAt.IsZero() || now.Sub(ps.gcFailedAt) >= gcFailedEvery {
		ps.gcFailedAt = now
		a.evlog.Record(api.Event{Time: now.UTC(), Object: "Node/" + a.cfg.NodeName, Type: api.EventWarning, Reason: api.EventImageGCFailed,
			Message: "failed to garbage collect required amount of images. Attempted to free " + quantity(toFree, "") + ", but freed " + quantity(freed, "") + ": " + err.Error()})
	}
}

// gcFailedEvery spaces the ImageGCFailed events of an image file system
// that stays over the high threshold with nothing left to remove (the
// kubelet's image GC runs, and fails, every 5 minutes).
const gcFailedEvery = 5 * time.Minute

// reclaimNodeResources frees what is the node's rather than a pod's
// before a threshold makes it evict: evicted pods' dead containers,
// emptyDirs (disk and tmpfs) and logs, for any signal, and unused images
// when a disk signal's file system holds them. It reports whether it
// freed anything (the next round then measures what that gave before
// evicting again).
func (a *Agent) reclaimNodeResources(ctx context.Context, met []threshold, obs observations) bool {
	removed := 0
	if dc, ok := a.rt.(deadContainerRemover); ok {
		n, err := dc.RemoveDeadContainers(ctx)
		if err != nil {
			a.log.Warn("failed to reclaim evicted pods' containers and content", "err", err)
		}
		removed = n
	}
	gc, ok := a.rt.(imageCollector)
	if !ok {
		return removed > 0
	}
	var toFree int64
	for _, t := range met {
		images := t.Signal == SignalImageFsAvailable || t.Signal == SignalNodeFsAvailable && a.pressure.sameFs
		if !images {
			continue
		}
		o := obs[t.Signal]
		toFree = max(toFree, t.limit(o.Capacity)-o.Available)
	}
	if toFree <= 0 {
		return removed > 0
	}
	freed, err := gc.GarbageCollectImages(ctx, toFree, a.cfg.Eviction.ImageMinimumGCAge)
	if err != nil || freed < toFree {
		msg := fmt.Sprintf("Failed to free %s of disk space; freed %s", quantity(toFree, ""), quantity(freed, ""))
		if err != nil {
			msg += ": " + err.Error()
		}
		a.evlog.Record(api.Event{Object: "Node/" + a.cfg.NodeName, Type: api.EventWarning, Reason: api.EventFreeDiskSpaceFail, Message: msg})
	}
	return freed > 0 || removed > 0
}

// evictOne evicts the first pod of the kubelet's ranking for t's
// resource; one per round, so the next round measures again.
func (a *Agent) evictOne(ctx context.Context, t threshold, o observation) {
	ev, ok := a.rt.(podEvictor)
	if !ok {
		return
	}
	cands := a.evictionCandidates(ctx)
	if len(cands) == 0 {
		a.log.Warn("under pressure with no pod to evict", "signal", t.Signal, "threshold", t.Raw)
		return
	}
	rankForEviction(cands, resourceOf(t.Signal))
	c := &cands[0]
	msg := evictionMessage(t, o, c)
	a.log.Warn("evicting pod", "pod", c.Pod.Namespace+"/"+c.Pod.Name, "uid", c.Pod.UID, "signal", t.Signal, "message", msg)
	if err := ev.Evict(ctx, c.Pod.UID, msg); err != nil {
		a.log.Warn("failed to evict pod", "pod", c.Pod.Namespace+"/"+c.Pod.Name, "err", err)
		return
	}
	a.pressure.pending, a.pressure.pendingUntil = c.Pod.UID, a.pressure.now().Add(podCleanupTimeout)
}

// podCleanupTimeout bounds the wait for an evicted pod's containers to
// die (the kubelet's podCleanupTimeout).
const podCleanupTimeout = 30 * time.Second

// evictedPodDead says whether the pod of uid has no running container
// left (or is gone).
func (a *Agent) evictedPodDead(uid string) bool {
	for _, st := range a.rt.Status() {
		if st.UID != uid {
			continue
		}
		for _, c := range append(slices.Clone(st.InitContainers), st.Containers...) {
			if c.State.Running != nil {
				return false
			}
		}
	}
	return true
}

// evictionCandidates are the node's pods still running or starting (not
// finished, not evicted, not being removed), with their use.
func (a *Agent) evictionCandidates(ctx context.Context) []evictionCandidate {
	live := map[string]bool{}
	for _, st := range a.rt.Status() {
		if st.Phase != api.PodFailed && st.Phase != api.PodSucceeded && st.DeletionTimestamp == nil && st.Reason != api.ReasonEvicted {
			live[st.UID] = true
		}
	}
	usage := map[string]api.PodStats{}
	if us, ok := a.rt.(podUsageSource); ok {
		stats, err := us.EvictionUsage(ctx)
		if err != nil {
			a.log.Warn("failed to read pods' use for eviction", "err", err)
		}
		for _, s := range stats {
			usage[s.UID] = s
		}
	}
	var out []evictionCandidate
	for _, p := range a.rt.Pods() {
		if live[p.UID] {
			out = append(out, evictionCandidate{Pod: p, Stats: usage[p.UID]})
		}
	}
	return out
}
