package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// persistRetry is how soon a plan whose Memory failed to persist is retried.
const persistRetry = time.Second

// timePlanInterval is how often the plan loop runs with nothing reported,
// for the decisions that only time changes.
const timePlanInterval = 2 * time.Second

// requestPlanLocked asks the plan loop for a plan and returns the request
// number a waiter passes to waitPlan. s.mu must be held.
func (s *Server) requestPlanLocked() uint64 {
	s.planWant++
	select {
	case s.planKick <- struct{}{}:
	default:
	}
	return s.planWant
}

func (s *Server) requestPlan() {
	s.mu.Lock()
	s.requestPlanLocked()
	s.mu.Unlock()
}

// waitPlan returns once a plan covering request target has finished.
func (s *Server) waitPlan(ctx context.Context, target uint64) error {
	for {
		s.mu.Lock()
		done, ch := s.planDone, s.planCh
		s.mu.Unlock()
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

func (s *Server) planLoop(ctx context.Context) {
	// Plan once at start even with nothing requested: the status API shows
	// the remembered pods at once. Pods on nodes that have not rejoined yet
	// keep their placement (the core treats an absent node as not known
	// yet, not as dead), so this moves nothing.
	s.requestPlan()
	// The core's decisions also depend on the clock (minReadySeconds,
	// progress deadlines, node-loss grace): plan at least this often even
	// when nothing is reported. An unchanged plan persists and pushes
	// nothing.
	tick := time.NewTicker(timePlanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.planKick:
		case <-tick.C:
		}
		s.mu.Lock()
		want := s.planWant
		s.mu.Unlock()
		ok := s.planOnce()
		s.mu.Lock()
		// A plan whose Memory could not be persisted pushed nothing: its
		// waiters keep waiting for the retry.
		if ok && want > s.planDone {
			s.planDone = want
		}
		close(s.planCh)
		s.planCh = make(chan struct{})
		s.mu.Unlock()
		if !ok {
			t := time.NewTimer(persistRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
				s.requestPlan()
			}
		}
	}
}

// planOnce runs the core on a snapshot of the state, persists its Memory and
// hands every changed node set to that node's pusher. It returns false when
// Memory could not be persisted (nothing was pushed).
func (s *Server) planOnce() bool {
	s.mu.Lock()
	in := s.planInputLocked()
	s.mu.Unlock()

	start := time.Now()
	out := reconcile.Plan(in)
	if out.Memory.Pods == nil {
		out.Memory.Pods = map[string]reconcile.PodRecord{}
	}
	memJSON := mustJSON(out.Memory)

	s.mu.Lock()
	changedMem := string(memJSON) != string(s.memJSON)
	s.mu.Unlock()
	// The inventory goes to disk before any agent hears of a pod in it, so a
	// crash can't leave a pod running that a restarted reconciler forgot.
	if changedMem {
		if err := s.state.write(fileMemory, memJSON); err != nil {
			s.log.Error("failed to persist memory; not pushing", "err", err)
			return false
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.memory = out.Memory
	s.memJSON = memJSON
	s.pods = out.Pods
	s.workloads = out.Workloads
	s.events = append(s.events, out.Events...)
	if len(s.events) > maxEvents {
		s.events = append(s.events[:0:0], s.events[len(s.events)-maxEvents:]...)
	}
	pushed := 0
	for node, pods := range out.PodSets {
		if pods == nil {
			pods = []agentapi.Pod{}
		}
		// A node that failed or left while this plan ran must not get its
		// set back: its pods may be re-created elsewhere by the next plan.
		if m := s.members[node]; m == nil || m.state != api.NodeAlive {
			continue
		}
		old, had := s.podSets[node]
		if had && encodeEqual(old, pods) {
			continue
		}
		s.gens[node]++
		s.podSets[node] = pods
		if m := s.members[node]; m != nil && m.conn != nil {
			m.conn.offer(&agentapi.PodSet{Node: node, Term: s.term, Generation: s.gens[node], Pods: pods})
			pushed++
		}
	}
	if pushed > 0 || changedMem {
		s.log.Debug("planned", "pods", len(out.Pods), "nodes_pushed", pushed, "took", time.Since(start))
	}
	return true
}

// planInputLocked snapshots the state the core plans from: the applied
// revision, membership, observed pods and Memory. The snapshot shares
// Memory and the observed lists with the server, which only ever replaces
// them, and Plan never writes to its input. s.mu must be held.
func (s *Server) planInputLocked() reconcile.Input {
	in := reconcile.Input{
		Nodes:    s.nodeStatesLocked(),
		Observed: make(map[string][]agentapi.PodStatus, len(s.observed)),
		Memory:   s.memory,
		Now:      time.Now(),
		NewUID:   newUID,
		// Until the grace has passed, a node membership has not reported
		// may simply not have rejoined a restarted reconciler yet.
		AbsentNodesLost: time.Since(s.startedAt) > s.cfg.NodeLossGrace,
	}
	if s.applied != nil {
		in.Desired = s.applied.set
	}
	for n, ps := range s.observed {
		in.Observed[n] = ps
	}
	return in
}

// nodeStatesLocked lists the known agents for the core, sorted by name.
func (s *Server) nodeStatesLocked() []reconcile.NodeState {
	out := make([]reconcile.NodeState, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, reconcile.NodeState{
			Info:  m.info,
			Alive: m.state == api.NodeAlive,
			// An agent that left gracefully is most likely restarting: its
			// pods stay put (and are adopted) unless it stays away.
			Grace: m.state == api.NodeLeft && time.Since(m.since) < s.cfg.NodeLossGrace,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.Name < out[j].Info.Name })
	return out
}

// observe records an agent's status report and asks for a plan.
func (s *Server) observe(node string, l *agentapi.PodStatusList) {
	s.mu.Lock()
	if m := s.members[node]; m == nil || m.state != api.NodeAlive {
		s.mu.Unlock()
		return
	}
	// Heartbeats repeat the last list; only a change needs a plan.
	if old, ok := s.observed[node]; ok && encodeEqual(old, l.Pods) {
		s.mu.Unlock()
		return
	}
	s.observed[node] = l.Pods
	s.requestPlanLocked()
	s.mu.Unlock()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("server: failed to encode state: " + err.Error())
	}
	return b
}
