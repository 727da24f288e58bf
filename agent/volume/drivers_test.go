package volume_test

import (
	"context"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/volume"
	"github.com/stevedore-dev/stevedore/agent/volume/volumetest"
)

func TestLocalDirSuite(t *testing.T) {
	needRoot(t)
	volumetest.Run(t, volumetest.Options{
		NewDriver: func(t *testing.T) volume.Driver { return volume.NewLocalDir(t.TempDir()) },
	})
}

func TestLocalBlockExt4Suite(t *testing.T) {
	needRoot(t)
	needTool(t, "/usr/sbin/mkfs.ext4", "e2fsprogs")
	volumetest.Run(t, volumetest.Options{
		NewDriver: func(t *testing.T) volume.Driver { return volume.NewLocalBlock(t.TempDir()) },
		Volume: func(h string) volume.Volume {
			return volume.Volume{Name: h, Handle: h, CapacityBytes: 64 << 20, FSType: volume.FSExt4}
		},
	})
}

func TestLocalBlockXFSSuite(t *testing.T) {
	needRoot(t)
	needTool(t, "/usr/sbin/mkfs.xfs", "xfsprogs")
	volumetest.Run(t, volumetest.Options{
		NewDriver: func(t *testing.T) volume.Driver { return volume.NewLocalBlock(t.TempDir()) },
		Volume: func(h string) volume.Volume {
			// mkfs.xfs refuses file systems under 300 MiB.
			return volume.Volume{Name: h, Handle: h, CapacityBytes: 300 << 20, FSType: volume.FSXFS}
		},
	})
}

func TestSSHFSSuite(t *testing.T) {
	srv := startSSHD(t)
	volumetest.Run(t, volumetest.Options{
		NewDriver: func(t *testing.T) volume.Driver { return srv.driver() },
		Volume: func(h string) volume.Volume {
			return volume.Volume{Name: h, Handle: h, CapacityBytes: 64 << 20, Parameters: srv.params()}
		},
	})
}

func TestExecSuite(t *testing.T) {
	needRoot(t)
	dir := examplePluginDir(t)
	root := t.TempDir()
	volumetest.Run(t, volumetest.Options{
		NewDriver: func(t *testing.T) volume.Driver {
			d, err := volume.NewExec(context.Background(), "example.com/dir", volume.PluginPath(dir, "example.com/dir"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Capabilities(); !got.NodeLocal || got.EnforcesCapacity {
				t.Fatalf("capabilities = %+v, want node-local", got)
			}
			return d
		},
		Volume: func(h string) volume.Volume {
			return volume.Volume{Name: h, Handle: h, CapacityBytes: 64 << 20, Parameters: map[string]string{"root": root}}
		},
	})
}
