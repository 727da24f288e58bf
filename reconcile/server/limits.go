package server

import (
	"github.com/stevedore-dev/stevedore/spec"
)

// Default bounds on one revision (LimitsConfig).
const (
	defaultMaxRevisionObjects = 10000
	defaultMaxRevisionBytes   = 64 << 20
)

// LimitsConfig bounds what one revision may hold, so that a commit of
// 100,000 documents is refused in milliseconds, before it is decoded,
// instead of being applied or taking the leader's memory and time. The
// files a fetch may read are bounded by Source.MaxFileBytes and
// Source.MaxTotalBytes; one object by Kubernetes' 1.5 MiB
// (spec.MaxObjectBytes).
type LimitsConfig struct {
	// MaxObjects is the most objects one revision of an application may
	// declare (YAML documents counted before decoding, then the objects
	// of Lists and kustomizations). Zero means 10,000; negative means no
	// limit.
	MaxObjects int
	// MaxBytes is the most bytes the manifests (*.yaml, *.yml) of one
	// revision may hold together. Zero means 64 MiB; negative means no
	// limit.
	MaxBytes int64
}

// spec returns the limits with their defaults, as spec.Limits.
func (c LimitsConfig) spec() spec.Limits {
	l := spec.Limits{MaxObjects: c.MaxObjects, MaxBytes: c.MaxBytes}
	if l.MaxObjects == 0 {
		l.MaxObjects = defaultMaxRevisionObjects
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = defaultMaxRevisionBytes
	}
	return spec.Limits{MaxObjects: max(l.MaxObjects, 0), MaxBytes: max(l.MaxBytes, 0)}
}

// loadRevision loads the files of a revision of app as a sync or a diff
// does, reusing the applied revision's documents, after checking them
// against the revision limits: a refusal is a spec.ErrorList naming the
// file, reported as any load error is.
func (s *Server) loadRevision(app string, files map[string][]byte) (*spec.Set, error) {
	lim := s.cfg.Limits.spec()
	if errs := spec.CheckLimits(files, lim); errs != nil {
		return nil, errs
	}
	set, _, err := s.store.loader().LoadCached(files, s.store.docCache(app))
	if err != nil {
		return nil, err
	}
	if errs := spec.CheckObjectCount(set, lim); errs != nil {
		return nil, errs
	}
	return set, nil
}
