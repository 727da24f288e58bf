package agent

// The ConfigMaps, Secrets and persistent volumes a pod set carries beside
// its pods (api.PodSet.Config, Volumes): checked, then handed to the
// runtime before its Sync. They are never served back (GET /v1/podset
// leaves them out) and never logged: a Secret's Data is plaintext.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// configRuntime is a runtime that takes the set's config
// (runtime.Runtime.SetConfig); a runtime without it runs pods that need
// none.
type configRuntime interface {
	SetConfig(objs []api.ConfigObject, pvs []api.PersistentVolume) error
}

// checkConfig rejects config objects the runtime could not look up.
func checkConfig(ps api.PodSet) error {
	seen := make(map[string]bool, len(ps.Config))
	for i := range ps.Config {
		o := &ps.Config[i]
		if o.Kind != spec.KindConfigMap && o.Kind != spec.KindSecret {
			return fmt.Errorf("config[%d]: kind %q is neither %s nor %s", i, o.Kind, spec.KindConfigMap, spec.KindSecret)
		}
		if o.Namespace == "" || o.Name == "" {
			return fmt.Errorf("config[%d]: namespace and name are required", i)
		}
		if seen[o.Key()] {
			return fmt.Errorf("config[%d]: duplicate %s", i, o.Key())
		}
		seen[o.Key()] = true
	}
	return nil
}

// setConfig hands the set's config to the runtime.
func (a *Agent) setConfig(ps api.PodSet) {
	cr, ok := a.rt.(configRuntime)
	if !ok {
		return
	}
	if err := cr.SetConfig(ps.Config, ps.Volumes); err != nil {
		// Keys only: never values.
		a.log.Warn("failed to keep the set's config objects", "objects", len(ps.Config), "err", err)
	}
}

// hashSet is hashPods with the set's config (by Version, never by value)
// and volumes: a set whose only change is a ConfigMap is a new set too.
func hashSet(ps api.PodSet) [32]byte {
	h := hashPods(ps.Pods, ps.Network)
	type ref struct{ Key, Version string }
	refs := make([]ref, len(ps.Config))
	for i := range ps.Config {
		refs[i] = ref{ps.Config[i].Key(), ps.Config[i].Version}
	}
	b, err := json.Marshal(struct {
		Pods    [32]byte
		Config  []ref
		Volumes []api.PersistentVolume
		Delete  []api.PersistentVolume
	}{h, refs, ps.Volumes, ps.DeleteVolumes})
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}
