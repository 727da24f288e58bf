// Package source fetches a Git remote with go-git into a local cache and
// reads the tree at a commit without a work tree.
package source

import (
	"context"
	"errors"
	"time"
)

// Revision is one commit of the tracked branch and the files under the
// tracked path at that commit.
type Revision struct {
	Commit      string
	Author      string
	AuthorEmail string
	Message     string
	Time        time.Time
	// Files maps a path relative to Config.Path to its contents.
	Files map[string][]byte
}

// Config says what to track.
type Config struct {
	// URL of the remote: a file path, file://, http(s):// or ssh:// (or scp-like user@host:path).
	URL string
	// Branch defaults to "main".
	Branch string
	// Path is the sub-directory to read; empty reads the whole tree.
	Path string
	// CacheDir holds the bare clone; required.
	CacheDir string
	// SSHKeyFile, when set, authenticates ssh:// URLs with this private key.
	SSHKeyFile string
	// Token, when set, authenticates http(s):// URLs (basic auth, as GitHub,
	// GitLab and Gitea accept tokens).
	Token string
}

// Source tracks one branch of one remote. It is safe for concurrent use.
type Source struct {
	cfg Config
}

// New returns a Source for cfg.
func New(cfg Config) (*Source, error) {
	return &Source{cfg: cfg}, nil
}

// Fetch fetches the remote and returns the branch head's revision.
func (s *Source) Fetch(ctx context.Context) (*Revision, error) {
	_ = ctx
	return nil, errors.New("source: not implemented")
}
