package server

import (
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestNodeStatesGrace pins which absent nodes keep their pods: one that
// left keeps them for the node-loss grace, one reported failed for
// failSettle (its leave may be on its way), and longer while the term is
// young; the wake is when the earliest grace ends.
func TestNodeStatesGrace(t *testing.T) {
	now := time.Now()
	s := &Server{cfg: Config{NodeLossGrace: 15 * time.Second}}
	mk := func(state string, ago time.Duration) member {
		return member{state: state, since: now.Add(-ago)}
	}
	cases := []struct {
		name      string
		m         member
		termAge   time.Duration
		wantGrace bool
		wantWake  time.Duration // from now, 0 for none
	}{
		{"alive", mk(api.NodeAlive, time.Minute), time.Hour, false, 0},
		{"left just now", mk(api.NodeLeft, time.Second), time.Hour, true, 14 * time.Second},
		{"left long ago", mk(api.NodeLeft, 16*time.Second), time.Hour, false, 0},
		{"failed just now", mk(api.NodeFailed, 300*time.Millisecond), time.Hour, true, 2700 * time.Millisecond},
		{"failed after the settle", mk(api.NodeFailed, 4*time.Second), time.Hour, false, 0},
		{"failed in a young term", mk(api.NodeFailed, 3*time.Second), time.Second, true, 4 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &controller{s: s, started: now.Add(-tc.termAge)}
			tc.m.info = agentapi.NodeInfo{Name: "n1"}
			states, wake := c.nodeStates(map[string]member{"n1": tc.m}, nil)
			if len(states) != 1 {
				t.Fatalf("got %d states", len(states))
			}
			if st := states[0]; st.Grace != tc.wantGrace || st.Alive != (tc.m.state == api.NodeAlive) {
				t.Errorf("Grace=%v Alive=%v, want Grace=%v", st.Grace, st.Alive, tc.wantGrace)
			}
			switch {
			case tc.wantWake == 0 && !wake.IsZero():
				t.Errorf("wake in %v, want none", wake.Sub(now))
			case tc.wantWake != 0 && (wake.Sub(now) < tc.wantWake-200*time.Millisecond || wake.Sub(now) > tc.wantWake+200*time.Millisecond):
				t.Errorf("wake in %v, want about %v", wake.Sub(now), tc.wantWake)
			}
		})
	}
}
