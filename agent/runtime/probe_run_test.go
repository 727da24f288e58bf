package runtime_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// eventLog collects the runtime's events (Config.Events).
type eventLog struct {
	mu     sync.Mutex
	events []api.Event
}

func (l *eventLog) add(ev api.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// find returns the first event about pod/container with reason whose
// message contains msg.
func (l *eventLog) find(pod, container, reason, msg string) *api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.events {
		ev := &l.events[i]
		if ev.Object == "Pod/default/"+pod && ev.Container == container && ev.Reason == reason && strings.Contains(ev.Message, msg) {
			e := *ev
			return &e
		}
	}
	return nil
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ev := range l.events {
		b.WriteString("\n  " + ev.Object + " " + ev.Container + " " + ev.Type + " " + ev.Reason + ": " + ev.Message)
	}
	return b.String()
}

func probe(h spec.ProbeHandler, failure int32) *spec.Probe {
	return &spec.Probe{ProbeHandler: h, PeriodSeconds: 1, FailureThreshold: failure}
}

func httpd(name string) spec.Container {
	return spec.Container{
		Name:    name,
		Command: []string{"httpd", "-f", "-p", "8080", "-h", "/etc"},
		Ports:   []spec.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}
}

func condition(p api.PodStatus, typ string) api.Condition {
	if c := p.Condition(typ); c != nil {
		return *c
	}
	return api.Condition{}
}

// TestProbesOnContainerd: a failing liveness probe (exec) restarts its
// container with the restart back-off, counting restarts, even one that
// exits 0 under OnFailure (tcpSocket to a closed port); a failing
// readiness probe (httpGet, 404) keeps the container and the pod not
// Ready; a passing one (after a tcpSocket startup probe) makes both Ready.
// After an agent restart the conditions' transition times are kept, and a
// container with a readiness probe is probed again without a restart.
func TestProbesOnContainerd(t *testing.T) {
	t.Parallel()
	events := &eventLog{}
	e := newEnvWith(t, func(c *runtime.Config) { c.Events = events.add })

	sick := sh("c", "exec sleep 3600")
	sick.LivenessProbe = probe(spec.ProbeHandler{Exec: &spec.ExecAction{Command: []string{"sh", "-c", "echo sick; exit 1"}}}, 1)
	// Exits 0 on SIGTERM: restarted all the same under OnFailure.
	graceful := sh("c", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
	graceful.LivenessProbe = probe(spec.ProbeHandler{TCPSocket: &spec.TCPSocketAction{Port: spec.FromInt(9)}}, 2)
	notReady := httpd("web")
	notReady.ReadinessProbe = probe(spec.ProbeHandler{HTTPGet: &spec.HTTPGetAction{Path: "/nope", Port: spec.FromInt(8080)}}, 1)
	// An exec probe that outlives its timeout fails (and is killed).
	slow := sh("slow", "exec sleep 3600")
	slow.ReadinessProbe = probe(spec.ProbeHandler{Exec: &spec.ExecAction{Command: []string{"sleep", "5"}}}, 1)
	slow.ReadinessProbe.TimeoutSeconds = 1
	ready := httpd("web")
	ready.StartupProbe = probe(spec.ProbeHandler{TCPSocket: &spec.TCPSocketAction{Port: spec.FromString("http")}}, 30)
	ready.ReadinessProbe = probe(spec.ProbeHandler{HTTPGet: &spec.HTTPGetAction{Path: "/hostname", Port: spec.FromString("http")}}, 1)
	ready.LivenessProbe = probe(spec.ProbeHandler{Exec: &spec.ExecAction{Command: []string{"true"}}}, 1)
	pods := []api.Pod{
		newPod("liveness", "", sick),
		newPod("notready", "", notReady, slow),
		newPod("ready", "", ready),
		newPod("plain", "", sh("c", "exec sleep 3600")),
		newPod("onfailure", spec.RestartPolicyOnFailure, graceful),
	}
	e.sync(pods...)

	// Liveness: killed, restarted with the back-off, again.
	st := e.waitPod("liveness", "restarted twice", 60*time.Second, func(p api.PodStatus) bool {
		return p.Containers[0].RestartCount >= 2
	})
	last := st.Containers[0].LastTerminationState.Terminated
	if last == nil || last.Reason != api.ReasonError || (last.ExitCode != 137 && last.ExitCode != 143) {
		t.Fatalf("last termination %+v, want Error with 137 or 143", last)
	}
	if ev := events.find("liveness", "c", api.EventUnhealthy, "Liveness probe failed: sick"); ev == nil || ev.Type != api.EventWarning {
		t.Fatalf("no Unhealthy event with the probe's output:%s", events)
	}
	if events.find("liveness", "c", api.EventKilling, "Container c failed liveness probe, will be restarted") == nil {
		t.Fatalf("no Killing event:%s", events)
	}

	st = e.waitPod("onfailure", "restarted", 60*time.Second, func(p api.PodStatus) bool {
		return p.Containers[0].RestartCount >= 1
	})
	if last := st.Containers[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 0 || last.Reason != api.ReasonCompleted {
		t.Fatalf("onfailure's last termination %+v, want Completed (exit 0 on SIGTERM)", last)
	}
	if events.find("onfailure", "c", api.EventUnhealthy, "Liveness probe failed: dial tcp") == nil {
		t.Fatalf("no Unhealthy event for the tcpSocket probe:%s", events)
	}

	// Readiness failing: running, started, not ready.
	e.wait("the readiness probe of notready to fail", 30*time.Second, func([]api.PodStatus) bool {
		return events.find("notready", "web", api.EventUnhealthy, "Readiness probe failed: HTTP probe failed with statuscode: 404") != nil
	})
	e.wait("the exec readiness probe of notready to time out", 30*time.Second, func([]api.PodStatus) bool {
		return events.find("notready", "slow", api.EventUnhealthy, `Readiness probe failed: command "sleep 5" timed out`) != nil
	})
	st = e.waitPod("notready", "running", 10*time.Second, running)
	for _, c := range st.Containers {
		if c.Ready || c.Started == nil || !*c.Started {
			t.Fatalf("notready/%s: ready=%v started=%v, want running, started, not ready", c.Name, c.Ready, c.Started)
		}
	}
	c := st.Containers[0]
	for _, typ := range []string{api.PodReady, api.PodContainersReady} {
		if cond := condition(st, typ); cond.Status != api.ConditionFalse || cond.Reason != "ContainersNotReady" || cond.Message != "containers with unready status: [web slow]" {
			t.Fatalf("notready %s condition %+v", typ, cond)
		}
	}
	if cond := condition(st, api.PodInitialized); cond.Status != api.ConditionTrue {
		t.Fatalf("notready Initialized condition %+v", cond)
	}

	// Readiness passing: Ready, and so is the pod.
	st = e.waitPod("ready", "Ready", 30*time.Second, func(p api.PodStatus) bool {
		return condition(p, api.PodReady).Status == api.ConditionTrue
	})
	c = st.Containers[0]
	if !c.Ready || c.Started == nil || !*c.Started || c.RestartCount != 0 {
		t.Fatalf("ready: ready=%v started=%v restarts=%d", c.Ready, c.Started, c.RestartCount)
	}
	if cond := condition(st, api.PodContainersReady); cond.Status != api.ConditionTrue || cond.LastTransitionTime.IsZero() {
		t.Fatalf("ready ContainersReady %+v", cond)
	}
	readyPID := e.taskPID(pods[2], "web")

	// No probes: Ready once running.
	st = e.waitPod("plain", "Ready", 30*time.Second, func(p api.PodStatus) bool {
		return condition(p, api.PodReady).Status == api.ConditionTrue
	})
	plainSince := condition(st, api.PodReady).LastTransitionTime
	if c := st.Containers[0]; c.Started == nil || !*c.Started || !c.Ready {
		t.Fatalf("plain: started=%v ready=%v", c.Started, c.Ready)
	}

	// Agent restart.
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := time.Now()
	e.open()
	st = e.waitPod("plain", "adopted", 10*time.Second, running)
	if got := condition(st, api.PodReady); got.Status != api.ConditionTrue || !got.LastTransitionTime.Equal(plainSince) {
		t.Fatalf("plain's Ready after an agent restart: %+v, want True since %v", got, plainSince)
	}
	// The readiness probe is run again (readiness starts unknown, i.e.
	// false, as after a kubelet restart), and the container is kept.
	st = e.waitPod("ready", "Ready again", 30*time.Second, func(p api.PodStatus) bool {
		return condition(p, api.PodReady).Status == api.ConditionTrue
	})
	if got := condition(st, api.PodReady).LastTransitionTime; got.Before(reopened) {
		t.Fatalf("ready's Ready since %v, before the restart at %v: readiness was not probed again", got, reopened)
	}
	if pid := e.taskPID(pods[2], "web"); pid != readyPID || st.Containers[0].RestartCount != 0 {
		t.Fatalf("the agent restart restarted a healthy container (pid %d→%d, restarts %d)", readyPID, pid, st.Containers[0].RestartCount)
	}
	// notready stays not ready.
	st = e.waitPod("notready", "adopted", 10*time.Second, running)
	if st.Containers[0].Ready || condition(st, api.PodReady).Status != api.ConditionFalse {
		t.Fatalf("notready became ready after an agent restart: %+v", st.Conditions)
	}
}
