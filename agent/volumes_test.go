package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// fakeVolumes is a hand-written VolumeManager.
type fakeVolumes struct {
	mu      sync.Mutex
	vols    []api.PersistentVolume
	deletes []api.PersistentVolume
	status  []api.VolumeStatus
	changes chan struct{}
}

func (f *fakeVolumes) SetVolumes(vols, deletes []api.PersistentVolume) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vols, f.deletes = vols, deletes
}

func (f *fakeVolumes) Status() []api.VolumeStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeVolumes) Changes() <-chan struct{} { return f.changes }

func (f *fakeVolumes) set(st []api.VolumeStatus) {
	f.mu.Lock()
	f.status = st
	f.mu.Unlock()
	select {
	case f.changes <- struct{}{}:
	default:
	}
}

// An applied set's volumes reach the manager, and the manager's status
// is in the watch stream, which a change wakes.
func TestVolumesInSetAndStatus(t *testing.T) {
	vm := &fakeVolumes{changes: make(chan struct{}, 1)}
	cfg := testConfig(t, "n1")
	cfg.WatchHeartbeat = time.Hour // only a change can send a list
	a := startAgent(t, cfg, newFakeRuntime(), WithVolumes(vm))
	c := api.NewClient(a.APIURL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ps := podSet(1, 1, "a")
	ps.Volumes = []api.PersistentVolume{{Name: "pvc-1", Driver: "stevedore.dev/local-dir", Handle: "h"}}
	ps.DeleteVolumes = []api.PersistentVolume{{Name: "pvc-0", Driver: "stevedore.dev/local-dir", Handle: "h0"}}
	if _, err := c.Apply(ctx, ps); err != nil {
		t.Fatal(err)
	}
	vm.mu.Lock()
	if len(vm.vols) != 1 || vm.vols[0].Name != "pvc-1" || len(vm.deletes) != 1 || vm.deletes[0].Name != "pvc-0" {
		t.Fatalf("manager got %+v, %+v", vm.vols, vm.deletes)
	}
	vm.mu.Unlock()

	got := make(chan api.PodStatusList, 100)
	go func() { _ = c.Watch(ctx, func(l api.PodStatusList) { got <- l }) }()
	select {
	case <-got: // the initial list
	case <-ctx.Done():
		t.Fatal("no initial list")
	}
	vm.set([]api.VolumeStatus{{Name: "pvc-1", Phase: api.VolumeReady}, {Name: "pvc-0", Phase: api.VolumeDeleted}})
	for {
		select {
		case l := <-got:
			if len(l.Volumes) == 2 && l.Volumes[0].Phase == api.VolumeReady && l.Volumes[1].Phase == api.VolumeDeleted {
				return
			}
		case <-ctx.Done():
			t.Fatal("a volume change did not reach the watch stream")
		}
	}
}
