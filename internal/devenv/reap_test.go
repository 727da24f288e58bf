package devenv

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestReapDeadRuns reaps a run whose owner is dead (its process killed, its
// directory gone) and leaves a live owner's run alone.
func TestReapDeadRuns(t *testing.T) {
	mk := func(pid int) string {
		dir, err := os.MkdirTemp("", "stevedore-dev-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		b, _ := json.Marshal(runRecord{PID: pid, Started: time.Now()})
		if err := os.WriteFile(filepath.Join(dir, runFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// A dead owner: a process that has exited and been waited for.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := mk(gone.Process.Pid)
	live := mk(os.Getpid())
	// A process the dead run left working in its directory (as its
	// containerd would be).
	stray := exec.Command("sh", "-c", "sleep 300", filepath.Join(dead, "containerd"))
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- stray.Wait() }()
	t.Cleanup(func() { _ = stray.Process.Kill() })

	reaped, err := ReapDeadRuns(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(reaped, dead) || slices.Contains(reaped, live) {
		t.Errorf("reaped %v, want %s and not %s", reaped, dead, live)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead run's directory is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(live, runFile)); err != nil {
		t.Errorf("the live run's record is gone: %v", err)
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Error("the dead run's stray process is still running")
	}
}
