package devenv

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// loopImagePrefix names the image files of loop file systems, so that a
// later run can find what a killed one left (CleanLoopLeftovers).
const loopImagePrefix = "stv-loopfs-"

// LoopFS is a small ext4 file system in an image file, loop-mounted: a
// disk that fills up quickly (image GC and eviction tests).
type LoopFS struct {
	// Dir is the mount point, Image the backing file.
	Dir, Image string
}

// MountLoopFS makes an ext4 file system of size bytes in an image file
// under os.TempDir and mounts it on dir (created). Close removes both.
func MountLoopFS(ctx context.Context, dir string, size int64) (*LoopFS, error) {
	f, err := os.CreateTemp("", loopImagePrefix+"*.img")
	if err != nil {
		return nil, fmt.Errorf("failed to create loop image: %w", err)
	}
	img := f.Name()
	err = f.Truncate(size)
	f.Close()
	fail := func(err error) (*LoopFS, error) {
		os.Remove(img)
		return nil, err
	}
	if err != nil {
		return fail(fmt.Errorf("failed to size loop image: %w", err))
	}
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("failed to mkfs.ext4 %s (install e2fsprogs): %w: %s", img, err, out))
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fail(fmt.Errorf("failed to create %s: %w", dir, err))
	}
	if out, err := exec.CommandContext(ctx, "mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("failed to mount %s on %s: %w: %s", img, dir, err, out))
	}
	return &LoopFS{Dir: dir, Image: img}, nil
}

// Close unmounts the file system (lazily when busy; the loop device is
// freed with its last user, mount's autoclear) and removes the image.
func (l *LoopFS) Close() error {
	var errs []error
	if isMounted(l.Dir) {
		if out, err := exec.Command("umount", l.Dir).CombinedOutput(); err != nil {
			if out2, err2 := exec.Command("umount", "-l", l.Dir).CombinedOutput(); err2 != nil {
				errs = append(errs, fmt.Errorf("failed to unmount %s: %w: %s %s", l.Dir, err2, out, out2))
			}
		}
	}
	if err := os.Remove(l.Image); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isMounted says whether dir is a mount point (in /proc/self/mounts).
func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && ctrdUnescapeMount(f[1]) == filepath.Clean(dir) {
			return true
		}
	}
	return false
}

// CleanLoopLeftovers repairs what a killed run left: loop devices backed
// by a LoopFS image are unmounted (lazily) and detached, and the images
// removed.
func CleanLoopLeftovers() error {
	out, err := exec.Command("losetup", "-l", "-n", "-O", "NAME,BACK-FILE").Output()
	if err != nil {
		return fmt.Errorf("failed to list loop devices: %w", err)
	}
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.Contains(filepath.Base(f[1]), loopImagePrefix) {
			continue
		}
		dev := f[0]
		for _, mp := range mountsOf(dev) {
			_ = exec.Command("umount", "-l", mp).Run()
		}
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("failed to detach %s: %w: %s", dev, err, out))
		}
		os.Remove(f[1])
	}
	return errors.Join(errs...)
}

// mountsOf lists where dev is mounted.
func mountsOf(dev string) []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == dev {
			out = append(out, ctrdUnescapeMount(f[1]))
		}
	}
	return out
}

// TestLoopFS mounts a LoopFS on dir for the test, after repairing a
// killed run's leftovers, and removes it in t.Cleanup (registered now:
// it runs after cleanups registered later, such as a containerd's Stop).
func TestLoopFS(t testing.TB, dir string, size int64) *LoopFS {
	t.Helper()
	if err := CleanLoopLeftovers(); err != nil {
		t.Logf("devenv: %v", err)
	}
	l, err := MountLoopFS(context.Background(), dir, size)
	if err != nil {
		t.Fatalf("devenv: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("devenv: %v", err)
		}
	})
	return l
}

// PaddedImage builds a busybox image with an extra layer holding pad
// bytes of random (incompressible) data at /pad, so that pulling it costs
// about 2×pad on containerd's root (the blob and its unpacked snapshot),
// and pushes it to ref. Each call makes a different image.
func PaddedImage(ctx context.Context, ref string, pad int) error {
	bb, err := getBusyboxLayer()
	if err != nil {
		return err
	}
	data := make([]byte, pad)
	_, _ = rand.Read(data)
	padLayer, err := buildLayer([]tarEntry{{name: "pad", mode: 0o644, typ: tar.TypeReg, data: data}})
	if err != nil {
		return err
	}
	img, err := image([]v1.Layer{bb, padLayer}, nil, []string{"sh"})
	if err != nil {
		return err
	}
	return push(ctx, ref, img)
}
