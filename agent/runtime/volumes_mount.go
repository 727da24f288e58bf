package runtime

// A container's environment and volume mounts, computed at each start
// (createContainer calls containerConfig).
//
// A subPath is resolved inside its volume with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS): a ".." or a symlink that leaves the volume
// fails the container (CreateContainerConfigError) instead of reaching the
// node's files. A missing subPath directory is created, as the kubelet
// does. The file descriptor of what was resolved is bind-mounted (through
// /proc/self/fd) at DataDir/pods/<podID>/volume-subpaths/<volume>/
// <container>/<index>, and that is what the container mounts, so that
// nothing can swap a symlink in between. Such a bind holds the file or
// directory as it was: a subPath of a configMap volume does not see
// updates, as in Kubernetes.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// containerConfig returns the container's environment and mounts as spec
// options, and the environment ("K=V", for command and args). Its errors are *configError (CreateContainerConfigError),
// *waitError (ContainerCreating) or errEvicted; any other error is a
// failure to create the container.
func (w *podWorker) containerConfig(ctx context.Context, c *ctr) ([]oci.SpecOpts, []string, error) {
	wait := w.r.config.wait()
	if needsPodIP(&c.spec) {
		select {
		case <-w.sandboxUp:
		case <-w.stopCh:
			return nil, nil, errors.New("pod stopping")
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	env, warnings, err := makeEnv(envInput{
		facts:    w.facts(),
		ctr:      &c.spec,
		services: w.r.serviceEnvFor(&w.pod),
		lookup:   w.r.config.get,
	})
	if err != nil {
		return nil, nil, withWait(err, wait)
	}
	for _, msg := range warnings {
		w.event(c.spec.Name, api.EventWarning, "InvalidEnvironmentVariableNames", msg)
	}
	if err := w.setupVolumes(ctx); err != nil {
		return nil, nil, withWait(err, wait)
	}
	mounts, err := w.containerMounts(c, env)
	if err != nil {
		return nil, nil, withWait(err, wait)
	}
	var opts []oci.SpecOpts
	if len(env) > 0 {
		opts = append(opts, oci.WithEnv(env))
	}
	if len(mounts) > 0 {
		opts = append(opts, oci.WithMounts(mounts))
	}
	return opts, env, nil
}

// withWait attaches the config generation the attempt saw to err, so the
// container waits for a change after it, not after its own failure.
func withWait(err error, wait <-chan struct{}) error {
	var ce *configError
	if errors.As(err, &ce) && ce.wait == nil {
		ce.wait = wait
	}
	return err
}

// containerMounts returns the OCI mounts of the container's volumeMounts.
func (w *podWorker) containerMounts(c *ctr, env []string) ([]specs.Mount, error) {
	vols := make(map[string]*spec.Volume, len(w.pod.Spec.Volumes))
	for i := range w.pod.Spec.Volumes {
		vols[w.pod.Spec.Volumes[i].Name] = &w.pod.Spec.Volumes[i]
	}
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	var out []specs.Mount
	for i, vm := range c.spec.VolumeMounts {
		v := vols[vm.Name]
		if v == nil {
			return nil, configErrorf("volumeMount %q: no volume of that name in the pod", vm.Name)
		}
		src, ro := w.volumeSource(v)
		ro = ro || vm.ReadOnly
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandVars(vm.SubPathExpr, func(n string) string {
				if v, ok := envMap[n]; ok {
					return v
				}
				return "$(" + n + ")"
			})
			if strings.Contains(sub, "$(") {
				return nil, configErrorf("volumeMount %q: subPathExpr %q refers to a variable the container does not have", vm.Name, vm.SubPathExpr)
			}
		}
		if sub != "" {
			target := filepath.Join(w.dir, "volume-subpaths", vm.Name, c.spec.Name, strconv.Itoa(i))
			if err := bindSubPath(src, sub, target); err != nil {
				if vm.SubPathExpr != "" {
					// The expanded value may come from a Secret: the
					// message (a pod status anyone can read) names
					// the expression only.
					return nil, configErrorf("volumeMount %q of container %q: subPathExpr %q (expanded from the container's environment): %v", vm.Name, c.spec.Name, vm.SubPathExpr, err)
				}
				return nil, configErrorf("volumeMount %q of container %q: subPath %q: %v", vm.Name, c.spec.Name, sub, err)
			}
			src = target
		}
		opts := []string{"rbind", "rprivate"}
		if ro {
			opts = append(opts, "rro")
		}
		out = append(out, specs.Mount{Destination: vm.MountPath, Type: "bind", Source: src, Options: opts})
	}
	return out, nil
}

// volumeSource returns the node path of a set-up volume and whether it is
// always mounted read-only (configMap, secret, downwardAPI and projected
// volumes are, as in Kubernetes; a read-only claim).
func (w *podWorker) volumeSource(v *spec.Volume) (string, bool) {
	switch {
	case v.HostPath != nil:
		return v.HostPath.Path, false
	case v.PersistentVolumeClaim != nil:
		w.vols.mu.Lock()
		p := w.vols.pvPaths[v.Name]
		w.vols.mu.Unlock()
		pv, _ := w.r.config.volume(w.pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName)
		return p, v.PersistentVolumeClaim.ReadOnly || pv.ReadOnly
	case v.EmptyDir != nil:
		return w.volumeDir(v.Name), false
	}
	return w.volumeDir(v.Name), true
}

// bindSubPath resolves sub inside root without leaving it, creating
// missing directories, and bind-mounts the result at target.
func bindSubPath(root, sub, target string) error {
	if filepath.IsAbs(sub) {
		return errors.New("must be a relative path")
	}
	for _, el := range strings.Split(sub, "/") {
		if el == ".." {
			return errors.New(`must not contain ".."`)
		}
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("failed to open the volume: %w", err)
	}
	defer unix.Close(rootFd)
	fd, err := openBeneath(rootFd, sub, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	// A previous start's bind, then a fresh mount point of the right kind.
	for range 4 {
		if unix.Unmount(target, unix.MNT_DETACH) != nil {
			break
		}
	}
	_ = os.Remove(target)
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o700)
	} else {
		err = os.WriteFile(target, nil, 0o600)
	}
	if err != nil {
		return fmt.Errorf("failed to create the mount point: %w", err)
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("failed to bind: %w", err)
	}
	return nil
}

// openBeneath opens sub below rootFd (O_PATH); with create, missing
// directories on the way are made (0755). A path that leaves the root,
// through ".." or a symlink, fails.
func openBeneath(rootFd int, sub string, create bool) (int, error) {
	open := func(p string) (int, error) {
		return unix.Openat2(rootFd, p, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
	}
	explain := func(err error) error {
		if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
			return errors.New("it leaves the volume (through a symlink or \"..\")")
		}
		return err
	}
	sub = filepath.Clean(sub)
	fd, err := open(sub)
	if err == nil || !create || !errors.Is(err, unix.ENOENT) {
		return fd, explain(err)
	}
	parts := strings.Split(sub, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := open(prefix)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return -1, explain(err)
		}
		parent := "."
		if i > 0 {
			parent = strings.Join(parts[:i], "/")
		}
		pfd, err := unix.Openat2(rootFd, parent, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return -1, explain(err)
		}
		err = unix.Mkdirat(pfd, parts[i], 0o755)
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("failed to create %s: %w", prefix, err)
		}
	}
	fd, err = open(sub)
	return fd, explain(err)
}

// configWait handles a start that failed for its config or volumes: the
// container waits (CreateContainerConfigError, or ContainerCreating for a
// volume not yet there) until the config changes, the pod stops or
// configRecheck passes; handled is false for any other error. park is
// true for a container of an evicted pod, which does not start again.
func (w *podWorker) configWait(ctx context.Context, c *ctr, err error) (park, handled bool) {
	var ce *configError
	var we *waitError
	var reason, msg string
	var wait <-chan struct{}
	switch {
	case errors.Is(err, errEvicted):
		w.update(func() {
			if t := c.st.LastTerminationState.Terminated; t != nil {
				c.st.State = api.ContainerState{Terminated: t}
			} else {
				c.st.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: "Evicted", Message: w.message}}
			}
		})
		return true, true
	case errors.As(err, &ce):
		reason, msg, wait = api.ReasonCreateConfigErr, ce.msg, ce.wait
	case errors.As(err, &we):
		reason, msg, wait = api.ReasonContainerCreating, we.msg, we.wait
	default:
		return false, false
	}
	w.update(func() {
		c.st.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: reason, Message: msg}}
	})
	t := time.NewTimer(configRecheck)
	defer t.Stop()
	select {
	case <-wait:
	case <-t.C:
	case <-w.stopCh:
	case <-ctx.Done():
	}
	return false, true
}

// configRecheck bounds how long a container waits for a config change
// before trying again (a host path may appear without one).
const configRecheck = 5 * time.Second
