package server

import (
	"context"

	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// The policy steps of a sync (docs/security.md), between fetch and apply:
// verifyRevision before the revision is decoded (verify.go), then, on the
// loaded set, admitRevision (admission.go: quotas, LimitRanges, pod
// security) and authorizeChanges (gitrbac.go: RBAC for the approvers).
// Each returns nil or the SyncError that stops the sync; the last good
// revision keeps running.

// verifyOutcome is what verification learned of a revision: who approved
// each changed file, for the RBAC check of the changes.
type verifyOutcome struct {
	// Approvers maps each file changed since the applied revision (a path
	// relative to the application's path) to the users who approved it.
	// nil when verification is off: RBAC for Git changes is then not
	// checked either (there is no one to check it for).
	Approvers map[string][]policy.User
}

// checkRevision runs the policy steps that need the loaded set. applied is
// the application's applied revision (nil for the first).
func (s *Server) checkRevision(ctx context.Context, app string, rev *source.Revision, applied *savedRevision, set *spec.Set, vo *verifyOutcome) *api.SyncError {
	if serr := s.admitRevision(app, rev, set); serr != nil {
		return serr
	}
	return s.authorizeChanges(ctx, app, rev, applied, set, vo)
}
