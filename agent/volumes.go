package agent

import "github.com/stevedore-dev/stevedore/agent/api"

// VolumeManager is what the daemon needs from agent/volume.Manager: the
// persistent volumes of each applied set, and their status for the
// watch stream.
//
// SetVolumes returns at once (the manager works in the background);
// Status may be called from any goroutine; Changes is read by the
// agent's fan-out goroutine only.
type VolumeManager interface {
	SetVolumes(vols, deletes []api.PersistentVolume)
	Status() []api.VolumeStatus
	Changes() <-chan struct{}
}

// WithVolumes gives the agent its volume manager: each applied set's
// Volumes and DeleteVolumes go to it, and its status is part of every
// PodStatusList.
func WithVolumes(v VolumeManager) Option {
	return func(a *Agent) { a.vols = v }
}

// setVolumes hands an applied set's volumes to the manager, if any.
func (a *Agent) setVolumes(ps api.PodSet) {
	if a.vols != nil {
		a.vols.SetVolumes(ps.Volumes, ps.DeleteVolumes)
	}
}

// volumeStatus is the manager's status, nil without one.
func (a *Agent) volumeStatus() []api.VolumeStatus {
	if a.vols == nil {
		return nil
	}
	return a.vols.Status()
}

// volumeChanges is the manager's change signal; nil (never ready)
// without one.
func (a *Agent) volumeChanges() <-chan struct{} {
	if a.vols == nil {
		return nil
	}
	return a.vols.Changes()
}
