package runtime

import (
	"context"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Terminating pods. A pod that leaves the desired set is not dropped at
// once: its worker is stopped (stop records when, as the pod's
// DeletionTimestamp), each container's goroutine stops its own container
// in parallel (preStop hook, SIGTERM, grace, SIGKILL: killContainer) and
// shows it Terminated, and the pod stays in Status, Terminating, until
// cleanup has removed what is left and dropped the worker.

// terminate stops c for good because its pod is being removed: a running
// task (run, or the one adopted) is killed the kubelet's way and its exit
// recorded; then the container and its snapshot are deleted.
func (w *podWorker) terminate(ctx context.Context, c *ctr, run *running) {
	ctx = context.WithoutCancel(ctx)
	if run == nil {
		run = c.adopted
		c.adopted = nil
	}
	if run != nil {
		if err := w.killContainer(ctx, c, run.task, "", w.gracePeriod()); err != nil {
			w.r.log.Warn("failed to stop container", "container", c.id, "err", err)
		}
		select {
		case st := <-run.exitCh:
			term := w.exited(c, run, st)
			w.update(func() {
				c.st.State = api.ContainerState{Terminated: term}
				c.st.Ready = false
				c.st.Started = nil
			})
		case <-time.After(killWait):
			w.r.log.Warn("no exit reported for a stopped container", "container", c.id)
		}
	}
	if err := w.r.removeContainer(ctx, c.id, w.gracePeriod()); err != nil {
		w.r.log.Warn("failed to remove container", "container", c.id, "err", err)
	}
}

// markDeletedLocked records when the pod's removal began; r.mu is held
// (stop's callers hold it).
func (w *podWorker) markDeletedLocked() {
	if w.deletedAt == nil {
		now := time.Now().UTC().Truncate(time.Second)
		w.deletedAt = &now
	}
}

// terminationStatusLocked adds to ps what this file owns: the pod's
// DeletionTimestamp while it terminates, and its Owner and Hash; r.mu is
// held.
func (w *podWorker) terminationStatusLocked(ps *api.PodStatus) {
	ps.Owner, ps.Hash = w.pod.Owner, w.pod.Hash
	if w.deletedAt != nil {
		t := *w.deletedAt
		ps.DeletionTimestamp = &t
	}
}
