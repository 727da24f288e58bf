package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/containerd/v2/client"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/stats"
	"github.com/stevedore-dev/stevedore/spec"
)

// Evict fails the pod of uid as the kubelet's eviction manager does under
// node pressure: its containers are killed at once (a hard threshold's
// grace period is 0) and not restarted, its phase turns Failed with
// reason Evicted and message msg, and an Evicted event is recorded. The
// pod stays in the node's status until the leader's next set drops it
// (its owner re-creates it elsewhere).
func (r *Runtime) Evict(ctx context.Context, uid, msg string) error {
	_ = ctx // the kill runs detached, as the volume eviction's
	r.mu.Lock()
	w := r.pods[uid]
	r.mu.Unlock()
	if w == nil || w.stopping() {
		return fmt.Errorf("failed to evict pod %s: %w", uid, ErrNotFound)
	}
	w.evictWith(msg)
	return nil
}

// evictedPhase is Failed for an evicted pod once none of its containers
// runs, whatever their states (one evicted while it was starting never
// ran and waits as Evicted); phase otherwise.
func (w *podWorker) evictedPhase(phase string, cs []api.ContainerStatus) string {
	if !w.vols.evicted.Load() {
		return phase
	}
	for _, c := range cs {
		if c.State.Running != nil {
			return phase
		}
	}
	return api.PodFailed
}

// evictWith marks the pod evicted with msg and kills its containers;
// false if it already was.
func (w *podWorker) evictWith(msg string) bool {
	if !w.vols.evicted.CompareAndSwap(false, true) {
		return false
	}
	w.update(func() { w.reason, w.message = api.ReasonEvicted, msg })
	w.event("", api.EventWarning, api.EventEvicted, msg)
	ctx := context.WithoutCancel(w.r.ctx)
	w.r.mu.Lock()
	ctrs := w.allCtrs() // a running init container as well
	w.r.mu.Unlock()
	for _, c := range ctrs {
		cont, err := w.r.client.LoadContainer(ctx, c.id)
		if err != nil {
			continue
		}
		task, err := cont.Task(ctx, nil)
		if err != nil {
			continue
		}
		if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil {
			w.r.log.Warn("failed to kill container of evicted pod", "container", c.id, "err", err)
		}
	}
	return true
}

// EvictionUsage is each live pod's use as eviction ranks it: its
// containers' (init containers' too) working sets (cgroup v1 memory usage minus inactive file
// pages), writable layers (the snapshotter's usage of the container's
// snapshot) and log files, and its disk emptyDirs. It is the minimal
// source the agent needs; a stats collector gives the same figures.
func (r *Runtime) EvictionUsage(ctx context.Context) ([]api.PodStats, error) {
	type ctrRef struct{ name, id string }
	type podRef struct {
		ns, name, uid string
		ctrs          []ctrRef
		w             *podWorker
	}
	var pods []podRef
	r.mu.Lock()
	for _, w := range r.pods {
		if w.stopping() {
			continue
		}
		p := podRef{ns: w.pod.Namespace, name: w.pod.Name, uid: w.pod.UID, w: w}
		for _, c := range w.allCtrs() {
			p.ctrs = append(p.ctrs, ctrRef{c.spec.Name, c.id})
		}
		pods = append(pods, p)
	}
	r.mu.Unlock()
	sn := r.client.SnapshotService(r.cfg.Snapshotter)
	cgroups := stats.DetectCgroups(cgroupRoot)
	out := make([]api.PodStats, 0, len(pods))
	for _, p := range pods {
		ps := api.PodStats{Namespace: p.ns, Name: p.name, UID: p.uid}
		var eph uint64
		for _, c := range p.ctrs {
			cs := api.ContainerStats{Name: c.name}
			if cg, err := cgroups.Read(p.w.containerCgroup(c.id)); err == nil {
				cs.Memory.WorkingSetBytes = cg.WorkingSet
			}
			if u, err := sn.Usage(ctx, c.id); err == nil {
				cs.Rootfs.UsedBytes = uint64(u.Size)
			}
			cs.Logs.UsedBytes = uint64(filesSize(filepath.Join(p.w.logDir(c.name), "*")))
			ps.Memory.WorkingSetBytes += cs.Memory.WorkingSetBytes
			eph += cs.Rootfs.UsedBytes + cs.Logs.UsedBytes
			ps.Containers = append(ps.Containers, cs)
		}
		for _, v := range p.w.pod.Spec.Volumes {
			if v.EmptyDir != nil && v.EmptyDir.Medium != spec.StorageMediumMemory {
				eph += uint64(diskUsage(p.w.volumeDir(v.Name)))
			}
		}
		ps.EphemeralStorage.UsedBytes = eph
		out = append(out, ps)
	}
	return out, ctx.Err()
}

// filesSize is the disk use of the files matching pattern (a container's
// log and its rotated files).
func filesSize(pattern string) int64 {
	matches, _ := filepath.Glob(pattern)
	var total int64
	for _, m := range matches {
		var st syscall.Stat_t
		if syscall.Stat(m, &st) == nil {
			total += st.Blocks * 512
		}
	}
	return total
}

// RemoveDeadContainers reclaims what evicted pods hold once none of
// their containers runs (the kubelet's ShouldPodContentBeRemoved): their
// exited containers with their writable layers, their emptyDirs (disk
// and tmpfs) and their logs. Otherwise the pressure that evicted a pod
// stays until the leader drops it (a bare Pod's or a Job's never is), and
// the next round would evict another. Their statuses stay until the pod
// leaves the node's set. The space is free when it returns (containerd's
// garbage collector has run). It returns how many containers and pods'
// contents it removed.
func (r *Runtime) RemoveDeadContainers(ctx context.Context) (int, error) {
	ctx = r.nsCtx(ctx)
	ids, dead := r.evictedDead()
	n := 0
	var errs []error
	for _, id := range ids {
		if _, err := r.client.LoadContainer(ctx, id); err != nil {
			continue // already gone
		}
		if err := r.removeContainer(ctx, id, 0); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n > 0 {
		if err := r.collectGarbage(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range dead {
		if err := w.removeContent(); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// evictedDead lists the exited containers of evicted pods, and those of
// the pods whose containers have all exited and whose content is still
// there.
func (r *Runtime) evictedDead() ([]string, []*podWorker) {
	var ids []string
	var dead []*podWorker
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.pods {
		if w.stopping() || !w.vols.evicted.Load() {
			continue
		}
		running := false
		for _, c := range w.allCtrs() {
			if c.st.State.Running == nil {
				ids = append(ids, c.id)
			} else {
				running = true
			}
		}
		if !running && !w.vols.contentRemoved.Load() {
			dead = append(dead, w)
		}
	}
	return ids, dead
}

// removeContent removes an evicted pod's emptyDirs (a tmpfs one
// unmounted first) and its logs: what it holds of the node's disk and
// memory once its containers are gone. Its other volumes stay until the
// pod is removed.
func (w *podWorker) removeContent() error {
	var errs []error
	for _, v := range w.pod.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		dir := w.volumeDir(v.Name)
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, fmt.Errorf("failed to unmount emptyDir %q of evicted pod: %w", v.Name, err))
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove emptyDir %q of evicted pod: %w", v.Name, err))
		}
	}
	if err := w.removeLogs(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		w.vols.contentRemoved.Store(true)
		w.r.log.Info("removed the emptyDirs and logs of evicted pod", "pod", w.pod.Namespace+"/"+w.pod.Name)
	}
	return errors.Join(errs...)
}
