package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/stevedore-dev/stevedore", Version: "v0.0.0-20261130011926-ab2d167abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "ab2d167abcde0123456789abcdef0123456789ab"},
			{Key: "vcs.time", Value: "2026-11-30T01:19:26Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	v := fromBuildInfo(bi)
	want := Info{GitVersion: "v0.0.0-20261130011926-ab2d167abcde+dirty", GitCommit: "ab2d167abcde0123456789abcdef0123456789ab",
		GitTreeState: "dirty", BuildDate: "2026-11-30T01:19:26Z", GoVersion: "go1.26.8", Compiler: runtime.Compiler, Platform: "linux/arm64"}
	if v != want {
		t.Errorf("fromBuildInfo = %+v\nwant %+v", v, want)
	}
	if s := v.String(); s != "v0.0.0-20261130011926-ab2d167abcde+dirty (commit ab2d167abcde, 2026-11-30T01:19:26Z, dirty) go1.26.8 linux/arm64" {
		t.Errorf("String = %q", s)
	}

	// No VCS information (go test, -buildvcs=false): no commit, no tree state.
	v = fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}})
	if v.GitVersion != "(devel)" || v.GitCommit != "" || v.GitTreeState != "" || v.GoVersion != runtime.Version() {
		t.Errorf("without vcs: %+v", v)
	}
	if s := v.String(); s != "(devel) "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("String without vcs = %q", s)
	}
}

// TestBuiltBinary builds a program that prints Get() inside a throwaway Git
// repository and checks the toolchain's stamps come through: the commit
// just made, its time, and the tree state before and after an edit.
func TestBuiltBinary(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: apt-get install git")
	}
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-11-30T01:02:03Z", "GIT_COMMITTER_DATE=2026-11-30T01:02:03Z",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GOFLAGS=-buildvcs=true")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// A copy of the package in a module of its own: what matters is the
	// toolchain's stamps on the main module, not this repository's state.
	src, err := os.ReadFile("version.go")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "version"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("version/version.go", string(src))
	write("go.mod", "module example.com/v\n\ngo 1.26\n")
	write("main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/v/version\"\n)\n\nfunc main() { fmt.Printf(\"%s|%s|%s|%s\", version.Get().GitCommit, version.Get().BuildDate, version.Get().GitTreeState, version.Get().GitVersion) }\n")
	run("git", "init", "-q")
	run("git", "add", ".")
	run("git", "commit", "-qm", "init")
	head := run("git", "rev-parse", "HEAD")
	run("go", "build", "-buildvcs=true", "-o", "v", ".")
	got := run("./v")
	if want := head + "|2026-11-30T01:02:03Z|clean|v0.0.0-20261130010203-" + head[:12]; got != want {
		t.Errorf("clean build: %q, want %q", got, want)
	}
	write("extra.go", "package main\n")
	run("go", "build", "-buildvcs=true", "-o", "v", ".")
	if got := run("./v"); !strings.HasPrefix(got, head+"|2026-11-30T01:02:03Z|dirty|") || !strings.HasSuffix(got, "+dirty") {
		t.Errorf("dirty build: %q", got)
	}
}
