// Package version says what a Stevedore binary was built from, as the Go
// toolchain recorded it in the binary's build info: the main module's
// version, the VCS revision, its time and whether the work tree had
// uncommitted changes. No -ldflags stamping is needed: `go build` and
// `go install` in a Git checkout record all of it.
//
// The fields and their JSON names are Kubernetes' version.Info's (what
// `kubectl version -o json` prints), so scripts written against kubectl's
// output find gitVersion and gitCommit where they expect them.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is one binary's version.
type Info struct {
	// GitVersion is the main module's version: a tag such as v1.2.0, a
	// pseudo-version (v0.0.0-20261130011926-ab2d167abcde, "+dirty" when
	// built from a modified tree) or "(devel)" when Go could not tell.
	GitVersion string `json:"gitVersion"`
	// GitCommit is the full VCS revision, empty when not built in a
	// checkout (go test, -buildvcs=false).
	GitCommit string `json:"gitCommit,omitempty"`
	// GitTreeState is "clean" or "dirty" (uncommitted changes), empty when
	// GitCommit is.
	GitTreeState string `json:"gitTreeState,omitempty"`
	// BuildDate is the commit's time (vcs.time, RFC 3339): Go records no
	// build time, so that builds are reproducible.
	BuildDate string `json:"buildDate,omitempty"`
	GoVersion string `json:"goVersion"`
	Compiler  string `json:"compiler"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// Get returns the running binary's version.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	v := Info{GitVersion: "(devel)", GoVersion: runtime.Version(), Compiler: runtime.Compiler,
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.GitVersion = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	modified := ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.GitCommit = s.Value
		case "vcs.time":
			v.BuildDate = s.Value
		case "vcs.modified":
			modified = s.Value
		case "GOOS":
			v.Platform = s.Value + v.Platform[strings.Index(v.Platform, "/"):]
		case "GOARCH":
			v.Platform = v.Platform[:strings.Index(v.Platform, "/")+1] + s.Value
		}
	}
	if v.GitCommit != "" {
		v.GitTreeState = "clean"
		if modified == "true" {
			v.GitTreeState = "dirty"
		}
	}
	return v
}

// String is the one-line form --version prints:
// "v1.2.0 (commit ab2d167abcde, 2026-11-30T01:19:26Z, dirty) go1.26.8 linux/amd64".
func (v Info) String() string {
	s := v.GitVersion
	if v.GitCommit != "" {
		c := v.GitCommit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if v.BuildDate != "" {
			s += ", " + v.BuildDate
		}
		if v.GitTreeState == "dirty" {
			s += ", dirty"
		}
		s += ")"
	}
	return s + " " + v.GoVersion + " " + v.Platform
}
