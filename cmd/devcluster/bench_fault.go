package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// agentClient returns a client for agent i's API.
func (bc *benchCluster) agentClient(i int) *api.Client {
	return bc.c.AgentClient(i)
}

// ensureSpread makes the bench deployment run perNode pods on every agent:
// scaled to 0 and back, since the least-loaded scheduler then spreads them
// evenly and a placed pod is never moved to even things out.
func (bc *benchCluster) ensureSpread(ctx context.Context, perNode int) error {
	total := perNode * len(bc.c.Agents)
	pods, err := currentPods(ctx, bc.c.Client, "bench")
	if err == nil && len(pods) == total && evenlyRunning(pods, len(bc.c.Agents), perNode) {
		return nil
	}
	if _, err := bc.scale(ctx, 0); err != nil {
		return err
	}
	if err := bc.waitGone(ctx); err != nil {
		return fmt.Errorf("scaling to 0: %w", err)
	}
	if _, err := bc.scale(ctx, total); err != nil {
		return err
	}
	if err := bc.waitRunning(ctx, total, 3*time.Minute); err != nil {
		return fmt.Errorf("scaling to %d: %w", total, err)
	}
	pods, err = currentPods(ctx, bc.c.Client, "bench")
	if err != nil {
		return fmt.Errorf("failed to list pods: %w", err)
	}
	if !evenlyRunning(pods, len(bc.c.Agents), perNode) {
		return fmt.Errorf("pods not spread %d per node: %v", perNode, podsPerNode(pods))
	}
	return nil
}

func podsPerNode(pods []rapi.Pod) map[string]int {
	m := map[string]int{}
	for _, p := range pods {
		m[p.Node]++
	}
	return m
}

// evenlyRunning reports whether pods are all Running, perNode on each of
// nodes nodes.
func evenlyRunning(pods []rapi.Pod, nodes, perNode int) bool {
	for _, p := range pods {
		if p.Phase != api.PodRunning {
			return false
		}
	}
	m := podsPerNode(pods)
	if len(m) != nodes {
		return false
	}
	for node, n := range m {
		if node == "" || n != perNode {
			return false
		}
	}
	return true
}

// recoveryTarget bounds the p50 from an agent's kill to all its pods
// Running elsewhere.
const recoveryTarget = 5 * time.Second

// recoveryRun is one agent kill.
type recoveryRun struct {
	node     string
	held     int
	detected time.Duration // kill → the reconciler lists the node as not Alive
	placed   time.Duration // kill → every pod of the victim placed on another node
	running  time.Duration // kill → all pods Running, none on the victim
}

// benchRecovery kills an agent holding perNode pods, runs times, and
// measures until all of them run elsewhere. Each run restarts the killed
// agent afterwards, waits until it has stopped its orphaned containers, and
// spreads the pods again.
func benchRecovery(ctx context.Context, bc *benchCluster, perNode, runs int, out io.Writer) (string, error) {
	st := newStamp()
	total := perNode * len(bc.c.Agents)
	var res []recoveryRun
	for r := range runs {
		if err := bc.ensureSpread(ctx, perNode); err != nil {
			return "", fmt.Errorf("run %d: %w", r+1, err)
		}
		victim := r % len(bc.c.Agents)
		name := bc.c.Agents[victim].Name
		before, err := currentPods(ctx, bc.c.Client, "bench")
		if err != nil {
			return "", fmt.Errorf("failed to list pods: %w", err)
		}
		run := recoveryRun{node: name, held: podsPerNode(before)[name]}
		bc.c.KillAgent(victim)
		start := time.Now()
		err = pollUntil(ctx, 2*time.Minute, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
			if run.detected == 0 {
				if nodes, err := bc.c.Client.Nodes(ctx); err == nil {
					for _, n := range nodes {
						if n.Name == name && n.State != rapi.NodeAlive {
							run.detected = time.Since(start)
						}
					}
				}
			}
			pods, err := currentPods(ctx, bc.c.Client, "bench")
			if err != nil {
				return false, nil // the API is up; a failed poll is retried
			}
			on, running := 0, 0
			for _, p := range pods {
				if p.Node == name || p.Node == "" {
					on++
				} else if p.Phase == api.PodRunning {
					running++
				}
			}
			if run.placed == 0 && on == 0 && len(pods) == total {
				run.placed = time.Since(start)
			}
			return len(pods) == total && on == 0 && running == total, nil
		})
		run.running = time.Since(start)
		if err != nil {
			return "", fmt.Errorf("run %d (killed %s): pods not running elsewhere: %w", r+1, name, err)
		}
		fmt.Fprintf(out, "recovery run %d: killed %s holding %d pods; failed after %s, placed after %s, all running after %s\n",
			r+1, name, run.held, run.detected.Round(time.Millisecond), run.placed.Round(time.Millisecond), run.running.Round(time.Millisecond))
		res = append(res, run)
		if err := bc.c.RestartAgent(victim); err != nil {
			return "", err
		}
		if err := bc.waitAgentBack(ctx, victim); err != nil {
			return "", fmt.Errorf("run %d: restarted %s: %w", r+1, name, err)
		}
	}
	return renderRecovery(res, total, len(bc.c.Agents), st), nil
}

// waitAgentBack waits until restarted agent i is Alive at the reconciler
// and has removed the containers of the pods that moved away.
func (bc *benchCluster) waitAgentBack(ctx context.Context, i int) error {
	name := bc.c.Agents[i].Name
	cl := bc.agentClient(i)
	return pollUntil(ctx, 2*time.Minute, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		nodes, err := bc.c.Client.Nodes(ctx)
		if err != nil {
			return false, nil
		}
		alive := false
		for _, n := range nodes {
			alive = alive || (n.Name == name && n.State == rapi.NodeAlive)
		}
		if !alive {
			return false, nil
		}
		list, err := cl.Pods(ctx)
		if err != nil {
			return false, nil
		}
		return len(list.Pods) == 0, nil
	})
}

// pollUntil calls check every interval until it reports done or fails,
// ctx ends or timeout passes.
func pollUntil(ctx context.Context, timeout, interval time.Duration, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		done, err := check(cctx)
		ccancel()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("failed to finish in %s: %w", timeout, ctx.Err())
		case <-time.After(interval):
		}
	}
}

func renderRecovery(runs []recoveryRun, total, agents int, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secRecovery))
	fmt.Fprintln(&b, "## Recovery")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "%d pods of one Deployment run spread evenly over %d agents (1 reconciler, one machine). An agent\n", total, agents)
	fmt.Fprintln(&b, "holding its share is killed with SIGKILL (its containers keep running, as on a node that vanished from")
	fmt.Fprintln(&b, "the network); the clock stops when the reconciler API lists every pod Running on the other agents")
	fmt.Fprintln(&b, "(polled every 50 ms). The time is mostly failure detection: serf has to declare the node failed")
	fmt.Fprintln(&b, "before its pods are placed again. After each run the agent is restarted on its data dir, stops the")
	fmt.Fprintln(&b, "containers of the pods that moved, and the Deployment is scaled to 0 and back to spread the pods again.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| run | killed | pods it held | node seen failed | pods placed elsewhere | all Running elsewhere |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|")
	var all []time.Duration
	for i, r := range runs {
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s |\n", i+1, r.node, r.held, secs(r.detected), secs(r.placed), secs(r.running))
		all = append(all, r.running)
	}
	if len(all) > 0 {
		fmt.Fprintf(&b, "| median | | | | | **%s** (min %s, max %s) |\n", secs(median(all)), secs(slices.Min(all)), secs(slices.Max(all)))
	}
	fmt.Fprintln(&b)
	if len(all) > 0 {
		fmt.Fprintf(&b, "Target: all the killed agent's pods Running elsewhere, p50 ≤ %s: %s (median %s). The floor is\n",
			secs(recoveryTarget), verdict(median(all) <= recoveryTarget), secs(median(all)))
		fmt.Fprintln(&b, "serf's failure detection (probe interval, suspicion timeout), which the node seen failed column shows,")
		fmt.Fprintln(&b, "plus the reconciler's 3 s wait before it replaces a failed node's pods (a restarting agent can be")
		fmt.Fprintln(&b, "reported failed a few milliseconds before its graceful leave arrives: docs/ha.md).")
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secRecovery))
	return b.String()
}

// ctrKey names one container of one pod incarnation.
type ctrKey struct{ uid, container string }

// ctrState is what tells a container that kept running from a restarted
// one: its containerd ID, when it started and the agent's restart count.
type ctrState struct {
	id        string
	startedAt time.Time
	restarts  int32
}

// snapshotContainers asks every agent directly what runs on it. It also
// returns the range of terms (fencing tokens) the agents have applied a pod
// set of: every agent has applied one of a token above t once minTerm > t.
func (bc *benchCluster) snapshotContainers(ctx context.Context) (m map[ctrKey]ctrState, minTerm, maxTerm uint64, err error) {
	m = map[ctrKey]ctrState{}
	for i := range bc.c.Agents {
		list, err := bc.agentClient(i).Pods(ctx)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("failed to list pods of %s: %w", bc.c.Agents[i].Name, err)
		}
		if i == 0 || list.Term < minTerm {
			minTerm = list.Term
		}
		maxTerm = max(maxTerm, list.Term)
		for _, p := range list.Pods {
			for _, c := range p.Containers {
				s := ctrState{id: c.ContainerID, restarts: c.RestartCount}
				if c.State.Running != nil {
					s.startedAt = c.State.Running.StartedAt
				}
				m[ctrKey{p.UID, c.Name}] = s
			}
		}
	}
	return m, minTerm, maxTerm, nil
}

// countRestarted counts the containers of before that are gone, have a new
// ID, a new start time or a higher restart count in after.
func countRestarted(before, after map[ctrKey]ctrState) int {
	n := 0
	for k, b := range before {
		a, ok := after[k]
		if !ok || a.id != b.id || !a.startedAt.Equal(b.startedAt) || a.restarts > b.restarts {
			n++
		}
	}
	return n
}
