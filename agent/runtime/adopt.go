package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// adopt rebuilds workers for the pods a previous process left: each pod
// record under DataDir becomes a worker again, running tasks are
// supervised as they are (never restarted for the agent's sake), and
// containers with no record are removed since their spec is unknown.
// Adopted pods stay until a Sync no longer lists them.
func (r *Runtime) adopt(ctx context.Context) error {
	// Records first: a corrupt one stops start-up before anything is
	// touched.
	recs, unrecorded, err := loadRecords(podsDir(r.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("failed to adopt pods: %w", err)
	}
	list, err := r.client.ContainerService().List(ctx, `labels."`+LabelPodUID+`"`)
	if err != nil {
		return fmt.Errorf("failed to list containers: %w", err)
	}
	for _, dir := range unrecorded {
		// A pod whose record never got written: nothing to adopt, but
		// its network may exist.
		r.log.Warn("removing pod without a record", "dir", dir)
		if err := r.net.teardownPod(ctx, filepath.Base(dir), podMeta{}); err != nil {
			r.log.Warn("failed to tear down pod network", "dir", dir, "err", err)
		}
		if err := unmountUnder(dir); err != nil {
			r.log.Warn("failed to unmount volumes of pod without a record; dir kept", "dir", dir, "err", err)
			continue
		}
		_ = os.RemoveAll(dir)
	}
	owned := map[string]bool{} // container IDs adopted
	var workers []*podWorker
	for _, rec := range recs {
		w := newPodWorker(r, rec.Pod, nil)
		w.ip = rec.PodIP
		w.conds = rec.Conditions
		if rec.StartTime != nil {
			w.startTime = rec.StartTime
		}
		if _, err := os.Stat(netnsPath(w.id)); (err == nil || w.hostNetwork()) && rec.PodIP != "" {
			w.sandboxReady = true
		}
		for _, c := range w.allCtrs() {
			cr := rec.Containers[c.spec.Name]
			c.st.RestartCount = cr.RestartCount
			c.st.LastTerminationState = cr.LastState
			c.crashes = cr.Crashes
			c.startedAt = cr.StartedAt
			owned[c.id] = true
			c.mayExist = true
			if !w.sandboxReady {
				continue // the sandbox is rebuilt, so are the containers
			}
			run, err := r.adoptTask(ctx, c.id, cr.StartedAt)
			if err != nil {
				// containerd did not answer as it should: starting anew
				// would kill a container that may be healthy. Fail, so
				// that the agent is started again.
				return fmt.Errorf("failed to adopt container %s: %w", c.id, err)
			}
			if run != nil {
				c.adopted = run
				c.st.ContainerID = "containerd://" + c.id
				c.st.State = api.ContainerState{Running: &api.StateRunning{StartedAt: run.started}}
				// Not ready until its readiness probe says so again, as
				// after a kubelet restart.
				c.resetProbesLocked()
			} else if cr.Terminated != nil {
				// Exited before: finished for good, or waiting out a
				// crash back-off. runContainer decides which.
				c.adoptedExit = cr.Terminated
				c.st.ContainerID = "containerd://" + c.id
				c.st.State = api.ContainerState{Terminated: cr.Terminated}
			}
		}
		workers = append(workers, w)
	}
	// Before any worker runs: the network's leftovers of pods that are
	// gone, and the adopted pods' IPs kept reserved.
	live := make(map[string]string, len(workers))
	for _, w := range workers {
		if !w.hostNetwork() { // the node's address is no pod network's
			live[w.id] = w.ip
		}
	}
	if err := r.net.adopt(ctx, live, r.cfg.BridgeName); err != nil {
		// Leftovers only: they cost addresses or links, not pods.
		r.log.Warn("failed to remove network leftovers of a previous run", "err", err)
	}
	var errs []error
	for _, c := range list {
		if owned[c.ID] {
			continue
		}
		r.log.Info("removing container of an unknown pod", "container", c.ID, "pod", c.Labels[LabelPodNamespace]+"/"+c.Labels[LabelPodName])
		if err := r.removeContainer(ctx, c.ID, 0); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	for _, w := range workers {
		r.pods[w.pod.UID] = w
		r.startWorker(w)
	}
	if len(workers) > 0 {
		r.notifyLocked()
	}
	r.mu.Unlock()
	if len(workers) > 0 {
		r.log.Info("adopted pods", "count", len(workers))
	}
	if err := r.removeStrayLogs(); err != nil {
		r.log.Warn("failed to remove logs of removed pods", "err", err)
	}
	return errors.Join(errs...)
}

// loadRecords reads the record of every pod directory under dir. A
// directory without a record is returned in unrecorded. Any other failure
// (an unreadable, truncated or foreign record) is an error naming the file:
// records are written atomically, so it is corruption or an I/O error, and
// neither says the pod is gone. The caller refuses to start rather than
// remove what may be a healthy pod.
func loadRecords(dir string) (recs []podRecord, unrecorded []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read pod records: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		pdir := filepath.Join(dir, e.Name())
		rec, err := readRecord(pdir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			unrecorded = append(unrecorded, pdir)
		case err != nil:
			return nil, nil, err
		default:
			recs = append(recs, rec)
		}
	}
	return recs, unrecorded, nil
}

// adoptTask returns the container's task to supervise, or nil when it has
// no task (it is then started afresh).
func (r *Runtime) adoptTask(ctx context.Context, id string, started time.Time) (*running, error) {
	cont, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to load container: %w", err)
	}
	task, err := cont.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to load task: %w", err)
	}
	exitCh, err := task.Wait(context.WithoutCancel(r.ctx))
	if err != nil {
		return nil, fmt.Errorf("failed to wait for task: %w", err)
	}
	if started.IsZero() {
		started = time.Now().UTC()
	}
	// A task that exited while no agent watched is reported through
	// exitCh at once and handled like any exit.
	return &running{task: task, exitCh: exitCh, started: started}, nil
}

// removeStrays removes this node's containers and pod directories that no
// worker owns (called by Teardown after every worker is gone).
func (r *Runtime) removeStrays(ctx context.Context) error {
	list, err := r.client.ContainerService().List(ctx, `labels."`+LabelPodUID+`"`)
	if err != nil {
		return fmt.Errorf("failed to list containers: %w", err)
	}
	r.mu.Lock()
	live := map[string]bool{}
	for _, w := range r.pods {
		live[w.id] = true
	}
	r.mu.Unlock()
	var errs []error
	for _, c := range list {
		if live[c.Labels[LabelPodID]] {
			continue
		}
		if err := r.removeContainer(ctx, c.ID, 0); err != nil {
			errs = append(errs, err)
		}
	}
	entries, err := os.ReadDir(podsDir(r.cfg.DataDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("failed to read pod records: %w", err))
	}
	for _, e := range entries {
		if live[e.Name()] {
			continue
		}
		if err := r.net.teardownPod(ctx, e.Name(), podMeta{}); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(podsDir(r.cfg.DataDir) + "/" + e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove pod dir: %w", err))
		}
	}
	if err := r.removeStrayLogs(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
