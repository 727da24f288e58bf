package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// persistRetry is how soon a plan whose delta failed to commit is retried.
const persistRetry = time.Second

// maxIdle is how long the plan loop sleeps with nothing reported and no
// wake time: plans run on changes and at wake times only, so that a large
// cluster with nothing changing costs the leader nothing.
const maxIdle = 24 * time.Hour

// planResult is what the last plan produced, for the view.
type planResult struct {
	pods      []reconcile.PodView
	workloads []reconcile.WorkloadView
	services  []reconcile.ServiceView
	// claims and volumes are the PersistentVolumeClaims and
	// PersistentVolumes with what became of them.
	claims  []reconcile.ClaimView
	volumes []reconcile.VolumeView
	// jobs and cronJobs are the Jobs and CronJobs (jobs_http.go).
	jobs     []reconcile.JobView
	cronJobs []reconcile.CronJobView
}

// requestPlanLocked asks the plan loop for a plan and returns the request
// number a waiter passes to waitPlan. c.mu must be held.
func (c *controller) requestPlanLocked() uint64 {
	c.planWant++
	select {
	case c.planKick <- struct{}{}:
	default:
	}
	return c.planWant
}

func (c *controller) requestPlan() {
	c.mu.Lock()
	c.requestPlanLocked()
	c.mu.Unlock()
}

// waitPlan returns once a plan covering request target has finished.
func (c *controller) waitPlan(ctx context.Context, target uint64) error {
	for {
		c.mu.Lock()
		done, ch := c.planDone, c.planCh
		c.mu.Unlock()
		if done >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("failed to wait for plan: %w", ctx.Err())
		case <-ch:
		}
	}
}

// planLoop plans when something changed (a revision, membership, an
// agent's report, a cordon) or when time alone changes a decision (the wake
// time of the last plan: minReadySeconds, progress deadlines, node-loss
// graces). With nothing changed it does no work at all.
func (c *controller) planLoop() {
	// Plan once at the start of the term: the view shows the remembered
	// pods at once, and pods on nodes that have not rejoined yet keep
	// their placement (an absent node is not known yet, not dead).
	c.requestPlan()
	timer := time.NewTimer(maxIdle)
	defer timer.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.planKick:
		case <-timer.C:
		}
		c.mu.Lock()
		want := c.planWant
		c.mu.Unlock()
		ok, wake := c.planOnce()
		c.mu.Lock()
		// A plan whose delta could not be committed pushed nothing: its
		// waiters keep waiting for the retry.
		if ok && want > c.planDone {
			c.planDone = want
		}
		close(c.planCh)
		c.planCh = make(chan struct{})
		c.mu.Unlock()
		if !ok {
			wake = time.Now().Add(persistRetry)
		}
		d := maxIdle
		if !wake.IsZero() {
			d = max(time.Until(wake), 10*time.Millisecond)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(min(d, maxIdle))
	}
}

// planOnce runs the core on a snapshot of the state, commits its delta to
// raft and hands every changed node set to that node's pusher. It returns
// false when the delta could not be committed (nothing was pushed), and
// when to plan again if nothing else happens.
func (c *controller) planOnce() (bool, time.Time) {
	// Joining nodes get their pod CIDRs before they are planned for: a
	// node without one takes no pods (nodeStates).
	c.syncNodeCIDRs()
	if wait, ok := c.adoptionPending(); ok {
		c.previewPlan()
		return true, wait
	}
	in, wake := c.planInput()
	c.mu.Lock()
	adopting := c.adopting
	c.mu.Unlock()
	if adopting {
		c.mu.Lock()
		seen := c.adoptTerm
		c.mu.Unlock()
		if err := c.raiseTokenPast(seen); err != nil {
			c.log.Error("failed to raise the token past the adopted agents'; not pushing", "err", err)
			return false, time.Time{}
		}
	}
	start := time.Now()
	out := c.planner.Plan(in)
	c.s.metrics.observePlan(time.Since(start))
	c.mu.Lock()
	c.plans++
	c.mu.Unlock()
	if out.Memory.Pods == nil {
		out.Memory.Pods = map[string]reconcile.PodRecord{}
	}
	changedNodes, allNodes := c.planner.ChangedNodes()
	// The delta is committed before any agent hears of a pod in it, so a
	// failover can't leave a pod running that the new leader forgot. The
	// plan that ends adoption commits the whole inventory: its input
	// (adopted or previewed) was never committed.
	d := memoryDelta(&out)
	if adopting {
		d = podDelta(nil, out.Memory.Pods)
	}
	d = addVolumeDelta(d, &out)
	d = addJobDelta(d, &out)
	if adopting {
		d = addAllJobs(d, &out)
	}
	if d != nil {
		n, err := c.s.el.applySize(d, c.s.cfg.Raft.ApplyTimeout)
		c.lastDelta = n
		if err != nil {
			c.log.Error("failed to commit the plan; not pushing", "err", err)
			// The planner wrote the plan into its memory in place: start
			// again from what the store holds, with a full plan.
			c.mu.Lock()
			c.mem = c.s.store.memory()
			c.planner = reconcile.NewPlanner()
			c.mu.Unlock()
			return false, time.Time{}
		}
	}
	c.mu.Lock()
	c.adopting = false
	prevWorkloads := c.lastPlan.workloads
	c.mu.Unlock()
	c.s.events.append(out.Events)
	// Rollouts that completed or passed their deadline: transitions of
	// the views, which the core cannot emit itself (reconcile.WorkloadEvents).
	c.s.events.append(reconcile.WorkloadEvents(prevWorkloads, out.Workloads, in.Now))
	logMoves(c.log, out.Events)
	// Revision numbers in the views; healthy marks and automatic
	// rollbacks proposed (rollout.go).
	workloads := c.rolloutViews(out.Workloads, in.Desired, true)
	// minReadySeconds and progress deadlines change decisions with time
	// alone: the core says when.
	wake = earliest(wake, out.Wake)
	// The network follows the plan's pods (their IPs and readiness): when
	// it changes, every node gets its set again, pods changed or not.
	netp := c.planNetwork(out.Pods, c.s.members.nodes())

	c.mu.Lock()
	c.mem = out.Memory
	c.lastPlan = planResult{pods: out.Pods, workloads: workloads, services: netp.views, claims: out.Claims, volumes: out.Volumes,
		jobs: out.Jobs, cronJobs: out.CronJobs}
	netChanged := c.net == nil || c.net.key != netp.key
	c.storage = storageOf(&out)
	c.net = netp
	if in.Desired != nil {
		c.lastSets = out.PodSets
	}
	token := c.base + c.term
	pushed := 0
	if in.Desired == nil {
		// Nothing applied yet (a new cluster, or one whose state was
		// lost): an empty set would stop every pod an agent runs.
		out.PodSets = nil
	}
	nodes := changedNodes
	if allNodes || netChanged {
		nodes = nodes[:0:0]
		for node := range out.PodSets {
			nodes = append(nodes, node)
		}
	}
	for _, node := range nodes {
		pods, ok := out.PodSets[node]
		if !ok {
			continue // a node gone from the plan: its conn is closed
		}
		if pods == nil {
			pods = []agentapi.Pod{}
		}
		// A node that failed or left while this plan ran must not get its
		// set back: its pods may be re-created elsewhere by the next plan.
		conn := c.conns[node]
		if conn == nil {
			continue
		}
		// A full plan makes every set anew; the planner names the ones
		// it changed.
		if old, had := c.podSets[node]; had && allNodes && !netChanged && samePods(old, pods) &&
			reflect.DeepEqual(c.sentStorage[node], c.storage[node]) {
			continue
		}
		c.gens[node]++
		c.podSets[node] = pods
		if c.sentStorage == nil {
			c.sentStorage = map[string]nodeStorage{}
		}
		c.sentStorage[node] = c.storage[node]
		conn.offer(c.podSetLocked(node, token, pods))
		pushed++
	}
	c.mu.Unlock()
	c.publish()
	if pushed > 0 || out.MemoryChanged {
		c.log.Debug("planned", "pods", len(out.Pods), "nodes_pushed", pushed, "took", time.Since(start))
	}
	return true, wake
}

// previewPlan plans for the view only, while adoption holds the real plan
// back: with no agent yet, `ctl get pods` shows the pods Pending, as
// Kubernetes would. Nothing is committed or pushed. Its memory is kept (not
// committed) and, when no agent turns out to run pods, becomes the first
// committed inventory, so the Pending pods keep their UIDs.
func (c *controller) previewPlan() {
	in, _ := c.planInput()
	in.Adopt = nil
	out := reconcile.Plan(in)
	netp := c.planNetwork(out.Pods, c.s.members.nodes())
	workloads := c.rolloutViews(out.Workloads, in.Desired, false)
	c.mu.Lock()
	c.mem = out.Memory
	c.lastPlan = planResult{pods: out.Pods, workloads: workloads, services: netp.views, claims: out.Claims, volumes: out.Volumes,
		jobs: out.Jobs, cronJobs: out.CronJobs}
	c.mu.Unlock()
	c.s.events.append(out.Events)
	c.publish()
}

// planInput snapshots what the core plans from: the applied revision (from
// the store), membership with the cordons, observed pods and the inventory,
// and the earliest time a node's grace ends.
func (c *controller) planInput() (reconcile.Input, time.Time) {
	v := c.s.store.peek()
	set := c.s.store.desired()
	// Automatic rollbacks in force (store_rollout.go).
	rollbacks := c.s.store.rollouts().rollbacks
	nodes, wake := c.nodeStates(c.s.members.nodes(), v.overrides)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Jobs ctl created since the last plan (store_jobs.go).
	c.mergeCreatedJobsLocked()
	in := reconcile.Input{
		Scheduler: &c.s.cfg.Scheduler,
		Desired:   set,
		Nodes:     nodes,
		Observed:  make(map[string][]agentapi.PodStatus, len(c.observed)),
		Memory:    c.mem,
		Overrides: rollbacks,
		// ctl delete pod requests not carried out yet.
		DeletePods: v.deletePods,
		Now:        planClock(),
		NewUID:     newUID,
		// Until the grace has passed, a node membership has not reported
		// may simply not have rejoined a new leader yet.
		AbsentNodesLost: time.Since(c.started) > c.s.cfg.NodeLossGrace,
	}
	if !in.AbsentNodesLost {
		wake = earliest(wake, c.started.Add(c.s.cfg.NodeLossGrace))
	}
	for n, ps := range c.observed {
		in.Observed[n] = ps
	}
	if len(c.volStatus) > 0 {
		in.VolumeStatus = make(map[string][]agentapi.VolumeStatus, len(c.volStatus))
		for n, vs := range c.volStatus {
			in.VolumeStatus[n] = vs
		}
	}
	if c.adopting {
		for _, pods := range c.adopt {
			if len(pods) > 0 {
				// The agents' pods, not the preview's, are the inventory.
				// The Jobs' progress is the store's, pods or not.
				in.Adopt, in.Memory = c.adopt, reconcile.Memory{Pods: map[string]reconcile.PodRecord{}, Jobs: c.mem.Jobs, CronJobs: c.mem.CronJobs}
				break
			}
		}
	}
	return in, wake
}

// memoryDelta is the raft entry of a plan: the records it changed and the
// keys it deleted, nil when it changed nothing.
func memoryDelta(out *reconcile.Output) *command {
	if len(out.Changed) == 0 && len(out.Deleted) == 0 {
		return nil
	}
	c := &command{Op: opPods, Delete: out.Deleted, Upsert: make([]reconcile.PodRecord, 0, len(out.Changed))}
	for _, k := range out.Changed {
		c.Upsert = append(c.Upsert, out.Memory.Pods[k])
	}
	return c
}

// logMoves logs the plan's decisions an operator looks for after the fact:
// pods re-created because their node was lost or evicted by a taint (the
// first few of each, and how many).
func logMoves(log *slog.Logger, events []reconcile.Event) {
	const shown = 5
	counts := map[string]int{}
	for _, ev := range events {
		if ev.Reason != reconcile.EventNodeLost && ev.Reason != reconcile.EventEvicted {
			continue
		}
		if counts[ev.Reason]++; counts[ev.Reason] <= shown {
			log.Info("pod re-created", "reason", ev.Reason, "pod", strings.TrimPrefix(ev.Object, "Pod/"), "detail", ev.Message)
		}
	}
	for reason, n := range counts {
		if n > shown {
			log.Info("pods re-created", "reason", reason, "count", n)
		}
	}
}

// failSettle is how long a node reported failed keeps its pods. Serf
// reports an agent that leaves gracefully (a restart) as failed when
// memberlist's dead message outruns serf's leave intent, or when the intent
// is lost: CI saw the leave arrive 11 ms later once, and never another
// time, the agent rejoining 1.4 s after it was reported failed. Detection
// itself takes 2 to 5 s; every second here is a second more before a dead
// node's pods run elsewhere. The real fix is an agent that says it is
// restarting before it leaves (a serf tag set with a confirmed broadcast).
const failSettle = 3 * time.Second

// termSettle is how long after a term begins a node reported failed keeps
// its pods (as one that left does): long enough for the flaps of a
// membership that is settling around a new leader, short enough that a
// node that really died is replaced soon.
const termSettle = 5 * time.Second

// earliest returns the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// Taints that ctl cordon and drain put on a node, as Kubernetes marks a
// cordoned node (node.kubernetes.io/unschedulable:NoSchedule); a drained
// node also evicts every pod that does not tolerate stevedore.dev/drained.
const (
	taintCordon = "node.kubernetes.io/unschedulable"
	taintDrain  = "stevedore.dev/drained"
)

// nodeStates lists the known agents for the core, sorted by name, with the
// cordons of ctl applied, and the earliest end of a left node's grace.
func (c *controller) nodeStates(members map[string]member, overrides map[string]nodeOverride) ([]reconcile.NodeState, time.Time) {
	out := make([]reconcile.NodeState, 0, len(members))
	var wake time.Time
	var cidrs map[string]string
	if c.s.store != nil {
		cidrs = c.s.store.network().podCIDRs
	}
	for name, m := range members {
		info := m.info
		if c.s.store != nil && cidrs[name] == "" {
			// No pod CIDR (yet, or its override overlaps another node's):
			// it could not give pods addresses (network.go).
			info.Taints = append(append([]spec.Taint(nil), info.Taints...), spec.Taint{Key: taintNoPodCIDR, Effect: spec.TaintEffectNoSchedule})
		}
		if o, ok := overrides[name]; ok {
			taints := append([]spec.Taint(nil), info.Taints...)
			if o.Cordoned || o.Drained {
				taints = append(taints, spec.Taint{Key: taintCordon, Effect: spec.TaintEffectNoSchedule})
			}
			if o.Drained {
				taints = append(taints, spec.Taint{Key: taintDrain, Effect: spec.TaintEffectNoExecute})
			}
			info.Taints = taints
		}
		// An agent that left gracefully is most likely restarting: its
		// pods stay put (and are adopted) unless it stays away. A failure
		// keeps them for a moment (an agent restarting gracefully can be
		// reported failed just before its leave arrives), and for longer
		// while this term is young: a new leader's membership is settling
		// (serf refutes stale dead messages).
		var until time.Time
		switch m.state {
		case api.NodeLeft:
			until = m.since.Add(c.s.cfg.NodeLossGrace)
		case api.NodeFailed:
			until = m.since.Add(min(failSettle, c.s.cfg.NodeLossGrace))
			if young := c.started.Add(min(termSettle, c.s.cfg.NodeLossGrace)); young.After(until) {
				until = young
			}
			// An agent that still answers its API is alive, whatever
			// gossip says (liveness.go).
			if t := c.live.answeredSince(name, m.since); !t.IsZero() && t.Add(failSettle).After(until) {
				until = t.Add(failSettle)
			}
			if m.info.APIAddr != "" {
				c.checkFailed(name, m.info.APIAddr, m.proto, m.since, until)
			}
		}
		grace := time.Now().Before(until)
		if grace {
			wake = earliest(wake, until)
		}
		if m.state == api.NodeAlive && m.refused != "" {
			// No protocol in common (protocol.go): its pods stay where
			// they are, nothing new goes there, for as long as it lasts.
			out = append(out, reconcile.NodeState{Info: info, Grace: true})
			continue
		}
		out = append(out, reconcile.NodeState{Info: info, Alive: m.state == api.NodeAlive, Grace: grace})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.Name < out[j].Info.Name })
	return out, wake
}

// samePods reports whether two sets of a node are the same. DeepEqual
// answers most (a full plan rebuilds the sets from the same objects) at a
// fraction of encoding both; only its "no" needs encodeEqual's check.
func samePods(a, b []agentapi.Pod) bool {
	return len(a) == len(b) && (reflect.DeepEqual(a, b) || encodeEqual(a, b))
}

// encodeEqual reports whether a and b marshal to the same JSON. Pod specs
// hold resource.Quantity values whose cached string form makes
// reflect.DeepEqual unreliable.
func encodeEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
