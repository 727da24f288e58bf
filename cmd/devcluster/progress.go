package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// waitSettled waits until done holds for the pods, printing progress as it
// goes: how many pods have settled and the first problem a pod or a node
// has (an image that does not pull, a container that cannot start, a node
// whose set was not applied), so that a wait that will never end says why
// on the screen instead of sitting silent until its timeout.
func waitSettled(ctx context.Context, c *rapi.Client, out io.Writer, done func([]rapi.Pod) bool) ([]rapi.Pod, error) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var last string
	lastAt := time.Now()
	for {
		pods, err := c.Pods(ctx, "")
		pods = rapi.CurrentPods(pods)
		if err == nil && done(pods) {
			return pods, nil
		}
		line := ""
		if err != nil {
			line = "reconciler not answering yet: " + err.Error()
		} else {
			line = progressLine(pods)
			if st, serr := c.Status(ctx); serr == nil {
				if st.LastError != nil {
					line += "; last sync failed: " + st.LastError.Message
				}
				if len(st.NodeErrors) > 0 {
					line += fmt.Sprintf("; node %s: %s", st.NodeErrors[0].Node, st.NodeErrors[0].Message)
				}
			}
		}
		// A changed line at once; the same one again every 10 s, so a
		// long wait still shows it is alive.
		if line != last || time.Since(lastAt) > 10*time.Second {
			fmt.Fprintln(out, "  "+line)
			last, lastAt = line, time.Now()
		}
		select {
		case <-ctx.Done():
			return pods, fmt.Errorf("failed to wait for pods: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// progressLine is "3/5 pods settled" and the first unsettled pod's reason.
func progressLine(pods []rapi.Pod) string {
	settled, first := 0, ""
	for _, p := range pods {
		if allSettled([]rapi.Pod{p}) {
			settled++
			continue
		}
		if first == "" {
			first = podProblem(p)
		}
	}
	s := fmt.Sprintf("%d/%d pods settled", settled, len(pods))
	if first != "" {
		s += "; " + first
	}
	return s
}

// podProblem describes why p has not settled: its phase and reason, or its
// first waiting or failed container's.
func podProblem(p rapi.Pod) string {
	s := fmt.Sprintf("%s/%s %s", p.Namespace, p.Name, p.Phase)
	reason, msg := p.Reason, p.Message
	if p.Status != nil {
		for _, cs := range p.Status.Containers {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != api.ReasonContainerCreating {
				reason, msg = w.Reason, w.Message
				break
			}
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				reason, msg = t.Reason, t.Message
				break
			}
		}
	}
	if reason != "" {
		s += " " + reason
	}
	if msg != "" {
		s += ": " + msg
	}
	return s
}
