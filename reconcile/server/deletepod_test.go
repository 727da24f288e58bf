package server

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestDeletePod: ctl delete pod gives the pod a new incarnation under the
// same name, the request leaves the store once carried out, and an unknown
// pod is not found.
func TestDeletePod(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	_, _, s, a, b := webOnTwoAgents(t, log)
	waitFor(t, 15*time.Second, "one pod on each agent", func() bool { return len(a.last().Pods) == 1 && len(b.last().Pods) == 1 })
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()
	victim := a.last().Pods[0]
	d, err := cl.DeletePod(ctx, victim.Namespace, victim.Name)
	if err != nil || d.UID != victim.UID {
		t.Fatalf("delete = %+v, %v; want uid %s", d, err, victim.UID)
	}
	waitFor(t, 10*time.Second, "the pod re-created with a new UID", func() bool {
		for _, ag := range []*fakeAgent{a, b} {
			for _, p := range ag.last().Pods {
				if p.Name == victim.Name && p.UID != victim.UID {
					return true
				}
			}
		}
		return false
	})
	for _, ag := range []*fakeAgent{a, b} {
		for _, p := range ag.last().Pods {
			if p.UID == victim.UID {
				t.Errorf("the deleted incarnation is still in %s's set", ag.name)
			}
		}
	}
	waitFor(t, 5*time.Second, "the request settled", func() bool { return len(s.store.peek().deletePods) == 0 })
	if _, err := cl.DeletePod(ctx, "default", "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("delete of an unknown pod: %v, want not found", err)
	}
	ev, _ := cl.Events(ctx)
	var reasons []string
	for _, e := range ev {
		if e.Object == "Pod/"+victim.Namespace+"/"+victim.Name {
			reasons = append(reasons, e.Reason)
		}
	}
	if !slices.Contains(reasons, "Killing") || !slices.Contains(reasons, "Recreated") {
		t.Errorf("events of the pod: %v, want Killing and Recreated", reasons)
	}
}
