package volume

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// This file attaches image files to loop devices with the kernel's ioctls
// (LOOP_CTL_GET_FREE, LOOP_CONFIGURE), as losetup does, and finds a
// device by its backing file, so that a device left by a crashed agent is
// reused rather than doubled.

// loopMajor is the loop driver's block major number.
const loopMajor = 7

// findLoop returns the loop device backed by image ("/dev/loopN"), or ""
// when there is none. The kernel reports the backing file's absolute
// path as it was given at attach time.
func findLoop(image string) (string, error) {
	abs, err := filepath.Abs(image)
	if err != nil {
		return "", err
	}
	paths, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return "", err
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // detached meanwhile
		}
		if strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") == abs {
			return "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(p))), nil
		}
	}
	return "", nil
}

// attachLoop attaches image to a free loop device with the autoclear
// flag: the device detaches itself when the last user (the mount) goes.
// It returns the device path and an open file of it, which the caller
// closes once the device is mounted (closing it before would detach it).
func attachLoop(image string) (string, *os.File, error) {
	abs, err := filepath.Abs(image)
	if err != nil {
		return "", nil, err
	}
	img, err := os.OpenFile(abs, os.O_RDWR, 0)
	if err != nil {
		return "", nil, fmt.Errorf("failed to open %s: %w", abs, err)
	}
	defer img.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", nil, fmt.Errorf("failed to open loop control: %w", err)
	}
	defer ctl.Close()
	// Another process may take the free device between GET_FREE and
	// CONFIGURE (EBUSY): ask again, a bounded number of times.
	for range 32 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, fmt.Errorf("failed to get a free loop device: %w", err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		if err := ensureLoopNode(dev, n); err != nil {
			return "", nil, err
		}
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return "", nil, fmt.Errorf("failed to open %s: %w", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(img.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:unix.LO_NAME_SIZE-1], abs)
		err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
		if err == nil {
			return dev, f, nil
		}
		f.Close()
		if !errors.Is(err, unix.EBUSY) {
			return "", nil, fmt.Errorf("failed to attach %s to %s: %w", abs, dev, err)
		}
	}
	return "", nil, fmt.Errorf("failed to attach %s: every free loop device was taken first", abs)
}

// ensureLoopNode creates /dev/loopN when the device manager has not (a
// container's /dev, for one).
func ensureLoopNode(dev string, n int) error {
	if _, err := os.Stat(dev); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := unix.Mknod(dev, unix.S_IFBLK|0o660, int(unix.Mkdev(loopMajor, uint32(n)))); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("failed to create %s: %w", dev, err)
	}
	return nil
}

// detachLoop detaches dev; a device with nothing attached is done. A
// device still in use (mounted) is marked to detach when released.
func detachLoop(dev string) error {
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("failed to open %s: %w", dev, err)
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("failed to detach %s: %w", dev, err)
	}
	return nil
}

// findTool finds a program in PATH or in the sbin directories an agent's
// PATH may lack.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or /usr/sbin (make deps installs it)", name)
}
