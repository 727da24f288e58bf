package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"
)

func TestZZProfDiff(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	applied, next, _ := genDiffRevisions(10000)
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	for name, b := range next {
		os.WriteFile(filepath.Join(work, name), b, 0o644)
	}
	srv, err := startDiffReconciler(ctx, filepath.Join(dir, "reconciler"), applied)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	f, _ := os.Create("/tmp/diffbin/server.prof")
	pprof.StartCPUProfile(f)
	for i := 0; i < 3; i++ {
		cmd := exec.Command("/tmp/diffbin/ctl", "--server", srv.url, "diff", "--local", work)
		cmd.Env = append(os.Environ(), "ZZ_CPUPROFILE=/tmp/diffbin/ctl.prof")
		start := time.Now()
		out, _ := cmd.Output()
		t.Logf("ctl %v, %d bytes", time.Since(start), len(out))
	}
	pprof.StopCPUProfile()
}
