package volume_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/volume"
)

func newManager(t *testing.T, dataDir string, cfg volume.Config) *volume.Manager {
	t.Helper()
	cfg.DataDir = dataDir
	m, err := volume.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// teardownAtEnd unmounts whatever the test left under dataDir before
// t.TempDir's removal.
func teardownAtEnd(t *testing.T, dataDir string) {
	t.Cleanup(func() {
		m, err := volume.NewManager(volume.Config{DataDir: dataDir})
		if err != nil {
			t.Error(err)
			return
		}
		if err := m.Teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
}

// waitStatus waits (bounded) until the status of name has phase.
func waitStatus(t *testing.T, m *volume.Manager, name, phase string) api.VolumeStatus {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, s := range m.Status() {
			if s.Name == name && s.Phase == phase {
				return s
			}
		}
		select {
		case <-m.Changes():
		case <-deadline:
			t.Fatalf("volume %s never reached %s; status %+v", name, phase, m.Status())
		}
	}
}

func mounted(t *testing.T, p string) bool {
	t.Helper()
	ok, err := volume.IsMountPoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestManagerPublishUnstageWhenUnused(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	teardownAtEnd(t, dataDir)
	m := newManager(t, dataDir, volume.Config{})
	defer m.Close()
	ctx := context.Background()
	pv := api.PersistentVolume{Name: "pvc-1", Driver: volume.LocalDirName, Handle: "pvc-1"}
	m.SetVolumes([]api.PersistentVolume{pv}, nil)
	waitStatus(t, m, "pvc-1", api.VolumeReady)
	staging := m.StagingPath("pvc-1")
	if !mounted(t, staging) {
		t.Fatal("a Ready volume is not staged")
	}
	t1, err := m.Publish(ctx, "pod-a", pv, false)
	if err != nil {
		t.Fatal(err)
	}
	if t1 != filepath.Join(dataDir, "volumes", "pods", "pod-a", "pvc-1") {
		t.Fatalf("target = %s", t1)
	}
	if again, err := m.Publish(ctx, "pod-a", pv, false); err != nil || again != t1 {
		t.Fatalf("publish again = %s, %v", again, err)
	}
	if err := os.WriteFile(filepath.Join(t1, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	t2, err := m.Publish(ctx, "pod-b", pv, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(t2, "g"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write to a read-only publish: %v, want EROFS", err)
	}
	if err := m.Unpublish(ctx, "pod-a", "pvc-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(t1); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("target after unpublish: %v, want it removed", err)
	}
	if err := m.Unpublish(ctx, "pod-a", "pvc-1"); err != nil {
		t.Fatalf("unpublish again: %v", err)
	}
	// Dropped from the set while pod-b still has it: it stays staged
	// until pod-b unpublishes, then is unstaged at once.
	m.SetVolumes(nil, nil)
	if !mounted(t, staging) {
		t.Fatal("unstaged while still published")
	}
	if err := m.Unpublish(ctx, "pod-b", "pvc-1"); err != nil {
		t.Fatal(err)
	}
	if mounted(t, staging) {
		t.Fatal("still staged after the last pod unpublished")
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "volumes", "local-dir", "pvc-1", "f")); err != nil || string(b) != "data" {
		t.Fatalf("data after unstage: %q, %v", b, err)
	}
}

func TestManagerAdoptsAfterRestart(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	teardownAtEnd(t, dataDir)
	ctx := context.Background()
	pv := api.PersistentVolume{Name: "pvc-b", Driver: volume.LocalBlockName, Handle: "pvc-b", CapacityBytes: 32 << 20}
	m1 := newManager(t, dataDir, volume.Config{})
	m1.SetVolumes([]api.PersistentVolume{pv}, nil)
	target, err := m1.Publish(ctx, "pod-a", pv, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "f"), []byte("before restart"), 0o644); err != nil {
		t.Fatal(err)
	}
	m1.Close() // a stop: mounts stay
	if !mounted(t, target) {
		t.Fatal("stopping the manager unmounted a pod's volume")
	}
	m2 := newManager(t, dataDir, volume.Config{})
	defer m2.Close()
	m2.SetVolumes([]api.PersistentVolume{pv}, nil)
	s := waitStatus(t, m2, "pvc-b", api.VolumeReady)
	if s.UsedBytes <= 0 {
		t.Fatalf("used bytes = %d", s.UsedBytes)
	}
	again, err := m2.Publish(ctx, "pod-a", pv, false)
	if err != nil || again != target {
		t.Fatalf("publish after restart = %s, %v", again, err)
	}
	if n := strings.Count(readMountinfo(t), " "+m2.StagingPath("pvc-b")+" "); n != 1 {
		t.Fatalf("%d mounts at the staging path after restart, want 1 (adopted, not staged again)", n)
	}
	if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "before restart" {
		t.Fatalf("data after restart: %q, %v", b, err)
	}
	// Teardown unmounts everything it mounted.
	if err := m2.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(readMountinfo(t), dataDir) {
		t.Fatalf("mounts left under %s after teardown", dataDir)
	}
}

func readMountinfo(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestManagerDeleteVolumes(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	teardownAtEnd(t, dataDir)
	ctx := context.Background()
	m := newManager(t, dataDir, volume.Config{RetryInterval: 50 * time.Millisecond})
	defer m.Close()
	pv := api.PersistentVolume{Name: "pvc-d", Driver: volume.LocalDirName, Handle: "pvc-d"}
	m.SetVolumes([]api.PersistentVolume{pv}, nil)
	target, err := m.Publish(ctx, "pod-a", pv, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Never deleted while published.
	m.SetVolumes(nil, []api.PersistentVolume{pv})
	s := waitStatus(t, m, "pvc-d", api.VolumeFailed)
	if !strings.Contains(s.Message, "still published for pod(s) pod-a") {
		t.Fatalf("message = %q", s.Message)
	}
	if _, err := m.Publish(ctx, "pod-b", pv, false); err == nil {
		t.Fatal("published a volume being deleted")
	}
	if err := m.Unpublish(ctx, "pod-a", "pvc-d"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, "pvc-d", api.VolumeDeleted)
	if _, err := os.Stat(filepath.Join(dataDir, "volumes", "local-dir", "pvc-d")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("volume directory after delete: %v", err)
	}
	// Dropped from DeleteVolumes: forgotten.
	m.SetVolumes(nil, nil)
	deadline := time.After(30 * time.Second)
	for len(m.Status()) > 0 {
		select {
		case <-m.Changes():
		case <-deadline:
			t.Fatalf("status %+v after the set dropped everything", m.Status())
		}
	}
}

func TestManagerDrivers(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	teardownAtEnd(t, dataDir)
	ctx := context.Background()
	plugins := examplePluginDir(t)
	m := newManager(t, dataDir, volume.Config{PluginDir: plugins, AllowHostPaths: true})
	defer m.Close()

	// A plug-in found by its provisioner's name, and through
	// stevedore.dev/exec.
	root := t.TempDir()
	for _, pv := range []api.PersistentVolume{
		{Name: "pv-plugin", Driver: "example.com/dir", Handle: "h1", Parameters: map[string]string{"root": root}},
		{Name: "pv-exec", Driver: volume.ExecName, Handle: "h2", Parameters: map[string]string{"root": root, "plugin": "example.com~dir"}},
	} {
		target, err := m.Publish(ctx, "pod-a", pv, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "f"), []byte(pv.Name), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(root, pv.Handle, "f")); err != nil || string(b) != pv.Name {
			t.Fatalf("%s: plug-in volume holds %q, %v", pv.Name, b, err)
		}
		if err := m.Unpublish(ctx, "pod-a", pv.Name); err != nil {
			t.Fatal(err)
		}
	}

	// A hostPath volume declared in Git publishes its path.
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "hello"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	hp := api.PersistentVolume{Name: "pv-host", Driver: volume.HostPathName, Parameters: map[string]string{"path": host}}
	target, err := m.Publish(ctx, "pod-a", hp, true)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "hello")); err != nil || string(b) != "from the host" {
		t.Fatalf("hostPath volume: %q, %v", b, err)
	}
	if err := m.Unpublish(ctx, "pod-a", "pv-host"); err != nil {
		t.Fatal(err)
	}

	// An unknown driver is refused by name.
	_, err = m.Publish(ctx, "pod-a", api.PersistentVolume{Name: "pv-x", Driver: "example.com/none", Handle: "x"}, false)
	if err == nil || !strings.Contains(err.Error(), `no volume driver "example.com/none"`) {
		t.Fatalf("unknown driver: %v", err)
	}
	// A name that is not a file name is refused.
	if _, err := m.Publish(ctx, "../etc", hp, false); err == nil {
		t.Fatal("published for pod UID ../etc")
	}
}

// TestManagerRefusesHostPathVolumes: without AllowHostPaths (the agent's
// --allow-host-paths), a PersistentVolume declared with a hostPath or
// local source, or naming the hostPath driver, binds no node directory.
func TestManagerRefusesHostPathVolumes(t *testing.T) {
	dataDir := t.TempDir()
	teardownAtEnd(t, dataDir)
	ctx := context.Background()
	m := newManager(t, dataDir, volume.Config{})
	defer m.Close()
	for _, pv := range []api.PersistentVolume{
		{Name: "pv-host", Driver: volume.HostPathName, Parameters: map[string]string{"path": "/"}},
		{Name: "pv-local", Driver: volume.LocalName, Parameters: map[string]string{"path": "/"}},
		{Name: "pv-create", Driver: volume.HostPathName, Parameters: map[string]string{"path": filepath.Join(dataDir, "made"), "type": "DirectoryOrCreate"}},
	} {
		target, err := m.Publish(ctx, "pod-a", pv, false)
		if err == nil || !strings.Contains(err.Error(), "--allow-host-paths") {
			t.Errorf("%s: published at %q, err %v; want a refusal naming --allow-host-paths", pv.Name, target, err)
		}
		if ok, _ := volume.IsMountPoint(m.TargetPath("pod-a", pv.Name)); ok {
			t.Errorf("%s: mounted at %s", pv.Name, m.TargetPath("pod-a", pv.Name))
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "made")); err == nil {
		t.Error("a refused DirectoryOrCreate volume created its directory")
	}
	// The refusal shows in the volume's status too.
	m.SetVolumes([]api.PersistentVolume{{Name: "pv-host", Driver: volume.HostPathName, Parameters: map[string]string{"path": "/"}}}, nil)
	if s := waitStatus(t, m, "pv-host", api.VolumeFailed); !strings.Contains(s.Message, "--allow-host-paths") {
		t.Errorf("status: %+v", s)
	}
}
