package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// defaultGracePeriod is Kubernetes' terminationGracePeriodSeconds default.
const defaultGracePeriod = 30 * time.Second

// podWorker owns one pod incarnation: its sandbox (netns, CNI attachment,
// hosts files), one goroutine per container, and the pod's removal.
type podWorker struct {
	r    *Runtime
	pod  api.Pod
	id   string // podID(pod.UID)
	hash string
	dir  string
	// prev is a worker for the same UID (an older spec) that must finish
	// its cleanup before this one creates anything.
	prev *podWorker

	// sandboxReady is set when adopting a pod whose netns still exists.
	sandboxReady bool

	// sandboxUp is closed once the netns, its IP and the files containers
	// mount exist: containers pull and create meanwhile, and wait for it
	// only to start their task.
	sandboxUp chan struct{}

	stopCh   chan struct{} // closed to stop and remove the pod
	stopOnce sync.Once
	done     chan struct{} // closed when run returns

	recMu sync.Mutex // serializes record writes

	// Guarded by r.mu.
	ip        string
	startTime *time.Time
	reason    string
	message   string
	ctrs      []*ctr
	// inits are the init containers (initcontainers.go); initDone is
	// closed once they all succeeded (at once without any).
	inits    []*ctr
	initDone chan struct{}
	// deletedAt is when the pod's removal began (terminating.go).
	deletedAt *time.Time
	conds     []api.Condition // conditions.go

	vols podVolumes // volumes.go
}

// ctr is one container of a pod.
type ctr struct {
	spec spec.Container
	id   string // containerd container ID
	// adopted is a task found running by New, supervised again as is.
	adopted *running
	// adoptedExit is a termination found by New with no task: the container
	// exited while no agent ran, or before the last one stopped.
	adoptedExit *api.StateTerminated
	// mayExist is false only for a container this process has not
	// created yet in a pod it created: then there is nothing to remove
	// before creating it (two containerd calls saved per start).
	mayExist bool

	// Guarded by r.mu.
	st        api.ContainerStatus
	crashes   int
	startedAt time.Time
	probe     probeState // probe.go

	initState // initcontainers.go
}

func newPodWorker(r *Runtime, p api.Pod, prev *podWorker) *podWorker {
	id := podID(p.UID)
	w := &podWorker{
		r:         r,
		pod:       p,
		id:        id,
		hash:      specHash(p),
		dir:       filepath.Join(podsDir(r.cfg.DataDir), id),
		prev:      prev,
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
		sandboxUp: make(chan struct{}),
	}
	now := time.Now().UTC().Truncate(time.Second)
	w.startTime = &now
	for _, cs := range p.Spec.Containers {
		w.ctrs = append(w.ctrs, &ctr{
			spec: cs,
			id:   id + "-" + cs.Name,
			st: api.ContainerStatus{
				Name:  cs.Name,
				Image: cs.Image,
				State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonContainerCreating}},
			},
		})
	}
	w.addInits(p)
	return w
}

func (w *podWorker) podIP() string {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.ip
}

// stop begins the pod's removal; r.mu is held.
func (w *podWorker) stop() {
	w.stopOnce.Do(func() {
		w.markDeletedLocked()
		close(w.stopCh)
	})
}

func (w *podWorker) stopping() bool {
	select {
	case <-w.stopCh:
		return true
	default:
		return false
	}
}

func (w *podWorker) meta() podMeta {
	return podMeta{UID: w.pod.UID, Namespace: w.pod.Namespace, Name: w.pod.Name}
}

func (w *podWorker) hostname() string {
	if w.pod.Spec.Hostname != "" {
		return w.pod.Spec.Hostname
	}
	return truncateHostname(w.pod.Name)
}

// truncateHostname cuts a pod name to a DNS label's 63 bytes, without a
// trailing '-' or '.', as the kubelet does for the default hostname.
func truncateHostname(name string) string {
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:63], "-.")
}

func (w *podWorker) gracePeriod() time.Duration {
	if g := w.pod.Spec.TerminationGracePeriodSeconds; g != nil && *g >= 0 {
		return time.Duration(*g) * time.Second
	}
	return defaultGracePeriod
}

func (w *podWorker) restartPolicy() string {
	if w.vols.evicted.Load() {
		return spec.RestartPolicyNever
	}
	if p := w.pod.Spec.RestartPolicy; p != "" {
		return p
	}
	return spec.RestartPolicyAlways
}

// sleep waits d; false if the pod is stopping or the runtime closing.
func (w *podWorker) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return !w.stopping() && ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stopCh:
		return false
	case <-ctx.Done():
		return false
	}
}

// update applies f to the pod's state under r.mu, notifies watchers and
// persists the record.
func (w *podWorker) update(f func()) {
	// recMu is held from the snapshot to the write, so that concurrent
	// updates of two containers are written in the order they were taken.
	w.recMu.Lock()
	defer w.recMu.Unlock()
	w.r.mu.Lock()
	f()
	w.refreshConditionsLocked()
	w.r.notifyLocked()
	rec := w.recordLocked()
	w.r.mu.Unlock()
	w.saveRecordLocked(rec)
}

func (w *podWorker) recordLocked() podRecord {
	rec := podRecord{Pod: w.pod, Hash: w.hash, PodIP: w.ip, StartTime: w.startTime, Containers: map[string]containerRecord{}, Conditions: w.conds}
	for _, c := range w.allCtrs() {
		cr := containerRecord{
			RestartCount: c.st.RestartCount,
			StartedAt:    c.startedAt,
			LastState:    c.st.LastTerminationState,
			Crashes:      c.crashes,
			Terminated:   c.st.State.Terminated,
		}
		if t := c.st.LastTerminationState.Terminated; t != nil && c.st.State.Waiting != nil && c.st.State.Waiting.Reason == api.ReasonCrashLoopBackOff {
			// In back-off: the exit that caused it.
			cr.Terminated = t
		}
		rec.Containers[c.spec.Name] = cr
	}
	return rec
}

// saveRecordLocked writes rec; w.recMu must be held.
func (w *podWorker) saveRecordLocked(rec podRecord) {
	if w.stopping() {
		// Being removed: the directory may be going away.
		if _, err := os.Stat(w.dir); err != nil {
			return
		}
	}
	if err := writeRecord(w.dir, rec); err != nil {
		w.r.log.Warn("failed to save pod record", "pod", w.pod.Namespace+"/"+w.pod.Name, "err", err)
	}
}

// run is the pod's worker goroutine.
func (w *podWorker) run() {
	defer close(w.done)
	ctx := w.r.ctx
	log := w.r.log.With("pod", w.pod.Namespace+"/"+w.pod.Name, "uid", w.pod.UID)
	if w.prev != nil {
		select {
		case <-w.prev.done:
		case <-ctx.Done():
			return
		}
		// Let the superseded worker go: a pod whose spec changes often
		// must not keep a chain of them.
		w.prev = nil
	}
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		log.Error("failed to create pod dir", "err", err)
	}
	w.update(func() {})
	var wg sync.WaitGroup
	for _, c := range w.ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.runContainer(ctx, c)
		}()
	}
	w.startInits(ctx, &wg)
	// A pod removed before its sandbox exists gets none.
	if !w.sandboxReady && w.waitNetwork(ctx) {
		start := time.Now()
		for attempt := 1; ; attempt++ {
			err := w.setupSandbox(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil && !w.stopping() {
				break
			}
			log.Warn("failed to create pod sandbox", "attempt", attempt, "err", err)
			w.update(func() { w.reason, w.message = "FailedCreatePodSandBox", err.Error() })
			w.event("", api.EventWarning, api.EventSandboxFailed, "Failed to create pod sandbox: "+err.Error())
			if !w.hostNetwork() {
				_ = w.r.net.teardownPod(context.WithoutCancel(ctx), w.id, w.meta())
			}
			if !w.sleep(ctx, w.r.backoffDelay(attempt)) {
				break
			}
		}
		log.Debug("sandbox set up", "ip", w.podIP(), "took", time.Since(start))
	}
	if !w.stopping() && ctx.Err() == nil {
		close(w.sandboxUp)
	}
	wg.Wait()
	if !w.stopping() {
		return // detached by Close: everything stays for the next process
	}
	w.cleanup(log)
}

// waitNetwork waits until the node's pod network is configured (the
// leader's pod CIDR through SetNetwork), showing why the pod is Pending
// meanwhile; false if the pod is stopped or the runtime closed first.
func (w *podWorker) waitNetwork(ctx context.Context) bool {
	if w.stopping() {
		return false
	}
	if !w.needsNetConf() { // hostnet.go
		return true
	}
	select {
	case <-w.r.netReady:
		return true
	default:
	}
	w.update(func() { w.reason, w.message = reasonNetworkNotReady, msgNetworkNotReady })
	select {
	case <-w.r.netReady:
		return true
	case <-w.stopCh:
		return false
	case <-ctx.Done():
		return false
	}
}

// setupSandbox creates the pod's netns, attaches it to the bridge and
// writes the files every container mounts. It holds the network for
// reading, so that a change of pod CIDR waits for it and then finds the
// pod's IP to judge.
func (w *podWorker) setupSandbox(ctx context.Context) error {
	if w.hostNetwork() {
		return w.setupHostSandbox() // hostnet.go
	}
	w.r.netMu.RLock()
	defer w.r.netMu.RUnlock()
	nc := w.r.netConf
	// The bridge is normally there (SetNetwork made it); after Teardown,
	// or if someone deleted it, it is made again here.
	br, err := ensureBridgeFast(w.r.cfg.BridgeName, nc)
	if err != nil {
		return err
	}
	if err := checkSysctls(w.pod.Spec.SecurityContext); err != nil {
		return err
	}
	ip, err := w.r.net.setup(ctx, w.id, w.meta(), nc, br)
	if err != nil {
		return err
	}
	if err := applySysctls(netnsPath(w.id), w.pod.Spec.SecurityContext); err != nil {
		return err
	}
	if err := w.writeEtc(ip, nc); err != nil {
		return err
	}
	w.update(func() { w.ip, w.reason, w.message = ip, "", "" })
	return nil
}

// writeEtc writes the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf.
func (w *podWorker) writeEtc(ip string, nc *netConf) error {
	hn := w.hostname()
	ps := w.pod.Spec
	files := map[string]string{
		"hosts":       podHostsFile(ip, hn, ps.Subdomain, w.pod.Namespace, nc.domain),
		"hostname":    hn + "\n",
		"resolv.conf": podResolvConf(ps, w.pod.Namespace, nc.gateway.String(), nc.domain, hostResolvConf()).String(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(w.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("failed to write pod %s: %w", name, err)
		}
	}
	return nil
}

// cleanup removes what is left of a stopped pod: containers were removed by
// their goroutines; here go the network, the directory (records, logs) and
// the pod's entry.
func (w *podWorker) cleanup(log interface{ Warn(string, ...any) }) {
	ctx := context.WithoutCancel(w.r.ctx)
	for _, c := range w.allCtrs() {
		// Containers whose goroutine never ran (stopped during sandbox
		// setup, or adopted and stopped before start).
		if err := w.r.removeContainer(ctx, c.id, w.gracePeriod()); err != nil {
			log.Warn("failed to remove container", "container", c.id, "err", err)
		}
	}
	w.event("", api.EventNormal, api.EventContainersKilled, "Stopped all containers of the pod")
	if w.hostNetwork() {
		// Nothing of the network is the pod's.
	} else if err := w.r.net.teardownPod(ctx, w.id, w.meta()); err != nil {
		log.Warn("failed to tear down pod network", "err", err)
	}
	if err := removePodCgroup(cgroupRoot, w.podCgroup()); err != nil {
		log.Warn("failed to remove pod cgroup", "err", err)
	}
	w.recMu.Lock()
	// Unmounted first: what is still mounted there must not be removed.
	if err := w.teardownVolumes(ctx); err != nil {
		log.Warn("failed to tear down pod volumes; pod dir kept", "err", err)
	} else if err := os.RemoveAll(w.dir); err != nil {
		log.Warn("failed to remove pod dir", "err", err)
	}
	if err := w.removeLogs(); err != nil {
		log.Warn("failed to remove pod logs", "err", err)
	}
	w.recMu.Unlock()
	w.r.mu.Lock()
	if w.r.pods[w.pod.UID] == w {
		delete(w.r.pods, w.pod.UID)
	}
	w.r.notifyLocked()
	w.r.mu.Unlock()
}

// statusLocked derives the pod's status; r.mu is held.
func (w *podWorker) statusLocked() api.PodStatus {
	ps := api.PodStatus{
		UID:       w.pod.UID,
		Namespace: w.pod.Namespace,
		Name:      w.pod.Name,
		Node:      w.r.cfg.NodeName,
		PodIP:     w.ip,
		Reason:    w.reason,
		Message:   w.message,
	}
	if w.startTime != nil {
		t := *w.startTime
		ps.StartTime = &t
	}
	ps.Containers = make([]api.ContainerStatus, len(w.ctrs))
	for i, c := range w.ctrs {
		ps.Containers[i] = c.st // states are replaced, never mutated in place
		if c.st.State.Running == nil {
			ps.Containers[i].Started = nil
		}
	}
	ps.InitContainers = w.initStatusesLocked()
	ps.Phase = podPhaseInit(w.restartPolicy(), ps.InitContainers, ps.Containers)
	ps.Phase = w.evictedPhase(ps.Phase, append(slices.Clone(ps.InitContainers), ps.Containers...)) // evict.go
	ps.Conditions = w.conditionsLocked(ps.Phase, ps.InitContainers, ps.Containers)
	w.terminationStatusLocked(&ps)
	return ps
}

// podPhase derives the phase from container states the way the kubelet
// does (getPhase).
func podPhase(policy string, cs []api.ContainerStatus) string {
	var running, waiting, stopped, succeeded int
	for _, c := range cs {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil:
			stopped++
			if c.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case c.State.Waiting != nil:
			if c.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return api.PodPending
	case running > 0:
		return api.PodRunning
	case stopped > 0:
		if policy == spec.RestartPolicyAlways {
			return api.PodRunning
		}
		if stopped == succeeded {
			return api.PodSucceeded
		}
		if policy == spec.RestartPolicyNever {
			return api.PodFailed
		}
		return api.PodRunning
	default:
		return api.PodPending
	}
}

// errCreate marks a failure to create the container (as opposed to
// starting its process): CreateContainerError rather than ContainerCannotRun.
type errCreate struct{ err error }

func (e *errCreate) Error() string { return e.err.Error() }
func (e *errCreate) Unwrap() error { return e.err }

func isCreateErr(err error) bool {
	var ce *errCreate
	return errors.As(err, &ce)
}
