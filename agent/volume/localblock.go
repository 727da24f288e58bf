package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// File systems the local-block driver formats with.
const (
	FSExt4 = "ext4"
	FSXFS  = "xfs"
)

// LocalBlock is the stevedore.dev/local-block driver: a sparse image file
// of CapacityBytes per volume under Root, formatted ext4 (the default) or
// xfs, attached to a loop device and mounted at the staging path. Its
// volumes are node-local and their capacity is a real limit: a writer
// that fills one gets ENOSPC, the node's file system does not fill.
// ext4 is formatted with no reserved blocks (-m 0), so root in a
// container gets the whole volume too; xfs needs at least 300 MiB.
// A volume is never resized: a re-provision with a larger capacity keeps
// the image it has.
type LocalBlock struct {
	// Root holds the images, <handle>.img.
	Root string
}

var (
	_ Driver = (*LocalBlock)(nil)
	_ Usage  = (*LocalBlock)(nil)
)

// NewLocalBlock returns a local-block driver keeping images under root.
func NewLocalBlock(root string) *LocalBlock { return &LocalBlock{Root: root} }

// Name implements Driver.
func (d *LocalBlock) Name() string { return LocalBlockName }

// Capabilities implements Driver.
func (d *LocalBlock) Capabilities() Capabilities {
	return Capabilities{NodeLocal: true, EnforcesCapacity: true}
}

func (d *LocalBlock) image(v Volume) (string, error) {
	if err := checkHandle(v.Handle); err != nil {
		return "", err
	}
	return filepath.Join(d.Root, v.Handle+".img"), nil
}

func fsType(v Volume) (string, error) {
	switch v.FSType {
	case "", FSExt4:
		return FSExt4, nil
	case FSXFS:
		return FSXFS, nil
	}
	return "", fmt.Errorf("volume %s: fsType %q is not supported (want ext4 or xfs)", v.Name, v.FSType)
}

// Provision implements Driver: it creates and formats the image. The
// image is built under a temporary name and renamed into place, so an
// image that exists is whole and formatted, and is kept as it is.
func (d *LocalBlock) Provision(ctx context.Context, v Volume) error {
	img, err := d.image(v)
	if err != nil {
		return err
	}
	fs, err := fsType(v)
	if err != nil {
		return err
	}
	if v.CapacityBytes <= 0 {
		return fmt.Errorf("volume %s: a block volume needs a capacity", v.Name)
	}
	if _, err := os.Stat(img); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
	}
	if err := os.MkdirAll(d.Root, 0o700); err != nil {
		return fmt.Errorf("failed to create %s: %w", d.Root, err)
	}
	tmp := img + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
	}
	err = f.Truncate(v.CapacityBytes) // sparse: no block is written
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = mkfs(ctx, fs, tmp)
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, img)
	}
	if err == nil {
		err = syncFile(d.Root)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
	}
	return nil
}

// mkfs formats the image file path with fs.
func mkfs(ctx context.Context, fs, path string) error {
	var name string
	var args []string
	switch fs {
	case FSExt4:
		// -m 0: no blocks reserved for root, the volume's size is what
		// every writer gets; -E nodiscard: the sparse file is all holes.
		name, args = "mkfs.ext4", []string{"-F", "-q", "-m", "0", "-E", "nodiscard", path}
	case FSXFS:
		name, args = "mkfs.xfs", []string{"-f", "-q", "-K", path}
	}
	tool, err := findTool(name)
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// detectFS reads the file system's magic from the image: ext2/3/4 at
// 1080 (0xEF53), xfs at 0 ("XFSB").
func detectFS(img string) (string, error) {
	f, err := os.Open(img)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, 1082)
	if _, err := io.ReadFull(f, buf); err != nil {
		return "", fmt.Errorf("failed to read %s: %w", img, err)
	}
	switch {
	case bytes.Equal(buf[:4], []byte("XFSB")):
		return FSXFS, nil
	case buf[1080] == 0x53 && buf[1081] == 0xEF:
		return FSExt4, nil
	}
	return "", fmt.Errorf("%s holds no ext4 or xfs file system", img)
}

// Delete implements Driver: it detaches a loop device left on the image
// and removes it. A mounted image is refused.
func (d *LocalBlock) Delete(ctx context.Context, v Volume) error {
	img, err := d.image(v)
	if err != nil {
		return err
	}
	dev, err := findLoop(img)
	if err != nil {
		return err
	}
	if dev != "" {
		if mounted, err := devMounted(dev); err != nil {
			return err
		} else if mounted {
			return fmt.Errorf("failed to delete volume %s: %s is mounted", v.Name, dev)
		}
		if err := detachLoop(dev); err != nil {
			return err
		}
	}
	for _, p := range []string{img, img + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("failed to delete volume %s: %w", v.Name, err)
		}
	}
	return nil
}

func devMounted(dev string) (bool, error) {
	all, err := mounts()
	if err != nil {
		return false, err
	}
	for _, m := range all {
		if m.Source == dev {
			return true, nil
		}
	}
	return false, nil
}

// Stage implements Driver: attach (or find the device a crashed agent
// left) and mount. A staging path that is already a mount point is
// staged.
func (d *LocalBlock) Stage(ctx context.Context, v Volume, stagingPath string) error {
	if ok, err := IsMountPoint(stagingPath); err != nil || ok {
		return err
	}
	img, err := d.image(v)
	if err != nil {
		return err
	}
	fs, err := detectFS(img)
	if err != nil {
		return fmt.Errorf("failed to stage volume %s: %w", v.Name, err)
	}
	dev, err := findLoop(img)
	if err != nil {
		return err
	}
	if dev == "" {
		var f *os.File
		dev, f, err = attachLoop(img)
		if err != nil {
			return fmt.Errorf("failed to stage volume %s: %w", v.Name, err)
		}
		// The mount holds the device from here; autoclear detaches it
		// at the unmount.
		defer f.Close()
	}
	if err := unix.Mount(dev, stagingPath, fs, 0, strings.Join(v.MountOptions, ",")); err != nil {
		return fmt.Errorf("failed to mount volume %s (%s, %s) at %s: %w", v.Name, dev, fs, stagingPath, err)
	}
	return openRoot(stagingPath)
}

// openRoot makes a fresh file system's root writable by any user, as a
// local-dir volume's directory is: mkfs leaves it 0755 root's, which a
// container running as another user could not write. A root someone has
// changed since is left alone.
func openRoot(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o755 {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 1 || len(ents) == 1 && ents[0].Name() != "lost+found" {
		return nil
	}
	return os.Chmod(dir, 0o777)
}

// Unstage implements Driver: unmount (the autoclear loop device detaches
// itself) and detach a device that is still attached but not mounted.
func (d *LocalBlock) Unstage(ctx context.Context, v Volume, stagingPath string) error {
	if err := unmountAll(stagingPath); err != nil {
		return err
	}
	img, err := d.image(v)
	if err != nil {
		return err
	}
	dev, err := findLoop(img)
	if err != nil || dev == "" {
		return err
	}
	if mounted, err := devMounted(dev); err != nil || mounted {
		// Still mounted elsewhere (a container's lazily detached mount):
		// autoclear detaches it when that goes.
		return err
	}
	return detachLoop(dev)
}

// Publish implements Driver.
func (d *LocalBlock) Publish(ctx context.Context, v Volume, stagingPath, targetPath string, readOnly bool) error {
	return publishBind(stagingPath, targetPath, readOnly)
}

// Unpublish implements Driver.
func (d *LocalBlock) Unpublish(ctx context.Context, v Volume, targetPath string) error {
	return unmountAll(targetPath)
}

// UsedBytes implements Usage: the mounted file system's used blocks.
func (d *LocalBlock) UsedBytes(ctx context.Context, v Volume, stagingPath string) (int64, error) {
	return statfsUsed(stagingPath)
}

func statfsUsed(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("failed to statfs %s: %w", path, err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, nil
}
