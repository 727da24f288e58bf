package api_test

import (
	"net/http"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
)

func TestParseProtocolRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want api.ProtocolRange
		err  bool
	}{
		{"", api.ProtocolRange{Min: 1, Max: 1}, false}, // a v0.15 agent: nothing advertised
		{"1-2", api.ProtocolRange{Min: 1, Max: 2}, false},
		{"2", api.ProtocolRange{Min: 2, Max: 2}, false},
		{"5-6", api.ProtocolRange{Min: 5, Max: 6}, false},
		{"2-1", api.ProtocolRange{}, true},
		{"0-1", api.ProtocolRange{}, true},
		{"x", api.ProtocolRange{}, true},
		{"1-", api.ProtocolRange{}, true},
	} {
		got, err := api.ParseProtocolRange(c.in)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("ParseProtocolRange(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestNegotiate(t *testing.T) {
	r := func(lo, hi int) api.ProtocolRange { return api.ProtocolRange{Min: lo, Max: hi} }
	for _, c := range []struct {
		local, peer api.ProtocolRange
		want        int
		ok          bool
	}{
		{r(1, 2), r(1, 1), 1, true}, // v0.16 reconciler, v0.15 agent
		{r(1, 2), r(1, 2), 2, true},
		{r(1, 2), r(2, 3), 2, true}, // one release newer
		{r(2, 3), r(1, 2), 2, true}, // one release older
		{r(1, 2), r(5, 6), 0, false},
		{r(5, 6), r(1, 2), 0, false},
		{r(3, 4), r(1, 1), 0, false},
	} {
		got, ok := api.Negotiate(c.local, c.peer)
		if got != c.want || ok != c.ok {
			t.Errorf("Negotiate(%v, %v) = %d, %v; want %d, %v", c.local, c.peer, got, ok, c.want, c.ok)
		}
	}
	if s := api.Supported(); s != (api.ProtocolRange{Min: api.ProtocolMin, Max: api.ProtocolMax}) || !s.Contains(api.Protocol1) {
		t.Errorf("Supported() = %v; this release must still speak protocol 1 (v0.15's)", s)
	}
}

func TestRefusalMessages(t *testing.T) {
	local := api.ProtocolRange{Min: 1, Max: 2}
	if got, want := api.RefusedAgent("node-3", "v0.19.0", api.ProtocolRange{Min: 5, Max: 6}, "v0.16.0", local),
		"agent node-3 runs v0.19.0 (protocol 5..6); this reconciler v0.16.0 speaks 1..2: upgrade the reconciler first (docs/compatibility.md)"; got != want {
		t.Errorf("newer agent:\n got %q\nwant %q", got, want)
	}
	if got, want := api.RefusedAgent("node-1", "", api.ProtocolRange{Min: 1, Max: 1}, "v0.18.0", api.ProtocolRange{Min: 3, Max: 4}),
		"agent node-1 runs an unknown version (protocol 1..1); this reconciler v0.18.0 speaks 3..4: upgrade the agent (docs/compatibility.md)"; got != want {
		t.Errorf("older agent:\n got %q\nwant %q", got, want)
	}
	if got, want := api.RefusedRequest(7, "node-a", "v0.16.0", local),
		"the reconciler speaks protocol 7; agent node-a runs v0.16.0 (protocol 1..2): upgrade the agent (docs/compatibility.md)"; got != want {
		t.Errorf("newer reconciler:\n got %q\nwant %q", got, want)
	}
	if got := api.RefusedRequest(1, "node-a", "v0.19.0", api.ProtocolRange{Min: 5, Max: 6}); got != "the reconciler speaks protocol 1; agent node-a runs v0.19.0 (protocol 5..6): upgrade the reconciler (docs/compatibility.md)" {
		t.Errorf("older reconciler: %q", got)
	}
}

func TestRequestProtocol(t *testing.T) {
	if p, err := api.RequestProtocol(http.Header{}); p != api.Protocol1 || err != nil {
		t.Errorf("no header = %d, %v; want protocol 1 (a v0.15 reconciler)", p, err)
	}
	if p, err := api.RequestProtocol(http.Header{api.HeaderProtocol: {"2"}}); p != 2 || err != nil {
		t.Errorf("header 2 = %d, %v", p, err)
	}
	for _, bad := range []string{"x", "0", "-1"} {
		if _, err := api.RequestProtocol(http.Header{api.HeaderProtocol: {bad}}); err == nil {
			t.Errorf("header %q accepted", bad)
		}
	}
}
