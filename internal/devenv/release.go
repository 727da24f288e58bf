package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// PreviousRelease is the release before this one, and PreviousReleaseCommit
// the commit it was tagged on: the mixed-version and upgrade tests run its
// binaries beside this tree's. The commit is named as well as the tag
// because a clone need not carry tags; a release bumps both
// (docs/compatibility.md).
const (
	PreviousRelease       = "v0.15.0"
	PreviousReleaseCommit = "2c559979e052ce267ffb8f1774f804055234df36"
)

// releaseBinaries are the commands BuildRelease builds.
var releaseBinaries = []string{"ctl", "reconciler", "agent", "stevedore-log-driver"}

// BuildRelease builds the binaries of commit (a release's) into a directory
// it returns, from the Git repository that holds the working directory:
// the commit's tree is exported with git archive (no work tree, no checkout
// of the caller's), then built with the caller's Go toolchain. The
// directory is kept under the temporary directory, one per commit, and
// reused while it holds every binary, so a second test pays nothing. A
// clone that lacks the commit (a shallow one) is an error that says so.
func BuildRelease(ctx context.Context, gobin, commit string) (string, error) {
	if gobin == "" {
		gobin = "go"
	}
	out := filepath.Join(os.TempDir(), "stevedore-release-"+commit[:12])
	if haveBinaries(out) {
		return out, nil
	}
	top, err := git(ctx, "", "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("failed to find the repository to build release %s from: %w", commit[:12], err)
	}
	if _, err := git(ctx, top, "cat-file", "-e", commit+"^{commit}"); err != nil {
		return "", fmt.Errorf("failed to find commit %s (release %s) in %s: a shallow clone? run git fetch --unshallow: %w",
			commit[:12], PreviousRelease, top, err)
	}
	work, err := os.MkdirTemp("", "stevedore-release-build-")
	if err != nil {
		return "", fmt.Errorf("failed to build release %s: %w", commit[:12], err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return "", fmt.Errorf("failed to build release %s: %w", commit[:12], err)
	}
	archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "sh", top, commit, src)
	if b, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Errorf("failed to export commit %s: %w: %s", commit[:12], err, b)
	}
	bin := filepath.Join(work, "bin")
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", bin + "/"}
	for _, b := range releaseBinaries {
		args = append(args, "./cmd/"+b)
	}
	build := exec.CommandContext(ctx, gobin, args...)
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("failed to build release %s: %w: %s", commit[:12], err, b)
	}
	// Another test may have built it meanwhile: either copy will do.
	if err := os.Rename(bin, out); err != nil && !haveBinaries(out) {
		return "", fmt.Errorf("failed to keep release %s's binaries: %w", commit[:12], err)
	}
	return out, nil
}

func haveBinaries(dir string) bool {
	for _, b := range releaseBinaries {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}
