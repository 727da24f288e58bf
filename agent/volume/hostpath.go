package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// HostPath is the driver of PersistentVolumes declared in Git with a
// hostPath or local source (Kubernetes' static volumes): the volume is
// the node's directory Parameters["path"], bound into each pod. Nothing
// is provisioned, staged or deleted: the directory and its data are the
// operator's (a hostPath volume with type DirectoryOrCreate is created
// if missing). It is not part of the shared suite, since Delete keeps
// the data by design.
//
// Unless Allow is set (the agent's --allow-host-paths), Provision, Stage
// and Publish refuse: a PersistentVolume would otherwise give a pod any
// directory of the node, / included.
type HostPath struct {
	name string
	// Allow lets the driver bind node directories.
	Allow bool
}

var _ Driver = (*HostPath)(nil)

// NewHostPath returns the driver under name (HostPathName or LocalName),
// refusing volumes until Allow is set.
func NewHostPath(name string) *HostPath { return &HostPath{name: name} }

// allowed refuses v unless the agent allows host paths.
func (d *HostPath) allowed(v Volume) error {
	if !d.Allow {
		return fmt.Errorf("volume %s: %s volumes bind a directory of the node and are refused on this node; start its agent with --allow-host-paths to allow them", v.Name, d.name)
	}
	return nil
}

// Name implements Driver.
func (d *HostPath) Name() string { return d.name }

// Capabilities implements Driver.
func (d *HostPath) Capabilities() Capabilities { return Capabilities{NodeLocal: true} }

func hostDir(v Volume) (string, error) {
	p := v.Parameters["path"]
	if p == "" || !filepath.IsAbs(p) {
		return "", fmt.Errorf("volume %s: parameter path %q must be an absolute path", v.Name, p)
	}
	return filepath.Clean(p), nil
}

// Provision implements Driver: it checks the directory exists (creating
// it for type DirectoryOrCreate).
func (d *HostPath) Provision(ctx context.Context, v Volume) error {
	if err := d.allowed(v); err != nil {
		return err
	}
	dir, err := hostDir(v)
	if err != nil {
		return err
	}
	if v.Parameters["type"] == "DirectoryOrCreate" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("failed to create volume %s: %w", v.Name, err)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("volume %s: %s does not exist on this node", v.Name, dir)
		}
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return nil
}

// Delete implements Driver: the data is the operator's, so nothing.
func (d *HostPath) Delete(ctx context.Context, v Volume) error { return nil }

// Stage implements Driver: nothing to stage.
func (d *HostPath) Stage(ctx context.Context, v Volume, stagingPath string) error {
	return d.allowed(v)
}

// Unstage implements Driver.
func (d *HostPath) Unstage(ctx context.Context, v Volume, stagingPath string) error { return nil }

// Publish implements Driver: the directory bound at targetPath.
func (d *HostPath) Publish(ctx context.Context, v Volume, stagingPath, targetPath string, readOnly bool) error {
	if err := d.allowed(v); err != nil {
		return err
	}
	dir, err := hostDir(v)
	if err != nil {
		return err
	}
	return bindMount(dir, targetPath, readOnly)
}

// Unpublish implements Driver.
func (d *HostPath) Unpublish(ctx context.Context, v Volume, targetPath string) error {
	return unmountAll(targetPath)
}
