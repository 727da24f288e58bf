package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
)

// Applications in the store.
//
// The bootstrap application (the repository of --repo) keeps its revision
// where a single-repository store kept it (fsmState.Revision, and revision
// entries without an App): an older snapshot or log restores as the
// bootstrap application's. The applications its Application objects
// declare are in fsmState.Apps, by name. The store derives everything else
// (which applications exist, their prune setting, the union of their
// objects and who owns each) from these, the same way on every reconciler.

// savedApp is an application other than the bootstrap, as the store keeps it.
type savedApp struct {
	// Revision is its last good revision.
	Revision *savedRevision `json:"revision"`
	// Retained holds, as documents, the objects removed from its files
	// while it did not prune: they keep running (see retainedFor).
	Retained map[string][]byte `json:"retained,omitempty"`
	// Orphan is set when its Application object was deleted while it did
	// not prune: its objects keep running until it is declared again.
	Orphan bool `json:"orphan,omitempty"`
	// Created is when its first revision was applied.
	Created time.Time `json:"created,omitempty"`
}

// appState is one application's loaded state ("" is the bootstrap).
type appState struct {
	set *spec.Set // its revision's objects plus the retained ones
	at  time.Time // when this reconciler applied its revision
	// cache holds set's documents by their text (spec.Cache): the next
	// load of this application (a sync, a diff) decodes only what changed,
	// and its unchanged objects keep their pointers. nil until loaded
	// through it.
	cache *spec.Cache
}

// retainedPrefix starts the file names of retained objects: a path no
// repository is expected to hold, shown as the object's source.
const retainedPrefix = "@retained/"

// retainedFile is the file name a retained object is kept under.
func retainedFile(k spec.ObjectKey) string {
	if k.Namespace == "" {
		return retainedPrefix + k.Kind + "/" + k.Name + ".yaml"
	}
	return retainedPrefix + k.Kind + "/" + k.Namespace + "/" + k.Name + ".yaml"
}

// loadApp loads an application's files and its retained objects as one set.
func loadApp(files, retained map[string][]byte) (*spec.Set, error) {
	set, _, err := loadAppCached(files, retained, nil)
	return set, err
}

// loadAppCached is loadApp reusing prev's unchanged documents (prev may be
// nil), returning the cache of this revision's.
func loadAppCached(files, retained map[string][]byte, prev *spec.Cache) (*spec.Set, *spec.Cache, error) {
	return loadAppWith(revisionLoader, files, retained, prev)
}

// loadAppWith is loadAppCached with ld.
func loadAppWith(ld render.Loader, files, retained map[string][]byte, prev *spec.Cache) (*spec.Set, *spec.Cache, error) {
	if len(retained) == 0 {
		return ld.LoadCached(files, prev)
	}
	all := make(map[string][]byte, len(files)+len(retained))
	maps.Copy(all, files)
	maps.Copy(all, retained)
	return ld.LoadCached(all, prev)
}

// docCache returns the documents of app's applied revision ("" the
// bootstrap's), which loading its next revision reuses; nil when none.
func (s *store) docCache(app string) *spec.Cache {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if st := s.apps[app]; st != nil {
		return st.cache
	}
	return nil
}

// rejectedError is an entry the store refused for a reason every store
// reaches alike (an ownership conflict, an application no longer
// declared): unlike a failure to apply, it does not make the store differ
// from the cluster's.
type rejectedError struct{ msg string }

func (e *rejectedError) Error() string { return e.msg }

// ownershipConflict is one object two applications claim.
type ownershipConflict struct {
	Key        spec.ObjectKey
	App, Owner string
	At, OwnAt  spec.Source
}

func (c ownershipConflict) Error() string {
	return fmt.Sprintf("%s (%s:%d) of application %q is already owned by application %q (%s:%d): an object belongs to one application; the first keeps it",
		c.Key, c.At.File, c.At.Line, c.App, c.Owner, c.OwnAt.File, c.OwnAt.Line)
}

// declaredOf returns the Application objects of a bootstrap set by name.
func declaredOf(set *spec.Set) map[string]*spec.Application {
	out := map[string]*spec.Application{}
	if set == nil {
		return out
	}
	for _, o := range set.OfKind(spec.KindApplication) {
		a := o.(*spec.Application)
		out[a.Name] = a
	}
	return out
}

// appName is the name an application shows: the bootstrap's is configured.
func (s *store) appName(app string) string {
	if app == "" {
		return s.bootstrap
	}
	return app
}

// conflictsLocked lists the objects of set that another application owns.
// Namespaces may be declared by several applications. s.mu must be held.
func (s *store) conflictsLocked(app string, set *spec.Set) []ownershipConflict {
	var out []ownershipConflict
	for _, k := range set.Keys() {
		if k.Kind == spec.KindNamespace {
			continue
		}
		owner, ok := s.owner[k]
		if !ok || owner == app {
			continue
		}
		ownAt := spec.Source{}
		if st := s.apps[owner]; st != nil {
			ownAt = st.set.Sources[k]
		}
		out = append(out, ownershipConflict{Key: k, App: s.appName(app), Owner: s.appName(owner), At: set.Sources[k], OwnAt: ownAt})
	}
	return out
}

// conflicts is conflictsLocked for the leader's check before it proposes.
func (s *store) conflicts(app string, set *spec.Set) []ownershipConflict {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conflictsLocked(app, set)
}

// applyRevisionLocked makes rev app's revision. s.mu must be held.
func (s *store) applyRevisionLocked(c *command, set *spec.Set, index uint64) error {
	app := c.App
	if app != "" {
		if _, ok := declaredOf(s.bootstrapSetLocked())[app]; !ok {
			return &rejectedError{fmt.Sprintf("raft entry %d: application %q is not declared by the bootstrap application %q", index, app, s.bootstrap)}
		}
	}
	if cs := s.conflictsLocked(app, set); len(cs) > 0 {
		return &rejectedError{cs[0].Error()}
	}
	// The leader checked before proposing; another revision committed
	// meanwhile may have taken an address this one asks for.
	if list := s.serviceErrorsLocked(app, set); len(list) > 0 {
		return &rejectedError{list.Error()}
	}
	now := time.Now()
	if app == "" {
		old := s.bootstrapSetLocked()
		s.st.Revision = c.Revision
		if s.st.BootstrapCreated.IsZero() {
			s.st.BootstrapCreated = c.Created
		}
		s.apps[""] = &appState{set: set, at: now}
		s.followDeclaredLocked(old, set)
	} else {
		apps := maps.Clone(s.st.Apps)
		if apps == nil {
			apps = map[string]*savedApp{}
		}
		created := c.Created
		if old := apps[app]; old != nil {
			created = old.Created
		}
		apps[app] = &savedApp{Revision: c.Revision, Retained: c.Retained, Created: created}
		s.st.Apps = apps
		s.apps[app] = &appState{set: set, at: now}
	}
	s.rebuildUnionLocked()
	s.reallocServicesLocked()
	// The Deployments whose template this revision changed get a new
	// revision in their history (store_rollout.go).
	s.syncRolloutsLocked(func(a string) *api.Commit {
		if a == app {
			return &c.Revision.Commit
		}
		return nil
	})
	return nil
}

func (s *store) bootstrapSetLocked() *spec.Set {
	if st := s.apps[""]; st != nil {
		return st.set
	}
	return nil
}

// followDeclaredLocked applies a new bootstrap revision's Application
// objects to the applications: one no longer declared is removed with its
// objects when it pruned, and kept as an orphan (its objects running) when
// it did not; one declared again is no orphan; one that prunes again drops
// what it retained.
func (s *store) followDeclaredLocked(oldSet, newSet *spec.Set) {
	old, now := declaredOf(oldSet), declaredOf(newSet)
	apps := maps.Clone(s.st.Apps)
	for name, sa := range apps {
		if d, ok := now[name]; ok {
			next := *sa
			next.Orphan = false
			if d.PruneEnabled() && len(sa.Retained) > 0 {
				if set, err := s.loadApp(sa.Revision.Files, nil); err == nil {
					next.Retained = nil
					s.apps[name] = &appState{set: set, at: s.apps[name].at}
				}
			}
			apps[name] = &next
			continue
		}
		if sa.Orphan {
			continue
		}
		if d, ok := old[name]; ok && !d.PruneEnabled() {
			next := *sa
			next.Orphan = true
			apps[name] = &next
			continue
		}
		delete(apps, name)
		delete(s.apps, name)
	}
	s.st.Apps = apps
}

// rebuildUnionLocked recomputes the desired state (the union of the
// applications' sets, a new *spec.Set only when it changes) and the owner
// of every object. Applications are merged by name, the bootstrap first,
// so a Namespace several declare is the first's.
func (s *store) rebuildUnionLocked() {
	if s.apps[""] == nil {
		s.union, s.owner = nil, map[spec.ObjectKey]string{}
		s.published.Store(nil)
		return
	}
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	union, owner := spec.NewSet(), map[spec.ObjectKey]string{}
	for _, n := range names {
		set := s.apps[n].set
		for k, o := range set.Objects {
			if _, ok := union.Objects[k]; ok {
				continue
			}
			union.Objects[k], union.Sources[k], owner[k] = o, set.Sources[k], n
		}
	}
	s.union, s.owner = union, owner
	s.published.Store(union)
}

// restoreAppsLocked loads the applications of a restored state.
func (s *store) restoreApps(st *fsmState) (map[string]*appState, error) {
	apps := map[string]*appState{}
	now := time.Now()
	if st.Revision != nil {
		set, cache, err := s.loader().LoadCached(st.Revision.Files, nil)
		if err != nil {
			return nil, fmt.Errorf("failed to load the snapshot's revision %s: %w", st.Revision.Commit.Hash, err)
		}
		apps[""] = &appState{set: set, at: now, cache: cache}
	}
	for name, sa := range st.Apps {
		if sa == nil || sa.Revision == nil {
			return nil, fmt.Errorf("failed to restore application %q: the snapshot holds no revision for it", name)
		}
		set, cache, err := s.loadAppCached(sa.Revision.Files, sa.Retained, nil)
		if err != nil {
			return nil, fmt.Errorf("failed to load application %q's revision %s from the snapshot: %w", name, sa.Revision.Commit.Hash, err)
		}
		apps[name] = &appState{set: set, at: now, cache: cache}
	}
	return apps, nil
}

// appInfo is one application as the store knows it.
type appInfo struct {
	Name     string // "" is the bootstrap
	Revision *savedRevision
	Set      *spec.Set
	At       time.Time
	Retained []spec.ObjectKey // objects kept although removed from Git
	Orphan   bool
	Created  time.Time
	// Decl is its Application object (nil for the bootstrap and orphans).
	Decl *spec.Application
	// Owned are the objects of the desired state it owns, sorted.
	Owned []spec.ObjectKey
}

// appInfos returns every application with a revision or a declaration,
// the bootstrap first, then by name.
func (s *store) appInfos() []appInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	decl := declaredOf(s.bootstrapSetLocked())
	owned := map[string][]spec.ObjectKey{}
	if s.union != nil {
		for _, k := range s.union.Keys() {
			owned[s.owner[k]] = append(owned[s.owner[k]], k)
		}
	}
	out := []appInfo{{Name: "", Revision: s.st.Revision, Owned: owned[""], Created: s.st.BootstrapCreated}}
	if st := s.apps[""]; st != nil {
		out[0].Set, out[0].At = st.set, st.at
	}
	names := map[string]bool{}
	for n := range decl {
		names[n] = true
	}
	for n := range s.st.Apps {
		names[n] = true
	}
	for _, n := range sortedNames(names) {
		ai := appInfo{Name: n, Decl: decl[n], Owned: owned[n]}
		if sa := s.st.Apps[n]; sa != nil {
			ai.Revision, ai.Orphan, ai.Created = sa.Revision, sa.Orphan, sa.Created
			for f := range sa.Retained {
				ai.Retained = append(ai.Retained, keyOfRetained(f))
			}
			sort.Slice(ai.Retained, func(i, j int) bool { return ai.Retained[i].String() < ai.Retained[j].String() })
		}
		if st := s.apps[n]; st != nil {
			ai.Set, ai.At = st.set, st.at
		}
		out = append(out, ai)
	}
	return out
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// keyOfRetained is the object a retained file holds.
func keyOfRetained(f string) spec.ObjectKey {
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(f, retainedPrefix), ".yaml"), "/")
	switch len(parts) {
	case 2:
		return spec.ObjectKey{Kind: parts[0], Name: parts[1]}
	case 3:
		return spec.ObjectKey{Kind: parts[0], Namespace: parts[1], Name: parts[2]}
	}
	return spec.ObjectKey{Name: f}
}

// retainedFor is what app keeps running when its next revision is next
// and it does not prune: what it retained already and every object of its
// current set that next no longer declares, as documents. With prune on it
// is nil.
func (s *store) retainedFor(app string, next *spec.Set, prune bool) (map[string][]byte, error) {
	if prune {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.apps[app]
	if st == nil {
		return nil, nil
	}
	out := map[string][]byte{}
	for k, o := range st.set.Objects {
		if _, ok := next.Objects[k]; ok {
			continue
		}
		if k.Kind == spec.KindSecret {
			// Kept as JSON in the raft log, a Secret would be there in
			// plaintext: a Secret removed from Git goes, prune or not.
			continue
		}
		b, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("failed to keep %s: %w", k, err)
		}
		out[retainedFile(k)] = b
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// replaceApp returns the desired state with set in place of app's objects:
// what the union would be if app's next revision were set.
func (s *store) replaceApp(app string, set *spec.Set) *spec.Set {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.replaceAppLocked(app, set)
}

// replaceAppLocked is replaceApp with s.mu held.
func (s *store) replaceAppLocked(app string, set *spec.Set) *spec.Set {
	out := spec.NewSet()
	if s.union != nil {
		for k, o := range s.union.Objects {
			if s.owner[k] != app {
				out.Objects[k], out.Sources[k] = o, s.union.Sources[k]
			}
		}
	}
	for k, o := range set.Objects {
		if _, ok := out.Objects[k]; ok {
			continue // a Namespace another application declares too
		}
		out.Objects[k], out.Sources[k] = o, set.Sources[k]
	}
	return out
}
