package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

const (
	// failoverTarget bounds the p50 from the leader's kill to the new
	// leader's first pod set applied on every agent.
	failoverTarget = 3 * time.Second
	// settleAfterPlan is how long failover keeps watching after the new
	// leader's first pod sets for containers restarted late.
	settleAfterPlan = 3 * time.Second
	// failoverPoll is how often failover polls the reconcilers and agents.
	failoverPoll = 10 * time.Millisecond
)

// failoverRun is one kill of the leader of a raft group of reconcilers.
type failoverRun struct {
	killed, leader string // the leader killed; the reconciler that took over
	// oldToken is the highest token (raft term + base) any agent had
	// applied a pod set of before the kill; newToken the lowest every agent
	// had applied once the new leader's sets arrived.
	oldToken, newToken uint64
	leaderAt           time.Duration // kill → a surviving reconciler's status says it leads
	plan               time.Duration // kill → every agent applied a pod set with a token above oldToken
	running            time.Duration // kill → the API lists every pod Running again
	containers         int           // containers watched
	restarted          int
	// rejoin is the killed reconciler's restart → it follows the new
	// leader and every pod is Running.
	rejoin time.Duration
}

// benchFailover kills the leader of bc's reconcilers with SIGKILL, runs
// times, and measures until another one leads, until every agent has applied
// a pod set of the new leader's token, and how many containers that
// restarted. After each run the killed reconciler is restarted on its data
// dir and the next run waits until it follows the new leader.
func benchFailover(ctx context.Context, bc *benchCluster, perNode, runs int, out io.Writer) (string, error) {
	st := newStamp()
	if n := len(bc.c.Reconcilers); n < 3 {
		return "", fmt.Errorf("failover needs a raft group of 3 reconcilers, the cluster has %d", n)
	}
	if _, _, err := bc.c.WaitLeader(ctx, time.Minute, nil); err != nil {
		return "", err
	}
	if err := bc.ensureSpread(ctx, perNode); err != nil {
		return "", err
	}
	total := perNode * len(bc.c.Agents)
	var res []failoverRun
	for r := range runs {
		run, err := bc.failoverOnce(ctx, total)
		if err != nil {
			return "", fmt.Errorf("run %d: %w", r+1, err)
		}
		fmt.Fprintf(out, "failover run %d: killed %s, %s leads after %s; token %d→%d on every agent after %s, all running after %s; %d of %d containers restarted; %s following again after %s\n",
			r+1, run.killed, run.leader, run.leaderAt.Round(time.Millisecond), run.oldToken, run.newToken, run.plan.Round(time.Millisecond),
			run.running.Round(time.Millisecond), run.restarted, run.containers, run.killed, run.rejoin.Round(time.Millisecond))
		res = append(res, run)
	}
	return renderFailover(res, total, len(bc.c.Agents), len(bc.c.Reconcilers), st), nil
}

// failoverOnce is one run of benchFailover.
func (bc *benchCluster) failoverOnce(ctx context.Context, total int) (failoverRun, error) {
	c := bc.c
	li, lname, err := c.WaitLeader(ctx, time.Minute, nil)
	if err != nil {
		return failoverRun{}, err
	}
	before, _, oldToken, err := bc.snapshotContainers(ctx)
	if err != nil {
		return failoverRun{}, err
	}
	run := failoverRun{killed: lname, oldToken: oldToken, containers: len(before)}
	c.KillReconciler(li)
	start := time.Now()
	// The phases follow one another (no pod set of a new token before a
	// new leader), so each poll asks one thing: less load from the poll.
	err = pollUntil(ctx, 2*time.Minute, failoverPoll, func(ctx context.Context) (bool, error) {
		if run.leaderAt == 0 {
			for i := range c.Reconcilers {
				if i == li {
					continue
				}
				s, err := c.ReconcilerClient(i).Status(ctx)
				if err == nil && s.Name != "" && s.Leader == s.Name {
					run.leaderAt, run.leader = time.Since(start), s.Name
					break
				}
			}
			return false, nil
		}
		if run.plan == 0 {
			_, minTok, _, err := bc.snapshotContainers(ctx)
			if err != nil || minTok <= oldToken {
				return false, nil
			}
			run.plan, run.newToken = time.Since(start), minTok
		}
		pods, err := currentPods(ctx, c.Client, "bench")
		if err != nil {
			return false, nil
		}
		if runningCount(pods) == total && len(pods) == total {
			run.running = time.Since(start)
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return run, fmt.Errorf("no new leader took over from %s (leader after %s, pod sets after %s): %w", lname, run.leaderAt, run.plan, err)
	}
	// Watch a little longer: a container restarted because of the new
	// term could show up after the API already lists it Running.
	select {
	case <-ctx.Done():
		return run, ctx.Err()
	case <-time.After(settleAfterPlan):
	}
	after, _, _, err := bc.snapshotContainers(ctx)
	if err != nil {
		return run, err
	}
	run.restarted = countRestarted(before, after)

	restart := time.Now()
	if err := c.RestartReconciler(li); err != nil {
		return run, err
	}
	if err := bc.waitFollowing(ctx, li); err != nil {
		return run, err
	}
	if err := bc.waitRunning(ctx, total, 2*time.Minute); err != nil {
		return run, fmt.Errorf("pods after %s rejoined: %w", lname, err)
	}
	run.rejoin = time.Since(restart)
	return run, nil
}

// waitFollowing waits until reconciler i, asked directly, names as leader
// the reconciler a majority names, that leader lists it as a follower (as
// it announces itself through membership), and it has applied the leader's
// commit: the next kill finds a whole group. (Peer.LastContact would say
// more, but the leader's answer leaves it zero.)
func (bc *benchCluster) waitFollowing(ctx context.Context, i int) error {
	name := bc.c.Reconcilers[i].Name
	var last error
	err := pollUntil(ctx, 2*time.Minute, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		li, leader, err := bc.c.Leader(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		s, err := bc.c.ReconcilerClient(i).Status(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		if s.Leader != leader || leader == name {
			last = fmt.Errorf("%s names %q as leader, the majority %q", name, s.Leader, leader)
			return false, nil
		}
		ls, err := bc.c.ReconcilerClient(li).Status(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		for _, p := range ls.Peers {
			if p.Name == name && p.State == rapi.RaftFollower && s.Applied != nil && ls.Applied != nil && s.Applied.Hash == ls.Applied.Hash {
				return true, nil
			}
		}
		last = fmt.Errorf("the leader %s does not list %s as a follower, or it has not applied the same commit: %+v", leader, name, ls.Peers)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("%s never followed the leader again: %w", name, errors.Join(err, last))
	}
	return nil
}

// runningCount counts the pods the API lists Running.
func runningCount(pods []rapi.Pod) int {
	n := 0
	for _, p := range pods {
		if p.Phase == api.PodRunning {
			n++
		}
	}
	return n
}

func renderFailover(runs []failoverRun, total, agents, reconcilers int, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secFailover))
	fmt.Fprintln(&b, "## Failover")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "%d pods run spread over %d agents; %d reconcilers form one raft group (`--bootstrap-expect %d`), all on\n", total, agents, reconcilers, reconcilers)
	fmt.Fprintln(&b, "loopback on one machine. The leader is killed with SIGKILL. **New leader answers** is when a surviving")
	fmt.Fprintln(&b, "reconciler's `GET /v1/status` names itself leader. **First pod set on every agent** is when every")
	fmt.Fprintln(&b, "agent's `GET /v1/pods` reports a token (raft term + base) above the highest any agent had before the")
	fmt.Fprintln(&b, "kill: the new leader has read the replicated inventory, planned, and pushed every node its set (both")
	fmt.Fprintf(&b, "polled every %s). **Containers restarted** compares each agent's report before the kill and %s\n", ms(failoverPoll), secs(settleAfterPlan))
	fmt.Fprintln(&b, "after every pod is Running again: a container whose ID, start time or restart count changed, or that")
	fmt.Fprintln(&b, "is gone, counts. After each run the killed reconciler is restarted on its data dir; the next run starts")
	fmt.Fprintln(&b, "once it follows the new leader and every pod is Running (**rejoined**, from its restart).")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| run | leader killed | new leader | token on the agents | new leader answers | first pod set on every agent | all pods Running at the API | containers restarted | rejoined |")
	fmt.Fprintln(&b, "|---|---|---|---|---:|---:|---:|---:|---:|")
	var leads, plans, running []time.Duration
	restarted, watched := 0, 0
	for i, r := range runs {
		fmt.Fprintf(&b, "| %d | %s | %s | %d → %d | %s | %s | %s | %d of %d | %s |\n", i+1, r.killed, r.leader, r.oldToken, r.newToken,
			secs(r.leaderAt), secs(r.plan), secs(r.running), r.restarted, r.containers, secs(r.rejoin))
		leads, plans, running = append(leads, r.leaderAt), append(plans, r.plan), append(running, r.running)
		restarted += r.restarted
		watched += r.containers
	}
	if len(plans) > 0 {
		fmt.Fprintf(&b, "| median | | | | %s | **%s** (min %s, max %s) | %s | **%d of %d** | |\n", secs(median(leads)),
			secs(median(plans)), secs(slices.Min(plans)), secs(slices.Max(plans)), secs(median(running)), restarted, watched)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| target | measured | |")
	fmt.Fprintln(&b, "|---|---|---|")
	if len(plans) > 0 {
		fmt.Fprintf(&b, "| first pod set of the new leader on every agent, p50 ≤ %s | %s | %s |\n", secs(failoverTarget), secs(median(plans)), verdict(median(plans) <= failoverTarget))
	}
	fmt.Fprintf(&b, "| containers restarted: 0 | %d of %d | %s |\n", restarted, watched, verdict(restarted == 0 && len(runs) > 0))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "What bounds it: a follower stands for election only after hearing nothing from the leader for raft's")
	fmt.Fprintln(&b, "heartbeat timeout (500 ms, which hashicorp/raft randomizes to 500–1,000 ms); the vote then takes one")
	fmt.Fprintln(&b, "round trip, or another election timeout (500 ms, randomized the same way) when two candidates split")
	fmt.Fprintln(&b, "it. About 0.5–1 s to a new leader is thus the floor of this configuration, whatever Stevedore does. The")
	fmt.Fprintln(&b, "rest is the new leader's term start: read the replicated store, plan once (nothing is placed anew:")
	fmt.Fprintln(&b, "every pod is in the store) and push each agent its set with the new token. Serf is not on this path:")
	fmt.Fprintln(&b, "every reconciler already knows the agents from serf, and serf declares the dead reconciler failed only")
	fmt.Fprintln(&b, "seconds later. No container restarts, since the agents keep running what they run until told otherwise.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secFailover))
	return b.String()
}
