package runtime_test

import (
	"slices"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

func withInits(p api.Pod, inits ...spec.Container) api.Pod {
	for i := range inits {
		if inits[i].Image == "" {
			inits[i].Image = busybox
		}
	}
	p.Spec.InitContainers = inits
	return p
}

func initNamed(p api.PodStatus, name string) api.ContainerStatus {
	for _, c := range p.InitContainers {
		if c.Name == name {
			return c
		}
	}
	return api.ContainerStatus{}
}

// TestInitContainersInOrder: init containers run one after the other, each
// to completion, before the app container starts; meanwhile the pod is
// Pending, not Initialized, its app container waiting with PodInitializing.
// Init containers have logs and the kubelet's events.
func TestInitContainersInOrder(t *testing.T) {
	t.Parallel()
	e, evs := newEnvEvents(t)
	p := withInits(newPod("inits", "", sh("app", "echo app; exec sleep 3600")),
		sh("first", "echo first; sleep 1"),
		sh("second", "echo second"))
	e.sync(p)

	st := e.waitPod("inits", "first init running", 30*time.Second, func(p api.PodStatus) bool {
		return initNamed(p, "first").State.Running != nil
	})
	if st.Phase != api.PodPending {
		t.Errorf("phase while initializing = %s, want Pending", st.Phase)
	}
	if c := condition(st, api.PodInitialized); c.Status != api.ConditionFalse || c.Reason != "ContainersNotInitialized" || c.Message != "containers with incomplete status: [first second]" {
		t.Errorf("Initialized while initializing: %+v", c)
	}
	if w := containerNamed(st, "app").State.Waiting; w == nil || w.Reason != api.ReasonPodInitializing {
		t.Errorf("app while initializing: %s", stateString(containerNamed(st, "app").State))
	}
	if w := initNamed(st, "second").State.Waiting; w == nil || w.Reason != api.ReasonPodInitializing {
		t.Errorf("second init while the first runs: %s", stateString(initNamed(st, "second").State))
	}

	st = e.waitPod("inits", "running", 30*time.Second, running)
	first, second, app := initNamed(st, "first"), initNamed(st, "second"), containerNamed(st, "app")
	for _, c := range []api.ContainerStatus{first, second} {
		if c.State.Terminated == nil || c.State.Terminated.ExitCode != 0 || c.State.Terminated.Reason != api.ReasonCompleted || !c.Ready {
			t.Fatalf("init %s: %s ready=%v", c.Name, stateString(c.State), c.Ready)
		}
	}
	if second.State.Terminated.StartedAt.Before(first.State.Terminated.FinishedAt) {
		t.Errorf("second started at %v, before first finished at %v", second.State.Terminated.StartedAt, first.State.Terminated.FinishedAt)
	}
	if app.State.Running.StartedAt.Before(second.State.Terminated.FinishedAt) {
		t.Errorf("app started at %v, before second finished at %v", app.State.Running.StartedAt, second.State.Terminated.FinishedAt)
	}
	if c := condition(st, api.PodInitialized); c.Status != api.ConditionTrue {
		t.Errorf("Initialized once running: %+v", c)
	}
	if got := e.logs("inits", "first", 0); got != "first\n" {
		t.Errorf("logs of init container first = %q", got)
	}
	if got := e.logs("inits", "second", 0); got != "second\n" {
		t.Errorf("logs of init container second = %q", got)
	}
	// The only app container is still the default one.
	if got := e.waitLog("inits", "", "app\n", 10*time.Second); got != "app\n" {
		t.Errorf("logs without a container name = %q, want the app's", got)
	}
	for _, c := range []string{"first", "second"} {
		got := evs.reasons("inits", c)
		if !slices.Contains(got, api.EventCreated) || !slices.Contains(got, api.EventStarted) || !slices.Contains(got, api.EventPulled) {
			t.Errorf("events of init container %s: %q", c, evs.of("inits", c))
		}
	}
}

// TestInitContainerFailure: a failing init container is restarted with
// back-off under Always (the pod Pending, the app container never
// created); under Never the pod fails and nothing after it runs.
func TestInitContainerFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	always := withInits(newPod("crashinit", "", sh("app", "exec sleep 3600")), sh("boom", "echo boom; exit 3"))
	never := withInits(newPod("neverinit", spec.RestartPolicyNever, sh("app", "exec sleep 3600")),
		sh("boom", "exit 4"), sh("after", "echo after"))
	e.sync(always, never)

	st := e.waitPod("crashinit", "init restarted twice", 30*time.Second, func(p api.PodStatus) bool {
		return initNamed(p, "boom").RestartCount >= 2
	})
	boom := initNamed(st, "boom")
	if st.Phase != api.PodPending {
		t.Errorf("phase with a crashing init container = %s", st.Phase)
	}
	if last := boom.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 {
		t.Errorf("boom's last state: %s", stateString(boom.LastTerminationState))
	}
	st = e.waitPod("crashinit", "init in back-off", 30*time.Second, func(p api.PodStatus) bool {
		w := initNamed(p, "boom").State.Waiting
		return w != nil && w.Reason == api.ReasonCrashLoopBackOff
	})
	if app := containerNamed(st, "app"); app.State.Waiting == nil || app.State.Waiting.Reason != api.ReasonPodInitializing || app.ContainerID != "" {
		t.Errorf("app of a pod whose init container crashes: %s id=%q", stateString(app.State), app.ContainerID)
	}
	if _, err := e.cl.LoadContainer(e.ctx, runtime.PodID(always.UID)+"-app"); !errdefs.IsNotFound(err) {
		t.Errorf("the app container was created while its init container crashes: %v", err)
	}

	st = e.waitPod("neverinit", "failed", 30*time.Second, func(p api.PodStatus) bool { return p.Phase == api.PodFailed })
	if b := initNamed(st, "boom"); b.State.Terminated == nil || b.State.Terminated.ExitCode != 4 || b.RestartCount != 0 {
		t.Errorf("boom under Never: %s restarts=%d", stateString(b.State), b.RestartCount)
	}
	if a := initNamed(st, "after"); a.State.Waiting == nil || a.ContainerID != "" {
		t.Errorf("the init container after a failed one ran: %s", stateString(a.State))
	}
	if app := containerNamed(st, "app"); app.ContainerID != "" {
		t.Errorf("app of a failed pod ran: %s", stateString(app.State))
	}
	if c := condition(st, api.PodInitialized); c.Status != api.ConditionFalse {
		t.Errorf("Initialized of a pod whose init failed: %+v", c)
	}
}

// TestInitContainersRunOnce: an app container's restarts and an agent
// restart do not run the init containers again.
func TestInitContainersRunOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The app exits at once and again after each restart; the init
	// container prints one line per run.
	p := withInits(newPod("once", "", sh("app", "echo app; sleep 0.2; exit 1")), sh("init", "echo ran"))
	e.sync(p)
	st := e.waitPod("once", "app restarted", 30*time.Second, func(p api.PodStatus) bool {
		return containerNamed(p, "app").RestartCount >= 2
	})
	finished := initNamed(st, "init").State.Terminated.FinishedAt
	if got := e.logs("once", "init", 0); got != "ran\n" {
		t.Fatalf("init log after app restarts = %q, want one run", got)
	}

	// The agent restarts: the completed init container is not run again,
	// the app keeps its restart count.
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	restarts := containerNamed(st, "app").RestartCount
	e.open()
	st = e.waitPod("once", "app restarted after the agent's restart", 30*time.Second, func(p api.PodStatus) bool {
		return containerNamed(p, "app").RestartCount > restarts+1
	})
	in := initNamed(st, "init")
	if in.State.Terminated == nil || !in.State.Terminated.FinishedAt.Equal(finished) || in.RestartCount != 0 {
		t.Errorf("init after the agent restarted: %s restarts=%d (finished before at %v)", stateString(in.State), in.RestartCount, finished)
	}
	if got := e.logs("once", "init", 0); got != "ran\n" {
		t.Errorf("init log after the agent restarted = %q, want one run", got)
	}
	if c := condition(st, api.PodInitialized); c.Status != api.ConditionTrue {
		t.Errorf("Initialized after the agent restarted: %+v", c)
	}
	e.sync()
	e.wait("pod removed", 30*time.Second, gone("once"))
	if _, err := e.cl.LoadContainer(e.ctx, runtime.PodID(p.UID)+"-init"); !errdefs.IsNotFound(err) {
		t.Errorf("init container left after the pod was removed: %v", err)
	}
}
