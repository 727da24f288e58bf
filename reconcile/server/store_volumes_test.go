package server

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile"
)

// An opVolumes entry applies its pods and volumes together; a snapshot
// carries the volume records; a plan that changes no volume adds none to
// its entry.
func TestStoreVolumes(t *testing.T) {
	s := newStore()
	vol := func(name, phase string) reconcile.VolumeRecord {
		return reconcile.VolumeRecord{Name: name, Claim: "default/data", ClaimUID: "u1", Phase: phase, Dynamic: true,
			Driver: "stevedore.dev/local-dir", Handle: name, Capacity: 1 << 30, ReclaimPolicy: "Delete", Node: "n1", Created: time.Unix(1, 0).UTC()}
	}
	applyCmd(t, s, 1, &command{Op: opVolumes, Upsert: []reconcile.PodRecord{rec("default", "db", "n1")},
		VolumeUpsert: []reconcile.VolumeRecord{vol("pvc-u1", reconcile.VolumeBound), vol("pvc-u2", reconcile.VolumeBound)}})
	held := s.read()
	applyCmd(t, s, 2, &command{Op: opVolumes, VolumeUpsert: []reconcile.VolumeRecord{vol("pvc-u1", reconcile.VolumeReleased)}, VolumeDelete: []string{"pvc-u2"}})
	if len(held.Volumes) != 2 || held.Volumes["pvc-u1"].Phase != reconcile.VolumeBound {
		t.Fatalf("a held read changed under its reader: %v", held.Volumes)
	}
	v := s.read()
	if len(v.Pods) != 1 || len(v.Volumes) != 1 || v.Volumes["pvc-u1"].Phase != reconcile.VolumeReleased {
		t.Fatalf("state: pods %v volumes %v", v.Pods, v.Volumes)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := r.copyVolumes(); len(got) != 1 || got["pvc-u1"].Handle != "pvc-u1" || got["pvc-u1"].Phase != reconcile.VolumeReleased {
		t.Fatalf("restored volumes %v", got)
	}

	// The plan's entry: volumes only when they changed.
	out := reconcile.Output{Changed: []string{"default/db"}, Memory: reconcile.Memory{Pods: map[string]reconcile.PodRecord{"default/db": rec("default", "db", "n1")}}}
	if d := addVolumeDelta(memoryDelta(&out), &out); d.Op != opPods || len(d.VolumeUpsert) != 0 {
		t.Fatalf("entry without volume changes: %+v", d)
	}
	out.Memory.Volumes = map[string]reconcile.VolumeRecord{"pvc-u1": vol("pvc-u1", reconcile.VolumeBound)}
	out.VolumesChanged = []string{"pvc-u1"}
	if d := addVolumeDelta(memoryDelta(&out), &out); d.Op != opVolumes || len(d.Upsert) != 1 || len(d.VolumeUpsert) != 1 {
		t.Fatalf("entry with volume changes: %+v", d)
	}
	if d := addVolumeDelta(nil, &reconcile.Output{}); d != nil {
		t.Fatalf("a plan that changes nothing writes %+v", d)
	}
}
