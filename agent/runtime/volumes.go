package runtime

// A pod's volumes on the node. Each lives in DataDir/pods/<podID>/volumes/
// <name> (hostPath and persistent volumes excepted: they are mounted from
// where they are):
//
//   - emptyDir: a directory (mode 0777) on the node's disk; with
//     sizeLimit, a pod whose use (a du every 10 s) exceeds it is evicted.
//     medium Memory: a tmpfs of sizeLimit (capped by the pod's memory
//     limit), else of the pod's memory limit when every container has
//     one, else of the node's allocatable memory.
//   - hostPath: the node's path, after the type's check or creation;
//     refused unless Config.AllowHostPaths.
//   - configMap, downwardAPI: files written by the atomic writer
//     (atomicwriter.go) in a directory on disk; secret and projected: the
//     same on a tmpfs of their own, so that a Secret never touches disk.
//     They are rewritten when an object they project changes.
//   - persistentVolumeClaim: the claim's volume, which Config.
//     PersistentVolumes publishes for the pod.
//
// Setting up is idempotent and done before every container start, so a
// restarted agent adopts what it finds: a tmpfs that is mounted stays
// (with its content), an emptyDir is never wiped.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/stats"
	"github.com/stevedore-dev/stevedore/spec"
)

// PersistentVolumes publishes persistent volumes into pods on this node:
// agent/volume implements it over its drivers (provisioning and staging
// the volume first when needed). Both calls are idempotent.
type PersistentVolumes interface {
	// Publish makes pv available to the pod and returns the node path
	// the pod's containers bind-mount.
	Publish(ctx context.Context, podUID string, pv api.PersistentVolume, readOnly bool) (hostPath string, err error)
	// Unpublish undoes Publish once the pod is gone.
	Unpublish(ctx context.Context, podUID, pvName string) error
}

// waitError is a container that waits for something outside its config
// (its claim's volume, a host path of the right type): ContainerCreating
// with the message, checked again at the next change or in a few seconds.
type waitError struct {
	msg  string
	wait <-chan struct{}
}

func (e *waitError) Error() string { return e.msg }

// errEvicted is a container of an evicted pod: it does not start again.
var errEvicted = errors.New("the pod was evicted")

// duInterval is how often an emptyDir with a sizeLimit on disk is measured.
const duInterval = 10 * time.Second

// podVolumes is a pod worker's volume state.
type podVolumes struct {
	mu sync.Mutex
	// sigs are the versions of the objects last projected, by volume.
	sigs map[string]string
	// pvPaths are the node paths of published persistent volumes.
	pvPaths map[string]string
	lastDu  time.Time
	evicted atomic.Bool
	// contentRemoved: the evicted pod's emptyDirs and logs are gone
	// (evict.go).
	contentRemoved atomic.Bool
}

// pvRecord is kept in the pod's directory: what to unpublish after an
// agent restart.
const pvRecordFile = "volumes.json"

func (w *podWorker) volumesDir() string        { return filepath.Join(w.dir, "volumes") }
func (w *podWorker) volumeDir(n string) string { return filepath.Join(w.volumesDir(), n) }

func (w *podWorker) fsGroup() int {
	if sc := w.pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		return int(*sc.FSGroup)
	}
	return -1
}

// facts is what the downward API reads of this pod.
func (w *podWorker) facts() *podFacts {
	r := w.r
	return &podFacts{
		pod: &w.pod, nodeName: r.cfg.NodeName, podIP: w.podIP(), hostIP: r.cfg.HostIP,
		allocMilliCPU: r.cfg.AllocatableMilliCPU, allocMemory: r.cfg.AllocatableMemory, allocStorage: r.allocStorage,
	}
}

// setupVolumes makes every volume of the pod ready (idempotent).
func (w *podWorker) setupVolumes(ctx context.Context) error {
	if w.vols.evicted.Load() {
		return errEvicted
	}
	w.vols.mu.Lock()
	defer w.vols.mu.Unlock()
	w.vols.initLocked()
	for i := range w.pod.Spec.Volumes {
		v := &w.pod.Spec.Volumes[i]
		if err := w.setupVolume(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func (w *podWorker) setupVolume(ctx context.Context, v *spec.Volume) error {
	dir := w.volumeDir(v.Name)
	gid := w.fsGroup()
	switch {
	case v.EmptyDir != nil:
		if v.EmptyDir.Medium == spec.StorageMediumMemory {
			opts := "mode=0777"
			if size := w.memoryVolumeSize(v.EmptyDir); size > 0 {
				opts += fmt.Sprintf(",size=%d", size)
			}
			if err := mountTmpfs(dir, opts); err != nil {
				return err
			}
		} else if err := os.MkdirAll(dir, 0o777); err != nil {
			return fmt.Errorf("failed to create emptyDir %q: %w", v.Name, err)
		}
		return ownVolumeRoot(dir, 0o777, gid)
	case v.HostPath != nil:
		if !w.r.cfg.AllowHostPaths {
			return configErrorf("volume %q: hostPath volumes are not allowed on this node (agent --allow-host-paths)", v.Name)
		}
		if err := checkHostPath(v.HostPath); err != nil {
			return &waitError{msg: fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", v.Name, err), wait: w.r.config.wait()}
		}
		return nil
	case v.PersistentVolumeClaim != nil:
		return w.publishClaim(ctx, v)
	case v.Secret != nil, v.Projected != nil:
		if err := mountTmpfs(dir, "mode=0755"); err != nil {
			return err
		}
		return w.project(v, dir, gid, false)
	case v.ConfigMap != nil, v.DownwardAPI != nil:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("failed to create volume %q: %w", v.Name, err)
		}
		return w.project(v, dir, gid, false)
	}
	return configErrorf("volume %q: no supported source", v.Name)
}

// project writes v's payload into dir unless the objects it projects are
// unchanged; w.vols.mu is held. On refresh (a running pod), a source that
// went missing keeps the files as they are, as the kubelet does.
func (w *podWorker) project(v *spec.Volume, dir string, gid int, refresh bool) error {
	sig := w.volumeSig(v)
	if last, ok := w.vols.sigs[v.Name]; ok && last == sig {
		return nil
	}
	payload, err := w.payload(v)
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	aw := &atomicWriter{dir: dir, gid: gid}
	wrote, err := aw.write(payload)
	if err != nil {
		return fmt.Errorf("failed to write volume %q: %w", v.Name, err)
	}
	if gid >= 0 {
		_ = ownVolumeRoot(dir, 0o755, gid)
	}
	w.vols.sigs[v.Name] = sig
	if wrote && refresh {
		w.r.log.Debug("volume updated", "pod", w.pod.Namespace+"/"+w.pod.Name, "volume", v.Name)
	}
	return nil
}

// ownVolumeRoot gives a volume's root its mode and, with an fsGroup, the
// group and setgid (so that what containers create inherits the group).
func ownVolumeRoot(dir string, mode os.FileMode, gid int) error {
	if gid >= 0 {
		if err := os.Lchown(dir, -1, gid); err != nil {
			return fmt.Errorf("failed to set the group of %s: %w", filepath.Base(dir), err)
		}
		mode |= os.ModeSetgid | 0o110 | 0o440
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err == nil && os.FileMode(st.Mode&0o7777) == unixMode(mode) {
		return nil
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("failed to set the mode of %s: %w", filepath.Base(dir), err)
	}
	return nil
}

// unixMode is the st_mode permission bits of an os.FileMode.
func unixMode(m os.FileMode) os.FileMode {
	out := m.Perm()
	if m&os.ModeSetgid != 0 {
		out |= syscall.S_ISGID
	}
	return out
}

// memoryVolumeSize is a Memory emptyDir's tmpfs size.
func (w *podWorker) memoryVolumeSize(ed *spec.EmptyDirVolumeSource) int64 {
	var podLimit int64
	all := true
	for _, c := range w.pod.Spec.Containers {
		q, ok := c.Resources.Limits[spec.ResourceMemory]
		if !ok || q.Value() <= 0 {
			all = false
			break
		}
		podLimit += q.Value()
	}
	size := int64(0)
	if all {
		size = podLimit
	}
	if ed.SizeLimit != nil && ed.SizeLimit.Value() > 0 && (size == 0 || ed.SizeLimit.Value() < size) {
		size = ed.SizeLimit.Value()
	}
	if size == 0 {
		size = w.r.cfg.AllocatableMemory
	}
	return size
}

// checkHostPath applies the hostPath type: check what is there, or create
// it (DirectoryOrCreate, FileOrCreate), as the kubelet does.
func checkHostPath(h *spec.HostPathVolumeSource) error {
	typ := ""
	if h.Type != nil {
		typ = *h.Type
	}
	p := h.Path
	fi, err := os.Stat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("hostPath type check failed: %v", err)
	}
	switch typ {
	case spec.HostPathUnset:
		return nil
	case spec.HostPathDirectoryOrCreate:
		if !exists {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("failed to create %s: %v", p, err)
			}
			return nil
		}
		if !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", p)
		}
	case spec.HostPathFileOrCreate:
		if !exists {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("failed to create %s: %v", filepath.Dir(p), err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("failed to create %s: %v", p, err)
			}
			if f != nil {
				f.Close()
			}
			return nil
		}
		if fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", p)
		}
	case spec.HostPathDirectory, spec.HostPathFile, spec.HostPathSocket, spec.HostPathCharDev, spec.HostPathBlockDev:
		want := map[string]string{spec.HostPathDirectory: "a directory", spec.HostPathFile: "a file", spec.HostPathSocket: "a socket file",
			spec.HostPathCharDev: "a character device", spec.HostPathBlockDev: "a block device"}[typ]
		if !exists {
			return fmt.Errorf("hostPath type check failed: %s is not %s", p, want)
		}
		m := fi.Mode()
		ok := map[string]bool{
			spec.HostPathDirectory: m.IsDir(),
			spec.HostPathFile:      !m.IsDir(),
			spec.HostPathSocket:    m&fs.ModeSocket != 0,
			spec.HostPathCharDev:   m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0,
			spec.HostPathBlockDev:  m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0,
		}[typ]
		if !ok {
			return fmt.Errorf("hostPath type check failed: %s is not %s", p, want)
		}
	default:
		return fmt.Errorf("hostPath type %q is not supported", typ)
	}
	return nil
}

// publishClaim publishes the volume bound to v's claim; w.vols.mu is held.
func (w *podWorker) publishClaim(ctx context.Context, v *spec.Volume) error {
	claim := w.pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
	wait := w.r.config.wait()
	pv, ok := w.r.config.volume(claim)
	if !ok {
		return &waitError{msg: fmt.Sprintf("waiting for the volume of claim %s", claim), wait: wait}
	}
	if w.r.cfg.PersistentVolumes == nil {
		return &waitError{msg: fmt.Sprintf("volume %q: this node has no persistent volume support", v.Name), wait: wait}
	}
	ro := v.PersistentVolumeClaim.ReadOnly || pv.ReadOnly
	// Recorded before the call: an agent that dies during it still
	// unpublishes.
	rec := w.readPVRecord()
	if rec[v.Name] != pv.Name {
		rec[v.Name] = pv.Name
		if err := w.writePVRecord(rec); err != nil {
			return err
		}
	}
	path, err := w.r.cfg.PersistentVolumes.Publish(ctx, w.pod.UID, pv, ro)
	if err != nil {
		return &waitError{msg: fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", v.Name, err), wait: wait}
	}
	w.vols.pvPaths[v.Name] = path
	return nil
}

func (w *podWorker) readPVRecord() map[string]string {
	rec := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(w.dir, pvRecordFile)); err == nil {
		_ = json.Unmarshal(b, &rec)
	}
	return rec
}

func (w *podWorker) writePVRecord(rec map[string]string) error {
	b, _ := json.Marshal(rec)
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.dir, pvRecordFile), b, 0o600); err != nil {
		return fmt.Errorf("failed to record the pod's persistent volumes: %w", err)
	}
	return nil
}

// teardownVolumes undoes the volumes of a pod being removed: every mount
// under the pod's directory (subPath binds, tmpfs) is unmounted, then the
// persistent volumes unpublished. An error means something is still
// mounted there and the directory must not be removed.
func (w *podWorker) teardownVolumes(ctx context.Context) error {
	err := unmountUnder(w.dir)
	if pvs := w.r.cfg.PersistentVolumes; pvs != nil {
		for vol, pv := range w.readPVRecord() {
			if uerr := pvs.Unpublish(ctx, w.pod.UID, pv); uerr != nil {
				w.r.log.Warn("failed to unpublish volume", "pod", w.pod.Namespace+"/"+w.pod.Name, "volume", vol, "pv", pv, "err", uerr)
			}
		}
	}
	return err
}

// initLocked makes the maps of what is set up; w.vols.mu must be held.
func (v *podVolumes) initLocked() {
	if v.sigs == nil {
		v.sigs = map[string]string{}
		v.pvPaths = map[string]string{}
	}
}

// refreshVolumes rewrites the projected volumes of a running pod whose
// objects changed (the volume loop).
func (w *podWorker) refreshVolumes() {
	w.vols.mu.Lock()
	defer w.vols.mu.Unlock()
	w.vols.initLocked()
	for i := range w.pod.Spec.Volumes {
		v := &w.pod.Spec.Volumes[i]
		if v.ConfigMap == nil && v.Secret == nil && v.Projected == nil && v.DownwardAPI == nil {
			continue
		}
		dir := w.volumeDir(v.Name)
		if _, err := os.Lstat(filepath.Join(dir, dataDirName)); err != nil {
			continue // never set up: the container start does it
		}
		if (v.Secret != nil || v.Projected != nil) && !isMountPoint(dir) {
			continue // its tmpfs is gone (a reboot): the next start mounts it
		}
		if err := w.project(v, dir, w.fsGroup(), true); err != nil {
			w.r.log.Warn("failed to update volume", "pod", w.pod.Namespace+"/"+w.pod.Name, "volume", v.Name, "err", err)
		}
	}
}

// checkSizeLimits measures the pod's disk emptyDirs that have a sizeLimit
// (at most every duInterval) and evicts the pod when one exceeds it.
func (w *podWorker) checkSizeLimits(now time.Time) {
	if w.vols.evicted.Load() || now.Sub(w.vols.lastDu) < duInterval {
		return
	}
	w.vols.lastDu = now
	for _, v := range w.pod.Spec.Volumes {
		ed := v.EmptyDir
		if ed == nil || ed.Medium == spec.StorageMediumMemory || ed.SizeLimit == nil || ed.SizeLimit.IsZero() {
			continue
		}
		used := diskUsage(w.volumeDir(v.Name))
		if used > ed.SizeLimit.Value() {
			w.evict(v.Name, used, *ed.SizeLimit)
			return
		}
	}
}

// diskUsage is du's: the blocks of every file under dir (each inode once).
func diskUsage(dir string) int64 { return int64(stats.DirUsage(dir).UsedBytes) }

// evict fails the pod as the kubelet's eviction manager does: its
// containers are killed and not restarted, phase Failed, reason Evicted.
func (w *podWorker) evict(volume string, used int64, limit resource.Quantity) {
	msg := fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q (%d bytes used). ", volume, limit.String(), used)
	if w.evictWith(msg) {
		w.r.log.Warn("evicted pod", "pod", w.pod.Namespace+"/"+w.pod.Name, "volume", volume, "used", used, "limit", limit.String())
	}
}

// volumeLoop rewrites projected volumes when the config changes and
// measures emptyDirs; one goroutine per Runtime.
func (r *Runtime) volumeLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		refresh := false
		select {
		case <-ctx.Done():
			return
		case <-r.volWake:
			refresh = true
		case <-tick.C:
		}
		r.mu.Lock()
		workers := make([]*podWorker, 0, len(r.pods))
		for _, w := range r.pods {
			if !w.stopping() {
				workers = append(workers, w)
			}
		}
		r.mu.Unlock()
		now := time.Now()
		for _, w := range workers {
			if refresh {
				w.refreshVolumes()
			}
			w.checkSizeLimits(now)
		}
	}
}

// wakeVolumes makes the volume loop refresh projected volumes now.
func (r *Runtime) wakeVolumes() {
	select {
	case r.volWake <- struct{}{}:
	default:
	}
}

// unmountUnder unmounts every mount at or below dir, deepest first, and
// reports an error if any is left.
func unmountUnder(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for range 3 {
		mps, err := mountsUnder(real)
		if err != nil {
			return err
		}
		if len(mps) == 0 {
			return nil
		}
		for i := len(mps) - 1; i >= 0; i-- {
			_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
		}
	}
	mps, err := mountsUnder(real)
	if err == nil && len(mps) > 0 {
		err = fmt.Errorf("still mounted under %s: %s", dir, strings.Join(mps, ", "))
	}
	return err
}

// mountsUnder lists the mount points at or below dir, in mount order.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("failed to read mounts: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountPath(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var n int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &n); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// initVolumes loads the config a previous process kept and starts the
// volume loop; called by New before adopting pods.
func (r *Runtime) initVolumes() error {
	r.config = newConfigStore(r.cfg.DataDir)
	if err := r.config.load(); err != nil {
		return err
	}
	r.volWake = make(chan struct{}, 1)
	var st syscall.Statfs_t
	if syscall.Statfs(r.cfg.DataDir, &st) == nil {
		r.allocStorage = int64(st.Blocks) * st.Bsize
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.volumeLoop(r.ctx)
	}()
	// Adopted pods' projected volumes catch up with what was kept.
	r.wakeVolumes()
	return nil
}

// hostMemTotal is MemTotal in bytes, 0 if unknown.
func hostMemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}
