package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/stevedore-dev/stevedore/internal/devenv"
)

// TestFloor runs the benchmark's floor (containers straight through the
// containerd client) at a small size against a private containerd, and
// checks that it leaves no container behind.
func TestFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containerd and a registry")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctrd := devenv.TestContainerd(t)
	reg, err := devenv.StartRegistry(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	image := reg.Addr + "/" + devenv.HelloRepo
	if err := devenv.GoImage(ctx, image, "../../examples-repo/images/hello"); err != nil {
		t.Fatal(err)
	}
	c := &devenv.Cluster{Containerd: ctrd, Registry: reg}
	times, err := measureFloor(ctx, c, image, 3, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[0] <= 0 {
		t.Errorf("times = %v", times)
	}
	cl, err := client.New(ctrd.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	left, err := cl.Containers(namespaces.WithNamespace(ctx, "bench-floor"))
	if err != nil || len(left) != 0 {
		t.Errorf("containers left: %d (%v)", len(left), err)
	}
}
