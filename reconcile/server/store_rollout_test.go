package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// rolloutDeploy is a Deployment of one container running image; limit, when
// not negative, is its revisionHistoryLimit.
func rolloutDeploy(name, image string, limit int) string {
	l := ""
	if limit >= 0 {
		l = fmt.Sprintf("  revisionHistoryLimit: %d\n", limit)
	}
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n" + l +
		"  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec: {containers: [{name: c, image: " + image + "}]}\n---\n"
}

// commitRev is a revision entry of the bootstrap application at commit
// hash whose files are the documents given.
func commitRev(hash, subject string, docs ...string) *command {
	return &command{Op: opRevision, Revision: &savedRevision{
		Commit: api.Commit{Hash: hash, Author: "Ada Lovelace", Message: subject + "\n\nbody", Time: time.Unix(1700000000, 0).UTC()},
		Files:  map[string][]byte{"all.yaml": []byte(nsYAML + "---\n" + strings.Join(docs, ""))},
	}}
}

// revSummary is a history as "number:commit:image[:healthy]" strings.
func revSummary(s *store, owner string) []string {
	var out []string
	for _, r := range s.rollouts().histories[owner] {
		e := fmt.Sprintf("%d:%s:%s", r.Number, r.Commit, strings.Join(r.Images, ","))
		if r.Healthy {
			e += ":healthy"
		}
		out = append(out, e)
	}
	return out
}

const (
	ownerWeb = "Deployment/shop/web"
	ownerAPI = "Deployment/shop/api"
)

// TestStoreRolloutHistory: revisions are recorded when a commit changes a
// template (not when it does not), numbered on, trimmed to
// revisionHistoryLimit, renumbered when a template comes back, and dropped
// with their Deployment; the same log gives the same histories on every
// store.
func TestStoreRolloutHistory(t *testing.T) {
	log := []*command{
		commitRev("c1", "first", rolloutDeploy("web", "img:1", -1)),
		commitRev("c2", "add api", rolloutDeploy("web", "img:1", -1), rolloutDeploy("api", "api:1", 2)),
		commitRev("c3", "web 2", rolloutDeploy("web", "img:2", -1), rolloutDeploy("api", "api:1", 2)),
		commitRev("c4", "revert web 2", rolloutDeploy("web", "img:1", -1), rolloutDeploy("api", "api:2", 2)),
		commitRev("c5", "api 3", rolloutDeploy("web", "img:1", -1), rolloutDeploy("api", "api:3", 2)),
		commitRev("c6", "api 4", rolloutDeploy("web", "img:1", -1), rolloutDeploy("api", "api:4", 2)),
	}
	s := newStore()
	for i, c := range log {
		applyCmd(t, s, uint64(i+1), c)
		if i == 0 {
			if diff := cmp.Diff([]string{"1:c1:img:1"}, revSummary(s, ownerWeb)); diff != "" {
				t.Fatalf("after c1 (-want +got):\n%s", diff)
			}
			r := s.rollouts().histories[ownerWeb][0]
			if r.Author != "Ada Lovelace" || r.Subject != "first" || !r.Time.Equal(time.Unix(1700000000, 0)) || r.Template.Spec.Containers[0].Image != "img:1" || r.Hash == "" {
				t.Errorf("revision 1 = %+v", r)
			}
		}
	}
	// web: img:1 came back in c4 as revision 3, and revision 1 went.
	if diff := cmp.Diff([]string{"2:c3:img:2", "3:c4:img:1"}, revSummary(s, ownerWeb)); diff != "" {
		t.Errorf("web (-want +got):\n%s", diff)
	}
	// api: revisionHistoryLimit 2 keeps two besides the current one.
	if diff := cmp.Diff([]string{"2:c4:api:2", "3:c5:api:3", "4:c6:api:4"}, revSummary(s, ownerAPI)); diff != "" {
		t.Errorf("api (-want +got):\n%s", diff)
	}
	revs, ok := s.history("shop", "api")
	if !ok || len(revs) != 3 || !revs[2].Current || revs[1].Current || revs[2].Number != 4 {
		t.Errorf("history(api) = %+v, %v", revs, ok)
	}

	// Every store replaying the log numbers alike.
	other := newStore()
	for i, c := range log {
		applyCmd(t, other, uint64(i+1), c)
	}
	if !encodeEqual(s.rollouts().histories, other.rollouts().histories) {
		t.Errorf("two stores of one log differ")
	}

	// api leaves Git: its history goes; the unknown one is not found.
	applyCmd(t, s, 7, commitRev("c7", "drop api", rolloutDeploy("web", "img:1", -1)))
	if _, ok := s.rollouts().histories[ownerAPI]; ok {
		t.Errorf("api's history outlived it")
	}
	if _, ok := s.history("shop", "api"); ok {
		t.Errorf("history of a deleted Deployment found")
	}
	if revs, ok := s.history("shop", "web"); !ok || len(revs) != 2 {
		t.Errorf("history(web) = %+v, %v", revs, ok)
	}
}

// TestStoreRolloutHealthyAndOverride: healthy marks, an override set, a
// stale override refused without breaking the store, the override dropped
// when Git's template changes, and everything through a snapshot, with an
// old snapshot restoring revision 1 of every current template.
func TestStoreRolloutHealthyAndOverride(t *testing.T) {
	s := newStore()
	applyCmd(t, s, 1, commitRev("c1", "first", rolloutDeploy("web", "img:1", -1)))
	good := s.rollouts().histories[ownerWeb][0]
	applyCmd(t, s, 2, &command{Op: opRolloutHealthy, Healthy: []revisionRef{{Owner: ownerWeb, Hash: good.Hash}, {Owner: ownerWeb, Hash: "gone"}, {Owner: "Deployment/x/y", Hash: "z"}}})
	applyCmd(t, s, 3, commitRev("c2", "bad", rolloutDeploy("web", "img:bad", -1)))
	if diff := cmp.Diff([]string{"1:c1:img:1:healthy", "2:c2:img:bad"}, revSummary(s, ownerWeb)); diff != "" {
		t.Fatalf("marks (-want +got):\n%s", diff)
	}
	bad := s.rollouts().histories[ownerWeb][1]

	// An override for a template Git no longer has is refused alike on
	// every store, and breaks none.
	stale := &command{Op: opRolloutOverride, Owner: ownerWeb, Rollback: &reconcile.TemplateOverride{GitHash: good.Hash, Hash: good.Hash, Template: good.Template, Reason: "x"}}
	if err := applyRaw(s, 4, stale); err == nil || !strings.Contains(err.Error(), "Git's is now "+bad.Hash) {
		t.Errorf("stale override: %v", err)
	}
	if s.failed() != nil {
		t.Fatalf("a refused override broke the store: %v", s.failed())
	}
	held := s.rollouts() // a reader holds the maps: Apply must not write to them
	o := reconcile.TemplateOverride{GitHash: bad.Hash, Hash: good.Hash, Template: good.Template, Reason: rollbackReason(&bad)}
	applyCmd(t, s, 5, &command{Op: opRolloutOverride, Owner: ownerWeb, Rollback: &o})
	if got := s.rollouts().rollbacks[ownerWeb]; got.Hash != good.Hash || got.Reason != "progress deadline exceeded on revision 2 (commit c2)" {
		t.Errorf("override = %+v", got)
	}
	if len(held.rollbacks) != 0 || held.gen == s.rollouts().gen {
		t.Errorf("held state changed under its reader, or the generation did not move")
	}

	// Snapshot and restore keep histories and overrides.
	buf := snapshotOf(t, s)
	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(buf))); err != nil {
		t.Fatal(err)
	}
	if !encodeEqual(s.rollouts().histories, r.rollouts().histories) || !encodeEqual(s.rollouts().rollbacks, r.rollouts().rollbacks) {
		t.Errorf("restored:\n%v\n%v", r.rollouts().histories, r.rollouts().rollbacks)
	}

	// A snapshot from before histories: the current template is revision 1
	// of the applied commit, and no override survives without a history.
	var old map[string]any
	if err := json.Unmarshal(buf, &old); err != nil {
		t.Fatal(err)
	}
	delete(old, "histories")
	ob, _ := json.Marshal(old)
	o2 := newStore()
	if err := o2.Restore(io.NopCloser(bytes.NewReader(ob))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1:c2:img:bad"}, revSummary(o2, ownerWeb)); diff != "" {
		t.Errorf("old snapshot (-want +got):\n%s", diff)
	}
	if len(o2.rollouts().rollbacks) != 1 {
		t.Errorf("old snapshot's override for the current template dropped: %v", o2.rollouts().rollbacks)
	}

	// Git's template changes: the override goes in the same Apply.
	applyCmd(t, s, 6, commitRev("c3", "fix", rolloutDeploy("web", "img:3", -1)))
	if len(s.rollouts().rollbacks) != 0 {
		t.Errorf("override kept after Git moved on: %v", s.rollouts().rollbacks)
	}
	// Dropping by entry works too (ctl rollout undo's way back to Git).
	applyCmd(t, s, 7, &command{Op: opRolloutOverride, Owner: ownerWeb, Rollback: &reconcile.TemplateOverride{GitHash: s.rollouts().histories[ownerWeb][2].Hash, Hash: good.Hash, Template: good.Template}})
	applyCmd(t, s, 8, &command{Op: opRolloutOverride, Owner: ownerWeb})
	if len(s.rollouts().rollbacks) != 0 {
		t.Errorf("override not dropped: %v", s.rollouts().rollbacks)
	}
	if err := applyRaw(s, 9, &command{Op: opRolloutOverride}); err == nil {
		t.Errorf("an override without a Deployment applied")
	}
}

func snapshotOf(t *testing.T, s *store) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}
