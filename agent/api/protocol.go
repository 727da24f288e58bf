package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Versions of the reconciler↔agent protocol (the agent API under /v1 and
// the serf tags), as integers.
//
// Policy: a reconciler works with agents one minor release older and one
// newer (docs/compatibility.md: N-1..N+1). Each release speaks its own
// protocol and the one before it, so ProtocolMin is ProtocolMax-1 at most
// one release after a release raised ProtocolMax; a release that changes
// nothing on the wire keeps both. A peer whose range does not overlap is
// refused with a message naming both versions, never with its pods
// stopped (docs/versions.md).
const (
	// Protocol1 is v0.15's and earlier: nothing is advertised, so an agent
	// without TagProtocol and a request without HeaderProtocol speak it.
	Protocol1 = 1
	// Protocol2 (v0.16) is Protocol1 plus the negotiation itself: the
	// agent's TagVersion and TagProtocol, HeaderProtocol on every request to
	// an agent and on its answers, HeaderVersion on its answers; and
	// host-network pods (spec.PodSpec.HostNetwork in a pod set), which a
	// Protocol1 agent's strict decoding refuses: the scheduler's
	// AgentProtocol filter keeps them off such agents.
	Protocol2 = 2

	// ProtocolMin and ProtocolMax are the range this build speaks.
	ProtocolMin = Protocol1
	ProtocolMax = Protocol2
)

// Negotiation on the wire.
const (
	// HeaderProtocol is, on a request to an agent, the protocol the
	// reconciler chose for it (absent: Protocol1); on the agent's answer,
	// the protocol it answered in.
	HeaderProtocol = "Stevedore-Protocol"
	// HeaderVersion is the release of the binary that answers (the
	// agent's, the reconciler's).
	HeaderVersion = "Stevedore-Version"

	// TagVersion is an agent's release ("v0.16.0") and TagProtocol the
	// protocols it speaks ("1-2"); a reconciler advertises its range too.
	// Kept short: every tag byte is gossiped to every member
	// (docs/scale.md).
	TagVersion  = "v"
	TagProtocol = "pv"
)

// protocolOverride, when set with -ldflags=-X
// github.com/stevedore-dev/stevedore/agent/api.protocolOverride=5-6,
// replaces the range this build speaks. TEST ONLY: the mixed-version tests
// build an agent that claims protocols no release speaks yet.
var protocolOverride string

// ProtocolRange is the protocols a peer speaks, Min..Max inclusive.
type ProtocolRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// String is the human form, "1..2".
func (r ProtocolRange) String() string { return fmt.Sprintf("%d..%d", r.Min, r.Max) }

// Tag is TagProtocol's form, "1-2".
func (r ProtocolRange) Tag() string { return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max) }

// Contains reports whether the range speaks p.
func (r ProtocolRange) Contains(p int) bool { return p >= r.Min && p <= r.Max }

// ParseProtocolRange reads a range as TagProtocol carries it ("1-2", or
// one number "2"). An empty string is Protocol1 alone: a peer from before
// negotiation.
func ParseProtocolRange(s string) (ProtocolRange, error) {
	if s == "" {
		return ProtocolRange{Protocol1, Protocol1}, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b < a {
		return ProtocolRange{}, fmt.Errorf("failed to parse protocol range %q: want min-max, 1 <= min <= max", s)
	}
	return ProtocolRange{a, b}, nil
}

// Supported returns the range this build speaks: ProtocolMin..ProtocolMax,
// or the test override.
func Supported() ProtocolRange {
	if protocolOverride != "" {
		if r, err := ParseProtocolRange(protocolOverride); err == nil {
			return r
		}
	}
	return ProtocolRange{ProtocolMin, ProtocolMax}
}

// Negotiate returns the highest protocol both ranges speak, or false when
// they do not overlap.
func Negotiate(local, peer ProtocolRange) (int, bool) {
	p := min(local.Max, peer.Max)
	if p < max(local.Min, peer.Min) {
		return 0, false
	}
	return p, true
}

// RefusedAgent is the reconciler's message for an agent whose range does
// not overlap its own, saying which side to upgrade.
func RefusedAgent(node, agentVersion string, agent ProtocolRange, version string, local ProtocolRange) string {
	advice := "upgrade the reconciler first"
	if agent.Max < local.Min {
		advice = "upgrade the agent"
	}
	return fmt.Sprintf("agent %s runs %s (protocol %s); this reconciler %s speaks %s: %s (docs/compatibility.md)",
		node, orUnknown(agentVersion), agent, version, local, advice)
}

// RefusedRequest is the agent's message for a request in protocol p,
// which its range local does not speak.
func RefusedRequest(p int, node, version string, local ProtocolRange) string {
	advice := "upgrade the agent"
	if p < local.Min {
		advice = "upgrade the reconciler"
	}
	return fmt.Sprintf("the reconciler speaks protocol %d; agent %s runs %s (protocol %s): %s (docs/compatibility.md)",
		p, node, orUnknown(version), local, advice)
}

func orUnknown(v string) string {
	if v == "" {
		return "an unknown version"
	}
	return v
}

// RequestProtocol returns the protocol a request to an agent is in:
// HeaderProtocol's value, Protocol1 without one.
func RequestProtocol(h http.Header) (int, error) {
	s := h.Get(HeaderProtocol)
	if s == "" {
		return Protocol1, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 {
		return 0, fmt.Errorf("failed to parse header %s %q: want a protocol number", HeaderProtocol, s)
	}
	return p, nil
}

// RefusedRange returns the range an agent that refused a request for its
// protocol says it speaks (the "protocol" member of its 400 body).
func RefusedRange(err error) (ProtocolRange, bool) {
	var se *StatusError
	if !errors.As(err, &se) {
		return ProtocolRange{}, false
	}
	var r ProtocolRange
	if !se.Field("protocol", &r) || r.Min == 0 {
		return ProtocolRange{}, false
	}
	return r, true
}
