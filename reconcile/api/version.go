package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// PathVersion is answered by every reconciler itself, never forwarded to
// the leader: GET → Version of the process that answers.
const PathVersion = "/v1/version"

// Version headers of the /v1 API (docs/versions.md). A client sends its
// release in HeaderClientVersion (and a User-Agent such as
// "ctl/v0.16.0 (linux/amd64)"); every reconciler answer carries the
// reconciler's release in HeaderServerVersion. Neither is required: a
// client or server from before v0.16 sends none, and is served as before.
const (
	HeaderClientVersion = "Stevedore-Client-Version"
	HeaderServerVersion = agentapi.HeaderVersion
)

// APIVersions are the versions of the reconciler API this release serves.
var APIVersions = []string{"v1"}

// MaxMinorSkew is how many minor releases a client and a reconciler may be
// apart and still be supported (kubectl's rule: +/-1).
const MaxMinorSkew = 1

// BuildInfo is what a binary was built from, in the shape of Kubernetes'
// version.Info (what `kubectl version -o json` prints as serverVersion).
// The values come from the Go build info (internal/version).
type BuildInfo struct {
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

// Version is GET /v1/version's answer: the build of the reconciler that
// answers and what it serves. A reconciler from before v0.16 sends the
// build alone.
type Version struct {
	BuildInfo
	// ReleaseVersion is the release the binary is, for version skew
	// checks: GitVersion when that is a release's, else the release its
	// tree was becoming (a development build's GitVersion is "(devel)").
	ReleaseVersion string `json:"releaseVersion,omitempty"`
	// APIVersions are the reconciler API versions served ("v1").
	APIVersions []string `json:"apiVersions,omitempty"`
	// AgentProtocol is the range of reconciler↔agent protocols the
	// reconciler speaks.
	AgentProtocol *agentapi.ProtocolRange `json:"agentProtocol,omitempty"`
	// StoreFormat is the format of the answering reconciler's raft store
	// (1: as v0.15.0 and earlier wrote it; docs/upgrading.md), and
	// StoreFormatMax the newest format it reads; both absent in a
	// client's version.
	StoreFormat    int `json:"storeFormat,omitempty"`
	StoreFormatMax int `json:"storeFormatMax,omitempty"`
}

// Version returns the version of the reconciler that answers.
func (c *Client) Version(ctx context.Context) (*Version, error) {
	var v Version
	return &v, c.do(ctx, http.MethodGet, PathVersion, nil, &v)
}

// SetUserAgent names the program using the client and its release: every
// request then says "program/release (os/arch)" in its User-Agent, as
// kubectl does, and the release in HeaderClientVersion. Call it before the
// first request.
func (c *Client) SetUserAgent(program, release string) {
	c.userAgent = program + "/" + release + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	c.release = release
}

// ServerVersion is the release the last answering reconciler named in
// HeaderServerVersion; "" before any answer, or from a reconciler from
// before v0.16, which does not send it.
func (c *Client) ServerVersion() string {
	if v := c.serverVersion.Load(); v != nil {
		return *v
	}
	return ""
}

// header is what every request carries.
func (c *Client) header() http.Header {
	if c.userAgent == "" {
		return nil
	}
	return http.Header{"User-Agent": {c.userAgent}, HeaderClientVersion: {c.release}}
}

// answered notes the reconciler's release from an answer.
func (c *Client) answered(h http.Header) {
	if v := h.Get(HeaderServerVersion); v != "" {
		c.serverVersion.Store(&v)
	}
}

// OlderServerError is a 404 for an endpoint the reconciler does not have
// (its router's "no such endpoint"), from a reconciler older than the
// client, which says so and names both releases. It unwraps to the 404.
type OlderServerError struct {
	Method, Path string
	// Client is the client's release; Server the reconciler's, as its
	// answer or GET /v1/version said ("" when neither did).
	Client, Server string
	Err            *StatusError
}

func (e *OlderServerError) Error() string {
	server := e.Server
	if server == "" {
		server = "an unknown release (older than v0.16, which started to say)"
	}
	return fmt.Sprintf("the reconciler does not serve %s %s: it runs %s, this client %s; upgrade the reconciler or use a client of its release (docs/versions.md)",
		e.Method, e.Path, server, e.Client)
}

func (e *OlderServerError) Unwrap() error { return e.Err }

// noSuchEndpoint starts the message of a reconciler's 404 for a path it
// does not route (every release since v0.1 answers so).
const noSuchEndpoint = "no such endpoint: "

// olderServer turns se, when it is a 404 for an endpoint the reconciler
// does not route and the client knows its own release, into an
// *OlderServerError naming the reconciler's release (asked of GET
// /v1/version when its answer did not say). Any other error is returned
// as is.
func (c *Client) olderServer(ctx context.Context, method, path string, se *StatusError) error {
	if se.StatusCode != http.StatusNotFound || !strings.HasPrefix(se.Message, noSuchEndpoint) || c.release == "" || path == PathVersion {
		return se
	}
	server := c.ServerVersion()
	if server == "" {
		if v, err := c.Version(ctx); err == nil {
			server = v.ReleaseVersion
			if server == "" {
				server = v.GitVersion
			}
		}
	}
	return &OlderServerError{Method: method, Path: path, Client: c.release, Server: server, Err: se}
}
