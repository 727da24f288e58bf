package server

import (
	"net/http"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// handleVersion answers GET /v1/version with this process's build and what
// it serves (API versions, the agent protocols it speaks): a follower
// answers for itself, so that a mixed-version control plane (during an
// upgrade) shows which reconciler runs what, and the format of its store
// (store_format.go).
func (s *Server) handleVersion(w http.ResponseWriter, _ *http.Request) {
	out := serverVersion()
	out.StoreFormat, _ = s.store.format()
	out.StoreFormatMax = s.store.reads()
	writeJSON(w, http.StatusOK, out)
}

func serverVersion() api.Version {
	bi := version.Get()
	proto := agentapi.Supported()
	return api.Version{
		BuildInfo:      api.BuildInfo(bi),
		ReleaseVersion: bi.ReleaseVersion(),
		APIVersions:    api.APIVersions,
		AgentProtocol:  &proto,
	}
}

// withServerVersion names this reconciler's release on every answer
// (api.HeaderServerVersion). A client's version (api.HeaderClientVersion,
// the User-Agent) is never a reason to refuse it: the /v1 API only grows
// within v1, so an older client finds what it knew and a newer one is told
// by name when an endpoint is missing (api.OlderServerError).
func withServerVersion(h http.Handler) http.Handler {
	release := version.Get().ReleaseVersion()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderServerVersion, release)
		h.ServeHTTP(w, r)
	})
}
