package runtime_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/spec"
)

// newSmallFsEnv is newEnv on a containerd whose --root is a loop-mounted
// ext4 file system of size bytes: images and writable layers fill it.
func newSmallFsEnv(t *testing.T, size int64) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	devenv.TestLoopFS(t, root, size)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctd, err := devenv.StartContainerd(ctx, dir)
	if err != nil {
		t.Fatalf("devenv: %v", err)
	}
	t.Cleanup(func() {
		if err := ctd.Stop(); err != nil {
			t.Errorf("failed to stop containerd: %v", err)
		}
	})
	cfg := runtime.Config{
		NodeName: "n" + randomID(), ContainerdAddress: ctd.Address, DataDir: t.TempDir(), PodCIDR: freeCIDR(t),
		InsecureRegistries: []string{registry}, BackoffBase: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: benchLevel})),
	}
	e := &env{t: t, cfg: cfg}
	e.open()
	cl, err := client.New(ctd.Address)
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	e.ctx = namespaces.WithNamespace(context.Background(), e.rt.ConfigForTest().Namespace)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.rt.Teardown(ctx); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		e.rt.Close()
		cl.Close()
	})
	return e, root
}

// fsUse is the file system's use in percent and its free bytes.
func fsUse(t *testing.T, path string) (int64, int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	capacity, avail := int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize
	return 100 - avail*100/capacity, avail
}

func (e *env) pull(ref string) {
	e.t.Helper()
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts))})
	if _, err := e.cl.Pull(e.ctx, ref, client.WithPullUnpack, client.WithPullSnapshotter(runtime.DefaultSnapshotter), client.WithResolver(resolver)); err != nil {
		e.t.Fatalf("pull %s: %v", ref, err)
	}
}

func imageNames(t *testing.T, e *env) []string {
	t.Helper()
	imgs, err := e.rt.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, im := range imgs {
		out = append(out, im.Names...)
	}
	slices.Sort(out)
	return out
}

// imageUse is when the runtime last saw ref used (or first detected it).
func imageUse(t *testing.T, e *env, ref string) time.Time {
	t.Helper()
	imgs, err := e.rt.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		if slices.Contains(im.Names, ref) {
			return im.LastUsed
		}
	}
	t.Fatalf("image %s not listed", ref)
	return time.Time{}
}

// TestImageGCOnSmallFilesystem: on a filling image file system, GC
// removes the least recently used unused image, enough to bring use under
// the low threshold, and never the image a pod uses; the space is really
// free (containerd's GC ran before Delete returned).
func TestImageGCOnSmallFilesystem(t *testing.T) {
	e, root := newSmallFsEnv(t, 256<<20)
	if p, err := e.rt.ImageFsPath(context.Background()); err != nil || !strings.HasPrefix(p, root+"/") {
		t.Fatalf("ImageFsPath = %q, %v; want under %s", p, err, root)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := randomID()
	used, old, mid := registry+"/gc/used-"+id+":1", registry+"/gc/old-"+id+":1", registry+"/gc/mid-"+id+":1"
	for _, ref := range []string{used, old, mid} {
		if err := devenv.PaddedImage(ctx, ref, 30<<20); err != nil {
			t.Fatal(err)
		}
	}
	// Detected in this order: old is the least recently used.
	e.pull(old)
	first := imageUse(t, e, old)
	e.pull(mid)
	_ = imageNames(t, e)
	// A restarted runtime keeps the times (imagegc.json).
	e.rt.Close()
	e.open()
	if again := imageUse(t, e, old); !again.Equal(first) {
		t.Errorf("after a restart %s was last used %v, want %v", old, again, first)
	}
	p := newPod("user", spec.RestartPolicyAlways, spec.Container{Name: "c", Image: used, Command: []string{"sleep", "3600"}})
	e.sync(p)
	e.waitPod("user", "running", time.Minute, running)

	usage, avail := fsUse(t, root)
	t.Logf("image fs %d%% used, %d MiB free", usage, avail>>20)
	if usage < 65 {
		t.Fatalf("image fs only %d%% used: the test images do not fill it", usage)
	}
	const low = 60
	var st syscall.Statfs_t
	_ = syscall.Statfs(root, &st)
	capacity := int64(st.Blocks) * st.Bsize
	toFree := capacity*(100-low)/100 - avail
	freed, err := e.rt.GarbageCollectImages(context.Background(), toFree, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := imageNames(t, e)
	if slices.Contains(names, old) || !slices.Contains(names, mid) || !slices.Contains(names, used) {
		t.Errorf("after GC of %d MiB: images %v; want %s gone, %s and %s kept", toFree>>20, names, old, mid, used)
	}
	if after, _ := fsUse(t, root); after > low || freed < toFree {
		t.Errorf("after GC: %d%% used (want ≤ %d%%), freed %d of %d", after, low, freed, toFree)
	}
	// However much is asked, the image a pod uses stays.
	if _, err := e.rt.GarbageCollectImages(context.Background(), 1<<40, 0); err != nil {
		t.Fatal(err)
	}
	if names := imageNames(t, e); !slices.Equal(names, []string{used}) {
		t.Errorf("after GC of everything: %v, want only %s", names, used)
	}
	// Minimum age: a new image is not removed.
	e.pull(old)
	if _, err := e.rt.GarbageCollectImages(context.Background(), 1<<40, time.Hour); err != nil {
		t.Fatal(err)
	}
	if names := imageNames(t, e); !slices.Contains(names, old) {
		t.Errorf("an image younger than the minimum age was removed: %v", names)
	}
}

// TestEvictOnSmallFilesystem: a pod that fills its writable layer shows
// that use in EvictionUsage; Evict kills it (Failed, reason Evicted, the
// message given, an Evicted event) and RemoveDeadContainers gives the
// space back: its container, then its emptyDir and logs.
func TestEvictOnSmallFilesystem(t *testing.T) {
	e, root := newSmallFsEnv(t, 256<<20)
	hogC := sh("c", "echo hello > /scratch/f && dd if=/dev/zero of=/fill bs=1M count=80 && sync && sleep 3600")
	hogC.VolumeMounts = []spec.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	hog := newPod("hog", spec.RestartPolicyAlways, hogC)
	hog.Spec.Volumes = []spec.Volume{{Name: "scratch", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}}}
	calm := newPod("calm", spec.RestartPolicyAlways, sh("c", "sleep 3600"))
	e.sync(hog, calm)
	e.waitPod("calm", "running", time.Minute, running)
	e.waitPod("hog", "running", time.Minute, running)
	var hogUse uint64
	deadline := time.Now().Add(time.Minute)
	for {
		stats, err := e.rt.EvictionUsage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stats {
			if s.Name == "hog" {
				hogUse = s.EphemeralStorage.UsedBytes
			}
		}
		if hogUse >= 80<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hog's ephemeral use %d, want ≥ 80 MiB", hogUse)
		}
		time.Sleep(200 * time.Millisecond)
	}
	before, _ := fsUse(t, root)
	const msg = "The node was low on resource: ephemeral-storage."
	if err := e.rt.Evict(context.Background(), hog.UID, msg); err != nil {
		t.Fatal(err)
	}
	st := e.waitPod("hog", "evicted", 30*time.Second, func(p api.PodStatus) bool {
		return p.Phase == api.PodFailed && p.Reason == api.ReasonEvicted
	})
	if st.Message != msg {
		t.Errorf("message %q", st.Message)
	}
	scratch, _ := filepath.Glob(filepath.Join(e.cfg.DataDir, "pods", "*", "volumes", "scratch", "f"))
	if len(scratch) != 1 {
		t.Fatalf("hog's emptyDir file not found under %s", e.cfg.DataDir)
	}
	// The container and the pod's content (emptyDir, logs).
	if n, err := e.rt.RemoveDeadContainers(context.Background()); err != nil || n != 2 {
		t.Fatalf("RemoveDeadContainers = %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(scratch[0]); !os.IsNotExist(err) {
		t.Errorf("evicted pod's emptyDir: %v", err)
	}
	if _, err := os.Stat(e.rt.ContainerLogDir(hog, "c")); !os.IsNotExist(err) {
		t.Errorf("evicted pod's logs: %v", err)
	}
	// containerd's GC removes the snapshot shortly after (its scheduler
	// runs after deletions).
	after := before
	for end := time.Now().Add(15 * time.Second); after >= before-20 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		after, _ = fsUse(t, root)
	}
	if after >= before-20 {
		t.Errorf("image fs %d%% used before removing the dead container, %d%% after; want 80 MiB (31%%) back", before, after)
	}
	if p := e.waitPod("calm", "still running", time.Second, running); p.Phase != api.PodRunning {
		t.Errorf("calm: %s", p.Phase)
	}
	if st := e.waitPod("hog", "still reported", time.Second, func(api.PodStatus) bool { return true }); st.Reason != api.ReasonEvicted {
		t.Errorf("hog after cleanup: %+v", st)
	}
}
