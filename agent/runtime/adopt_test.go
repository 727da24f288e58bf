package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
)

// TestAdoptKeepsPodsAndRefusesCorruptRecords: a restarted runtime reports
// the pods it adopted as they were given (Owner, Hash, Created: what GET
// /v1/podset serves), and a corrupt pod record stops New with an error
// naming the file, leaving the pod's containers alone.
func TestAdoptKeepsPodsAndRefusesCorruptRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod("owned", "", sh("c", "exec sleep 3600"))
	p.Owner, p.Hash = "Deployment/default/web", "5d8f7c9b"
	p.Created = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	e.sync(p)
	e.waitPod("owned", "running", 30*time.Second, running)
	pid := e.taskPID(p, "c")
	if diff := cmp.Diff([]api.Pod{p}, e.rt.Pods()); diff != "" {
		t.Fatalf("Pods (-want +got):\n%s", diff)
	}

	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	if diff := cmp.Diff([]api.Pod{p}, e.rt.Pods()); diff != "" {
		t.Fatalf("Pods after adoption (-want +got):\n%s", diff)
	}

	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.cfg.DataDir, "pods", runtime.PodID(p.UID), "pod.json")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if rt, err := runtime.New(ctx, e.cfg); err == nil {
		rt.Close()
		t.Fatal("New adopted a truncated pod record")
	} else if !strings.Contains(err.Error(), path) {
		t.Fatalf("New = %v, want an error naming %s", err, path)
	}
	if e.taskPID(p, "c") != pid {
		t.Fatal("a refused start touched the pod's container")
	}

	// Repaired, the record is adopted again (and the cleanup tears it down).
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.waitPod("owned", "adopted after repair", 10*time.Second, running)
	if e.taskPID(p, "c") != pid {
		t.Fatal("adoption after repair restarted the container")
	}
}
