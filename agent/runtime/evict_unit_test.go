package runtime

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestEvictedPodContent: an evicted pod's content is reclaimed only once
// none of its containers (init containers included) runs; then its
// emptyDirs and logs go, its other volumes stay.
func TestEvictedPodContent(t *testing.T) {
	tmp := t.TempDir()
	r := &Runtime{cfg: Config{LogDir: filepath.Join(tmp, "logs")}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), pods: map[string]*podWorker{}}
	pod := api.Pod{Namespace: "default", Name: "p", UID: "u1", Spec: spec.PodSpec{Volumes: []spec.Volume{
		{Name: "scratch", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: spec.VolumeSource{ConfigMap: &spec.ConfigMapVolumeSource{}}},
	}}}
	running := api.ContainerState{Running: &api.StateRunning{}}
	exited := api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 137}}
	w := &podWorker{r: r, pod: pod, dir: filepath.Join(tmp, "pod"), stopCh: make(chan struct{}),
		ctrs:  []*ctr{{id: "app", st: api.ContainerStatus{State: exited}}},
		inits: []*ctr{{id: "init", st: api.ContainerStatus{State: running}}}}
	r.pods[pod.UID] = w
	for _, f := range []string{filepath.Join(w.volumeDir("scratch"), "big"), filepath.Join(w.volumeDir("cfg"), "key"), filepath.Join(w.logDir("c"), "0.log")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if ids, dead := r.evictedDead(); len(ids) != 0 || len(dead) != 0 {
		t.Fatalf("not evicted: %v %v", ids, dead)
	}
	w.vols.evicted.Store(true)
	if ids, dead := r.evictedDead(); !slices.Equal(ids, []string{"app"}) || len(dead) != 0 {
		t.Fatalf("init container running: %v, %d pods dead", ids, len(dead))
	}
	if ph := w.statusLocked().Phase; ph == api.PodFailed {
		t.Errorf("evicted pod with a running init container: phase %s", ph)
	}
	w.inits[0].st.State = exited
	if ph := w.statusLocked().Phase; ph != api.PodFailed {
		t.Errorf("evicted pod, nothing running: phase %s", ph)
	}
	ids, dead := r.evictedDead()
	if !slices.Equal(ids, []string{"init", "app"}) || len(dead) != 1 {
		t.Fatalf("all exited: %v, %d pods dead", ids, len(dead))
	}
	if err := dead[0].removeContent(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{w.volumeDir("scratch"): false, w.volumeDir("cfg"): true, podLogDir(r.cfg.LogDir, pod): false} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", path, err == nil, want)
		}
	}
	if _, dead := r.evictedDead(); len(dead) != 0 {
		t.Errorf("content reclaimed twice")
	}
}
