package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Files in DataDir. Every one is written atomically (temp file, fsync,
// rename, fsync of the directory) so a crash leaves the old or the new
// version, never half of one.
const (
	fileLock     = "lock"
	fileTerm     = "term"
	fileRevision = "revision.json"
	fileMemory   = "memory.json"
	fileSnapshot = "serf.snapshot"
	dirGit       = "git"
)

// savedRevision is the last good revision as persisted.
type savedRevision struct {
	Commit api.Commit        `json:"commit"`
	Path   string            `json:"path,omitempty"`
	Files  map[string][]byte `json:"files"`
}

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
	// Two reconcilers on one DataDir would both bump the term and fight
	// over the inventory.
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

// nextTerm reads the persisted term, increments it, persists and returns it.
// Until leader election lands, a start is a new term: agents then refuse
// sets from an older reconciler process still pushing.
func (d *stateDir) nextTerm() (uint64, error) {
	var term uint64
	b, err := os.ReadFile(d.path(fileTerm))
	switch {
	case err == nil:
		term, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("failed to parse %s: %w", d.path(fileTerm), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("failed to read term: %w", err)
	}
	term++
	if err := d.write(fileTerm, []byte(strconv.FormatUint(term, 10)+"\n")); err != nil {
		return 0, err
	}
	return term, nil
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

func (d *stateDir) saveRevision(r *savedRevision) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("failed to encode revision: %w", err)
	}
	return d.write(fileRevision, b)
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

// write replaces name atomically.
func (d *stateDir) write(name string, b []byte) error {
	tmp, err := os.CreateTemp(d.dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("failed to write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), d.path(name)); err != nil {
		return fmt.Errorf("failed to replace %s: %w", name, err)
	}
	dirf, err := os.Open(d.dir)
	if err != nil {
		return fmt.Errorf("failed to sync data dir: %w", err)
	}
	defer dirf.Close()
	if err := dirf.Sync(); err != nil {
		return fmt.Errorf("failed to sync data dir: %w", err)
	}
	return nil
}
