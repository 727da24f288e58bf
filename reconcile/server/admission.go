package server

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/policy/podsecurity"
	"github.com/stevedore-dev/stevedore/policy/quota"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// Admission at sync (docs/security.md, "Namespaces, quotas and pod
// security"): a loaded revision is refused, and the last good revision
// keeps running, when one of its pod templates violates its namespace's
// pod-security.kubernetes.io/enforce level, or when it would take a
// namespace past a ResourceQuota. Quotas count the whole desired state:
// every application's objects in the namespace, with this revision in
// place of the application's previous one. LimitRange defaults and bounds
// are applied earlier, by the loader (spec/limitrange.go).

// Event reasons of admission.
const (
	// EventPodSecurityWarning: a pod template violates its namespace's
	// pod-security.kubernetes.io/warn level (applied anyway).
	EventPodSecurityWarning = "PodSecurityWarning"
	// EventDeprecatedAPIVersion is an applied commit's object written in
	// a deprecated apiVersion (docs/deprecation.md).
	EventDeprecatedAPIVersion = "DeprecatedAPIVersion"
)

// admitRevision checks a loaded revision against its namespaces'
// ResourceQuotas and pod security levels.
func (s *Server) admitRevision(app string, rev *source.Revision, set *spec.Set) *api.SyncError {
	before := s.store.desired()
	after := s.store.replaceApp(app, set)
	s.namespacesInForce(app, set, after)
	list, warnings := admit(before, after, set, s.admissionNodes())
	for _, w := range warnings {
		s.events.add(w.object, EventPodSecurityWarning, w.message)
	}
	if len(list) == 0 {
		return nil
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].File != list[j].File {
			return list[i].File < list[j].File
		}
		return list[i].Line < list[j].Line
	})
	msg := list[0].Error()
	if len(list) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(list)-1)
	}
	return &api.SyncError{Stage: api.StagePolicy, Message: msg, Entries: api.EntriesFromError(list), Time: time.Now()}
}

// namespacesInForce puts into after, in place of replaceApp's choice, the
// revision's own Namespaces that will be in force once it is applied: the
// store's union takes a Namespace several applications declare from the
// first by name (the bootstrap, "", first of all), so app's copy wins
// over a later application's.
func (s *Server) namespacesInForce(app string, set, after *spec.Set) {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	for k, o := range set.Objects {
		if k.Kind != spec.KindNamespace {
			continue
		}
		if owner, ok := s.store.owner[k]; ok && owner != app && app < owner {
			after.Objects[k], after.Sources[k] = o, set.Sources[k]
		}
	}
}

// admissionNodes is how many nodes a DaemonSet's pods are counted on.
func (s *Server) admissionNodes() int {
	if s.members == nil {
		return 0
	}
	return len(s.members.nodes())
}

// admissionWarning is an event admission records.
type admissionWarning struct{ object, message string }

// admit is admitRevision's decision: before is the desired state without
// the revision, after with it, revision the application's loaded set;
// nodes counts a DaemonSet's pods. It returns the refusals, placed at the
// revision's objects, and the warnings.
func admit(before, after, revision *spec.Set, nodes int) (spec.ErrorList, []admissionWarning) {
	var list spec.ErrorList
	var warnings []admissionWarning
	at := func(set *spec.Set, k spec.ObjectKey, field, msg string) *spec.Error {
		src := set.Sources[k]
		return &spec.Error{File: src.File, Line: src.Line, Object: objectLabel(k), Field: field, Message: msg}
	}

	// Pod security: every pod template of the revision, at the level of
	// its namespace (declared by any application).
	policies := map[string]podsecurity.Policies{}
	for _, k := range revision.Keys() {
		o := revision.Objects[k]
		if k.Namespace == "" {
			continue
		}
		ps, ok := policies[k.Namespace]
		if !ok {
			nsKey := spec.ObjectKey{Kind: spec.KindNamespace, Name: k.Namespace}
			var err error
			if ps, err = podsecurity.PoliciesOf(namespaceOf(after, k.Namespace)); err != nil {
				var le *podsecurity.LabelError
				if errors.As(err, &le) {
					src := after
					if _, mine := revision.Objects[nsKey]; mine {
						src = revision
					}
					list = append(list, at(src, nsKey, "metadata.labels["+le.Label+"]", err.Error()))
				}
				// An unreadable level enforces the strictest, as
				// Kubernetes does.
				ps = podsecurity.Policies{Labelled: true, Enforce: podsecurity.Policy{Level: podsecurity.LevelRestricted, Version: podsecurity.VersionLatest}}
			}
			policies[k.Namespace] = ps
		}
		_, field := spec.PodSpecOf(o)
		if !ps.Labelled {
			// Stevedore's annotations, of the Namespace in force: the
			// loader checked the application's own declaration of it,
			// which another application's may override.
			for _, msg := range podsecurity.CheckAnnotations(namespaceOf(after, k.Namespace), o) {
				list = append(list, at(revision, k, field, "forbidden: "+msg))
			}
		}
		if vs := podsecurity.CheckObject(ps.Enforce.Level, o); len(vs) > 0 {
			list = append(list, at(revision, k, field, podsecurity.Message(ps.Enforce, vs)))
		} else if vs := podsecurity.CheckObject(ps.Warn.Level, o); len(vs) > 0 {
			// Kubernetes' warning: "would violate PodSecurity ...".
			warnings = append(warnings, admissionWarning{k.String(), "would violate" + strings.TrimPrefix(podsecurity.Message(ps.Warn, vs), "violates")})
		}
	}

	// Quotas: what the namespace uses once this revision replaces the
	// application's previous objects, the pods a rolling update adds
	// included.
	opts := quota.Options{Nodes: nodes, Rolling: rolling(before, revision)}
	exceeded, unspecified := quota.Check(before, after, revision, opts)
	for _, e := range exceeded {
		if e.Object.Kind != "" {
			list = append(list, at(revision, e.Object, "", e.Error()))
		} else {
			// Nothing of this revision uses it (it lowered no usage but
			// added a quota below what others use): placed at the quota.
			set := revision
			if _, ok := revision.Objects[e.Quota]; !ok {
				set = after
			}
			list = append(list, at(set, e.Quota, "spec.hard", e.Error()))
		}
	}
	for _, u := range unspecified {
		_, field := spec.PodSpecOf(revision.Objects[u.Object])
		list = append(list, at(revision, u.Object, field, u.Error()))
	}
	return list, warnings
}

// rolling lists the workloads of revision whose pod template differs from
// the one running (before's): their rolling update runs old and new pods
// side by side.
func rolling(before, revision *spec.Set) map[spec.ObjectKey]bool {
	out := map[spec.ObjectKey]bool{}
	if before == nil {
		return out
	}
	for k, o := range revision.Objects {
		d, ok := o.(*spec.Deployment)
		if !ok {
			continue
		}
		old, ok := before.Objects[k].(*spec.Deployment)
		if ok && old != d && spec.TemplateHash(&old.Spec.Template) != spec.TemplateHash(&d.Spec.Template) {
			out[k] = true
		}
	}
	return out
}

// namespaceOf returns the Namespace named name in set, or nil.
func namespaceOf(set *spec.Set, name string) *spec.Namespace {
	if o, ok := set.Objects[spec.ObjectKey{Kind: spec.KindNamespace, Name: name}]; ok {
		return o.(*spec.Namespace)
	}
	return nil
}

// objectLabel names an object as spec's errors do ("Deployment shop/web").
func objectLabel(k spec.ObjectKey) string {
	if k.Namespace == "" {
		return k.Kind + " " + k.Name
	}
	return k.Kind + " " + k.Namespace + "/" + k.Name
}
