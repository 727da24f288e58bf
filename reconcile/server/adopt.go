package server

import (
	"context"
	"fmt"
	"math"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// A leader whose store holds no pods (a new cluster, or one whose raft
// state was lost) adopts what the agents run before it plans: each
// agent's last applied set (GET /v1/podset: UIDs, owners, template hashes)
// goes into the core's Input.Adopt, so running pods keep their UIDs and a
// completed batch pod is not run again. Nothing is planned, committed or
// pushed before NodeLossGrace has passed since the term began: a control
// plane that lost its state has usually lost its serf snapshot too, and the
// agents rejoin at their own pace; an empty agent that answers first says
// nothing of the others. A new cluster pays that wait once, before its first
// pods. After the grace it goes on with the answers it has (an agent that
// never answers gets a node error when its pushes fail). With no agent at
// all nothing is planned (nothing could run) but a preview.

// adoptFetchTimeout bounds one GET /v1/podset.
const adoptFetchTimeout = 5 * time.Second

// fetchForAdoption reads an agent's applied set for adoption, retrying
// until it answers or the term ends.
func (c *controller) fetchForAdoption(node string, client agentClient) {
	backoff := backoffMin
	for c.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(c.ctx, adoptFetchTimeout)
		set, err := client.PodSet(ctx)
		cancel()
		if err == nil {
			c.mu.Lock()
			if c.adopt == nil {
				c.adopt = map[string][]agentapi.Pod{}
			}
			c.adopt[node] = set.Pods
			// The token of this term must beat what the agent saw, or
			// a rebuilt control plane could repeat an old leader's
			// (term, generation) and be taken for it.
			c.adoptTerm = max(c.adoptTerm, set.Term)
			c.mu.Unlock()
			if len(set.Pods) > 0 {
				c.log.Info("agent runs pods the store does not know: adopting them", "node", node, "pods", len(set.Pods), "agent_term", set.Term)
			}
			c.requestPlan()
			return
		}
		c.log.Warn("failed to read an agent's pod set for adoption, retrying", "node", node, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = nextBackoff(backoff)
	}
}

// adoptionPending reports whether the plan must wait for adoption, and
// until when at the latest.
func (c *controller) adoptionPending() (time.Time, bool) {
	nodes := c.s.members.nodes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.adopting {
		return time.Time{}, false
	}
	alive, answered := 0, 0
	for name, m := range nodes {
		if !m.usable() {
			// A refused agent is not waited for: nothing can be read from it.
			continue
		}
		alive++
		if _, ok := c.adopt[name]; ok {
			answered++
		}
	}
	if alive == 0 {
		// Nothing could run anyway; planning now would make every pod
		// new and end adoption before the agents rejoin.
		return time.Now().Add(maxIdle), true
	}
	graceEnd := c.started.Add(c.s.cfg.NodeLossGrace)
	if time.Now().Before(graceEnd) {
		return graceEnd, true
	}
	if answered < alive {
		c.log.Warn("adopting without the pod sets of agents that did not answer", "alive", alive, "answered", answered)
	}
	return time.Time{}, false
}

// raiseTokenPast commits a TermBase that puts this term's token above seen,
// when it is not already.
func (c *controller) raiseTokenPast(seen uint64) error {
	c.mu.Lock()
	token := c.base + c.term
	c.mu.Unlock()
	if seen < token {
		return nil
	}
	if seen > math.MaxUint64/2 {
		return fmt.Errorf("an agent reports token %d: refusing to raise this cluster's token that far", seen)
	}
	base := seen + 1 - c.term
	if err := c.s.el.apply(&command{Op: opTermBase, TermBase: base}, c.s.cfg.Raft.ApplyTimeout); err != nil {
		return err
	}
	c.mu.Lock()
	c.base = max(c.base, base)
	c.mu.Unlock()
	c.log.Info("raised the token base past what the agents saw", "agent_term", seen, "token", base+c.term)
	return nil
}
