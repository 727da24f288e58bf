package agent

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Gossip timings. Memberlist's LAN defaults take 5 to 30 seconds to declare
// a crashed node dead; Stevedore runs its agents on loopback or a LAN and
// wants a killed agent's pods rescheduled quickly, so it probes every 500ms
// with a 250ms timeout and lets a suspect refute within
// SuspicionMult*max(1, log10(n))*ProbeInterval = 1.5s (clusters up to 10
// nodes), stretched to at most SuspicionMaxTimeoutMult times that (3s)
// while waiting for independent confirmations. A killed agent is declared
// failed roughly 2 to 5 seconds after it dies.
const (
	gossipProbeInterval     = 500 * time.Millisecond
	gossipProbeTimeout      = 250 * time.Millisecond
	gossipInterval          = 100 * time.Millisecond
	gossipSuspicionMult     = 3
	gossipSuspicionMaxMult  = 2
	gossipPushPullInterval  = 15 * time.Second
	gossipReconnectInterval = 2 * time.Second
	// gossipDeadNodeReclaim lets a node that crashed come back under the
	// same name on a different address after this long.
	gossipDeadNodeReclaim = 10 * time.Second
	// gossipEventBuffer is large enough that serf never waits on the drain
	// goroutine during a burst of joins.
	gossipEventBuffer = 256

	joinBackoffMin = 250 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// SerfConfig returns the serf configuration an agent uses for a member named
// name bound to host:port, with serf's and memberlist's logs sent to logger.
// The reconciler uses it too, so that every member agrees on the timings.
func SerfConfig(name, host string, port int, logger *slog.Logger) *serf.Config {
	conf := serf.DefaultConfig()
	conf.NodeName = name
	conf.ReconnectInterval = gossipReconnectInterval
	conf.EventBuffer = gossipEventBuffer
	l := log.New(slogWriter{logger.With("component", "serf")}, "", 0)
	conf.LogOutput = nil
	conf.Logger = l

	ml := memberlist.DefaultLocalConfig()
	ml.BindAddr = host
	ml.BindPort = port
	ml.AdvertisePort = port
	ml.ProbeInterval = gossipProbeInterval
	ml.ProbeTimeout = gossipProbeTimeout
	ml.GossipInterval = gossipInterval
	ml.SuspicionMult = gossipSuspicionMult
	ml.SuspicionMaxTimeoutMult = gossipSuspicionMaxMult
	ml.PushPullInterval = gossipPushPullInterval
	ml.DeadNodeReclaimTime = gossipDeadNodeReclaim
	ml.LogOutput = nil
	ml.Logger = l
	conf.MemberlistConfig = ml
	return conf
}

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
	conf := SerfConfig(a.cfg.NodeName, host, port, a.cfg.Logger.With("node", a.cfg.NodeName))
	conf.Tags = tags
	a.events = make(chan serf.Event, gossipEventBuffer)
	conf.EventCh = a.events
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

// slogWriter routes serf's and memberlist's standard-library log lines
// ("[LEVEL] memberlist: msg") to slog at the matching level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{
		"[DEBUG] ": slog.LevelDebug, "[TRACE] ": slog.LevelDebug, "[INFO] ": slog.LevelInfo,
		"[WARN] ": slog.LevelWarn, "[ERR] ": slog.LevelError, "[ERROR] ": slog.LevelError,
	} {
		if rest, ok := strings.CutPrefix(msg, prefix); ok {
			msg, level = rest, l
			break
		}
	}
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}
