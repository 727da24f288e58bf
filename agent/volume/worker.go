package volume

// This file is the manager's background work: adoption at start, the
// reconcile after each set (stage what the set lists, unstage what it
// dropped, delete DeleteVolumes), and teardown.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// run is the worker: it adopts what the state says at start, then
// reconciles after each SetVolumes and every RetryInterval while
// something failed.
func (m *Manager) run() {
	defer m.wg.Done()
	m.adopt(m.ctx)
	retry := time.NewTimer(m.cfg.RetryInterval)
	defer retry.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.wake:
		case <-retry.C:
		}
		m.mu.Lock()
		haveSet := m.haveSet
		m.mu.Unlock()
		if !haveSet {
			continue
		}
		if m.reconcile(m.ctx) {
			retry.Reset(m.cfg.RetryInterval)
		}
	}
}

// adopt brings back what the state says is staged and published: a
// mount that survived the restart is kept as it is, one that did not (a
// reboot) is made again. Nothing is unstaged before the first set.
func (m *Manager) adopt(ctx context.Context) {
	m.mu.Lock()
	names := slices.Sorted(maps.Keys(m.state))
	m.mu.Unlock()
	for _, name := range names {
		unlock := m.lock(name)
		m.mu.Lock()
		st := m.state[name]
		staged, pubs := st.Staged, maps.Clone(st.Published)
		m.mu.Unlock()
		if staged {
			d, err := m.driver(ctx, st.PV)
			if err == nil {
				err = m.ensureStaged(ctx, d, st, toVolume(st.PV))
			}
			for pod, p := range pubs {
				if err != nil {
					break
				}
				if ok, _ := IsMountPoint(p.Target); !ok {
					err = d.Publish(ctx, toVolume(st.PV), m.StagingPath(name), p.Target, p.ReadOnly)
				}
				if err != nil {
					err = fmt.Errorf("failed to publish volume %s for pod %s again: %w", name, pod, err)
				}
			}
			if err != nil {
				m.fail(st, err)
			} else {
				m.log.Info("adopted volume", "volume", name, "driver", st.PV.Driver, "pods", len(pubs))
			}
		}
		unlock()
	}
}

// reconcile brings every volume to what the set asks and reports
// whether something failed.
func (m *Manager) reconcile(ctx context.Context) (failed bool) {
	m.mu.Lock()
	want, del := maps.Clone(m.want), maps.Clone(m.del)
	names := slices.Collect(maps.Keys(m.state))
	m.mu.Unlock()
	for name := range want {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for name := range del {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.reconcileOne(ctx, name, want, del); err != nil {
				mu.Lock()
				failed = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	m.save()
	m.notify()
	return failed
}

// reconcileOne brings one volume to what the set asks.
func (m *Manager) reconcileOne(ctx context.Context, name string, want, del map[string]api.PersistentVolume) error {
	unlock := m.lock(name)
	defer unlock()
	pv, wanted := want[name]
	dpv, deleting := del[name]
	m.mu.Lock()
	st := m.state[name]
	m.mu.Unlock()
	switch {
	case deleting:
		if st == nil {
			st = m.record(dpv)
		}
		return m.deleteOne(ctx, st, dpv, wanted)
	case wanted:
		d, err := m.driver(ctx, pv)
		st = m.record(pv)
		if err != nil {
			m.fail(st, err)
			return err
		}
		return m.ensureStaged(ctx, d, st, toVolume(pv))
	}
	// Neither: unstage once no pod has it published, then forget it.
	m.mu.Lock()
	published := len(st.Published) > 0
	m.mu.Unlock()
	if published {
		return nil
	}
	if err := m.unstage(ctx, st); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.state, name)
	m.mu.Unlock()
	return nil
}

// deleteOne deletes a volume with its driver, never one still published
// or still in the set.
func (m *Manager) deleteOne(ctx context.Context, st *volState, pv api.PersistentVolume, wanted bool) error {
	m.mu.Lock()
	done := st.Deleted
	pods := slices.Sorted(maps.Keys(st.Published))
	m.mu.Unlock()
	if done {
		return nil
	}
	var err error
	switch {
	case wanted:
		err = fmt.Errorf("volume %s is both in the set and to delete; not deleted", pv.Name)
	case len(pods) > 0:
		err = fmt.Errorf("volume %s is still published for pod(s) %s; not deleted", pv.Name, strings.Join(pods, ", "))
	}
	if err != nil {
		m.fail(st, err)
		return err
	}
	if err := m.unstage(ctx, st); err != nil {
		return err
	}
	d, err := m.driver(ctx, pv)
	if err == nil {
		err = d.Delete(ctx, toVolume(pv))
	}
	if err != nil {
		m.fail(st, fmt.Errorf("failed to delete volume %s: %w", pv.Name, err))
		return err
	}
	m.mu.Lock()
	st.PV, st.Deleted, st.Provisioned, st.err = pv, true, false, ""
	m.mu.Unlock()
	m.log.Info("deleted volume", "volume", pv.Name, "driver", pv.Driver)
	return nil
}

// Teardown unpublishes and unstages every volume the manager mounted
// (the data stays) and stops the worker. The state keeps what is
// provisioned.
func (m *Manager) Teardown(ctx context.Context) error {
	m.Close()
	m.mu.Lock()
	names := slices.Sorted(maps.Keys(m.state))
	m.mu.Unlock()
	var errs []error
	for _, name := range names {
		unlock := m.lock(name)
		m.mu.Lock()
		st := m.state[name]
		pubs := maps.Clone(st.Published)
		m.mu.Unlock()
		for pod, p := range pubs {
			if err := m.unpublish(ctx, st, pod, p.Target); err != nil {
				errs = append(errs, err)
			}
		}
		if err := m.unstage(ctx, st); err != nil {
			errs = append(errs, err)
		}
		unlock()
	}
	m.save()
	// Anything left under the manager's directories that the state did
	// not know (a state lost with its disk) is unmounted too.
	for _, dir := range []string{filepath.Join(m0(m.cfg), "pods"), filepath.Join(m0(m.cfg), "staging")} {
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountUnder unmounts every mount point below dir, deepest first.
func unmountUnder(dir string) error {
	all, err := mounts()
	if err != nil {
		return err
	}
	var under []string
	prefix := filepath.Clean(dir) + "/"
	for _, mi := range all {
		if strings.HasPrefix(mi.MountPoint, prefix) {
			under = append(under, mi.MountPoint)
		}
	}
	slices.SortFunc(under, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range slices.Compact(under) {
		errs = append(errs, unmountAll(p))
	}
	return errors.Join(errs...)
}
