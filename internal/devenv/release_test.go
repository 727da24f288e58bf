package devenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildRelease builds the previous release's binaries from this
// repository's history and checks they run and are that release's code.
func TestBuildRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := BuildRelease(ctx, "", PreviousReleaseCommit)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range releaseBinaries {
		if !strings.HasPrefix(filepath.Join(dir, b), dir) {
			t.Fatalf("binary %s outside %s", b, dir)
		}
	}
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "ctl"), "version", "--client").CombinedOutput()
	if err != nil {
		t.Fatalf("ctl version: %v: %s", err, out)
	}
	// Built from an exported tree, not a checkout: no VCS stamp.
	if !strings.HasPrefix(string(out), "Client Version: (devel) ") {
		t.Errorf("previous release's ctl version = %q", out)
	}
	// A second call reuses the directory.
	again, err := BuildRelease(ctx, "", PreviousReleaseCommit)
	if err != nil || again != dir {
		t.Errorf("second build = %q, %v; want %q", again, err, dir)
	}
	if _, err := BuildRelease(ctx, "", strings.Repeat("ab", 20)); err == nil || !strings.Contains(err.Error(), "shallow clone") {
		t.Errorf("unknown commit: %v", err)
	}
}
