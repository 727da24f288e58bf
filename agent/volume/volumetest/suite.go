// Package volumetest is the test suite every volume driver passes (as
// containerd's snapshotter testsuite is for snapshotters): given a way to
// make a driver and its volumes, Run checks the call sequence, durability
// across unpublish/publish and unstage/stage, every idempotency rule of
// the volume package's doc, read-only publishing, concurrent calls on
// different volumes, capacity enforcement when the driver claims it, and
// that Delete removes the data. It also has WriteThroughput, the
// sequential write measurement make bench uses.
//
// The suite mounts for real: it needs root, and whatever the driver
// needs (loop devices, FUSE, an SSH server).
package volumetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/volume"
)

// Options describe the driver under test.
type Options struct {
	// NewDriver returns the driver; it is called once per sub-test.
	NewDriver func(t *testing.T) volume.Driver
	// Volume returns the volume for handle (parameters, FSType,
	// capacity); zero means a bare volume of 64 MiB.
	Volume func(handle string) volume.Volume
	// CapacitySlack is how far past CapacityBytes a writer may get
	// before ENOSPC; zero means 1 MiB.
	CapacitySlack int64
	// Timeout bounds each sub-test; zero means 2 minutes.
	Timeout time.Duration
}

// DefaultCapacity is the capacity of the suite's volumes when
// Options.Volume is nil.
const DefaultCapacity = 64 << 20

// Run runs the suite as sub-tests of t.
func Run(t *testing.T, o Options) {
	if o.Volume == nil {
		o.Volume = func(h string) volume.Volume {
			return volume.Volume{Name: h, Handle: h, CapacityBytes: DefaultCapacity}
		}
	}
	if o.CapacitySlack == 0 {
		o.CapacitySlack = 1 << 20
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"Lifecycle", testLifecycle},
		{"Durability", testDurability},
		{"Idempotency", testIdempotency},
		{"MissingIsDone", testMissingIsDone},
		{"ReadOnly", testReadOnly},
		{"Concurrent", testConcurrent},
		{"Capacity", testCapacity},
		{"DeleteRemovesData", testDeleteRemovesData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
			defer cancel()
			h := &harness{t: t, ctx: ctx, d: o.NewDriver(t), o: o, dir: t.TempDir()}
			tc.fn(t, h)
		})
	}
}

// harness holds one sub-test's driver and makes its paths.
type harness struct {
	t   *testing.T
	ctx context.Context
	d   volume.Driver
	o   Options
	dir string
	n   int
	mu  sync.Mutex
}

// vol returns a fresh volume, with a handle unique to this sub-test run,
// and registers its teardown (unpublish, unstage, delete) for the end of
// the test, before t.TempDir's removal.
func (h *harness) vol(suffix string) volume.Volume {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(h.t.Name()))
	handle := fmt.Sprintf("vt-%s-%d-%d%s", name, time.Now().UnixNano()%1e6, n, suffix)
	return h.o.Volume(handle)
}

// extraTarget registers the unpublish of another target of v, which
// runs before v's own cleanup.
func (h *harness) extraTarget(v volume.Volume, target string) {
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.d.Unpublish(ctx, v, target); err != nil {
			h.t.Errorf("cleanup: unpublish %s: %v", target, err)
		}
	})
}

// path makes an empty directory for a staging or target path.
func (h *harness) path(kind string) string {
	h.mu.Lock()
	h.n++
	p := filepath.Join(h.dir, fmt.Sprintf("%s-%d", kind, h.n))
	h.mu.Unlock()
	if err := os.Mkdir(p, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// cleanup undoes everything for v at the end of the test, whatever the
// test left.
func (h *harness) cleanup(v volume.Volume, staging string, targets ...string) {
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, tp := range targets {
			if err := h.d.Unpublish(ctx, v, tp); err != nil {
				h.t.Errorf("cleanup: unpublish %s: %v", tp, err)
			}
		}
		if staging != "" {
			if err := h.d.Unstage(ctx, v, staging); err != nil {
				h.t.Errorf("cleanup: unstage %s: %v", staging, err)
			}
		}
		if err := h.d.Delete(ctx, v); err != nil {
			h.t.Errorf("cleanup: delete %s: %v", v.Handle, err)
		}
	})
}

// up provisions, stages and publishes v read-write at a new target.
func (h *harness) up(v volume.Volume) (staging, target string) {
	h.t.Helper()
	staging, target = h.path("staging"), h.path("target")
	h.cleanup(v, staging, target)
	h.must("provision", h.d.Provision(h.ctx, v))
	h.must("stage", h.d.Stage(h.ctx, v, staging))
	h.must("publish", h.d.Publish(h.ctx, v, staging, target, false))
	return staging, target
}

func (h *harness) must(what string, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s: got %q, want %q", path, truncate(got), truncate(want))
	}
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// entries lists dir, ignoring lost+found (a fresh ext4 has it).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read dir %s: %v", dir, err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "lost+found" {
			names = append(names, e.Name())
		}
	}
	return names
}

// mountCount counts the mounts stacked at path.
func mountCount(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == filepath.Clean(path) {
			n++
		}
	}
	return n
}

func checkMounted(t *testing.T, path string, want bool) {
	t.Helper()
	if got := mountCount(t, path) > 0; got != want {
		t.Fatalf("%s mounted = %v, want %v", path, got, want)
	}
}

// testLifecycle: provision, stage, publish into two pods; both see what
// one writes; the staging path sees it too; unpublish leaves the target
// an empty directory.
func testLifecycle(t *testing.T, h *harness) {
	v := h.vol("")
	staging, target := h.up(v)
	checkMounted(t, staging, true)
	checkMounted(t, target, true)
	if got := entries(t, target); len(got) != 0 {
		t.Fatalf("new volume holds %v, want nothing", got)
	}
	target2 := h.path("target")
	h.extraTarget(v, target2)
	h.must("publish second", h.d.Publish(h.ctx, v, staging, target2, false))
	writeFile(t, filepath.Join(target, "a"), []byte("hello"))
	if err := os.MkdirAll(filepath.Join(target, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(target2, "a"), []byte("hello"))
	checkFile(t, filepath.Join(staging, "a"), []byte("hello"))
	h.must("unpublish", h.d.Unpublish(h.ctx, v, target))
	checkMounted(t, target, false)
	if got := entries(t, target); len(got) != 0 {
		t.Fatalf("target after unpublish holds %v, want nothing", got)
	}
	checkFile(t, filepath.Join(target2, "a"), []byte("hello"))
	if u, ok := h.d.(volume.Usage); ok {
		n, err := u.UsedBytes(h.ctx, v, staging)
		if err != nil || n <= 0 {
			t.Fatalf("UsedBytes = %d, %v; want > 0", n, err)
		}
	}
}

// testDurability: data written through a target is there after
// unpublish+publish and after unstage+stage.
func testDurability(t *testing.T, h *harness) {
	v := h.vol("")
	staging, target := h.up(v)
	data := bytes.Repeat([]byte("durable "), 128<<10/8)
	writeFile(t, filepath.Join(target, "f"), data)
	h.must("unpublish", h.d.Unpublish(h.ctx, v, target))
	h.must("publish", h.d.Publish(h.ctx, v, staging, target, false))
	checkFile(t, filepath.Join(target, "f"), data)
	h.must("unpublish", h.d.Unpublish(h.ctx, v, target))
	h.must("unstage", h.d.Unstage(h.ctx, v, staging))
	checkMounted(t, staging, false)
	if got := entries(t, staging); len(got) != 0 {
		t.Fatalf("staging path after unstage holds %v, want nothing", got)
	}
	// A new staging path, as on a node after a restart.
	staging2 := h.path("staging")
	h.t.Cleanup(func() {
		_ = h.d.Unpublish(context.Background(), v, target)
		_ = h.d.Unstage(context.Background(), v, staging2)
	})
	h.must("stage again", h.d.Stage(h.ctx, v, staging2))
	h.must("publish again", h.d.Publish(h.ctx, v, staging2, target, false))
	checkFile(t, filepath.Join(target, "f"), data)
}

// testIdempotency repeats every call: each repeat succeeds and changes
// nothing (one mount per path, data kept).
func testIdempotency(t *testing.T, h *harness) {
	v := h.vol("")
	staging, target := h.path("staging"), h.path("target")
	h.cleanup(v, staging, target)
	for i := range 2 {
		h.must(fmt.Sprintf("provision #%d", i+1), h.d.Provision(h.ctx, v))
	}
	for i := range 2 {
		h.must(fmt.Sprintf("stage #%d", i+1), h.d.Stage(h.ctx, v, staging))
	}
	if n := mountCount(t, staging); n != 1 {
		t.Fatalf("staging path has %d mounts after two stages, want 1", n)
	}
	for i := range 2 {
		h.must(fmt.Sprintf("publish #%d", i+1), h.d.Publish(h.ctx, v, staging, target, false))
	}
	if n := mountCount(t, target); n != 1 {
		t.Fatalf("target has %d mounts after two publishes, want 1", n)
	}
	writeFile(t, filepath.Join(target, "kept"), []byte("kept"))
	h.must("provision of a provisioned, published volume", h.d.Provision(h.ctx, v))
	h.must("stage of a staged volume", h.d.Stage(h.ctx, v, staging))
	checkFile(t, filepath.Join(target, "kept"), []byte("kept"))
	for i := range 2 {
		h.must(fmt.Sprintf("unpublish #%d", i+1), h.d.Unpublish(h.ctx, v, target))
	}
	checkMounted(t, target, false)
	for i := range 2 {
		h.must(fmt.Sprintf("unstage #%d", i+1), h.d.Unstage(h.ctx, v, staging))
	}
	checkMounted(t, staging, false)
	// Provision after unstage keeps the data.
	h.must("provision after unstage", h.d.Provision(h.ctx, v))
	h.must("stage", h.d.Stage(h.ctx, v, staging))
	h.must("publish", h.d.Publish(h.ctx, v, staging, target, false))
	checkFile(t, filepath.Join(target, "kept"), []byte("kept"))
	h.must("unpublish", h.d.Unpublish(h.ctx, v, target))
	h.must("unstage", h.d.Unstage(h.ctx, v, staging))
	for i := range 2 {
		h.must(fmt.Sprintf("delete #%d", i+1), h.d.Delete(h.ctx, v))
	}
}

// testMissingIsDone: unpublish, unstage and delete of things that were
// never there succeed.
func testMissingIsDone(t *testing.T, h *harness) {
	v := h.vol("")
	h.cleanup(v, "")
	h.must("delete of a volume never provisioned", h.d.Delete(h.ctx, v))
	h.must("unpublish of an unmounted target", h.d.Unpublish(h.ctx, v, h.path("target")))
	h.must("unpublish of a missing target", h.d.Unpublish(h.ctx, v, filepath.Join(h.dir, "no-such-target")))
	h.must("unstage of a volume never staged", h.d.Unstage(h.ctx, v, h.path("staging")))
	h.must("unstage at a missing path", h.d.Unstage(h.ctx, v, filepath.Join(h.dir, "no-such-staging")))
	h.must("provision", h.d.Provision(h.ctx, v))
	h.must("unstage of a provisioned volume never staged", h.d.Unstage(h.ctx, v, h.path("staging")))
	h.must("delete", h.d.Delete(h.ctx, v))
	h.must("delete again", h.d.Delete(h.ctx, v))
}

// testReadOnly: a read-only publish refuses writes with EROFS while a
// read-write publish of the same volume still writes.
func testReadOnly(t *testing.T, h *harness) {
	v := h.vol("")
	staging, target := h.up(v)
	writeFile(t, filepath.Join(target, "f"), []byte("rw"))
	ro := h.path("target")
	h.extraTarget(v, ro)
	for i := range 2 {
		h.must(fmt.Sprintf("publish read-only #%d", i+1), h.d.Publish(h.ctx, v, staging, ro, true))
	}
	checkFile(t, filepath.Join(ro, "f"), []byte("rw"))
	for _, try := range []func() error{
		func() error { return os.WriteFile(filepath.Join(ro, "new"), []byte("x"), 0o644) },
		func() error { return os.WriteFile(filepath.Join(ro, "f"), []byte("x"), 0o644) },
		func() error { return os.Mkdir(filepath.Join(ro, "dir"), 0o755) },
		func() error { return os.Remove(filepath.Join(ro, "f")) },
	} {
		if err := try(); !errors.Is(err, syscall.EROFS) {
			t.Fatalf("write through a read-only publish: got %v, want EROFS", err)
		}
	}
	writeFile(t, filepath.Join(target, "g"), []byte("still writable"))
	checkFile(t, filepath.Join(ro, "g"), []byte("still writable"))
}

// testConcurrent runs the whole sequence on several volumes at once.
func testConcurrent(t *testing.T, h *harness) {
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		v := h.vol(fmt.Sprintf("-c%d", i))
		staging, target := h.path("staging"), h.path("target")
		h.cleanup(v, staging, target)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.cycle(v, staging, target, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// cycle is the full sequence on one volume, twice, with a check of the
// data between; it returns the first failure.
func (h *harness) cycle(v volume.Volume, staging, target string, i int) error {
	want := []byte(fmt.Sprintf("volume %d", i))
	for round := range 2 {
		steps := []struct {
			what string
			fn   func() error
		}{
			{"provision", func() error { return h.d.Provision(h.ctx, v) }},
			{"stage", func() error { return h.d.Stage(h.ctx, v, staging) }},
			{"publish", func() error { return h.d.Publish(h.ctx, v, staging, target, false) }},
			{"write or check", func() error {
				p := filepath.Join(target, "f")
				if round == 0 {
					return os.WriteFile(p, want, 0o644)
				}
				got, err := os.ReadFile(p)
				if err == nil && !bytes.Equal(got, want) {
					err = fmt.Errorf("got %q, want %q", got, want)
				}
				return err
			}},
			{"unpublish", func() error { return h.d.Unpublish(h.ctx, v, target) }},
			{"unstage", func() error { return h.d.Unstage(h.ctx, v, staging) }},
		}
		for _, s := range steps {
			if err := s.fn(); err != nil {
				return fmt.Errorf("volume %s round %d: %s: %w", v.Handle, round, s.what, err)
			}
		}
	}
	return h.d.Delete(h.ctx, v)
}

// testCapacity: when the driver enforces capacity, a writer gets ENOSPC
// before CapacityBytes+slack, and the volume took a good part of its
// capacity first.
func testCapacity(t *testing.T, h *harness) {
	if !h.d.Capabilities().EnforcesCapacity {
		t.Logf("%s does not enforce capacity; nothing to check", h.d.Name())
		return
	}
	v := h.vol("")
	if v.CapacityBytes <= 0 {
		t.Fatal("a driver that enforces capacity needs volumes with CapacityBytes")
	}
	_, target := h.up(v)
	n, err := fill(filepath.Join(target, "fill"), v.CapacityBytes+h.o.CapacitySlack+1)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing %d bytes to a volume of %d: wrote %d, got %v, want ENOSPC", v.CapacityBytes+h.o.CapacitySlack+1, v.CapacityBytes, n, err)
	}
	if n > v.CapacityBytes+h.o.CapacitySlack {
		t.Fatalf("wrote %d bytes to a volume of %d (slack %d)", n, v.CapacityBytes, h.o.CapacitySlack)
	}
	if n < v.CapacityBytes/2 {
		t.Fatalf("ENOSPC after only %d bytes of a volume of %d", n, v.CapacityBytes)
	}
	t.Logf("ENOSPC after %d of %d bytes", n, v.CapacityBytes)
	// The volume stays usable: a freed volume takes writes again.
	if err := os.Remove(filepath.Join(target, "fill")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(target, "after"), []byte("ok"))
}

// fill writes up to limit bytes to path, syncing at the end, and
// returns how many were written and the first error.
func fill(path string, limit int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xa5}, 1<<20)
	var n int64
	for n < limit {
		m, err := f.Write(buf[:min(int64(len(buf)), limit-n)])
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	if err := f.Sync(); err != nil {
		return n, err
	}
	return n, f.Close()
}

// testDeleteRemovesData: after Delete, a re-provision of the same handle
// starts empty.
func testDeleteRemovesData(t *testing.T, h *harness) {
	v := h.vol("")
	staging, target := h.up(v)
	writeFile(t, filepath.Join(target, "secret"), []byte("gone after delete"))
	h.must("unpublish", h.d.Unpublish(h.ctx, v, target))
	h.must("unstage", h.d.Unstage(h.ctx, v, staging))
	h.must("delete", h.d.Delete(h.ctx, v))
	h.must("provision the same handle", h.d.Provision(h.ctx, v))
	h.must("stage", h.d.Stage(h.ctx, v, staging))
	h.must("publish", h.d.Publish(h.ctx, v, staging, target, false))
	if got := entries(t, target); len(got) != 0 {
		t.Fatalf("re-provisioned volume holds %v, want nothing", got)
	}
}
