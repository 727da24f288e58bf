package server

import (
	"maps"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
)

// The persistent volumes the core remembers (reconcile.Memory.Volumes:
// bindings and provisioned volumes) are replicated like the pods: a plan
// whose volume records changed commits an opVolumes entry carrying its
// whole delta, pods and volumes, so that both apply together. A
// reconciler from before volumes fails to apply the operation (and so
// never leads from a store that lacks them) rather than drop them.

// opVolumes is a plan's delta of the inventory that changed volume
// records: Upsert and Delete (pods) with VolumeUpsert and VolumeDelete.
const opVolumes = "volumes"

// applyVolumesLocked applies the volume half of an opVolumes entry.
func (s *store) applyVolumesLocked(c *command) {
	v := maps.Clone(s.st.Volumes)
	if v == nil {
		v = map[string]reconcile.VolumeRecord{}
	}
	for _, n := range c.VolumeDelete {
		delete(v, n)
	}
	for _, r := range c.VolumeUpsert {
		v[r.Name] = r
	}
	s.st.Volumes = v
}

// copyVolumes returns the volume records (the map is replaced, never
// written to, so sharing it is safe).
func (s *store) copyVolumes() map[string]reconcile.VolumeRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Volumes
}

// addVolumeDelta makes a plan's entry carry its volume delta too.
func addVolumeDelta(c *command, out *reconcile.Output) *command {
	if len(out.VolumesChanged) == 0 && len(out.VolumesDeleted) == 0 {
		return c
	}
	if c == nil {
		c = &command{}
	}
	c.Op = opVolumes
	c.VolumeDelete = out.VolumesDeleted
	for _, n := range out.VolumesChanged {
		c.VolumeUpsert = append(c.VolumeUpsert, out.Memory.Volumes[n])
	}
	return c
}

// nodeStorage is what a node's set carries beside its pods: the plan's
// Output.NodeConfig, NodeVolumes and DeleteVolumes for it. Config holds
// Secret data in plaintext: it is never logged.
type nodeStorage struct {
	config  []agentapi.ConfigObject
	volumes []agentapi.PersistentVolume
	deletes []agentapi.PersistentVolume
}

// storageOf returns a plan's storage by node.
func storageOf(out *reconcile.Output) map[string]nodeStorage {
	m := map[string]nodeStorage{}
	for n, c := range out.NodeConfig {
		ns := m[n]
		ns.config = c
		m[n] = ns
	}
	for n, v := range out.NodeVolumes {
		ns := m[n]
		ns.volumes = v
		m[n] = ns
	}
	for n, v := range out.DeleteVolumes {
		ns := m[n]
		ns.deletes = v
		m[n] = ns
	}
	return m
}
