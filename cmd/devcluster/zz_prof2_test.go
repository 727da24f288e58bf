package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"
)

func TestZZProfServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	applied, next, _ := genDiffRevisions(10000)
	srv, err := startDiffReconciler(ctx, filepath.Join(dir, "reconciler"), applied)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	time.Sleep(2*time.Second)
	f, _ := os.Create("/tmp/diffbin/server2.prof")
	pprof.StartCPUProfile(f)
	for i := 0; i < 5; i++ {
		start := time.Now()
		res := srv.srv.DiffFiles(next)
		t.Logf("DiffFiles %v, %d changes", time.Since(start), len(res.Changes))
	}
	pprof.StopCPUProfile()
}
