package main

import (
	"github.com/spf13/pflag"

	"github.com/stevedore-dev/stevedore/internal/flagvalue"
	"github.com/stevedore-dev/stevedore/reconcile/server"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// limitFlags are the bounds on what one revision may hold
// (docs/security-hardening.md): objects and manifest bytes per revision,
// bytes per file and per tree read from Git.
func limitFlags(f *pflag.FlagSet, cfg *server.Config) {
	cfg.Limits = server.LimitsConfig{MaxObjects: 10000, MaxBytes: 64 << 20}
	cfg.Source.MaxFileBytes, cfg.Source.MaxTotalBytes = source.DefaultMaxFileBytes, source.DefaultMaxTotalBytes
	f.IntVar(&cfg.Limits.MaxObjects, "max-revision-objects", cfg.Limits.MaxObjects, "most objects one revision of an application may declare; -1 for no limit")
	f.Var((*flagvalue.Bytes)(&cfg.Limits.MaxBytes), "max-revision-bytes", "most bytes the manifests of one revision may hold together, a Kubernetes quantity; -1 for no limit")
	f.Var((*flagvalue.Bytes)(&cfg.Source.MaxFileBytes), "max-file-bytes", "largest file read from Git (checked before it is read), a Kubernetes quantity; -1 for no limit")
	f.Var((*flagvalue.Bytes)(&cfg.Source.MaxTotalBytes), "max-repo-bytes", "most bytes read from Git for one revision (every file under --path), a Kubernetes quantity; -1 for no limit")
}
