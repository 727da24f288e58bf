package runtime

// The ConfigMaps and Secrets the node's pods refer to, and the persistent
// volumes bound to their claims, as the latest pod set gave them
// (SetConfig). Env and volumes read them from memory; a copy is kept in a
// tmpfs mounted at DataDir/config (mode 0700), never on disk, so that
// after an agent restart a container can restart (and its volumes be
// rewritten) before the leader sends the set again. The tmpfs is mounted
// the first time there is something to keep and stays mounted across agent
// restarts; Teardown unmounts it.
//
// Nothing here logs or returns a Secret's values: errors name objects and
// keys only.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// configStore holds the config objects and persistent volumes of the set.
type configStore struct {
	dir string // DataDir/config

	mu   sync.RWMutex
	objs map[string]*api.ConfigObject // by Key()
	pvs  map[string]api.PersistentVolume
	// changed is closed (and replaced) on every change: waiters select on
	// the value they read.
	changed chan struct{}
	// mounted is true once dir is known to be this process's tmpfs.
	mounted bool
}

func newConfigStore(dataDir string) *configStore {
	return &configStore{
		dir:     filepath.Join(dataDir, "config"),
		objs:    map[string]*api.ConfigObject{},
		pvs:     map[string]api.PersistentVolume{},
		changed: make(chan struct{}),
	}
}

// configFile is one object as kept in the tmpfs.
func (s *configStore) file(key string) string {
	return filepath.Join(s.dir, shortHash(key, 24)+".json")
}

// load reads the objects a previous process kept in the tmpfs (nothing if
// it is not mounted: after a reboot the tmpfs is gone and so are they).
func (s *configStore) load() error {
	if !isMountPoint(s.dir) {
		return nil
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("failed to read config objects: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounted = true
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("failed to read config object %s: %w", e.Name(), err)
		}
		var o api.ConfigObject
		if err := json.Unmarshal(b, &o); err != nil {
			// A file cut short by a crash: the leader sends it again.
			_ = os.Remove(filepath.Join(s.dir, e.Name()))
			continue
		}
		s.objs[o.Key()] = &o
	}
	return nil
}

// set replaces the objects and volumes; it reports whether an object was
// added, removed or changed its Version (waiters are woken then).
func (s *configStore) set(objs []api.ConfigObject, pvs []api.PersistentVolume) (bool, error) {
	next := make(map[string]*api.ConfigObject, len(objs))
	for i := range objs {
		o := objs[i]
		next[o.Key()] = &o
	}
	nextPV := make(map[string]api.PersistentVolume, len(pvs))
	for _, pv := range pvs {
		if pv.Claim != "" {
			nextPV[pv.Claim] = pv
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := len(next) != len(s.objs)
	var write []*api.ConfigObject
	var remove []string
	for k, o := range next {
		if old, ok := s.objs[k]; !ok || old.Version != o.Version || o.Version == "" {
			changed = true
			write = append(write, o)
		}
	}
	for k := range s.objs {
		if _, ok := next[k]; !ok {
			remove = append(remove, k)
		}
	}
	if !pvsEqual(s.pvs, nextPV) {
		changed = true
	}
	s.objs, s.pvs = next, nextPV
	err := s.persistLocked(write, remove)
	if changed {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return changed, err
}

func pvsEqual(a, b map[string]api.PersistentVolume) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok {
			return false
		}
		bx, _ := json.Marshal(x)
		by, _ := json.Marshal(y)
		if string(bx) != string(by) {
			return false
		}
	}
	return true
}

// persistLocked mirrors a change into the tmpfs; s.mu is held.
func (s *configStore) persistLocked(write []*api.ConfigObject, remove []string) error {
	if len(write) == 0 && len(remove) == 0 {
		return nil
	}
	if !s.mounted {
		if len(s.objs) == 0 {
			return nil
		}
		if err := mountTmpfs(s.dir, "mode=0700"); err != nil {
			return fmt.Errorf("failed to mount the config tmpfs (objects are kept in memory only): %w", err)
		}
		s.mounted = true
		// Whatever the set holds, not only what changed.
		write = write[:0]
		for _, o := range s.objs {
			write = append(write, o)
		}
	}
	var errs []error
	for _, o := range write {
		b, err := json.Marshal(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to encode %s", o.Key()))
			continue
		}
		// The tmpfs is memory: a rename makes the write atomic, no fsync.
		f := s.file(o.Key())
		if err := os.WriteFile(f+".tmp", b, 0o600); err != nil {
			errs = append(errs, fmt.Errorf("failed to keep %s: %w", o.Key(), err))
			continue
		}
		if err := os.Rename(f+".tmp", f); err != nil {
			errs = append(errs, fmt.Errorf("failed to keep %s: %w", o.Key(), err))
		}
	}
	for _, k := range remove {
		if err := os.Remove(s.file(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("failed to forget %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// get returns the object of that kind in namespace, nil if the set has
// none. The object is shared: callers must not modify it.
func (s *configStore) get(kind, namespace, name string) *api.ConfigObject {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.objs[kind+"/"+namespace+"/"+name]
}

// version returns the object's Version, "" if it is missing.
func (s *configStore) version(kind, namespace, name string) string {
	if o := s.get(kind, namespace, name); o != nil {
		return o.Version
	}
	return ""
}

// volume returns the persistent volume bound to claim "namespace/name".
func (s *configStore) volume(claim string) (api.PersistentVolume, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	pv, ok := s.pvs[claim]
	return pv, ok
}

// wait returns a channel closed at the next change.
func (s *configStore) wait() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// unmount drops the tmpfs copy (Teardown); memory keeps the objects and a
// later change mounts it again.
func (s *configStore) unmount() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounted = false
	if isMountPoint(s.dir) {
		if err := unix.Unmount(s.dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("failed to unmount %s: %w", s.dir, err)
		}
	}
	if err := os.Remove(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to remove %s: %w", s.dir, err)
	}
	return nil
}

// SetConfig gives the runtime the ConfigMaps and Secrets that the node's
// pods refer to and the persistent volumes bound to their claims, as the
// pod set carries them (api.PodSet.Config and Volumes). The agent calls it
// before Sync with the same set. A change of an object's Version rewrites
// the files projected from it in every running pod within a second or
// two; a container waiting for a missing object or key
// (CreateContainerConfigError) or for its claim's volume starts once the
// set has it. The objects are kept in memory and in a tmpfs
// (DataDir/config), never on disk.
func (r *Runtime) SetConfig(objs []api.ConfigObject, pvs []api.PersistentVolume) error {
	changed, err := r.config.set(objs, pvs)
	if changed {
		r.wakeVolumes()
	}
	if err != nil {
		r.log.Warn("failed to keep config objects in tmpfs", "err", err)
	}
	return nil
}

// isMountPoint reports whether path is the root of a mount: its device
// differs from its parent's (enough for the tmpfs mounts made here).
func isMountPoint(path string) bool {
	var st, pst unix.Stat_t
	if unix.Lstat(path, &st) != nil || unix.Lstat(filepath.Dir(path), &pst) != nil {
		return false
	}
	return st.Dev != pst.Dev
}

// mountTmpfs mounts a tmpfs at dir (created if missing) with opts
// ("mode=0700,size=…"), unless one is there already.
func mountTmpfs(dir, opts string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if isMountPoint(dir) {
		return nil
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("failed to mount tmpfs at %s: %w", dir, err)
	}
	return nil
}
