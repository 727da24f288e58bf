package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

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
	f.Var((*quantityBytes)(&cfg.Limits.MaxBytes), "max-revision-bytes", "most bytes the manifests of one revision may hold together, a Kubernetes quantity; -1 for no limit")
	f.Var((*quantityBytes)(&cfg.Source.MaxFileBytes), "max-file-bytes", "largest file read from Git (checked before it is read), a Kubernetes quantity; -1 for no limit")
	f.Var((*quantityBytes)(&cfg.Source.MaxTotalBytes), "max-repo-bytes", "most bytes read from Git for one revision (every file under --path), a Kubernetes quantity; -1 for no limit")
}

// quantityBytes is a byte count given as a Kubernetes quantity (64Mi).
type quantityBytes int64

func (q *quantityBytes) String() string {
	return resource.NewQuantity(int64(*q), resource.BinarySI).String()
}

func (q *quantityBytes) Set(s string) error {
	v, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("want a quantity such as 64Mi: %w", err)
	}
	*q = quantityBytes(v.Value())
	return nil
}

func (q *quantityBytes) Type() string { return "quantity" }
