package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/containerlog"
)

// Container logs, as the kubelet keeps them (agent/containerlog): under
// LogDir, <namespace>_<pod>_<uid>/<container>/<restartCount>.log in the
// CRI format, written by a log driver process per container (containerd's
// binary logging: the shim starts LogDriverPath with
// containerlog.DriverArg), so that output is kept, and rotated, while no
// agent runs. A new instance keeps the last file of the one before it
// (Logs with Previous); a removed pod's directory goes with it.

// LogDriverBinary is the small log driver's file name; the runtime uses it
// when it sits beside the agent's executable (make build puts it there).
const LogDriverBinary = "stevedore-log-driver"

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// RunLogDriverIfRequested makes this process a container's log driver
// when the shim started it as one, and exits when the container's output
// ends; otherwise it returns at once. cmd/agent's main, and TestMain of
// every test binary that runs containers with the default LogDriverPath,
// call it first.
func RunLogDriverIfRequested() { containerlog.RunDriverIfRequested() }

// validateLogs fills the log fields' zero values (Config.validate).
func (c *Config) validateLogs() error {
	if c.LogDir == "" {
		c.LogDir = filepath.Join(c.DataDir, "logs")
	}
	abs, err := filepath.Abs(c.LogDir)
	if err != nil {
		return fmt.Errorf("failed to resolve LogDir: %w", err)
	}
	c.LogDir = abs
	if c.LogDriverPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("failed to find the agent's executable for the log driver: %w", err)
		}
		c.LogDriverPath = exe
		// The small driver beside the agent (cmd/stevedore-log-driver)
		// starts faster, and every container start waits for it.
		if small := filepath.Join(filepath.Dir(exe), LogDriverBinary); isExecutable(small) {
			c.LogDriverPath = small
		}
	}
	if c.ContainerLogMaxSize <= 0 {
		c.ContainerLogMaxSize = containerlog.DefaultMaxSize
	}
	if c.ContainerLogMaxSize < containerlog.MinMaxSize {
		return fmt.Errorf("invalid runtime config: ContainerLogMaxSize %d is under %d bytes", c.ContainerLogMaxSize, containerlog.MinMaxSize)
	}
	if c.ContainerLogMaxFiles <= 0 {
		c.ContainerLogMaxFiles = containerlog.DefaultMaxFiles
	}
	if c.ContainerLogMaxFiles < 2 {
		return fmt.Errorf("invalid runtime config: ContainerLogMaxFiles %d: want at least 2", c.ContainerLogMaxFiles)
	}
	return nil
}

// podLogDir is where a pod's container logs live, the kubelet's name for it.
func podLogDir(root string, p api.Pod) string {
	return filepath.Join(root, p.Namespace+"_"+p.Name+"_"+p.UID)
}

// logDir is container's log directory.
func (w *podWorker) logDir(container string) string {
	return filepath.Join(podLogDir(w.r.cfg.LogDir, w.pod), container)
}

// ContainerLogDir is the directory of a container's log files (what the
// stats count as its logs' use).
func (r *Runtime) ContainerLogDir(p api.Pod, container string) string {
	return filepath.Join(podLogDir(r.cfg.LogDir, p), container)
}

// logIO is the IO of c's next task: its log driver writing instance
// restartCount.
func (w *podWorker) logIO(c *ctr) (cio.Creator, error) {
	w.r.mu.Lock()
	n := int(c.st.RestartCount)
	w.r.mu.Unlock()
	args, err := containerlog.DriverArgs(containerlog.WriterConfig{
		Dir:      w.logDir(c.spec.Name),
		Instance: n,
		MaxSize:  w.r.cfg.ContainerLogMaxSize,
		MaxFiles: w.r.cfg.ContainerLogMaxFiles,
	})
	if err != nil {
		return nil, err
	}
	return cio.BinaryIO(w.r.cfg.LogDriverPath, args), nil
}

// removeLogs removes the pod's logs (its removal, cleanup).
func (w *podWorker) removeLogs() error {
	if err := os.RemoveAll(podLogDir(w.r.cfg.LogDir, w.pod)); err != nil {
		return fmt.Errorf("failed to remove pod logs: %w", err)
	}
	return nil
}

// removeStrayLogs removes the log directories of pods the runtime does not
// hold (removed while no agent ran).
func (r *Runtime) removeStrayLogs() error {
	ents, err := os.ReadDir(r.cfg.LogDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read log directory: %w", err)
	}
	live := map[string]bool{}
	r.mu.Lock()
	for _, w := range r.pods {
		live[filepath.Base(podLogDir("", w.pod))] = true
	}
	r.mu.Unlock()
	var errs []error
	for _, e := range ents {
		if !live[e.Name()] {
			if err := os.RemoveAll(filepath.Join(r.cfg.LogDir, e.Name())); err != nil {
				errs = append(errs, fmt.Errorf("failed to remove stray pod logs: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Logs returns a container's log as o asks (kubectl logs' options); the
// caller closes it, which ends a follow. An unknown pod or container, or
// Previous without a previous instance, is ErrNotFound; a container with
// no output yet has an empty log.
func (r *Runtime) Logs(ctx context.Context, namespace, pod string, o api.LogOptions) (io.ReadCloser, error) {
	dir, n, err := r.findLog(namespace, pod, o.Container)
	if err != nil {
		return nil, err
	}
	if o.Previous {
		prev, ok, err := containerlog.Previous(dir, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found: %w", filepath.Base(dir), pod, ErrNotFound)
		}
		n = prev
	}
	ro := containerlog.ReadOptions{Tail: o.Tail, TailSet: o.TailSet, Follow: o.Follow, Timestamps: o.Timestamps, LimitBytes: o.LimitBytes, Since: o.SinceTime}
	if o.SinceSeconds > 0 {
		if s := time.Now().Add(-time.Duration(o.SinceSeconds) * time.Second); s.After(ro.Since) {
			ro.Since = s
		}
	}
	pr, pw := io.Pipe()
	// Owned by the reader: it ends with ReadLog, which ends when the
	// reader is closed (the pipe's writes fail) or ctx ends.
	go func() {
		pw.CloseWithError(containerlog.ReadLog(ctx, dir, n, pw, ro))
	}()
	return pr, nil
}

// findLog finds a container's log directory and current instance (its
// restart count).
func (r *Runtime) findLog(namespace, pod, container string) (string, int, error) {
	var names []string
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.pods {
		if w.pod.Namespace != namespace || w.pod.Name != pod || w.stopping() {
			continue
		}
		for _, c := range w.ctrs {
			names = append(names, c.spec.Name)
			// No name picks the pod's only container, as kubectl logs does.
			if c.spec.Name == container || container == "" && len(w.ctrs) == 1 {
				return w.logDir(c.spec.Name), int(c.st.RestartCount), nil
			}
		}
		for _, c := range w.inits {
			// An init container only by its name.
			if c.spec.Name == container {
				return w.logDir(c.spec.Name), int(c.st.RestartCount), nil
			}
		}
	}
	if container == "" && len(names) > 1 {
		return "", 0, fmt.Errorf("a container name must be given for pod %s/%s, one of %s: %w", namespace, pod, strings.Join(names, ", "), ErrNotFound)
	}
	return "", 0, fmt.Errorf("failed to find container %s/%s/%s: %w", namespace, pod, container, ErrNotFound)
}

// logTail returns the end of instance n's log in dir: its last lines
// lines, at most maxBytes of them (cut at the front), as the kubelet
// reads a termination message from the log.
func logTail(dir string, n int, maxBytes int64, lines int) ([]byte, error) {
	var b bytes.Buffer
	if err := containerlog.ReadLog(context.Background(), dir, n, &b, containerlog.ReadOptions{Tail: lines}); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if int64(len(out)) > maxBytes {
		out = out[int64(len(out))-maxBytes:]
	}
	return []byte(strings.ToValidUTF8(string(out), "")), nil
}
