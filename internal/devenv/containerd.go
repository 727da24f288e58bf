package devenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// ContainerdBinary is the daemon StartContainerd runs.
const ContainerdBinary = "/usr/bin/containerd"

// containerdStopGrace is how long Stop waits after SIGTERM before SIGKILL.
const containerdStopGrace = 10 * time.Second

// containerdConfig is a version 2 config (containerd 1.6). The CRI plugin is
// disabled: Stevedore talks to containerd's own API, and CRI would try to
// set up its own CNI and bind a streaming port. The opt plugin is moved under
// dir so a private daemon never writes to /opt/containerd.
const containerdConfig = `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`

// Containerd is a private containerd daemon started by StartContainerd.
type Containerd struct {
	// Address is the daemon's gRPC socket.
	Address string
	// Root is the daemon's --root (content, snapshots, metadata).
	Root string
	// State is the daemon's --state (sockets, task bundles).
	State string
	// Log is the file the daemon logs to.
	Log string

	cmd      *exec.Cmd
	sockDir  string
	done     chan struct{} // closed when the process has exited
	stopOnce sync.Once
	stopErr  error
}

// StartContainerd starts containerd with its own root, state and socket, all
// under dir except the socket, which lives in a short directory under /tmp
// because a unix socket path must fit in 108 bytes. It returns once a client
// can talk to the daemon. Stop it with Stop.
func StartContainerd(ctx context.Context, dir string) (*Containerd, error) {
	if err := ctrdEnsureBinary(ctx, ContainerdBinary, "containerd", "runc"); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if err := ctrdAptInstall(ctx, "runc"); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve %s: %w", dir, err)
	}
	sockDir, err := os.MkdirTemp("/tmp", "ctd-")
	if err != nil {
		return nil, fmt.Errorf("failed to create socket dir: %w", err)
	}
	c := &Containerd{
		Address: filepath.Join(sockDir, "c.sock"),
		Root:    filepath.Join(dir, "root"),
		State:   filepath.Join(dir, "state"),
		Log:     filepath.Join(dir, "containerd.log"),
		sockDir: sockDir,
		done:    make(chan struct{}),
	}
	for _, d := range []string{c.Root, c.State, filepath.Join(dir, "opt")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			os.RemoveAll(sockDir)
			return nil, fmt.Errorf("failed to create %s: %w", d, err)
		}
	}
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(containerdConfig, c.Root, c.State, c.Address, filepath.Join(dir, "opt"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("failed to write containerd config: %w", err)
	}
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("failed to open containerd log: %w", err)
	}
	// Not exec.CommandContext: the daemon outlives ctx, which only bounds
	// the start; Stop ends it.
	cmd := exec.Command(ContainerdBinary, "--config", cfgPath, "--log-level", "info")
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so a ^C at the terminal reaches the owner, which
	// then stops the daemon in order instead of racing it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("failed to start containerd: %w", err)
	}
	c.cmd = cmd
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitReady polls until a client gets the daemon's version, the process
// dies, or ctx ends (bounded by 30s in any case).
func (c *Containerd) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(c.Address); err == nil {
			if err := c.ping(ctx); err == nil {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("failed to start containerd: exited early (%s): %s", c.cmd.ProcessState, ctrdTailFile(c.Log, 20))
		case <-ctx.Done():
			return fmt.Errorf("failed to start containerd: not ready: %w: %s", ctx.Err(), ctrdTailFile(c.Log, 20))
		case <-tick.C:
		}
	}
}

func (c *Containerd) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := client.New(c.Address, client.WithTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = cl.Version(ctx)
	return err
}

// Stop ends the daemon (SIGTERM, then SIGKILL after a grace period),
// unmounts whatever it left mounted under its root and state, and removes
// the socket directory. Containers' shims are not the daemon's children:
// callers remove their containers first, and a shim still left (a task
// started while its node was being torn down) is killed here with what
// it runs, since nothing could reach it once the socket is gone. Safe to
// call twice.
func (c *Containerd) Stop() error {
	c.stopOnce.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.done:
			case <-time.After(containerdStopGrace):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
		// Shims name the daemon's socket on their command line.
		for _, pid := range processesUsing(c.sockDir) {
			killTree(pid)
		}
		var errs []error
		for _, d := range []string{c.Root, c.State} {
			if d != "" {
				errs = append(errs, ctrdUnmountUnder(d))
			}
		}
		if c.sockDir != "" {
			errs = append(errs, os.RemoveAll(c.sockDir))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// TestContainerd starts a private containerd for a test under t.TempDir and
// stops it in t.Cleanup. It fails the test if containerd cannot start.
func TestContainerd(t testing.TB) *Containerd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartContainerd(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("devenv: %v", err)
	}
	// Registered after t.TempDir's cleanup, so it runs first: the daemon's
	// mounts are gone before the directory is removed.
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("devenv: failed to stop containerd: %v", err)
		}
	})
	return c
}

// ctrdUnmountUnder lazily unmounts every mount point under dir, deepest first.
func ctrdUnmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("failed to read mountinfo: %w", err)
	}
	defer f.Close()
	prefix := filepath.Clean(dir) + "/"
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := ctrdUnescapeMount(fields[4])
		if strings.HasPrefix(mp+"/", prefix) {
			points = append(points, mp)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("failed to unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// ctrdUnescapeMount undoes mountinfo's octal escapes (\040 for a space).
func ctrdUnescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ctrdEnsureBinary installs the Debian packages pkgs when path is missing.
func ctrdEnsureBinary(ctx context.Context, path string, pkgs ...string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return ctrdAptInstall(ctx, pkgs...)
}

// ctrdAptInstall installs Debian packages; it needs root.
func ctrdAptInstall(ctx context.Context, pkgs ...string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("failed to find %s: install the Debian packages %s (needs root)", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to apt-get install %s: %w: %s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// ctrdTailFile returns the last n lines of a file, for error messages.
func ctrdTailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
