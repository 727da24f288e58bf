package server

import (
	"context"
	"fmt"
	"time"

	"github.com/stevedore-dev/stevedore/policy/rbac"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// The RBAC check of what a revision changes in Git (docs/security.md,
// section RBAC): every object the revision creates, updates or deletes
// against the application's applied revision must be allowed, verb on its
// resource in its namespace, to one of the approvers of its file, under
// the RBAC the cluster applied before this revision (every application's
// applied RBAC objects and the built-ins): a commit cannot grant itself
// the rights it needs. Changes to RBAC objects are also checked for
// escalation (rbac.CheckChanges).

// maxPolicyEntries bounds the entries of a refusal: the status of a
// revision that changes 100,000 objects in a namespace nobody may write
// stays small; the message says how many there were.
const maxPolicyEntries = 100

// authorizeChanges checks that the approvers of each changed file may,
// under the RBAC objects of the applied revision, make the changes it
// makes. Verification off (vo.Approvers nil) skips it: there is no one to
// check the changes for. So does a cluster that has applied nothing yet:
// its first revision brings the RBAC, trusted by its signatures and
// approvals alone. So, finally, does a cluster whose applied revisions
// declare no RoleBinding nor ClusterRoleBinding: RBAC for Git starts with
// the first binding.
func (s *Server) authorizeChanges(ctx context.Context, app string, rev *source.Revision, applied *savedRevision, set *spec.Set, vo *verifyOutcome) *api.SyncError {
	if vo == nil || vo.Approvers == nil {
		return nil
	}
	if s.store.publishedSet() == nil {
		s.log.Info("first revision of the cluster: its changes are not checked against RBAC (there is none yet)", "app", s.displayName(app), "commit", rev.Commit)
		return nil
	}
	if !declaresBindings(s.store.publishedSet()) {
		// RBAC for Git is opted into by declaring a binding: until then
		// signatures and OWNERS alone govern, or no change after the
		// first could ever be approved. Removing the last binding is
		// itself a change RBAC checks.
		s.log.Debug("no RoleBinding or ClusterRoleBinding applied: changes are not checked against RBAC", "app", s.displayName(app), "commit", rev.Commit)
		return nil
	}
	_, prev := s.store.appRevision(app)
	refused := rbac.CheckChanges(s.authorizer(), set, rbac.Changes(prev, set), vo.Approvers)
	if len(refused) == 0 {
		return nil
	}
	serr := &api.SyncError{Stage: api.StagePolicy, Time: time.Now()}
	for i, r := range refused {
		if i == maxPolicyEntries {
			break
		}
		serr.Entries = append(serr.Entries, api.ErrorEntry{File: r.Change.File, Line: r.Change.Line,
			Object: rbac.ObjectLabel(r.Change), Message: r.Reason})
	}
	serr.Message = refused[0].Message
	if len(refused) > 1 {
		serr.Message = fmt.Sprintf("%d changes not allowed by RBAC for their approvers; first: %s", len(refused), refused[0].Message)
	}
	return serr
}

// declaresBindings reports whether set holds a RoleBinding or a
// ClusterRoleBinding.
func declaresBindings(set *spec.Set) bool {
	if set == nil {
		return false
	}
	for k := range set.Objects {
		if k.Kind == spec.KindRoleBinding || k.Kind == spec.KindClusterRoleBinding {
			return true
		}
	}
	return false
}
