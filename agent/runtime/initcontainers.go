package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Init containers, run the way the kubelet runs them
// (kuberuntime's computeInitContainerActions, status.getPhase):
//
//   - spec.initContainers run one at a time, in order, each to completion
//     (exit 0) before the next is pulled; the app containers are pulled,
//     created and started only once every init container succeeded
//     (w.initDone). The first one is pulled while the sandbox is set up,
//     like the app containers of a pod without init containers; its task
//     starts once the sandbox is up.
//   - A failing init container is restarted with the app containers'
//     back-off (CrashLoopBackOff) under restartPolicy Always or OnFailure,
//     the pod staying Pending; under Never the pod fails. An init container
//     that exits 0 never runs again, whatever the policy.
//   - Init containers run once per pod incarnation: an app container's
//     restart does not re-run them, nor does an agent restart. Their
//     terminations are in the pod record (containerRecord.Terminated), so
//     a restarted agent finds them done and goes straight to the app
//     containers. A sandbox that has to be rebuilt (its netns is gone)
//     re-runs them, as the kubelet does for a new sandbox.
//   - Until then every container waits with reason PodInitializing, the
//     pod's Initialized condition is False (ContainersNotInitialized), and
//     ctl shows Init:N/M, Init:Error or Init:CrashLoopBackOff.

// reasonContainersNotInitialized is the Initialized condition's reason
// while init containers have not all succeeded.
const reasonContainersNotInitialized = "ContainersNotInitialized"

// initState is the init-container part of a ctr.
type initState struct {
	// isInit marks an init container.
	isInit bool
	// final is closed (finalOnce) when an init container will not run
	// again in this worker: it succeeded, or failed under Never.
	final     chan struct{}
	finalOnce sync.Once
}

// markFinal tells the init sequence that c will not run again.
func (c *ctr) markFinal() {
	if c.final != nil {
		c.finalOnce.Do(func() { close(c.final) })
	}
}

// addInits makes the pod's init containers; with any, every container
// starts out waiting with reason PodInitializing, as in the kubelet.
func (w *podWorker) addInits(p api.Pod) {
	w.initDone = make(chan struct{})
	if len(p.Spec.InitContainers) == 0 {
		close(w.initDone)
		return
	}
	for _, cs := range p.Spec.InitContainers {
		c := &ctr{
			spec: cs,
			id:   w.id + "-" + cs.Name,
			st: api.ContainerStatus{
				Name:  cs.Name,
				Image: cs.Image,
			},
		}
		c.isInit = true
		c.final = make(chan struct{})
		w.inits = append(w.inits, c)
	}
	for _, c := range w.allCtrs() {
		c.st.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonPodInitializing}}
	}
}

// allCtrs is the pod's init containers, then its app containers.
func (w *podWorker) allCtrs() []*ctr {
	if len(w.inits) == 0 {
		return w.ctrs
	}
	return append(append(make([]*ctr, 0, len(w.inits)+len(w.ctrs)), w.inits...), w.ctrs...)
}

// startInits runs the init sequence under wg: each init container's
// supervisor in turn, the next once the previous succeeded; initDone is
// closed after the last. A failure under Never ends the sequence: the pod
// has failed and its app containers never start.
func (w *podWorker) startInits(ctx context.Context, wg *sync.WaitGroup) {
	if len(w.inits) == 0 {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, c := range w.inits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.runContainer(ctx, c)
			}()
			select {
			case <-c.final:
			case <-w.stopCh:
				return
			case <-ctx.Done():
				return
			}
			w.r.mu.Lock()
			t := c.st.State.Terminated
			w.r.mu.Unlock()
			if t == nil || t.ExitCode != 0 {
				w.r.log.Info("init container failed; the pod has failed", "pod", w.pod.Namespace+"/"+w.pod.Name, "container", c.spec.Name)
				return
			}
		}
		close(w.initDone)
	}()
}

// waitInitialized holds an app container until every init container has
// succeeded, the pod is stopping or the runtime closing (the caller's loop
// sees which). Init containers do not wait.
func (w *podWorker) waitInitialized(ctx context.Context, c *ctr) {
	if c.isInit {
		return
	}
	select {
	case <-w.initDone:
	case <-w.stopCh:
	case <-ctx.Done():
	}
}

// policyFor is the restart policy applied to c: an init container that
// succeeded is done, so Always means OnFailure for it (kubelet).
func (w *podWorker) policyFor(c *ctr) string {
	p := w.restartPolicy()
	if c.isInit && p == spec.RestartPolicyAlways {
		return spec.RestartPolicyOnFailure
	}
	return p
}

// initStatusesLocked returns the init containers' statuses; r.mu is held.
// An init container is Ready once it has succeeded (the kubelet's prober
// manager), never while it runs.
func (w *podWorker) initStatusesLocked() []api.ContainerStatus {
	if len(w.inits) == 0 {
		return nil
	}
	out := make([]api.ContainerStatus, len(w.inits))
	for i, c := range w.inits {
		out[i] = c.st
		if c.st.State.Running == nil {
			out[i].Started = nil
		}
		t := c.st.State.Terminated
		out[i].Ready = t != nil && t.ExitCode == 0
	}
	return out
}

// initSucceeded reports whether an init container's status is a success.
func initSucceeded(cs api.ContainerStatus) bool {
	return cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
}

// podPhaseInit is the kubelet's getPhase with init containers: a failed
// init container under Never fails the pod; one not yet succeeded keeps it
// Pending; otherwise the app containers decide (podPhase).
func podPhaseInit(policy string, inits, cs []api.ContainerStatus) string {
	pending, failed := 0, 0
	for _, c := range inits {
		switch {
		case c.State.Running != nil:
			pending++
		case c.State.Terminated != nil:
			if c.State.Terminated.ExitCode != 0 {
				failed++
			}
		case c.State.Waiting != nil && c.LastTerminationState.Terminated != nil:
			if c.LastTerminationState.Terminated.ExitCode != 0 {
				failed++
			}
		default:
			pending++
		}
	}
	if failed > 0 && policy == spec.RestartPolicyNever {
		return api.PodFailed
	}
	if pending > 0 || failed > 0 {
		// A failed init container under Always or OnFailure is being
		// restarted: the app containers still wait.
		return api.PodPending
	}
	return podPhase(policy, cs)
}

// initializedCondition is the pod's Initialized condition (the kubelet's
// GeneratePodInitializedCondition).
func initializedCondition(phase string, inits []api.ContainerStatus) api.Condition {
	var incomplete []string
	for _, c := range inits {
		if !initSucceeded(c) {
			incomplete = append(incomplete, c.Name)
		}
	}
	if len(incomplete) == 0 {
		return api.Condition{Type: api.PodInitialized, Status: api.ConditionTrue}
	}
	if phase == api.PodSucceeded {
		return api.Condition{Type: api.PodInitialized, Status: api.ConditionTrue, Reason: reasonPodCompleted}
	}
	return api.Condition{
		Type:    api.PodInitialized,
		Status:  api.ConditionFalse,
		Reason:  reasonContainersNotInitialized,
		Message: fmt.Sprintf("containers with incomplete status: %v", incomplete),
	}
}
