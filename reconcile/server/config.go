package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config configures a Server. Flags of cmd/reconciler map onto it one to one.
type Config struct {
	// RepoURL is the config repository: a file path, file://, http(s)://,
	// ssh:// or scp-like user@host:path. Required.
	RepoURL string
	// Branch is the tracked branch; empty means "main".
	Branch string
	// Path is the sub-directory of the repository holding the manifests;
	// empty means the whole tree.
	Path string
	// DataDir holds the reconciler's state (term, last good revision,
	// inventory, Git cache, serf snapshot). Required.
	DataDir string
	// APIAddr is the host:port the HTTP API listens on; empty means
	// "127.0.0.1:7070". Port 0 picks a free port (see Server.APIURL).
	APIAddr string
	// GossipAddr is the host:port of the serf member agents join; empty means
	// "127.0.0.1:7946". Port 0 picks a free port (see Server.GossipAddr).
	GossipAddr string
	// NodeName is this reconciler's serf member name; empty means
	// "reconciler".
	NodeName string
	// WebhookSecret, when set, must sign every webhook payload; empty
	// accepts unsigned pushes (fine on loopback, not on a network).
	WebhookSecret string
	// PollInterval is how often the remote is fetched without a webhook;
	// zero means 30s, negative disables polling.
	PollInterval time.Duration
	// SSHKeyFile, when set, authenticates ssh:// remotes with this key.
	SSHKeyFile string
	// Token, when set, authenticates http(s):// remotes.
	Token string
	// NodeLossGrace is how long after start a node that membership has not
	// reported at all is still presumed alive (it may just not have
	// rejoined yet); after it, pods on such a node are placed again. Zero
	// means 15s, a few of the agents' join retries.
	NodeLossGrace time.Duration
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in except
// RepoURL and DataDir.
func DefaultConfig() Config {
	return Config{
		Branch:        "main",
		APIAddr:       "127.0.0.1:7070",
		GossipAddr:    "127.0.0.1:7946",
		NodeName:      "reconciler",
		PollInterval:  30 * time.Second,
		NodeLossGrace: 15 * time.Second,
	}
}

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("invalid config")

// validate fills zero values with their defaults and checks the rest.
func (c *Config) validate() error {
	d := DefaultConfig()
	if c.RepoURL == "" {
		return fmt.Errorf("%w: RepoURL is required", ErrInvalidConfig)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	}
	if c.Branch == "" {
		c.Branch = d.Branch
	}
	if c.APIAddr == "" {
		c.APIAddr = d.APIAddr
	}
	if c.GossipAddr == "" {
		c.GossipAddr = d.GossipAddr
	}
	if c.NodeName == "" {
		c.NodeName = d.NodeName
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.NodeLossGrace <= 0 {
		c.NodeLossGrace = d.NodeLossGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for name, addr := range map[string]string{"APIAddr": c.APIAddr, "GossipAddr": c.GossipAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: %s %q: %w", ErrInvalidConfig, name, addr, err)
		}
	}
	c.Path = strings.Trim(c.Path, "/")
	return nil
}

// StripCredentials returns rawURL without a password or token, for logs and
// the status API. scp-like "user@host:path" remotes are returned as they are:
// the user there is not a secret.
func StripCredentials(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil || u.Scheme == "" {
		return rawURL
	}
	if _, hasPassword := u.User.Password(); !hasPassword && u.Scheme != "http" && u.Scheme != "https" {
		// ssh://git@host/repo: the user name is not a credential.
		return rawURL
	}
	u.User = nil
	return u.String()
}
