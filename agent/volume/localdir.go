package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Built-in driver names, what a StorageClass's provisioner says.
const (
	LocalDirName   = "stevedore.dev/local-dir"
	LocalBlockName = "stevedore.dev/local-block"
	SSHFSName      = "stevedore.dev/sshfs"
	ExecName       = "stevedore.dev/exec"
	// HostPathName and LocalName are the drivers of PersistentVolumes
	// declared in Git with a hostPath or local source.
	HostPathName = "hostPath"
	LocalName    = "local"
)

// LocalDir is the stevedore.dev/local-dir driver: one directory per volume
// under Root. Its volumes are node-local and their capacity is not
// enforced (a volume can fill Root's file system); use local-block for a
// real limit.
type LocalDir struct {
	// Root holds one directory per volume, named by its handle.
	Root string
}

var _ Driver = (*LocalDir)(nil)

// NewLocalDir returns a local-dir driver keeping volumes under root.
func NewLocalDir(root string) *LocalDir { return &LocalDir{Root: root} }

// Name implements Driver.
func (d *LocalDir) Name() string { return LocalDirName }

// Capabilities implements Driver.
func (d *LocalDir) Capabilities() Capabilities { return Capabilities{NodeLocal: true} }

func (d *LocalDir) dir(v Volume) (string, error) {
	if err := checkHandle(v.Handle); err != nil {
		return "", err
	}
	return filepath.Join(d.Root, v.Handle), nil
}

// Provision implements Driver: it creates the volume's directory.
func (d *LocalDir) Provision(ctx context.Context, v Volume) error {
	dir, err := d.dir(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Root, 0o700); err != nil {
		return fmt.Errorf("failed to create %s: %w", d.Root, err)
	}
	// 0777 as Kubernetes' local volumes are: a container running as any
	// user can write; the directory under the 0700 root is not reachable
	// by other host users.
	if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
	}
	return os.Chmod(dir, 0o777)
}

// Delete implements Driver: it removes the volume's directory.
func (d *LocalDir) Delete(ctx context.Context, v Volume) error {
	dir, err := d.dir(v)
	if err != nil {
		return err
	}
	if ok, err := IsMountPoint(dir); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("failed to delete volume %s: %s is a mount point", v.Name, dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("failed to delete volume %s: %w", v.Name, err)
	}
	return nil
}

// Stage implements Driver: it binds the volume's directory at stagingPath.
func (d *LocalDir) Stage(ctx context.Context, v Volume, stagingPath string) error {
	dir, err := d.dir(v)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("failed to stage volume %s: %w", v.Name, err)
	}
	return bindMount(dir, stagingPath, false)
}

// Unstage implements Driver.
func (d *LocalDir) Unstage(ctx context.Context, v Volume, stagingPath string) error {
	return unmountAll(stagingPath)
}

// Publish implements Driver: a bind mount of the staging path.
func (d *LocalDir) Publish(ctx context.Context, v Volume, stagingPath, targetPath string, readOnly bool) error {
	return publishBind(stagingPath, targetPath, readOnly)
}

// Unpublish implements Driver.
func (d *LocalDir) Unpublish(ctx context.Context, v Volume, targetPath string) error {
	return unmountAll(targetPath)
}

// UsedBytes implements Usage: the file system's use under the directory
// is not tracked, so this walks it (bounded by ctx).
func (d *LocalDir) UsedBytes(ctx context.Context, v Volume, stagingPath string) (int64, error) {
	return duBytes(ctx, stagingPath)
}

// publishBind is every built-in driver's Publish: the staged volume bound
// at targetPath. The staging path must be a mount point, so a publish
// never binds the agent's empty staging directory by mistake.
func publishBind(stagingPath, targetPath string, readOnly bool) error {
	if ok, err := IsMountPoint(stagingPath); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("failed to publish at %s: %s is not staged", targetPath, stagingPath)
	}
	return bindMount(stagingPath, targetPath, readOnly)
}

// checkHandle refuses a handle that is not a safe file name.
func checkHandle(h string) error {
	if h == "" || h == "." || h == ".." || strings.ContainsAny(h, "/\x00") || len(h) > 200 {
		return fmt.Errorf("invalid volume handle %q: want a non-empty file name", h)
	}
	return nil
}

// duBytes sums the allocated size of the files under dir.
func duBytes(ctx context.Context, dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
