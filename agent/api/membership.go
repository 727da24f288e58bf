package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
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
	// GossipEventBuffer is large enough that serf never waits on the drain
	// goroutine during a burst of joins.
	GossipEventBuffer = 256
)

// SerfConfig returns the serf configuration every member (agent or reconciler) uses for a member named
// name bound to host:port, with serf's and memberlist's logs sent to logger.
// The reconciler uses it too, so that every member agrees on the timings.
func SerfConfig(name, host string, port int, logger *slog.Logger) *serf.Config {
	conf := serf.DefaultConfig()
	conf.NodeName = name
	conf.ReconnectInterval = gossipReconnectInterval
	conf.EventBuffer = GossipEventBuffer
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
	// Compression (LZW) buys nothing on a LAN and costs a fresh
	// compressor per message: at thousands of members it was a third of
	// every member's gossip CPU and most of its garbage. Receivers still
	// read compressed messages, so mixed versions gossip fine.
	ml.EnableCompression = false
	ml.LogOutput = nil
	ml.Logger = l
	conf.MemberlistConfig = ml
	return conf
}

// Gossip profiles (agent and reconciler --gossip-profile). Every member of
// a cluster should use the same.
const (
	// GossipLocal, the default, is the timings above: a dead node is seen
	// within 2 to 5 seconds in clusters of up to a few hundred members.
	GossipLocal = "local"
	// GossipLarge is for thousands of members: each member probes once a
	// second and waits twice as long for an answer (leaving half the
	// interval for indirect probes), so a member that is slow for a
	// moment (a busy host, a GC pause) is not taken for dead and the
	// cluster does not drown in suspicions; full state is exchanged a
	// quarter as often (memberlist stretches it further with the cluster's
	// size), and failed members are retried every 15 seconds. A dead node
	// is seen in about 2*log10(n) seconds after a probe finds it: 7 s at
	// 5,000 members. docs/scale.md says when to choose it.
	GossipLarge = "large"
)

// ErrGossipProfile is a --gossip-profile that is neither GossipLocal nor
// GossipLarge.
var ErrGossipProfile = errors.New("unknown gossip profile (want local or large)")

// ApplyGossipProfile sets conf's timings to profile's; "" is GossipLocal.
func ApplyGossipProfile(conf *serf.Config, profile string) error {
	switch profile {
	case "", GossipLocal:
		return nil
	case GossipLarge:
		ml := conf.MemberlistConfig
		ml.ProbeInterval = time.Second
		ml.ProbeTimeout = 500 * time.Millisecond
		ml.GossipInterval = 200 * time.Millisecond
		// A suspicion stands for 2*log10(n) probe intervals (7 s at 5,000
		// members) with no wait for confirmations (memberlist waits for
		// SuspicionMult-2 of them): room to refute without doubling the
		// time a dead node's pods wait.
		ml.SuspicionMult = 2
		ml.SuspicionMaxTimeoutMult = 2
		ml.PushPullInterval = 60 * time.Second
		// Each member re-gossips every message RetransmitMult*log10(n)
		// times; push-pull repairs what a lower count misses.
		ml.RetransmitMult = 2
		conf.ReconnectInterval = 15 * time.Second
		return nil
	default:
		return fmt.Errorf("%w: %q", ErrGossipProfile, profile)
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

// EncryptGossip makes conf encrypt and authenticate every gossip message
// with key (AES-256-GCM, memberlist's keyring) and drop any message that is
// not: a member without the key is never seen, and never sees the
// cluster. A nil key leaves gossip in the clear (security disabled).
func EncryptGossip(conf *serf.Config, key []byte) error {
	if key == nil {
		return nil
	}
	kr, err := memberlist.NewKeyring(nil, key)
	if err != nil {
		return fmt.Errorf("failed to create gossip keyring: %w", err)
	}
	conf.MemberlistConfig.Keyring = kr
	conf.MemberlistConfig.GossipVerifyIncoming = true
	conf.MemberlistConfig.GossipVerifyOutgoing = true
	return nil
}
