package server

import (
	"fmt"
	"maps"
	"net/http"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// ctl delete pod is an opDeletePod entry naming the incarnation (key and
// UID) to delete. The plan re-creates it (reconcile.Input.DeletePods); the
// request is dropped when a plan's delta that applies changes or removes
// that key's record, so the store keeps only the requests not yet carried
// out, the same on every reconciler.
const opDeletePod = "deletePod"

// applyDeletePodLocked records a deletion request.
func (s *store) applyDeletePodLocked(c *command) {
	if r, ok := s.st.Pods[c.Pod]; !ok || r.UID != c.UID {
		return // already gone or re-created: nothing left to delete
	}
	d := maps.Clone(s.st.DeletePods)
	if d == nil {
		d = map[string]string{}
	}
	d[c.Pod] = c.UID
	s.st.DeletePods = d
}

// settleDeletesLocked drops the requests a plan's delta carried out: the
// record of the key is gone or has another UID.
func (s *store) settleDeletesLocked() {
	if len(s.st.DeletePods) == 0 {
		return
	}
	var done []string
	for k, uid := range s.st.DeletePods {
		if r, ok := s.st.Pods[k]; !ok || r.UID != uid {
			done = append(done, k)
		}
	}
	if len(done) == 0 {
		return
	}
	d := maps.Clone(s.st.DeletePods)
	for _, k := range done {
		delete(d, k)
	}
	if len(d) == 0 {
		d = nil
	}
	s.st.DeletePods = d
}

// handleDeletePod serves ctl delete pod: the request is committed to raft
// (a new leader carries it out) and recorded as an event; the plan that
// follows re-creates the pod.
func (s *Server) handleDeletePod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	c := s.ctrl.Load()
	if c == nil {
		errs.WriteHTTP(w, errUnavailable("lost leadership: retry"))
		return
	}
	key := ns + "/" + name
	rec, ok := s.store.pod(key)
	if !ok {
		errs.WriteHTTP(w, errNotFound("pod "+key+" not found"))
		return
	}
	if err := s.el.apply(&command{Op: opDeletePod, Pod: key, UID: rec.UID}, s.cfg.Raft.ApplyTimeout); err != nil {
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
		return
	}
	s.events.add("Pod/"+key, "Killing", fmt.Sprintf("pod %s (uid %s) deleted through the API: stopping it; its owner re-creates it", key, rec.UID))
	c.requestPlan()
	writeJSON(w, http.StatusOK, api.PodDeletion{Namespace: ns, Name: name, UID: rec.UID})
}

// pod returns one record of the inventory.
func (s *store) pod(key string) (reconcile.PodRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.st.Pods[key]
	return r, ok
}
