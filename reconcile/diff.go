package reconcile

import (
	"reflect"
	"sort"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// Change actions.
const (
	ActionCreated = "created"
	ActionChanged = "changed"
	ActionDeleted = "deleted"
)

// ObjectChange is what syncing would do to one object (on the wire:
// reconcile/api.ObjectChange).
type ObjectChange struct {
	Key    spec.ObjectKey
	Action string
	// Diff is the unified diff of the object's YAML (as decoded and
	// defaulted), with "--- a/Kind/namespace/name" and "+++ b/…" headers:
	// the changed hunks of a changed object, the whole object of a created
	// ("--- /dev/null") or deleted ("+++ /dev/null") one. A Secret's values
	// are redacted.
	Diff string
	// Fields lists a changed object's changed fields, in the object's field
	// order.
	Fields []FieldChange
	// PodsStarted and PodsStopped name ("namespace/name") the pods a workload
	// change would start and stop.
	PodsStarted []string
	PodsStopped []string
}

// diffOptions make go-cmp compare what a manifest means: quantities by
// their canonical string ("1" and "1000m" are one CPU; resource.Quantity's
// unexported caches are neither comparable nor readable in a report), an
// int-or-string by what it says ("25%", 3), bytes as one value, and a missing list or map like
// an empty one.
var diffOptions = cmp.Options{
	cmp.Transformer("Quantity", func(q resource.Quantity) string { return q.String() }),
	cmp.Transformer("IntOrString", func(v spec.IntOrString) string { return v.String() }),
	// Bytes are one value, not a list of numbers.
	cmp.Transformer("Bytes", func(b []byte) string { return string(b) }),
	cmpopts.EquateEmpty(),
}

// fieldChanges compares two revisions of an object with go-cmp and returns
// the fields that differ (nil when none do).
func fieldChanges(k spec.ObjectKey, a, n spec.Object) []FieldChange {
	r := &pathReporter{secret: k.Kind == KindSecret}
	cmp.Equal(a, n, diffOptions, cmp.Reporter(r))
	return mergeReplaced(r.out)
}

// mergeReplaced turns a list element that go-cmp reports as removed and
// added again at the same path (a container changed so much that its edit
// script replaces it) into one change.
func mergeReplaced(fcs []FieldChange) []FieldChange {
	out := fcs[:0]
	for i := 0; i < len(fcs); i++ {
		fc := fcs[i]
		if i+1 < len(fcs) && fc.Op == FieldRemoved && fcs[i+1].Op == FieldAdded && fcs[i+1].Path == fc.Path {
			fc.Op, fc.New = FieldChanged, fcs[i+1].New
			i++
		}
		out = append(out, fc)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Diff returns what changes from applied to next, sorted by key. Either may
// be nil (nothing applied yet; everything deleted). A workload's (or bare
// Pod's) change lists the pods, by expansion name, that syncing would start
// and stop; a bare Pod whose spec changes is both stopped and started.
func Diff(applied, next *spec.Set) []ObjectChange {
	if applied == nil {
		applied = spec.NewSet()
	}
	if next == nil {
		next = spec.NewSet()
	}
	keys := make([]spec.ObjectKey, 0, len(next.Objects))
	for k := range next.Objects {
		keys = append(keys, k)
	}
	for k := range applied.Objects {
		if _, ok := next.Objects[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })

	var out []ObjectChange
	for _, k := range keys {
		a, inA := applied.Objects[k]
		n, inN := next.Objects[k]
		var c ObjectChange
		switch {
		case !inA:
			c = ObjectChange{Key: k, Action: ActionCreated}
		case !inN:
			c = ObjectChange{Key: k, Action: ActionDeleted}
		case a == n:
			// The same object: a loader that reused the applied revision's
			// document (spec.LoadCached).
			continue
		default:
			// reflect.DeepEqual first: most objects are unchanged and it is
			// far cheaper than cmp.Diff's report.
			if reflect.DeepEqual(a, n) {
				continue
			}
			fields := fieldChanges(k, a, n)
			if fields == nil {
				continue
			}
			c = ObjectChange{Key: k, Action: ActionChanged, Fields: fields}
		}
		c.Diff = unifiedDiff(k, a, n)
		c.PodsStarted, c.PodsStopped = podChanges(k, a, n)
		out = append(out, c)
	}
	return out
}

// keyLess orders keys as spec.Set.Keys does: kind, namespace, name.
func keyLess(a, b spec.ObjectKey) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// podChanges compares the pods one object expands to before (a, nil when
// created) and after (n, nil when deleted).
func podChanges(k spec.ObjectKey, a, n spec.Object) (started, stopped []string) {
	var before, after []DesiredPod
	if a != nil {
		before = expandObject(nil, k, a)
	}
	if n != nil {
		// A paused Deployment keeps its running revision: a template
		// change starts nothing (scaling still does).
		if nd, ok := n.(*spec.Deployment); ok && nd.Spec.Paused {
			if ad, ok := a.(*spec.Deployment); ok {
				held := *nd
				held.Spec.Template = ad.Spec.Template
				n = &held
			}
		}
		after = expandObject(nil, k, n)
	}
	if len(before) == 0 && len(after) == 0 {
		return nil, nil
	}
	// A pod is the same pod when its key and content hash match: a bare Pod
	// with a new spec is a new incarnation.
	was := make(map[string]string, len(before))
	for _, p := range before {
		was[p.Key()] = p.Hash
	}
	is := make(map[string]string, len(after))
	for _, p := range after {
		is[p.Key()] = p.Hash
		if h, ok := was[p.Key()]; !ok || h != p.Hash {
			started = append(started, p.Key())
		}
	}
	for _, p := range before {
		if h, ok := is[p.Key()]; !ok || h != p.Hash {
			stopped = append(stopped, p.Key())
		}
	}
	// Left in expansion order (by replica index), so that "web-x-10"
	// follows "web-x-9" as a reader expects.
	return started, stopped
}
