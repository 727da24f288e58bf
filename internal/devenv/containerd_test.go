package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
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

	// A shim left behind (a task started while its node was torn down):
	// a process naming the socket, with a child, as a shim and its
	// container are. Stop kills both.
	shim := exec.Command("sh", "-c", "sleep 300 & echo $!; wait", "containerd-shim-runc-v2", "-address", c.Address)
	out, err := shim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := shim.Start(); err != nil {
		t.Fatal(err)
	}
	var child int
	if _, err := fmt.Fscan(out, &child); err != nil {
		t.Fatal(err)
	}
	shimDone := make(chan struct{})
	go func() { _ = shim.Wait(); close(shimDone) }()

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-shimDone:
	case <-time.After(10 * time.Second):
		_ = shim.Process.Kill()
		t.Fatal("a process naming containerd's socket outlived Stop")
	}
	for deadline := time.Now().Add(10 * time.Second); alive(child); {
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child)); err == nil && strings.Contains(string(st), ") Z ") {
			break // a zombie waiting for init to reap it: dead
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatal("the left shim's child outlived Stop")
		}
		time.Sleep(20 * time.Millisecond)
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
