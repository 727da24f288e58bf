package server

import (
	"context"
	"sync"
	"time"
)

// Memberlist can report a live agent failed: after a partition heals, a
// stale dead message about it may still be gossiped, and the agent takes a
// moment to refute it. Re-creating its pods then (failSettle) would restart
// healthy pods for nothing, as CI saw once in 5 runs of a partition test.
// So while membership says an agent failed, the leader asks the agent
// itself, over its API, every probeEvery: an agent that answers after it
// was reported failed is alive, whatever gossip says, and keeps its pods
// for failSettle after each answer. A killed agent refuses the
// connection, a partitioned one does not answer in time: both lose their
// pods as before.

// Timings of the direct check.
const (
	probeEvery   = 500 * time.Millisecond
	probeTimeout = time.Second
)

// liveness tracks the direct checks of agents membership reports failed.
type liveness struct {
	mu sync.Mutex
	// probing holds the failure (its since) each running check is for.
	probing map[string]time.Time
	// answered is when each agent last answered a check, after the
	// failure it was checked for.
	answered map[string]time.Time
}

// answeredSince returns when node last answered a check started for a
// failure reported at since; zero if it has not.
func (l *liveness) answeredSince(node string, since time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.answered[node]; ok && t.After(since) {
		return t
	}
	return time.Time{}
}

// checkFailed starts, unless one runs for this failure already, a check of
// the agent at addr that membership reported failed at since. It runs
// until the term ends, membership no longer reports that failure, or until
// passes (each answer moves until failSettle later).
func (c *controller) checkFailed(node, addr string, proto int, since, until time.Time) {
	l := &c.live
	l.mu.Lock()
	if l.probing == nil {
		l.probing, l.answered = map[string]time.Time{}, map[string]time.Time{}
	}
	if s, ok := l.probing[node]; ok && s.Equal(since) {
		l.mu.Unlock()
		return
	}
	l.probing[node] = since
	l.mu.Unlock()
	client := c.s.dialAgent(addr, proto)
	c.goNamed("liveness-"+node, func() {
		defer func() {
			l.mu.Lock()
			if s, ok := l.probing[node]; ok && s.Equal(since) {
				delete(l.probing, node)
			}
			l.mu.Unlock()
		}()
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			m, ok := c.s.members.nodes()[node]
			if !ok || !m.since.Equal(since) || c.ctx.Err() != nil {
				return
			}
			if time.Now().After(until) {
				return
			}
			ctx, cancel := context.WithTimeout(c.ctx, probeTimeout)
			_, err := client.PodSet(ctx)
			cancel()
			if err == nil {
				l.mu.Lock()
				l.answered[node] = time.Now()
				l.mu.Unlock()
				if until.Before(time.Now().Add(failSettle)) {
					until = time.Now().Add(failSettle)
				}
			}
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}
