package devenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// A run that was killed (kill -9 of make run, a test binary that timed out)
// cannot clean up after itself: its containerd (deliberately in a process
// group of its own) keeps running with the pods' containers, their network
// namespaces stay mounted under /var/run/netns, and its temporary directory
// stays. Every cluster therefore records what it started in run.json in its
// directory, and the next StartCluster reaps the runs whose owner is dead,
// before it creates anything: the same teardown Stop does, driven by the
// record instead of the live Cluster.

// runFile names the record in a cluster's directory.
const runFile = "run.json"

// runRecord is what a reaper needs to clean up after a dead run.
type runRecord struct {
	// PID is the owner: the process that called StartCluster.
	PID        int        `json:"pid"`
	BinDir     string     `json:"binDir"`
	Containerd string     `json:"containerd,omitempty"`
	SockDir    string     `json:"sockDir,omitempty"`
	Agents     []runAgent `json:"agents,omitempty"`
	Started    time.Time  `json:"started"`
}

type runAgent struct {
	Name    string `json:"name"`
	DataDir string `json:"dataDir"`
}

// record writes the cluster's run record (best effort: a run that cannot
// write it is only not reapable).
func (c *Cluster) record() {
	rec := runRecord{PID: os.Getpid(), BinDir: c.cfg.BinDir, Started: time.Now()}
	if c.Containerd != nil {
		rec.Containerd = c.Containerd.Address
		rec.SockDir = c.Containerd.sockDir
	}
	c.mu.Lock()
	for _, a := range c.Agents {
		rec.Agents = append(rec.Agents, runAgent{Name: a.Name, DataDir: a.DataDir})
	}
	c.mu.Unlock()
	b, err := json.Marshal(rec)
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(c.Dir, runFile), b, 0o600)
	}
	if err != nil {
		c.log.Warn("failed to record the run for a later reaper", "err", err)
	}
}

// ReapDeadRuns cleans up after every earlier cluster in the temporary
// directory whose owning process is gone: it tears its agents down (pods,
// their network namespaces and IPs) through its still-running containerd,
// removes what is left in containerd, kills that containerd and every
// other process still working in the run's directory, and removes the
// directory. It returns the directories it reaped.
func ReapDeadRuns(ctx context.Context, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.Default()
	}
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), "stevedore-dev-*"))
	if err != nil {
		return nil, err
	}
	var reaped []string
	var errs []error
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, runFile))
		if err != nil {
			continue // not a cluster's, or one from before records
		}
		var rec runRecord
		if err := json.Unmarshal(b, &rec); err != nil || rec.PID <= 0 || alive(rec.PID) {
			continue
		}
		log.Info("reaping a killed run", "dir", dir, "pid", rec.PID)
		if err := reap(ctx, dir, rec); err != nil {
			errs = append(errs, fmt.Errorf("failed to reap %s: %w", dir, err))
			continue
		}
		reaped = append(reaped, dir)
	}
	return reaped, errors.Join(errs...)
}

// alive reports whether pid is a running process.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func reap(ctx context.Context, dir string, rec runRecord) error {
	var errs []error
	if rec.Containerd != "" {
		if _, err := os.Stat(rec.Containerd); err == nil {
			for _, a := range rec.Agents {
				// In the root namespace: the agent's own namespace went
				// with its run (a later run of the same prefix removes it),
				// and with it the routes and tables; the pods' namespaces
				// are mounted globally and still need removing.
				argv := []string{filepath.Join(rec.BinDir, "agent"), "--teardown",
					"--node", a.Name, "--data-dir", a.DataDir, "--containerd", rec.Containerd}
				tctx, cancel := context.WithTimeout(ctx, time.Minute)
				out, err := exec.CommandContext(tctx, argv[0], argv[1:]...).CombinedOutput()
				cancel()
				if err != nil {
					errs = append(errs, fmt.Errorf("failed to tear down %s: %w: %s", a.Name, err, strings.TrimSpace(string(out))))
				}
				if err := purgeNamespace(ctx, rec.Containerd, NodeNamespace(a.Name)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	// containerd, its shims and anything else still running in the run's
	// directories.
	for _, pid := range processesUsing(dir, rec.SockDir) {
		killTree(pid)
	}
	if len(errs) > 0 {
		// Keep the directory (and its record) for another try.
		return errors.Join(errs...)
	}
	if rec.SockDir != "" {
		_ = os.RemoveAll(rec.SockDir)
	}
	return os.RemoveAll(dir)
}

// processesUsing lists the processes whose command line names one of dirs.
func processesUsing(dirs ...string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		for _, d := range dirs {
			if d != "" && strings.Contains(cmd, d) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killTree kills pid's descendants, then pid (SIGKILL): a shim and the
// container processes it started.
func killTree(pid int) {
	tasks, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(f); err == nil {
				killTree(child)
			}
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
