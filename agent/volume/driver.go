// Package volume is the agent's persistent volume drivers: the Driver
// interface every driver implements (a real plug-in point), the built-in
// drivers (node-local directories, node-local block volumes, a network
// file system over sshfs), the out-of-process driver protocol (an
// executable called with JSON), and the shared test suite every driver
// passes (volumetest).
//
// The call order for one volume on one node is Provision, Stage, then
// Publish for each pod that mounts it; Unpublish when a pod stops,
// Unstage when no pod on the node uses it, and Delete (on any node that
// can reach it, for a node-local driver on its node) when its claim is
// gone and its reclaim policy is Delete.
//
// Idempotency rules, which the suite checks: every call may be repeated
// with the same arguments (after an agent crash, the agent cannot know
// whether a call it made completed) and must then succeed without
// changing anything: Provision of an existing volume keeps its data;
// Stage of a staged volume, Publish of a published one, Unpublish of a
// path that is not mounted, Unstage of a volume not staged and Delete of a
// volume that does not exist all succeed.
//
// Threading: the agent calls a driver from several goroutines at once,
// but never two calls for the same volume at the same time.
package volume

import "context"

// Volume is what a driver is told about one volume.
type Volume struct {
	// Name is the PersistentVolume's name.
	Name string
	// Handle is the driver's identifier of the volume: unique per driver,
	// stable for the volume's life, safe as a file name.
	Handle string
	// CapacityBytes is the volume's size. A driver that can enforce it
	// (a block volume) does: a write past it fails with ENOSPC in the
	// container, not on the node.
	CapacityBytes int64
	// FSType is the file system a block driver formats with (ext4 or
	// xfs); empty means the driver's default.
	FSType string
	// Parameters are the StorageClass's parameters and the volume's
	// attributes.
	Parameters map[string]string
	// MountOptions are extra mount options.
	MountOptions []string
}

// Capabilities say what a driver's volumes are.
type Capabilities struct {
	// NodeLocal volumes live on one node: a pod using one is placed only
	// on that node, and cannot move when the node dies.
	NodeLocal bool
	// EnforcesCapacity is true when a volume cannot hold more than its
	// CapacityBytes.
	EnforcesCapacity bool
}

// Driver provisions, deletes and mounts one kind of volume.
type Driver interface {
	// Name is the driver's name, what a StorageClass's provisioner says.
	Name() string
	// Capabilities says what its volumes are.
	Capabilities() Capabilities
	// Provision creates the volume if it does not exist.
	Provision(ctx context.Context, v Volume) error
	// Delete removes the volume and its data; a missing volume is not an
	// error.
	Delete(ctx context.Context, v Volume) error
	// Stage makes the volume usable on this node at stagingPath (an
	// existing, empty directory the agent owns): attach, format, mount.
	Stage(ctx context.Context, v Volume, stagingPath string) error
	// Unstage undoes Stage.
	Unstage(ctx context.Context, v Volume, stagingPath string) error
	// Publish makes the staged volume visible at targetPath (an existing
	// directory), read-only if asked: usually a bind mount.
	Publish(ctx context.Context, v Volume, stagingPath, targetPath string, readOnly bool) error
	// Unpublish undoes Publish.
	Unpublish(ctx context.Context, v Volume, targetPath string) error
}

// Usage is implemented by drivers that can tell how much of a staged
// volume is used.
type Usage interface {
	// UsedBytes returns the bytes used on the staged volume.
	UsedBytes(ctx context.Context, v Volume, stagingPath string) (int64, error)
}
