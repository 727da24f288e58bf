package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPodPidsLimit is the pids limit of a pod when Config.PodPidsLimit
// is zero. The kubelet's default is unlimited (-1); here one pod's fork
// loop must not use up the node's pid_max (32,768 on Debian) and starve
// the agent, containerd and every other pod, so the default is a bound
// far above what a real workload forks and far below pid_max.
const DefaultPodPidsLimit = 4096

// cgroupRoot is where the cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// A pod's containers each have a cgroup of their own, under one cgroup of
// the pod, as the kubelet lays them out (kubepods/pod<uid>/<container>):
//
//	/<containerd namespace>/pod-<pod id>/<container id>
//
// The pod's cgroup carries the limits that bind the pod as a whole (the
// pids limit); runc creates the intermediate directories in every
// hierarchy, and the runtime removes them with the pod.

// podCgroup is w's pod cgroup path (relative to each hierarchy's root).
func (w *podWorker) podCgroup() string {
	return path.Join("/", w.r.cfg.Namespace, "pod-"+w.id)
}

// containerCgroup is the cgroup path of w's container id: under the pod's
// cgroup, or directly under the namespace where an agent before pod
// cgroups put the containers it adopted.
func (w *podWorker) containerCgroup(id string) string {
	p := path.Join(w.podCgroup(), id)
	for _, h := range []string{"memory", ""} {
		if _, err := os.Stat(filepath.Join(cgroupRoot, h, p)); err == nil {
			return p
		}
	}
	return path.Join("/", w.r.cfg.Namespace, id)
}

// withCgroupsPath puts the container's cgroup at p.
func withCgroupsPath(p string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.CgroupsPath = p
		return nil
	}
}

// podPidsLimit is the limit Config.PodPidsLimit gives: -1 for none.
func (c *Config) podPidsLimit() int64 {
	switch {
	case c.PodPidsLimit == 0:
		return DefaultPodPidsLimit
	case c.PodPidsLimit < 0:
		return -1
	}
	return c.PodPidsLimit
}

// checkPidsController refuses a pods limit the host cannot apply: it
// runs once, when the runtime starts, so that a missing pids controller
// is one clear error rather than a failure of every container.
func checkPidsController(root string, limit int64) error {
	if limit < 0 {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		if !strings.Contains(" "+strings.TrimSpace(string(b))+" ", " pids ") {
			return fmt.Errorf("failed to apply the pod pids limit %d: the pids cgroup controller is not in %s (run the agent with --pod-pids-limit=-1 to go without one)", limit, filepath.Join(root, "cgroup.controllers"))
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(root, "pids")); err != nil {
		return fmt.Errorf("failed to apply the pod pids limit %d: no pids cgroup controller under %s (run the agent with --pod-pids-limit=-1 to go without one): %w", limit, root, err)
	}
	return nil
}

// ensurePodCgroup creates the pod cgroup p in the pids controller under
// root and sets its pids.max (limit < 0: "max"). Idempotent: it runs
// before each container of the pod is created. On cgroup v2 (root holds
// cgroup.controllers) the pids controller is enabled down the path first.
func ensurePodCgroup(root, p string, limit int64) error {
	max := "max"
	if limit >= 0 {
		max = strconv.FormatInt(limit, 10)
	}
	dir := filepath.Join(root, "pids", p)
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		// cgroup v2: one hierarchy; each ancestor must delegate pids.
		dir = filepath.Join(root, p)
		parts := strings.Split(strings.Trim(p, "/"), "/")
		cur := root
		for _, part := range parts {
			if err := enableController(cur, "pids"); err != nil {
				return err
			}
			cur = filepath.Join(cur, part)
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("failed to create pod cgroup: %w", err)
			}
		}
	} else if _, err := os.Stat(filepath.Join(root, "pids")); err != nil {
		return fmt.Errorf("failed to find the pids cgroup controller under %s: %w", root, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create pod cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(max), 0o644); err != nil {
		return fmt.Errorf("failed to set the pod's pids limit: %w", err)
	}
	return nil
}

// enableController adds ctrl to dir's cgroup.subtree_control (v2) unless
// it is there.
func enableController(dir, ctrl string) error {
	f := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", f, err)
	}
	if strings.Contains(" "+strings.TrimSpace(string(b))+" ", " "+ctrl+" ") {
		return nil
	}
	if err := os.WriteFile(f, []byte("+"+ctrl), 0o644); err != nil {
		return fmt.Errorf("failed to enable the %s controller in %s: %w", ctrl, dir, err)
	}
	return nil
}

// removePodCgroup removes the pod cgroup p from every hierarchy under root
// (v1: one per controller, named or not; v2: root itself), once its
// containers' cgroups are gone. A cgroup already gone is no error.
func removePodCgroup(root, p string) error {
	dirs := []string{filepath.Join(root, p)}
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("failed to list cgroup hierarchies: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name(), p))
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("failed to remove pod cgroup: %w", err)
	}
	return nil
}

// removeNamespaceCgroups removes, from every hierarchy under root, the
// pod cgroups left under the containerd namespace ns (those of stray
// containers, removed without their pod's worker) and then ns's own
// cgroup, best effort: a cgroup still in use stays.
func removeNamespaceCgroups(root, ns string) {
	hierarchies := []string{root}
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				hierarchies = append(hierarchies, filepath.Join(root, e.Name()))
			}
		}
	}
	for _, h := range hierarchies {
		dir := filepath.Join(h, ns)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "pod-") {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		_ = os.Remove(dir)
	}
}
