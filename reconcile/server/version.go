package server

import (
	"net/http"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// handleVersion answers GET /v1/version with this process's build: a
// follower answers for itself, so that a mixed-version control plane
// (during an upgrade) shows which reconciler runs what, and the format of
// its store (store_format.go).
func (s *Server) handleVersion(w http.ResponseWriter, _ *http.Request) {
	out := api.Version{Build: api.Build(version.Get())}
	out.StoreFormat, _ = s.store.format()
	out.StoreFormatMax = s.store.reads()
	writeJSON(w, http.StatusOK, out)
}
