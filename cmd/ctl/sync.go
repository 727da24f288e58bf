package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// failureReasons are statuses ctl sync --wait treats as a clear failure
// rather than something to keep waiting for.
var failureReasons = map[string]bool{
	agentapi.ReasonErrImagePull:       true,
	agentapi.ReasonImagePullBackOff:   true,
	agentapi.ReasonCrashLoopBackOff:   true,
	agentapi.ReasonContainerCannotRun: true,
	agentapi.ReasonCreateContainerErr: true,
	"Unschedulable":                   true,
	"InvalidImageName":                true,
}

// pollInterval is how often sync --wait reads the pods.
const pollInterval = 200 * time.Millisecond

func (c *cli) syncCmd() *cobra.Command {
	var (
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sync [APP] [--wait] [--timeout D]",
		Short: "Fetch and apply the tracked branch now; with --wait, wait for every pod to run",
		Long: `Ask the reconciler to fetch the tracked branch now, and wait until that fetch has been loaded
and planned. A commit that fails to load is reported with its errors (the last good revision keeps
running) and ctl exits 1. Without APP every application is synced (the bootstrap application
first, then the others at once) and each prints its line; with APP only that one.

With --wait, ctl then waits until every pod is Running (or Succeeded), printing a progress line
("12/30 pods running"), and exits 0; on a clear failure (ErrImagePull, ImagePullBackOff,
CrashLoopBackOff, ContainerCannotRun, Unschedulable, a Failed pod) it lists the failing pods with
their reasons and exits 1; when --timeout passes first it exits 2.`,
		Example: `  ctl sync
  ctl sync --wait --timeout 2m
  ctl sync team-a`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeApp,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			bad, commitBad, err := c.syncApps(ctx, cl, app)
			if err != nil {
				return err
			}
			if bad {
				// 1 says a commit is bad; 2 that ctl could not find
				// out (the remote or the reconciler failed).
				if commitBad {
					return silentExit(exitChanges)
				}
				return silentExit(exitError)
			}
			if !wait {
				return nil
			}
			return c.waitPods(ctx, cl)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every pod is Running or Succeeded, or a clear failure")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long (exit 2)")
	return cmd
}

// waitPods polls the pods until all run, one fails clearly, or ctx ends.
func (c *cli) waitPods(ctx context.Context, cl *api.Client) error {
	tty := isTerminal(c.out)
	last := ""
	progress := func(s string) {
		if s == last {
			return
		}
		last = s
		if tty {
			fmt.Fprintf(c.out, "\r%s\033[K", s)
		} else {
			fmt.Fprintln(c.out, s)
		}
	}
	endLine := func() {
		if tty && last != "" {
			fmt.Fprintln(c.out)
		}
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var pods []api.Pod
	for {
		got, err := cl.Pods(ctx, "")
		got = api.CurrentPods(got) // a stopping pod is not waited for
		if err == nil {
			pods = got // keep the last list for the timeout report
		}
		if err != nil && ctx.Err() == nil {
			endLine()
			return &exitErr{code: exitError, err: err}
		}
		if err == nil {
			done, failed := 0, []api.Pod{}
			for _, p := range pods {
				switch st := podStatus(p); {
				case p.Phase == agentapi.PodRunning && st == agentapi.PodRunning, p.Phase == agentapi.PodSucceeded:
					done++
				case p.Phase == agentapi.PodFailed || failureReasons[strings.TrimPrefix(st, "Init:")] || failureReasons[p.Reason]:
					failed = append(failed, p)
				}
			}
			progress(fmt.Sprintf("%d/%d pods running", done, len(pods)))
			if len(failed) > 0 {
				endLine()
				fmt.Fprintf(c.errOut, "%d pod(s) failed:\n", len(failed))
				printPodProblems(c.errOut, failed)
				return silentExit(exitChanges)
			}
			if done == len(pods) {
				endLine()
				return nil
			}
		}
		select {
		case <-ctx.Done():
			endLine()
			var waiting []api.Pod
			for _, p := range pods {
				if p.Phase != agentapi.PodRunning && p.Phase != agentapi.PodSucceeded {
					waiting = append(waiting, p)
				}
			}
			fmt.Fprintf(c.errOut, "timed out with %d pod(s) not running:\n", len(waiting))
			printPodProblems(c.errOut, waiting)
			return &exitErr{code: exitError, err: errors.New("timed out waiting for pods")}
		case <-t.C:
		}
	}
}

func printPodProblems(w io.Writer, pods []api.Pod) {
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	for _, p := range pods {
		msg := p.Message
		if p.Status != nil {
			for _, cs := range p.Status.Containers {
				if cs.State.Waiting != nil && cs.State.Waiting.Message != "" {
					msg = cs.Name + ": " + cs.State.Waiting.Message
					break
				}
				if cs.State.Terminated != nil && cs.State.Terminated.Message != "" {
					msg = cs.Name + ": " + cs.State.Terminated.Message
					break
				}
			}
		}
		line := fmt.Sprintf("  %s/%s: %s", p.Namespace, p.Name, podStatus(p))
		if p.Node != "" {
			line += " on " + p.Node
		}
		if msg != "" {
			line += ": " + msg
		}
		fmt.Fprintln(w, line)
	}
}

// isTerminal reports whether w is a character device, where a progress line
// can be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
