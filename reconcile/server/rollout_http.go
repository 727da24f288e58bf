package server

import (
	"net/http"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// handleRolloutHistory answers GET /v1/deployments/{namespace}/{name}/history
// from this reconciler's own store (any reconciler answers it): the
// Deployment's revisions, oldest first, the last one Git's current
// template. A Deployment the applied revisions do not declare is not found.
func (s *Server) handleRolloutHistory(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	revs, ok := s.store.history(ns, name)
	if !ok {
		errs.WriteHTTP(w, errNotFound("deployment "+ns+"/"+name+" not found"))
		return
	}
	writeJSON(w, http.StatusOK, api.RevisionList{Revisions: revs})
}
