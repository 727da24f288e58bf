package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// Source says where an object was declared: the file (relative to the
// repository path being synced) and the 1-based line of its document.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// APIVersion is the older apiVersion the document was written in
	// (extensions/v1beta1) when it was converted to the object's current
	// one on load; empty otherwise.
	APIVersion string `json:"apiVersion,omitempty"`
}

// Set is a validated, defaulted set of objects: one revision of the
// repository. A Set is immutable once returned by Load.
type Set struct {
	// Objects by identity.
	Objects map[ObjectKey]Object
	// Sources of each object.
	Sources map[ObjectKey]Source
	// Warnings are what the revision should change but loads with: an
	// object written in a deprecated apiVersion. Sorted by file and line.
	Warnings []Warning
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{Objects: map[ObjectKey]Object{}, Sources: map[ObjectKey]Source{}}
}

// Keys returns the object keys sorted by kind, namespace and name.
func (s *Set) Keys() []ObjectKey {
	keys := make([]ObjectKey, 0, len(s.Objects))
	for k := range s.Objects {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return keys
}

// OfKind returns the objects of one kind, sorted by namespace and name.
func (s *Set) OfKind(kind string) []Object {
	var out []Object
	for _, k := range s.Keys() {
		if k.Kind == kind {
			out = append(out, s.Objects[k])
		}
	}
	return out
}

// TemplateHash returns a short, stable hash of a pod template, used to name
// the pods a workload creates so that a template change yields new pods and
// an unchanged template keeps the old ones. It is the hex of the first 5
// bytes of the SHA-256 of the template's canonical JSON (map keys sorted by
// encoding/json).
func TemplateHash(t *PodTemplateSpec) string {
	b, err := json.Marshal(t)
	if err != nil {
		// A PodTemplateSpec always marshals; a failure is a programming error.
		panic("spec: failed to marshal pod template: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:5])
}
