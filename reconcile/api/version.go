package api

import (
	"context"
	"net/http"
)

// PathVersion is answered by every reconciler itself, never forwarded to
// the leader: GET → Version of the process that answers.
const PathVersion = "/v1/version"

// Version is what a binary was built from (Build, whose fields it
// carries at its top level, in the shape of Kubernetes' version.Info:
// what `kubectl version -o json` prints as serverVersion), and what the
// answering reconciler's state is in.
type Version struct {
	Build
	// StoreFormat is the format of the answering reconciler's raft store
	// (1: as v0.15.0 and earlier wrote it; docs/upgrading.md), and
	// StoreFormatMax the newest format it reads; both absent in a
	// client's version.
	StoreFormat    int `json:"storeFormat,omitempty"`
	StoreFormatMax int `json:"storeFormatMax,omitempty"`
}

// Build is what a binary was built from. The values come from the Go
// build info (internal/version).
type Build struct {
	// GitVersion is the main module's version: a tag, a pseudo-version
	// ("+dirty" when built from a modified tree) or "(devel)".
	GitVersion string `json:"gitVersion"`
	// GitCommit is the VCS revision; empty when the binary was built
	// outside a checkout or with -buildvcs=false.
	GitCommit string `json:"gitCommit,omitempty"`
	// GitTreeState is "clean" or "dirty".
	GitTreeState string `json:"gitTreeState,omitempty"`
	// BuildDate is the commit's time (RFC 3339).
	BuildDate string `json:"buildDate,omitempty"`
	GoVersion string `json:"goVersion"`
	Compiler  string `json:"compiler"`
	Platform  string `json:"platform"`
}

// Version returns the version of the reconciler that answers.
func (c *Client) Version(ctx context.Context) (*Version, error) {
	var v Version
	return &v, c.do(ctx, http.MethodGet, PathVersion, nil, &v)
}
