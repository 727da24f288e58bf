package volume

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// DefaultPluginDir is where the agent looks for out-of-process drivers.
const DefaultPluginDir = "/usr/libexec/stevedore/volume"

// DefaultRetryInterval is how often the manager retries a volume whose
// driver failed.
const DefaultRetryInterval = 10 * time.Second

// Config configures the agent's volume manager and its built-in drivers
// (agent.Config.Volumes; cmd/agent's --volume-* flags).
type Config struct {
	// DataDir is the agent's data directory: the manager keeps its state
	// (volumes/state.json), staging paths (volumes/staging/<pv>) and
	// publish targets (volumes/pods/<pod UID>/<pv>) under it. Required;
	// the agent fills it with its own.
	DataDir string
	// LocalDirRoot holds the local-dir driver's volumes; zero means
	// DataDir/volumes/local-dir.
	LocalDirRoot string
	// LocalBlockRoot holds the local-block driver's images; zero means
	// DataDir/volumes/local-block.
	LocalBlockRoot string
	// PluginDir holds out-of-process drivers (docs/volume-drivers.md);
	// zero means DefaultPluginDir.
	PluginDir string
	// PluginTimeout bounds one call of a plug-in; zero means
	// DefaultExecTimeout.
	PluginTimeout time.Duration
	// SSHIdentityFile and SSHKnownHostsFile are the sshfs driver's
	// private key and storage hosts' keys; zero leaves the sshfs driver
	// refusing volumes, saying what is missing.
	SSHIdentityFile   string
	SSHKnownHostsFile string
	// SSHBasePaths are the directories on the storage hosts where sshfs
	// volumes may live: a volume's path parameter must be one of them or
	// under one. Zero leaves the sshfs driver refusing volumes.
	SSHBasePaths []string
	// AllowHostPaths lets PersistentVolumes declared with a hostPath or
	// local source (the hostPath and local drivers) bind a node
	// directory; false refuses them (agent.Config.AllowHostPaths,
	// --allow-host-paths).
	AllowHostPaths bool
	// RetryInterval is how often a failed volume is retried; zero means
	// DefaultRetryInterval.
	RetryInterval time.Duration
	// Logger zero means slog.Default().
	Logger *slog.Logger
}

var errNoDataDir = errors.New("volume manager needs a data dir")

// validate fills zero values.
func (c *Config) validate() error {
	if c.DataDir == "" {
		return errNoDataDir
	}
	for _, b := range c.SSHBasePaths {
		if !filepath.IsAbs(b) {
			return fmt.Errorf("sshfs base path %q must be absolute", b)
		}
	}
	if c.LocalDirRoot == "" {
		c.LocalDirRoot = filepath.Join(c.DataDir, "volumes", "local-dir")
	}
	if c.LocalBlockRoot == "" {
		c.LocalBlockRoot = filepath.Join(c.DataDir, "volumes", "local-block")
	}
	if c.PluginDir == "" {
		c.PluginDir = DefaultPluginDir
	}
	if c.PluginTimeout <= 0 {
		c.PluginTimeout = DefaultExecTimeout
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
