package devenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
)

func TestStartContainerd(t *testing.T) {
	c := TestContainerd(t)
	if len(c.Address) >= 108 {
		t.Fatalf("socket path %q too long for sun_path", c.Address)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := client.New(c.Address)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	defer cl.Close()
	v, err := cl.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	t.Logf("containerd %s", v.Version)
	// The overlayfs snapshotter is what the runtime uses by default.
	ps, err := cl.IntrospectionService().Plugins(ctx, `type=="io.containerd.snapshotter.v1",id=="overlayfs"`)
	if err != nil {
		t.Fatalf("Plugins: %v", err)
	}
	if len(ps.Plugins) != 1 || ps.Plugins[0].InitErr != nil {
		t.Fatalf("overlayfs snapshotter not loaded: %+v", ps.Plugins)
	}
	// CRI is disabled on purpose.
	ps, err = cl.IntrospectionService().Plugins(ctx, `id=="cri"`)
	if err != nil {
		t.Fatalf("Plugins: %v", err)
	}
	for _, p := range ps.Plugins {
		if p.InitErr == nil && p.Type == "io.containerd.grpc.v1" {
			t.Fatalf("CRI plugin loaded: %+v", p)
		}
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(c.Address); !os.IsNotExist(err) {
		t.Fatalf("socket %s still exists after Stop: %v", c.Address, err)
	}
	if c.cmd.ProcessState == nil {
		t.Fatal("daemon process not reaped")
	}
}
