package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent/api"
)

const (
	joinBackoffMin = 250 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// startSerf creates the serf member with the node's tags and starts the
// goroutines that drain its events and join the cluster.
func (a *Agent) startSerf(info api.NodeInfo) error {
	tags, err := api.EncodeTags(info)
	if err != nil {
		return fmt.Errorf("failed to encode serf tags: %w", err)
	}
	host, port, err := splitGossip(a.cfg.GossipAddr)
	if err != nil {
		return err
	}
	conf := api.SerfConfig(a.cfg.NodeName, host, port, a.cfg.Logger.With("node", a.cfg.NodeName))
	if err := api.ApplyGossipProfile(conf, a.cfg.GossipProfile); err != nil {
		return err
	}
	conf.Tags = tags
	a.events = make(chan serf.Event, api.GossipEventBuffer)
	conf.EventCh = a.events
	if err := api.EncryptGossip(conf, a.gossipKey()); err != nil {
		return err
	}
	s, err := serf.Create(conf)
	if err != nil {
		return fmt.Errorf("failed to start serf on %s: %w", a.cfg.GossipAddr, err)
	}
	a.serf = s
	a.goroutine("serf-events", a.drainEvents)
	if len(a.cfg.Join) > 0 {
		a.goroutine("serf-join", a.joinLoop)
	}
	return nil
}

// drainEvents reads serf's event channel so serf never blocks on it; the
// daemon only logs membership (the reconciler acts on it).
func (a *Agent) drainEvents() {
	for {
		select {
		case <-a.ctx.Done():
			return
		case ev := <-a.events:
			me, ok := ev.(serf.MemberEvent)
			if !ok {
				a.log.Debug("serf event", "event", ev.String())
				continue
			}
			for _, m := range me.Members {
				a.log.Info("member "+strings.TrimPrefix(me.Type.String(), "member-"),
					"member", m.Name, "addr", fmt.Sprintf("%s:%d", m.Addr, m.Port), "role", m.Tags[api.TagRole])
			}
		}
	}
}

// joinLoop joins Config.Join, retrying with exponential back-off until one
// address answers, so an agent may start before the reconciler. Once joined,
// serf itself keeps the membership (and reconnects to failed members).
func (a *Agent) joinLoop() {
	delay := joinBackoffMin
	for attempt := 1; ; attempt++ {
		n, err := a.serf.Join(a.cfg.Join, false)
		if n > 0 {
			a.log.Info("joined cluster", "via", a.cfg.Join, "contacted", n, "attempts", attempt)
			return
		}
		a.log.Warn("failed to join cluster, retrying", "join", a.cfg.Join, "attempt", attempt, "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, joinBackoffMax)
	}
}
