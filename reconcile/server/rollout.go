package server

import (
	"fmt"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/spec"
)

// The leader's rollout work after every plan: it fills the workload views'
// revision numbers from the store's histories, marks the revisions it sees
// complete a rollout healthy, and rolls back automatically the Deployments
// annotated stevedore.dev/auto-rollback: "true" whose rollout is stuck
// (store_rollout.go keeps what it commits).

// rolloutWork is the controller's rollout state for one term. Its fields
// are guarded by the controller's mu.
type rolloutWork struct {
	// key is what the last views were computed from; out the views.
	key rolloutKey
	out []reconcile.WorkloadView
	// marking and rollingBack are the proposals in flight: a revision
	// being marked healthy, a Deployment being rolled back (to the Git
	// template it stands in for).
	marking     map[revisionRef]bool
	rollingBack map[string]string
}

// rolloutKey identifies a plan's workload views and the store's rollout
// state: the same key gives the same views and decisions.
type rolloutKey struct {
	first *reconcile.WorkloadView
	n     int
	gen   uint64
}

// rolloutViews returns the plan's workload views with their revision
// numbers and commits filled (a copy: the core's are read-only). With
// propose, it also proposes the healthy marks and rollbacks they call for.
// It does the work again only when the views or the store's histories
// changed (or a proposal failed).
func (c *controller) rolloutViews(wls []reconcile.WorkloadView, desired *spec.Set, propose bool) []reconcile.WorkloadView {
	st := c.s.store.rollouts()
	key := rolloutKey{n: len(wls), gen: st.gen}
	if len(wls) > 0 {
		key.first = &wls[0]
	}
	c.mu.Lock()
	if key == c.ro.key && propose {
		out := c.ro.out
		c.mu.Unlock()
		return out
	}
	c.mu.Unlock()

	out := make([]reconcile.WorkloadView, len(wls))
	copy(out, wls)
	var marks []revisionRef
	var rollbacks []rollback
	for i := range out {
		w := &out[i]
		if w.Kind != spec.KindDeployment {
			continue
		}
		owner := ownerOf(w.Kind, w.Namespace, w.Name)
		h := st.histories[owner]
		if r := revisionByHash(h, w.Revision); r != nil {
			w.RevisionNumber, w.Commit = r.Number, r.Commit
		}
		if !propose || len(h) == 0 {
			continue
		}
		git := &h[len(h)-1]
		if o, ok := st.rollbacks[owner]; ok && o.GitHash == git.Hash {
			// An override runs: its revision is healthy already, and
			// Git's stays unproven until Git changes.
			continue
		}
		switch w.Progress {
		case reconcile.ProgressComplete:
			if r := revisionByHash(h, w.Revision); r != nil && !r.Healthy {
				marks = append(marks, revisionRef{Owner: owner, Hash: r.Hash})
			}
		case reconcile.ProgressDeadlineExceeded:
			if rb, ok := rollbackFor(desired, w, h); ok {
				rollbacks = append(rollbacks, rb)
			}
		}
	}
	if !propose {
		return out
	}
	c.mu.Lock()
	c.ro.key, c.ro.out = key, out
	marks = c.ro.claimMarks(marks)
	rollbacks = c.ro.claimRollbacks(rollbacks)
	c.mu.Unlock()
	if len(marks) > 0 {
		c.goNamed("rollout-healthy", func() { c.markHealthy(marks) })
	}
	for _, rb := range rollbacks {
		c.goNamed("rollback-"+rb.owner, func() { c.rollBack(rb) })
	}
	return out
}

// rollback is an automatic rollback to propose.
type rollback struct {
	owner    string
	override reconcile.TemplateOverride
	// failed is Git's revision that exceeded its deadline, to the
	// revision returned to.
	failed, to rolloutRevision
}

// rollbackFor decides whether w, a Deployment whose progress deadline
// passed, is rolled back: it must be annotated stevedore.dev/auto-rollback:
// "true", be stuck on Git's template, which never completed a rollout, and
// have an earlier revision that did (the newest one is returned to).
func rollbackFor(desired *spec.Set, w *reconcile.WorkloadView, h []rolloutRevision) (rollback, bool) {
	git := h[len(h)-1]
	if w.Revision != git.Hash || git.Healthy || desired == nil {
		return rollback{}, false
	}
	d, ok := desired.Objects[spec.ObjectKey{Kind: spec.KindDeployment, Namespace: w.Namespace, Name: w.Name}].(*spec.Deployment)
	if !ok || d.Annotations[reconcile.AutoRollbackAnnotation] != "true" {
		return rollback{}, false
	}
	for i := len(h) - 2; i >= 0; i-- {
		if r := h[i]; r.Healthy && r.Hash != git.Hash {
			return rollback{
				owner:    ownerOf(w.Kind, w.Namespace, w.Name),
				override: reconcile.TemplateOverride{GitHash: git.Hash, Hash: r.Hash, Template: r.Template, Reason: rollbackReason(&git)},
				failed:   git,
				to:       r,
			}, true
		}
	}
	return rollback{}, false
}

// claimMarks returns the marks not in flight yet, now in flight.
func (ro *rolloutWork) claimMarks(marks []revisionRef) []revisionRef {
	var out []revisionRef
	for _, m := range marks {
		if ro.marking[m] {
			continue
		}
		if ro.marking == nil {
			ro.marking = map[revisionRef]bool{}
		}
		ro.marking[m] = true
		out = append(out, m)
	}
	return out
}

// claimRollbacks returns the rollbacks not in flight yet, now in flight.
func (ro *rolloutWork) claimRollbacks(rbs []rollback) []rollback {
	var out []rollback
	for _, rb := range rbs {
		if ro.rollingBack[rb.owner] == rb.override.GitHash {
			continue
		}
		if ro.rollingBack == nil {
			ro.rollingBack = map[string]string{}
		}
		ro.rollingBack[rb.owner] = rb.override.GitHash
		out = append(out, rb)
	}
	return out
}

// markHealthy commits the marks. A failure (leadership lost) is retried
// by the next plan.
func (c *controller) markHealthy(marks []revisionRef) {
	err := c.s.el.apply(&command{Op: opRolloutHealthy, Healthy: marks}, c.s.cfg.Raft.ApplyTimeout)
	c.mu.Lock()
	for _, m := range marks {
		delete(c.ro.marking, m)
	}
	if err != nil {
		c.ro.key = rolloutKey{}
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("failed to mark revisions healthy", "err", err)
		return
	}
	for _, m := range marks {
		c.log.Debug("revision healthy", "deployment", m.Owner, "hash", m.Hash)
	}
}

// rollBack commits an automatic rollback and says so loudly: a Warning
// event, a log line; the workload's view shows the override's reason
// until Git's template changes.
func (c *controller) rollBack(rb rollback) {
	err := c.s.el.apply(&command{Op: opRolloutOverride, Owner: rb.owner, Rollback: &rb.override}, c.s.cfg.Raft.ApplyTimeout)
	c.mu.Lock()
	delete(c.ro.rollingBack, rb.owner)
	if err != nil {
		c.ro.key = rolloutKey{}
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("failed to roll back", "deployment", rb.owner, "err", err)
		return
	}
	msg := fmt.Sprintf("rolled back to revision %d (commit %s, %s) without a commit: %s; Git still declares revision %d: revert or fix commit %s",
		rb.to.Number, shortCommit(rb.to.Commit), imagesOf(rb.to.Images), rb.override.Reason, rb.failed.Number, shortCommit(rb.failed.Commit))
	c.log.Warn("automatic rollback", "deployment", rb.owner, "to_revision", rb.to.Number, "failed_revision", rb.failed.Number, "reason", rb.override.Reason)
	c.s.events.append([]reconcile.Event{{Time: time.Now(), Object: rb.owner, Reason: reconcile.EventRolledBack, Message: msg, Type: agentapi.EventWarning}})
}

func imagesOf(images []string) string {
	switch len(images) {
	case 0:
		return "no image"
	case 1:
		return images[0]
	}
	return fmt.Sprintf("%s and %d more", images[0], len(images)-1)
}
