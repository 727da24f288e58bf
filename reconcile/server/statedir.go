package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"

	"github.com/stevedore-dev/stevedore/reconcile"
)

// Files in DataDir besides the raft state (leader.go). revision.json and
// memory.json are the files of reconcilers before raft: a reconciler whose
// raft state is new imports them once (see importLegacy), so an upgrade
// neither forgets nor restarts a pod.
const (
	fileLock     = "lock"
	fileRevision = "revision.json"
	fileMemory   = "memory.json"
	fileSnapshot = "serf.snapshot"
	// fileCluster holds the raft cluster's ID once this reconciler has
	// applied it: its serf tags name its cluster from the start, before
	// its log is replayed (which needs a leader that can reach it).
	fileCluster = "cluster-id"
	dirGit      = "git"
)

// stateDir is the reconciler's DataDir.
type stateDir struct {
	dir  string
	lock *os.File
}

// ErrDataDirLocked is returned by New when another reconciler holds DataDir.
var ErrDataDirLocked = errors.New("data dir is in use by another reconciler")

func openStateDir(dir string) (*stateDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, fileLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to open data dir lock: %w", err)
	}
	// Two reconcilers on one DataDir would share one raft log.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("failed to lock %s: %w", dir, ErrDataDirLocked)
		}
		return nil, fmt.Errorf("failed to lock %s: %w", dir, err)
	}
	return &stateDir{dir: dir, lock: f}, nil
}

func (d *stateDir) path(name string) string { return filepath.Join(d.dir, name) }

func (d *stateDir) close() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close() // closing releases the flock
	d.lock = nil
	return err
}

// loadRevision returns the last good revision, nil if there is none.
func (d *stateDir) loadRevision() (*savedRevision, error) {
	var r savedRevision
	ok, err := d.readJSON(fileRevision, &r)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// loadMemory returns the core's inventory, empty if there is none.
func (d *stateDir) loadMemory() (reconcile.Memory, error) {
	var m reconcile.Memory
	if _, err := d.readJSON(fileMemory, &m); err != nil {
		return reconcile.Memory{}, err
	}
	if m.Pods == nil {
		m.Pods = map[string]reconcile.PodRecord{}
	}
	return m, nil
}

func (d *stateDir) readJSON(name string, v any) (bool, error) {
	b, err := os.ReadFile(d.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to read %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("failed to decode %s: %w", d.path(name), err)
	}
	return true, nil
}

// loadClusterID returns the cluster ID recorded in the data dir, "" if none.
func (d *stateDir) loadClusterID() (string, error) {
	b, err := os.ReadFile(d.path(fileCluster))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("failed to read %s: %w", d.path(fileCluster), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// saveClusterID records the cluster ID (atomically, fsynced).
func (d *stateDir) saveClusterID(id string) error {
	return atomicfile.WriteFile(d.path(fileCluster), []byte(id+"\n"), 0o600)
}
