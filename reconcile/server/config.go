package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/naming"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
	"github.com/stevedore-dev/stevedore/sync/webhook"
)

// Config configures a Server. Flags of cmd/reconciler map onto it; it nests
// the configs of the pieces the server owns (Git source, webhook,
// scheduler, raft) so that every knob of a piece is reachable.
type Config struct {
	// Name is this reconciler's name: its serf member name and raft server
	// ID, unique in the cluster. Empty means "reconciler".
	Name string
	// DataDir holds the reconciler's state (raft log and snapshots, Git
	// cache, serf snapshot). Required.
	DataDir string
	// APIAddr is the host:port the HTTP API listens on; empty means
	// "127.0.0.1:7070". Port 0 picks a free port (see Server.APIURL).
	APIAddr string
	// GossipAddr is the host:port of the serf member agents and other
	// reconcilers join; empty means "127.0.0.1:7946". Port 0 picks a free
	// port (see Server.GossipAddr).
	GossipAddr string
	// GossipProfile is the gossip timings (agent/api.GossipLocal, or
	// GossipLarge for thousands of nodes); zero means GossipLocal. Every
	// member of a cluster should use the same.
	GossipProfile string
	// Join lists gossip addresses of members (other reconcilers or agents)
	// to join at start; empty waits to be joined.
	Join []string
	// Source is the config repository: the bootstrap application, which
	// may declare further applications (Application objects). Source.URL
	// is required; CacheDir and Logger are set by the server (DataDir/git).
	// Its credentials (SSH key, known hosts, token) apply to every
	// application.
	Source source.Config
	// SOPS names the keys SOPS-encrypted manifests are decrypted with
	// (secrets.go); none configured refuses encrypted documents.
	SOPS SOPSConfig
	// Verify checks the signatures and approvals of every revision before
	// it is decoded (verify.go); zero verifies nothing.
	Verify VerifyConfig
	// AppName is the bootstrap application's name; empty means "default".
	AppName string
	// SyncConcurrency bounds how many applications fetch and load at once;
	// zero means 4.
	SyncConcurrency int
	// Webhook checks push notifications; its Branch follows Source.Branch.
	// Secret empty accepts unsigned pushes (fine on loopback, not on a
	// network).
	Webhook webhook.Config
	// Scheduler configures the scheduler's profiles and plugins; zero
	// means the built-in profiles.
	Scheduler scheduler.Config
	// Raft configures the control plane's replicated state.
	Raft RaftConfig
	// Security is the cluster's authentication: the CA and certificates,
	// joining, mutual TLS, encrypted raft and gossip (security.go); zero
	// is secured, founding a new cluster on first start.
	Security SecurityConfig
	// Network is the cluster's address plan (pod CIDRs, Service IPs, node
	// ports, DNS domain); zero fields mean Kubernetes' usual defaults.
	Network NetworkConfig
	// PollInterval is how often the remote is fetched without a webhook;
	// zero means 30s, negative disables polling.
	PollInterval time.Duration
	// NodeLossGrace is how long a node that left gracefully (an agent
	// restarting) keeps its pods, and how long after a leader starts a node
	// membership has not reported at all is still presumed alive. A node
	// that fails (kill -9, cut off) loses its pods as soon as serf declares
	// it failed. Zero means 15s.
	NodeLossGrace time.Duration
	// Limits bounds what one revision may hold (limits.go); zero fields
	// mean 10,000 objects and 64 MiB of manifests.
	Limits LimitsConfig
	// Naming configures the hooks told of every change of the Services'
	// endpoints (reconcile/naming); zero means none.
	Naming naming.Config
	// CommitURL links the bootstrap application's commits on its forge
	// (api.Application.CommitURL): a URL in which "{hash}" stands for a
	// commit's hash, and "{repo}" for the repository's path (with it, the
	// template serves every application). Empty derives the link from a
	// GitHub, GitLab or Gitea/Forgejo URL; an Application's annotation
	// stevedore.dev/commit-url overrides both: --commit-url.
	CommitURL string
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// RaftConfig configures the raft node that replicates the control plane's
// state (applied revision, inventory, fencing base, cordons) between
// reconcilers.
type RaftConfig struct {
	// Addr is the host:port raft listens on and other reconcilers dial; it
	// must name a reachable IP. Empty means "127.0.0.1:7947".
	Addr string
	// BootstrapExpect is how many reconcilers form a new cluster: a
	// reconciler with no raft state waits until it sees that many (itself
	// included, all with the same BootstrapExpect) and they bootstrap
	// together. Zero means 1: a lone reconciler starts a cluster at once.
	// A reconciler with raft state rejoins its cluster whatever this says.
	BootstrapExpect int
	// HeartbeatTimeout and ElectionTimeout bound how long a follower waits
	// for the leader before it stands for election; LeaderLeaseTimeout is
	// how long a leader that lost its quorum keeps leading. Zero means
	// 500ms, 500ms and 250ms: failover in about 1-2 s on a LAN.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// SnapshotInterval and SnapshotThreshold: every interval, a snapshot is
	// taken if at least threshold entries were appended since the last;
	// TrailingLogs entries are kept after it. Zero means 30s, 512 and 1024.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// ApplyTimeout bounds one proposal; zero means 10s.
	ApplyTimeout time.Duration
	// LogLevel is raft's own log level; empty means "warn".
	LogLevel string
}

// DefaultConfig returns a Config with every default filled in except
// Source.URL and DataDir.
func DefaultConfig() Config {
	c := Config{
		Name:          "reconciler",
		APIAddr:       "127.0.0.1:7070",
		GossipAddr:    "127.0.0.1:7946",
		Source:        source.Config{Branch: "main"},
		Webhook:       webhook.DefaultConfig(),
		PollInterval:  30 * time.Second,
		NodeLossGrace: 15 * time.Second,
		Network:       DefaultNetworkConfig(),
	}
	c.Security.Disabled = testInsecureDefault
	c.Raft.fill()
	return c
}

func (r *RaftConfig) fill() {
	if r.Addr == "" {
		r.Addr = "127.0.0.1:7947"
	}
	if r.BootstrapExpect == 0 {
		r.BootstrapExpect = 1
	}
	if r.HeartbeatTimeout <= 0 {
		r.HeartbeatTimeout = 500 * time.Millisecond
	}
	if r.ElectionTimeout <= 0 {
		r.ElectionTimeout = 500 * time.Millisecond
	}
	if r.LeaderLeaseTimeout <= 0 {
		r.LeaderLeaseTimeout = 250 * time.Millisecond
	}
	if r.SnapshotInterval <= 0 {
		r.SnapshotInterval = 30 * time.Second
	}
	if r.SnapshotThreshold == 0 {
		r.SnapshotThreshold = 512
	}
	if r.TrailingLogs == 0 {
		r.TrailingLogs = 1024
	}
	if r.ApplyTimeout <= 0 {
		r.ApplyTimeout = 10 * time.Second
	}
	if r.LogLevel == "" {
		r.LogLevel = "warn"
	}
}

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("invalid config")

// validate fills zero values with their defaults and checks the rest.
func (c *Config) validate() error {
	d := DefaultConfig()
	if c.Source.URL == "" {
		return fmt.Errorf("%w: Source.URL (--repo) is required", ErrInvalidConfig)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	}
	if c.Source.Branch == "" {
		c.Source.Branch = d.Source.Branch
	}
	c.Source.Path = strings.Trim(c.Source.Path, "/")
	c.Webhook.Branch = c.Source.Branch
	if c.CommitURL != "" && !strings.Contains(c.CommitURL, "{hash}") {
		return fmt.Errorf("%w: CommitURL (--commit-url) %q has no {hash} for the commit's hash", ErrInvalidConfig, c.CommitURL)
	}
	if c.APIAddr == "" {
		c.APIAddr = d.APIAddr
	}
	if c.AppName == "" {
		c.AppName = defaultAppName
	}
	if msg := spec.ApplicationNameError(c.AppName); msg != "" {
		return fmt.Errorf("%w: AppName (--app-name) %q: %s", ErrInvalidConfig, c.AppName, msg)
	}
	if c.SyncConcurrency <= 0 {
		c.SyncConcurrency = 4
	}
	if c.GossipAddr == "" {
		c.GossipAddr = d.GossipAddr
	}
	if err := agentapi.ApplyGossipProfile(serf.DefaultConfig(), c.GossipProfile); err != nil {
		return err
	}
	if c.Name == "" {
		c.Name = d.Name
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
	if c.Raft.BootstrapExpect < 0 || c.Raft.BootstrapExpect > 7 {
		return fmt.Errorf("%w: Raft.BootstrapExpect %d: want 1 to 7 (odd: 1, 3 or 5)", ErrInvalidConfig, c.Raft.BootstrapExpect)
	}
	c.Raft.fill()
	if err := c.Network.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Verify.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	for name, addr := range map[string]string{"APIAddr": c.APIAddr, "GossipAddr": c.GossipAddr, "Raft.Addr": c.Raft.Addr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: %s %q: %w", ErrInvalidConfig, name, addr, err)
		}
	}
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
