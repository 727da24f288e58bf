package main

import (
	"fmt"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// initStatus is kubectl's STATUS column for a pod whose init containers
// have not all succeeded (printPod): Init:N/M while the N+1th runs or
// waits to, Init:<reason> when it is in back-off or failed (Init:Error,
// Init:CrashLoopBackOff, Init:ExitCode:N, Init:Signal:N). ok is false once
// every init container succeeded, or when the pod has none.
func initStatus(p api.Pod) (status string, ok bool) {
	if p.Status == nil {
		return "", false
	}
	total := len(p.Spec.InitContainers)
	if n := len(p.Status.InitContainers); n > total {
		total = n
	}
	for i, cs := range p.Status.InitContainers {
		t, w := cs.State.Terminated, cs.State.Waiting
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case t != nil:
			switch {
			case t.Reason != "":
				return "Init:" + t.Reason, true
			case t.Signal != 0:
				return fmt.Sprintf("Init:Signal:%d", t.Signal), true
			default:
				return fmt.Sprintf("Init:ExitCode:%d", t.ExitCode), true
			}
		case w != nil && w.Reason != "" && w.Reason != agentapi.ReasonPodInitializing:
			return "Init:" + w.Reason, true
		default:
			return fmt.Sprintf("Init:%d/%d", i, total), true
		}
	}
	return "", false
}

// initRestarts is the init containers' restarts, which kubectl's RESTARTS
// counts with the app containers'.
func initRestarts(p api.Pod) int32 {
	var n int32
	if p.Status != nil {
		for _, cs := range p.Status.InitContainers {
			n += cs.RestartCount
		}
	}
	return n
}
