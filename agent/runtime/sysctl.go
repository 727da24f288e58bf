package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/stevedore-dev/stevedore/spec"
)

// A pod's sysctls (spec.securityContext.sysctls) are set in its sandbox,
// as the kubelet has the runtime set them on the pod's sandbox. Only the
// network namespace is the pod's: each container has its own IPC
// namespace, so the IPC sysctls Kubernetes counts as namespaced
// (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) would not be shared
// between the pod's containers and are refused; net.* ones are written
// into the pod's netns when it is made.

// sysctlPath is a sysctl's path under /proc/sys. Kubernetes takes dots or
// slashes as separators: when the first is a slash, dots belong to a name
// (net/ipv4/conf/eth0.100/forwarding).
func sysctlPath(name string) string {
	if i := strings.IndexAny(name, "./"); i >= 0 && name[i] == '/' {
		return name
	}
	return strings.ReplaceAll(name, ".", "/")
}

// checkSysctls refuses the sysctls the runtime cannot set in the pod's
// sandbox.
func checkSysctls(ps *spec.PodSecurityContext) error {
	if ps == nil {
		return nil
	}
	for _, s := range ps.Sysctls {
		p := sysctlPath(s.Name)
		if !strings.HasPrefix(p, "net/") || strings.Contains(p, "..") {
			return fmt.Errorf("sysctl %q is not supported: only net.* sysctls can be set (they go into the pod's network namespace; the pod's containers do not share an IPC namespace)", s.Name)
		}
	}
	return nil
}

// applySysctls writes the pod's net.* sysctls into its network namespace.
func applySysctls(nsPath string, ps *spec.PodSecurityContext) error {
	if err := checkSysctls(ps); err != nil {
		return err
	}
	if ps == nil || len(ps.Sysctls) == 0 {
		return nil
	}
	return inNetns(nsPath, func() error {
		for _, s := range ps.Sysctls {
			f := filepath.Join("/proc/sys", sysctlPath(s.Name))
			if err := os.WriteFile(f, []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("failed to set sysctl %s=%s: %w", s.Name, s.Value, err)
			}
		}
		return nil
	})
}

// inNetns runs fn on a locked OS thread switched into the network
// namespace at path: /proc/sys/net is the calling thread's namespace's.
// The thread is switched back before it is unlocked; if that fails it is
// left locked, so that the Go runtime retires it.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("failed to get current netns: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("failed to open netns %s: %w", path, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("failed to enter netns %s: %w", path, err)
			return
		}
		err = fn()
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("failed to restore netns: %w", serr))
			return
		}
		goruntime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}
