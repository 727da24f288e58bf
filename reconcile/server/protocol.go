package server

import (
	"strconv"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Version negotiation with agents (docs/versions.md). Each agent
// advertises its release and the protocols it speaks in its serf tags (an
// agent from before v0.16 advertises nothing and speaks protocol 1); the
// reconciler picks the highest protocol both speak and sends it on every
// request to that agent (agentapi.Client.Protocol).
//
// An agent whose range does not overlap is refused: no connection is
// opened to it (nothing pushed, nothing watched, so its pods are not
// touched), and the core sees it as a node in grace (NodeState.Grace): its
// pods keep their placement and show Unknown, nothing new is placed on it,
// and nothing is rescheduled away from it, since a version mismatch is an
// operator's upgrade in progress, not a dead node. Its node shows
// NotReady with the refusal as its error (ctl get/describe nodes), an event
// and a log line say why, and once either side is upgraded the next tag
// update negotiates again and the node is used as before.

// Reasons of the events negotiation records: an agent refused, and an
// agent whose protocol changed (upgraded in place) or that was refused
// before.
const (
	eventVersionSkew    = api.EventVersionSkew
	eventProtocolAgreed = "ProtocolNegotiated"
)

// negotiate sets cur's protocol from its advertised range, recording an
// event and a log line when the outcome changes. Called with m.mu held.
func (m *membership) negotiate(name string, cur *member) {
	prevProto, prevRefused := cur.proto, cur.refused
	p, ok := agentapi.Negotiate(m.local, cur.info.Protocol)
	if !ok {
		cur.proto = 0
		cur.refused = agentapi.RefusedAgent(name, cur.info.Version, cur.info.Protocol, m.version, m.local)
		if cur.refused != prevRefused {
			m.event("node/"+name, eventVersionSkew, cur.refused)
			m.log.Error("refusing agent: no protocol in common", "node", name, "version", cur.info.Version,
				"protocol", cur.info.Protocol.String(), "supported", m.local.String(), "reason", cur.refused)
		}
		return
	}
	cur.proto, cur.refused = p, ""
	if p != prevProto {
		if prevRefused != "" || prevProto != 0 {
			m.event("node/"+name, eventProtocolAgreed, fmtAgreed(name, cur.info.Version, p))
		}
		m.log.Info("agent protocol negotiated", "node", name, "version", cur.info.Version,
			"protocol", p, "agentSupports", cur.info.Protocol.String())
	}
}

func fmtAgreed(name, version string, p int) string {
	if version == "" {
		version = "a release from before v0.16"
	}
	return "agent " + name + " runs " + version + ": speaking protocol " + strconv.Itoa(p)
}
