package main

import (
	"testing"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestPodStatusInit: STATUS and RESTARTS of a pod with init containers,
// as kubectl prints them.
func TestPodStatusInit(t *testing.T) {
	done := agentapi.ContainerState{Terminated: &agentapi.StateTerminated{ExitCode: 0, Reason: "Completed"}}
	initializing := agentapi.ContainerState{Waiting: &agentapi.StateWaiting{Reason: agentapi.ReasonPodInitializing}}
	running := agentapi.ContainerState{Running: &agentapi.StateRunning{}}
	backoff := agentapi.ContainerState{Waiting: &agentapi.StateWaiting{Reason: agentapi.ReasonCrashLoopBackOff}}
	failed := agentapi.ContainerState{Terminated: &agentapi.StateTerminated{ExitCode: 1, Reason: "Error"}}
	noReason := agentapi.ContainerState{Terminated: &agentapi.StateTerminated{ExitCode: 137, Signal: 9}}
	pod := func(phase string, app agentapi.ContainerState, inits ...agentapi.ContainerState) api.Pod {
		p := api.Pod{PodView: api.PodView{Name: "p", Phase: phase, Node: "n",
			Spec: spec.PodSpec{InitContainers: []spec.Container{{Name: "a"}, {Name: "b"}}, Containers: []spec.Container{{Name: "app"}}}}}
		st := &agentapi.PodStatus{Phase: phase, Containers: []agentapi.ContainerStatus{{Name: "app", State: app}}}
		for i, s := range inits {
			st.InitContainers = append(st.InitContainers, agentapi.ContainerStatus{Name: string(rune('a' + i)), State: s, RestartCount: 2})
		}
		p.Status = st
		return p
	}
	for _, tc := range []struct {
		name string
		p    api.Pod
		want string
	}{
		{"first runs", pod("Pending", initializing, running, initializing), "Init:0/2"},
		{"first pulling", pod("Pending", initializing, initializing, initializing), "Init:0/2"},
		{"second runs", pod("Pending", initializing, done, running), "Init:1/2"},
		{"back-off", pod("Pending", initializing, done, backoff), "Init:CrashLoopBackOff"},
		{"failed", pod("Failed", initializing, failed, initializing), "Init:Error"},
		{"signal", pod("Failed", initializing, noReason, initializing), "Init:Signal:9"},
		{"app creating", pod("Pending", initializing, done, done), "PodInitializing"},
		{"app running", pod("Running", running, done, done), "Running"},
	} {
		if got := podStatus(tc.p); got != tc.want {
			t.Errorf("%s: STATUS %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := podRestarts(pod("Running", running, done, done)); got != 4 {
		t.Errorf("RESTARTS counts init containers: %d, want 4", got)
	}
}
