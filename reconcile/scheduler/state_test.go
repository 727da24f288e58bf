package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestStateMatchesSchedule drives a State through random rounds of pods
// removed, added and scheduled, and checks after each round that it
// schedules exactly as a fresh Schedule call over the same placed pods.
func TestStateMatchesSchedule(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			nodes, pods := genCluster(r, 8+r.IntN(20), 120)
			s := newSched(t, Config{})
			// Place a first half through a plain Schedule call.
			half := len(pods) / 2
			res := s.Schedule(nodes, nil, pods[:half])
			placed := map[string]Pod{}
			var order []string
			for i, p := range pods[:half] {
				if res[i].Node != "" {
					p.Node = res[i].Node
					placed[p.Name] = p
					order = append(order, p.Name)
				}
			}
			list := func() []Pod {
				var out []Pod
				for _, n := range order {
					if p, ok := placed[n]; ok {
						out = append(out, p)
					}
				}
				return out
			}
			st := s.NewState(nodes, list())
			rest := pods[half:]
			removed := 0
			defer func() { t.Logf("%d pods removed", removed) }()
			if seed%2 == 0 {
				defer func(n int) { compactAt = n }(compactAt)
				compactAt = 4
			}
			for round := 0; len(rest) > 0; round++ {
				// Remove a few placed pods.
				for _, n := range order {
					if p, ok := placed[n]; ok && r.IntN(6) == 0 {
						delete(placed, n)
						st.Remove(p.Namespace, n)
						removed++
					}
				}
				k := min(len(rest), 1+r.IntN(12))
				pending := rest[:k]
				rest = rest[k:]
				want := s.Schedule(nodes, list(), pending)
				got := st.Schedule(pending)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d: state schedules\n%v\nfresh schedule\n%v", round, got, want)
				}
				for i, p := range pending {
					if got[i].Node != "" {
						p.Node = got[i].Node
						placed[p.Name] = p
						order = append(order, p.Name)
					}
				}
				if st.Len() != len(placed) {
					t.Fatalf("round %d: state holds %d pods, want %d", round, st.Len(), len(placed))
				}
			}
		})
	}
}
