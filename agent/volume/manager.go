package volume

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Manager is the agent's volume manager: it maps each PersistentVolume
// of the node's pod set to a driver, provisions and stages it, publishes
// it into pods for the runtime, unstages it when the node no longer uses
// it, deletes the volumes the set asks to delete, and reports their
// status.
//
// Staging path: DataDir/volumes/staging/<pv name>. Publish target:
// DataDir/volumes/pods/<pod UID>/<pv name>, chosen here and returned to
// the runtime, outside the runtime's own pod directories so that a
// runtime removing a pod's directory can never walk into a mounted
// volume.
//
// Unstage policy: a volume stays staged while the set lists it (a pod
// being re-created on the node re-publishes without a re-mount), and is
// unstaged at once when its last pod unpublishes and the set no longer
// lists it, or when a set drops it and no pod has it published.
//
// State (volumes/state.json, replaced atomically on every change) says
// which volumes were provisioned, staged and published where. A restarted
// agent loads it and adopts what it finds: a drivers's Stage and Publish
// of what is already mounted do nothing, so nothing is re-formatted or
// re-mounted; after a reboot (mounts gone) the same calls mount again.
// Teardown unmounts everything the manager mounted; a killed agent
// leaves its mounts, which the next start adopts.
//
// Calls for one volume are serialised; calls for different volumes run
// concurrently.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	builtins map[string]Driver

	// mu guards the fields below; it is never held across a driver call.
	mu      sync.Mutex
	state   map[string]*volState
	want    map[string]api.PersistentVolume
	del     map[string]api.PersistentVolume
	locks   map[string]*sync.Mutex
	plugins map[string]*Exec // by executable path
	lastSt  []api.VolumeStatus
	haveSet bool // SetVolumes was called: the worker may unstage and forget

	saveMu sync.Mutex // serialises save, so an older state never lands last

	changes chan struct{}
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// volState is what the manager knows of one volume.
type volState struct {
	PV          api.PersistentVolume   `json:"pv"`
	Provisioned bool                   `json:"provisioned,omitempty"`
	Staged      bool                   `json:"staged,omitempty"`
	Published   map[string]publication `json:"published,omitempty"` // by pod UID
	Deleted     bool                   `json:"deleted,omitempty"`

	err     string // the last driver failure, "" after a success
	used    int64
	checked bool // staged and checked by this process (adopted or staged)
}

type publication struct {
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// NewManager loads the manager's state and starts its worker, which
// adopts what the state says is staged and published. extra drivers are
// added to (or replace) the built-in ones by name.
func NewManager(cfg Config, extra ...Driver) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{m0(cfg), filepath.Join(m0(cfg), "staging"), filepath.Join(m0(cfg), "pods")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("failed to create %s: %w", d, err)
		}
	}
	m := &Manager{
		cfg: cfg,
		log: cfg.Logger.With("component", "volumes"),
		builtins: map[string]Driver{
			LocalDirName:   NewLocalDir(cfg.LocalDirRoot),
			LocalBlockName: NewLocalBlock(cfg.LocalBlockRoot),
			SSHFSName: &SSHFS{IdentityFile: cfg.SSHIdentityFile, KnownHostsFile: cfg.SSHKnownHostsFile,
				BasePaths: cfg.SSHBasePaths},
			HostPathName: &HostPath{name: HostPathName, Allow: cfg.AllowHostPaths},
			LocalName:    &HostPath{name: LocalName, Allow: cfg.AllowHostPaths},
		},
		want:    map[string]api.PersistentVolume{},
		del:     map[string]api.PersistentVolume{},
		locks:   map[string]*sync.Mutex{},
		plugins: map[string]*Exec{},
		changes: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
	}
	for _, d := range extra {
		m.builtins[d.Name()] = d
	}
	st, err := loadState(m.statePath())
	if err != nil {
		return nil, err
	}
	m.state = st
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.run()
	return m, nil
}

// m0 is the manager's directory.
func m0(cfg Config) string { return filepath.Join(cfg.DataDir, "volumes") }

func (m *Manager) statePath() string { return filepath.Join(m0(m.cfg), "state.json") }

// StagingPath is where the volume named pv is staged.
func (m *Manager) StagingPath(pv string) string { return filepath.Join(m0(m.cfg), "staging", pv) }

// TargetPath is where the volume named pv is published for a pod.
func (m *Manager) TargetPath(podUID, pv string) string {
	return filepath.Join(m0(m.cfg), "pods", podUID, pv)
}

// Close stops the worker; mounts stay (the next start adopts them).
// Safe to call twice.
func (m *Manager) Close() error {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
	})
	return nil
}

// Changes signals (coalesced) that Status may have changed.
func (m *Manager) Changes() <-chan struct{} { return m.changes }

// SetVolumes is the node's applied set: vols are the volumes its pods
// mount, deletes the volumes to delete. It returns at once; the worker
// provisions and stages vols, unstages what the set dropped, and deletes
// deletes, reporting through Status and Changes.
func (m *Manager) SetVolumes(vols, deletes []api.PersistentVolume) {
	m.mu.Lock()
	m.want = make(map[string]api.PersistentVolume, len(vols))
	for _, pv := range vols {
		m.want[pv.Name] = pv
	}
	m.del = make(map[string]api.PersistentVolume, len(deletes))
	for _, pv := range deletes {
		m.del[pv.Name] = pv
	}
	m.haveSet = true
	m.mu.Unlock()
	m.kick()
}

func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// lock serialises the calls for one volume.
func (m *Manager) lock(name string) func() {
	m.mu.Lock()
	l, ok := m.locks[name]
	if !ok {
		l = &sync.Mutex{}
		m.locks[name] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// checkName refuses a volume or pod name that is not a safe file name.
func checkName(what, s string) error {
	if err := checkHandle(s); err != nil {
		return fmt.Errorf("invalid %s %q: want a non-empty file name", what, s)
	}
	return nil
}

// Publish makes pv visible to the pod podUID and returns the host path
// to mount into its containers: it provisions and stages pv first if
// needed. Read-only when readOnly or pv.ReadOnly.
func (m *Manager) Publish(ctx context.Context, podUID string, pv api.PersistentVolume, readOnly bool) (string, error) {
	if err := checkName("pod UID", podUID); err != nil {
		return "", err
	}
	if err := checkName("volume name", pv.Name); err != nil {
		return "", err
	}
	unlock := m.lock(pv.Name)
	defer unlock()
	m.mu.Lock()
	_, deleting := m.del[pv.Name]
	m.mu.Unlock()
	if deleting {
		return "", fmt.Errorf("volume %s is being deleted", pv.Name)
	}
	d, err := m.driver(ctx, pv)
	if err != nil {
		return "", err
	}
	st := m.record(pv)
	v := toVolume(pv)
	if err := m.ensureStaged(ctx, d, st, v); err != nil {
		return "", err
	}
	target := m.TargetPath(podUID, pv.Name)
	if err := os.MkdirAll(target, 0o750); err != nil {
		return "", fmt.Errorf("failed to create %s: %w", target, err)
	}
	ro := readOnly || pv.ReadOnly
	if err := d.Publish(ctx, v, m.StagingPath(pv.Name), target, ro); err != nil {
		m.fail(st, err)
		return "", fmt.Errorf("failed to publish volume %s for pod %s: %w", pv.Name, podUID, err)
	}
	m.mu.Lock()
	if st.Published == nil {
		st.Published = map[string]publication{}
	}
	st.Published[podUID] = publication{Target: target, ReadOnly: ro}
	m.mu.Unlock()
	m.save()
	return target, nil
}

// Unpublish undoes Publish for the pod; a volume not published for it is
// done. When no pod has the volume published any more and the set no
// longer lists it, it is unstaged at once.
func (m *Manager) Unpublish(ctx context.Context, podUID, pvName string) error {
	if err := checkName("pod UID", podUID); err != nil {
		return err
	}
	if err := checkName("volume name", pvName); err != nil {
		return err
	}
	unlock := m.lock(pvName)
	defer unlock()
	m.mu.Lock()
	st := m.state[pvName]
	m.mu.Unlock()
	target := m.TargetPath(podUID, pvName)
	if st == nil {
		// Never published (or forgotten): make sure nothing is mounted.
		if err := unmountAll(target); err != nil {
			return err
		}
		return m.removeTarget(podUID, pvName)
	}
	if err := m.unpublish(ctx, st, podUID, target); err != nil {
		return err
	}
	m.mu.Lock()
	_, wanted := m.want[pvName]
	idle := len(st.Published) == 0 && !wanted
	m.mu.Unlock()
	if idle {
		if err := m.unstage(ctx, st); err != nil {
			return err
		}
	}
	m.save()
	m.notify()
	return nil
}

// unpublish runs the driver's Unpublish and forgets the publication.
// The volume's lock is held.
func (m *Manager) unpublish(ctx context.Context, st *volState, podUID, target string) error {
	d, err := m.driver(ctx, st.PV)
	if err != nil {
		// No driver (a plug-in removed): a bind mount is all a publish
		// is for every built-in driver.
		err = unmountAll(target)
	} else {
		err = d.Unpublish(ctx, toVolume(st.PV), target)
	}
	if err != nil {
		m.fail(st, err)
		return fmt.Errorf("failed to unpublish volume %s for pod %s: %w", st.PV.Name, podUID, err)
	}
	m.mu.Lock()
	delete(st.Published, podUID)
	m.mu.Unlock()
	return m.removeTarget(podUID, st.PV.Name)
}

// removeTarget removes the empty target directory and the pod's
// directory when it is empty too.
func (m *Manager) removeTarget(podUID, pvName string) error {
	if err := removeEmptyDir(m.TargetPath(podUID, pvName)); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(m0(m.cfg), "pods", podUID)) // fails while not empty
	return nil
}

// record returns the volume's state, creating it, with pv as its
// latest spec.
func (m *Manager) record(pv api.PersistentVolume) *volState {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.state[pv.Name]
	if !ok {
		st = &volState{}
		m.state[pv.Name] = st
	}
	st.PV = pv
	return st
}

// ensureStaged provisions and stages v unless the state says it is and
// its staging path is still mounted. The volume's lock is held.
func (m *Manager) ensureStaged(ctx context.Context, d Driver, st *volState, v Volume) error {
	m.mu.Lock()
	provisioned, staged := st.Provisioned, st.Staged
	m.mu.Unlock()
	if !provisioned {
		if err := d.Provision(ctx, v); err != nil {
			m.fail(st, err)
			return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
		}
		m.mu.Lock()
		st.Provisioned, st.Deleted = true, false
		m.mu.Unlock()
		m.save()
	}
	staging := m.StagingPath(v.Name)
	if staged {
		// Adopt: a mount that survived a restart is used as it is; one
		// that did not (a reboot) is staged again.
		if ok, err := IsMountPoint(staging); err == nil && ok {
			m.succeed(ctx, d, st, v)
			return nil
		}
	}
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return fmt.Errorf("failed to create %s: %w", staging, err)
	}
	if err := d.Stage(ctx, v, staging); err != nil {
		m.fail(st, err)
		return fmt.Errorf("failed to stage volume %s: %w", v.Name, err)
	}
	m.mu.Lock()
	st.Staged = true
	m.mu.Unlock()
	m.save()
	m.succeed(ctx, d, st, v)
	return nil
}

// unstage unstages a staged volume. The volume's lock is held.
func (m *Manager) unstage(ctx context.Context, st *volState) error {
	m.mu.Lock()
	staged := st.Staged
	m.mu.Unlock()
	staging := m.StagingPath(st.PV.Name)
	if staged {
		d, err := m.driver(ctx, st.PV)
		if err == nil {
			err = d.Unstage(ctx, toVolume(st.PV), staging)
		}
		if err != nil {
			m.fail(st, err)
			return fmt.Errorf("failed to unstage volume %s: %w", st.PV.Name, err)
		}
		m.mu.Lock()
		st.Staged = false
		m.mu.Unlock()
		m.save()
	}
	return removeEmptyDir(staging)
}

func (m *Manager) fail(st *volState, err error) {
	m.mu.Lock()
	st.err = err.Error()
	m.mu.Unlock()
	m.log.Warn("volume driver failed", "volume", st.PV.Name, "driver", st.PV.Driver, "err", err)
	m.notify()
}

func (m *Manager) succeed(ctx context.Context, d Driver, st *volState, v Volume) {
	var used int64
	if u, ok := d.(Usage); ok {
		if n, err := u.UsedBytes(ctx, v, m.StagingPath(v.Name)); err == nil {
			used = n
		}
	}
	m.mu.Lock()
	st.err, st.used, st.checked = "", used, true
	m.mu.Unlock()
	m.notify()
}

// notify signals Changes when Status changed.
func (m *Manager) notify() {
	cur := m.Status()
	m.mu.Lock()
	same := slices.Equal(cur, m.lastSt)
	m.lastSt = cur
	m.mu.Unlock()
	if same {
		return
	}
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// Status reports the volumes of the last set: Ready once provisioned and
// staged, Deleted once deleted, Failed with the driver's error; a volume
// still being worked on is left out.
func (m *Manager) Status() []api.VolumeStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []api.VolumeStatus
	names := slices.Sorted(maps.Keys(m.state))
	for _, name := range names {
		st := m.state[name]
		_, wanted := m.want[name]
		_, deleting := m.del[name]
		if !wanted && !deleting {
			continue
		}
		s := api.VolumeStatus{Name: name}
		switch {
		case st.err != "":
			s.Phase, s.Message = api.VolumeFailed, st.err
		case deleting && st.Deleted:
			s.Phase = api.VolumeDeleted
		case wanted && st.Staged && st.checked:
			s.Phase, s.UsedBytes = api.VolumeReady, st.used
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}

// toVolume is what a driver is told of pv.
func toVolume(pv api.PersistentVolume) Volume {
	return Volume{Name: pv.Name, Handle: pv.Handle, CapacityBytes: pv.CapacityBytes, FSType: pv.FSType,
		Parameters: pv.Parameters, MountOptions: pv.MountOptions}
}

// driver maps pv.Driver to a driver: a built-in one, stevedore.dev/exec
// with the plug-in named by Parameters["plugin"], or a plug-in installed
// under the provisioner's name (PluginPath).
func (m *Manager) driver(ctx context.Context, pv api.PersistentVolume) (Driver, error) {
	if d, ok := m.builtins[pv.Driver]; ok {
		return d, nil
	}
	var path string
	switch {
	case pv.Driver == ExecName:
		p := pv.Parameters["plugin"]
		if checkHandle(p) != nil {
			return nil, fmt.Errorf("volume %s: driver %s needs the parameter plugin, the name of an executable in %s", pv.Name, ExecName, m.cfg.PluginDir)
		}
		path = filepath.Join(m.cfg.PluginDir, p)
	case pv.Driver == "":
		return nil, fmt.Errorf("volume %s: no driver", pv.Name)
	default:
		path = PluginPath(m.cfg.PluginDir, pv.Driver)
	}
	m.mu.Lock()
	d, ok := m.plugins[path]
	m.mu.Unlock()
	if ok {
		return d, nil
	}
	if _, err := os.Stat(path); err != nil {
		builtin := slices.Sorted(maps.Keys(m.builtins))
		return nil, fmt.Errorf("volume %s: no volume driver %q (built in: %s; no plug-in at %s)", pv.Name, pv.Driver, strings.Join(builtin, ", "), path)
	}
	d, err := NewExec(ctx, pv.Driver, path, m.cfg.PluginTimeout)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.plugins[path] = d
	m.mu.Unlock()
	return d, nil
}
