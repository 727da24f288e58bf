package server

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Deployment revision histories and template overrides in the store.
//
// Every Deployment has a history: the templates it has had, numbered from
// 1 in the order commits introduced them, the last one Git's current
// template. It is written inside Apply, from the committed state only (the
// revision entry's commit and objects), so every reconciler replaying the
// log numbers revisions alike: when a revision entry applies, each of its
// application's Deployments whose template hash is not its last recorded
// one gets a revision (Number, Hash, the entry's commit, the template and
// its images), the history keeps the last revisionHistoryLimit revisions
// besides the current one, and a Deployment no longer declared loses its
// history. A template that comes back (a revert) gets a new number and its
// old entry goes, as a ReplicaSet's revision moves in Kubernetes.
//
// Two entries the leader proposes complete it: opRolloutHealthy marks the
// revisions it saw complete a rollout (every replica of the template
// available, no old pod left), which is what an automatic rollback returns
// to; opRolloutOverride sets (or drops) a Deployment's template override,
// which the plan input carries (reconcile.Input.Overrides). An override
// stands in for one of Git's templates (its GitHash): the revision entry
// that changes the Deployment's template drops it, in the same Apply.
//
// A snapshot from before histories restores with none, and Restore then
// records each Deployment's current template as its revision 1, with its
// application's applied commit. A reconciler that replayed the log instead
// may have numbered differently; the histories of such a mixed cluster
// agree again once every reconciler has restored a newer snapshot.

// Operations of the rollouts' raft entries.
const (
	// opRolloutHealthy (Healthy) marks revisions healthy. A revision no
	// longer in its history is skipped.
	opRolloutHealthy = "rolloutHealthy"
	// opRolloutOverride (Owner, Rollback) sets a Deployment's template
	// override, or drops it when Rollback is nil. An override for a
	// template Git no longer has (its GitHash is not the Deployment's
	// current revision) is refused alike on every store: Git moved on
	// while it was proposed.
	opRolloutOverride = "rolloutOverride"
)

// rolloutRevision is one template a Deployment has run, as the store keeps
// it (api.DeploymentRevision on the wire).
type rolloutRevision struct {
	Number int64  `json:"number"`
	Hash   string `json:"hash"`
	// Commit is the hash of the commit whose revision entry introduced
	// the template; Author, Subject and Time are that commit's.
	Commit   string               `json:"commit"`
	Author   string               `json:"author,omitempty"`
	Subject  string               `json:"subject,omitempty"`
	Time     time.Time            `json:"time,omitzero"`
	Images   []string             `json:"images,omitempty"`
	Healthy  bool                 `json:"healthy,omitempty"`
	Template spec.PodTemplateSpec `json:"template"`
}

// revisionRef names one revision of a Deployment.
type revisionRef struct {
	Owner string `json:"owner"`
	Hash  string `json:"hash"`
}

// hashedTemplate is a Deployment object and its template's hash.
type hashedTemplate struct {
	obj  spec.Object
	hash string
}

// ownerOf is a workload's owner key, as the core names it.
func ownerOf(kind, namespace, name string) string {
	return kind + "/" + namespace + "/" + name
}

// revisionByHash returns the revision of h with that hash, nil if none.
func revisionByHash(h []rolloutRevision, hash string) *rolloutRevision {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Hash == hash {
			return &h[i]
		}
	}
	return nil
}

// templateHashLocked returns d's template hash, computed again only when
// the object changed. s.mu must be held.
func (s *store) templateHashLocked(k spec.ObjectKey, d *spec.Deployment) string {
	if h, ok := s.hashes[k]; ok && h.obj == spec.Object(d) {
		return h.hash
	}
	hash := spec.TemplateHash(&d.Spec.Template)
	if s.hashes == nil {
		s.hashes = map[spec.ObjectKey]hashedTemplate{}
	}
	s.hashes[k] = hashedTemplate{obj: d, hash: hash}
	return hash
}

// appliedCommitLocked is app's applied commit ("" the bootstrap's), nil
// without a revision. s.mu must be held.
func (s *store) appliedCommitLocked(app string) *api.Commit {
	if app == "" {
		if s.st.Revision != nil {
			return &s.st.Revision.Commit
		}
		return nil
	}
	if sa := s.st.Apps[app]; sa != nil && sa.Revision != nil {
		return &sa.Revision.Commit
	}
	return nil
}

// syncRolloutsLocked brings the histories in line with the desired state:
// a Deployment whose application commitOf names (with the commit that
// application applied) and whose template is not its last revision gets a
// new one; a Deployment no longer declared loses its history; an override
// whose Git template is no longer current goes. It writes new maps (never
// into ones handed out). s.mu must be held.
func (s *store) syncRolloutsLocked(commitOf func(app string) *api.Commit) {
	cur := s.st.Histories
	var next map[string][]rolloutRevision // cloned on the first change
	edit := func() {
		if next == nil {
			next = make(map[string][]rolloutRevision, len(cur)+1)
			maps.Copy(next, cur)
		}
	}
	present := map[string]bool{}
	if s.union != nil {
		for k, o := range s.union.Objects {
			d, ok := o.(*spec.Deployment)
			if !ok || k.Kind != spec.KindDeployment {
				continue
			}
			owner := ownerOf(k.Kind, k.Namespace, k.Name)
			present[owner] = true
			hash := s.templateHashLocked(k, d)
			h := cur[owner]
			if n := len(h); n > 0 && h[n-1].Hash == hash {
				continue
			}
			commit := commitOf(s.owner[k])
			if commit == nil {
				continue
			}
			edit()
			next[owner] = appendRevision(h, d, hash, commit)
		}
	}
	for owner := range cur {
		if !present[owner] {
			edit()
			delete(next, owner)
		}
	}
	for k := range s.hashes {
		if s.union == nil || s.union.Objects[k] == nil {
			delete(s.hashes, k)
		}
	}
	if next != nil {
		s.st.Histories = nilIfEmpty(next)
		s.rolloutGen++
	}
	// An override stands in for one Git template: once Git's template is
	// another (or the Deployment is gone), Git rules again.
	var rb map[string]reconcile.TemplateOverride
	for owner, o := range s.st.Rollbacks {
		if h := s.st.Histories[owner]; len(h) > 0 && h[len(h)-1].Hash == o.GitHash {
			continue
		}
		if rb == nil {
			rb = maps.Clone(s.st.Rollbacks)
		}
		delete(rb, owner)
	}
	if rb != nil {
		s.st.Rollbacks = nilIfEmpty(rb)
		s.rolloutGen++
	}
}

// appendRevision returns h with d's template (of hash) as its new current
// revision, trimmed to d's revisionHistoryLimit older ones. h is not
// written to.
func appendRevision(h []rolloutRevision, d *spec.Deployment, hash string, c *api.Commit) []rolloutRevision {
	num := int64(1)
	if n := len(h); n > 0 {
		num = h[n-1].Number + 1
	}
	out := make([]rolloutRevision, 0, len(h)+1)
	for _, r := range h {
		if r.Hash != hash { // a template coming back takes its new number
			out = append(out, r)
		}
	}
	r := rolloutRevision{Number: num, Hash: hash, Commit: c.Hash, Author: c.Author, Subject: firstLine(c.Message), Time: c.Time, Template: d.Spec.Template}
	for _, ct := range d.Spec.Template.Spec.Containers {
		r.Images = append(r.Images, ct.Image)
	}
	out = append(out, r)
	limit := spec.DefaultRevisionHistoryLimit
	if l := d.Spec.RevisionHistoryLimit; l != nil {
		limit = max(int(*l), 0)
	}
	if len(out) > limit+1 {
		out = append([]rolloutRevision(nil), out[len(out)-limit-1:]...)
	}
	return out
}

// applyRolloutLocked applies an opRolloutHealthy or opRolloutOverride
// entry. s.mu must be held.
func (s *store) applyRolloutLocked(c *command, index uint64) error {
	switch c.Op {
	case opRolloutHealthy:
		var next map[string][]rolloutRevision
		for _, ref := range c.Healthy {
			h := s.st.Histories[ref.Owner]
			if next != nil && next[ref.Owner] != nil {
				h = next[ref.Owner]
			}
			r := revisionByHash(h, ref.Hash)
			if r == nil || r.Healthy {
				continue
			}
			if next == nil {
				next = maps.Clone(s.st.Histories)
			}
			nh := append([]rolloutRevision(nil), h...)
			revisionByHash(nh, ref.Hash).Healthy = true
			next[ref.Owner] = nh
		}
		if next != nil {
			s.st.Histories = next
			s.rolloutGen++
		}
	case opRolloutOverride:
		if c.Owner == "" {
			return fmt.Errorf("raft entry %d: rollout override without a Deployment", index)
		}
		rb := maps.Clone(s.st.Rollbacks)
		if c.Rollback == nil {
			if _, ok := rb[c.Owner]; !ok {
				return nil
			}
			delete(rb, c.Owner)
		} else {
			h := s.st.Histories[c.Owner]
			if len(h) == 0 {
				return &rejectedError{fmt.Sprintf("raft entry %d: %s has no revision history: no override", index, c.Owner)}
			}
			if cur := h[len(h)-1].Hash; cur != c.Rollback.GitHash {
				return &rejectedError{fmt.Sprintf("raft entry %d: the override of %s stands in for template %s, but Git's is now %s", index, c.Owner, c.Rollback.GitHash, cur)}
			}
			if rb == nil {
				rb = map[string]reconcile.TemplateOverride{}
			}
			rb[c.Owner] = *c.Rollback
		}
		s.st.Rollbacks = nilIfEmpty(rb)
		s.rolloutGen++
	}
	return nil
}

// rolloutState is the read side of the histories and overrides. Its maps
// and slices are never written once handed out.
type rolloutState struct {
	histories map[string][]rolloutRevision
	rollbacks map[string]reconcile.TemplateOverride
	// gen changes whenever either does.
	gen uint64
}

// rollouts returns the histories and overrides.
func (s *store) rollouts() rolloutState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return rolloutState{histories: s.st.Histories, rollbacks: s.st.Rollbacks, gen: s.rolloutGen}
}

// history returns a Deployment's revisions as the API serves them, oldest
// first, and whether the Deployment is declared at all.
func (s *store) history(namespace, name string) ([]api.DeploymentRevision, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k := spec.ObjectKey{Kind: spec.KindDeployment, Namespace: namespace, Name: name}
	h := s.st.Histories[ownerOf(k.Kind, namespace, name)]
	if len(h) == 0 && (s.union == nil || s.union.Objects[k] == nil) {
		return nil, false
	}
	out := make([]api.DeploymentRevision, len(h))
	for i, r := range h {
		out[i] = api.DeploymentRevision{
			Number: r.Number, Hash: r.Hash, Commit: r.Commit, Author: r.Author, Subject: r.Subject, Time: r.Time,
			Images: r.Images, Healthy: r.Healthy, Current: i == len(h)-1, Template: r.Template,
		}
	}
	return out, true
}

// rollbackReason is the override's reason: what failed, where.
func rollbackReason(failed *rolloutRevision) string {
	return fmt.Sprintf("progress deadline exceeded on revision %d (commit %s)", failed.Number, shortCommit(failed.Commit))
}

// shortCommit is a commit hash as git log --oneline abbreviates it.
func shortCommit(hash string) string {
	if len(hash) > 7 && !strings.ContainsAny(hash, " /") {
		return hash[:7]
	}
	return hash
}
