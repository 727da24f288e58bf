package server

import (
	"net/http"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// handleVersion answers GET /v1/version with this process's build: a
// follower answers for itself, so that a mixed-version control plane
// (during an upgrade) shows which reconciler runs what.
func handleVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, api.Version(version.Get()))
}
