// Command reconciler runs Stevedore's reconciler: it tracks a branch of a
// config repository, turns each good commit into pod sets for the agents that
// join it over serf, and serves the /v1 API that ctl uses. Flags map one to
// one onto reconcile/server.Config; docs/reconciler.md describes them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/internal/logfile"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "reconciler:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	cfg := server.DefaultConfig()
	var tokenFile, joinTokenFile, logLevel, pprofAddr string
	var logFlags logfile.Flags
	cmd := &cobra.Command{
		Use:           "reconciler --repo URL --data-dir DIR [flags]",
		Short:         "Run the Stevedore reconciler",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("failed to parse --log-level: %w", err)
			}
			var err error
			if cfg.Logger, err = logFlags.Logger(level); err != nil {
				return err
			}
			if pprofAddr != "" {
				if err := servePprof(pprofAddr, cfg.Logger); err != nil {
					return err
				}
			}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("failed to read --token-file: %w", err)
				}
				cfg.Source.Token = strings.TrimSpace(string(b))
			}
			if joinTokenFile != "" {
				b, err := os.ReadFile(joinTokenFile)
				if err != nil {
					return fmt.Errorf("failed to read --bootstrap-token-file: %w", err)
				}
				cfg.Security.JoinToken = strings.TrimSpace(string(b))
				if len(cfg.Security.JoinServers) == 0 {
					return errors.New("--bootstrap-token-file needs --server, the URL of a reconciler of the cluster to join")
				}
			}
			// SOPS keys: the flags' files and SOPS_AGE_KEY_FILE's, as sops
			// reads it.
			if env := os.Getenv("SOPS_AGE_KEY_FILE"); env != "" && !slices.Contains(cfg.SOPS.AgeKeyFiles, env) {
				cfg.SOPS.AgeKeyFiles = append(cfg.SOPS.AgeKeyFiles, env)
			}
			// Naming hooks: a bad URL or an unreadable secret fails now, not
			// at the first leader term.
			if _, err := cfg.Naming.Hooks(); err != nil {
				return fmt.Errorf("failed to configure the naming hooks: %w", err)
			}
			return run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Source.URL, "repo", "", "config repository URL: path, file://, http(s)://, ssh:// or user@host:path (required)")
	f.StringVar(&cfg.Source.Branch, "branch", cfg.Source.Branch, "branch to track")
	f.StringVar(&cfg.Source.Path, "path", "", "sub-directory of the repository holding the manifests (default: the whole tree)")
	f.StringVar(&cfg.AppName, "app-name", "default", "name of the bootstrap application (the repository of --repo, which may declare further Application objects)")
	f.IntVar(&cfg.SyncConcurrency, "sync-concurrency", 4, "how many applications fetch and load at once")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the reconciler's state: raft log and snapshots, Git cache, serf snapshot (required)")
	f.StringVar(&cfg.APIAddr, "api", cfg.APIAddr, "host:port of the HTTP API")
	f.StringVar(&cfg.GossipAddr, "gossip", cfg.GossipAddr, "host:port of the serf member agents and other reconcilers join")
	f.StringVar(&cfg.GossipProfile, "gossip-profile", "local", "gossip timings: local (a dead node seen in 2-5 s, up to a few hundred nodes) or large (thousands of nodes); every member should use the same")
	f.StringVar(&cfg.Raft.Addr, "raft", cfg.Raft.Addr, "host:port raft listens on; other reconcilers dial it, so it must name a reachable IP")
	f.StringSliceVar(&cfg.Join, "join", nil, "gossip address of a reconciler or agent to join at start (repeat or comma-separate)")
	f.IntVar(&cfg.Raft.BootstrapExpect, "bootstrap-expect", cfg.Raft.BootstrapExpect, "how many reconcilers form a new cluster (1, 3 or 5; the same on each)")
	f.StringVar(&cfg.Name, "name", cfg.Name, "this reconciler's name: serf member name and raft server ID, unique in the cluster")
	f.StringVar(&cfg.Webhook.Secret, "webhook-secret", "", "secret that must sign webhook payloads (default: accept unsigned)")
	f.StringVar(&cfg.CommitURL, "commit-url", "", "link to a commit on the forge, {hash} standing for its hash and {repo} for the repository's path (default: derived from a GitHub, GitLab or Gitea URL)")
	f.DurationVar(&cfg.PollInterval, "poll-interval", cfg.PollInterval, "how often to fetch without a webhook; negative disables polling")
	f.DurationVar(&cfg.NodeLossGrace, "node-loss-grace", cfg.NodeLossGrace, "how long an agent that left gracefully (a restart) keeps its pods, and how long a new leader presumes unreported nodes alive")
	f.StringVar(&cfg.Network.ClusterCIDR, "cluster-cidr", cfg.Network.ClusterCIDR, "CIDR every node's pod CIDR is allocated from (a /24 each, kept in raft)")
	f.StringVar(&cfg.Network.ServiceCIDR, "service-cidr", cfg.Network.ServiceCIDR, "CIDR Services' cluster IPs are allocated from; must not overlap --cluster-cidr")
	f.StringVar(&cfg.Network.ClusterDomain, "cluster-domain", cfg.Network.ClusterDomain, "DNS domain of Services and pods")
	f.StringVar(&cfg.Network.NodePortRange, "service-node-port-range", cfg.Network.NodePortRange, "first-last node ports NodePort Services are allocated from")
	f.StringVar(&cfg.Source.SSHKeyFile, "ssh-key", "", "private key file for ssh:// remotes")
	f.StringVar(&cfg.Source.KnownHostsFile, "known-hosts", "", "known_hosts file checking ssh:// remotes (default: OpenSSH's files)")
	f.StringVar(&tokenFile, "token-file", "", "file holding a token for http(s):// remotes")
	// The cluster's credentials (docs/security.md). The daemon is always
	// secured: Config.Security.Disabled has no flag.
	f.StringVar(&joinTokenFile, "bootstrap-token-file", "", "on first start, join the cluster whose reconciler token this file holds (another reconciler's <data-dir>/reconciler-token; agents' bootstrap-token admits no reconciler) instead of founding one")
	f.StringSliceVar(&cfg.Security.JoinServers, "server", nil, "https:// API URL of a reconciler to join through with --bootstrap-token-file (repeat or comma-separate)")
	f.StringSliceVar(&cfg.Security.Addresses, "tls-san", nil, "further IP or DNS name this reconciler's certificate is valid for (repeat or comma-separate)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&pprofAddr, "pprof-addr", "", "loopback host:port serving Go's profiles (/debug/pprof/), unauthenticated; none by default")
	logFlags.Register(f)
	limitFlags(f, &cfg)
	f.StringVar(&cfg.Raft.LogLevel, "raft-log-level", cfg.Raft.LogLevel, "raft's own log level: debug, info, warn or error")
	f.StringSliceVar(&cfg.SOPS.AgeKeyFiles, "sops-age-key-file", nil, "age identity file to decrypt SOPS-encrypted manifests with (repeat or comma-separate; $SOPS_AGE_KEY_FILE is used too)")
	f.StringSliceVar(&cfg.SOPS.PGPKeyFiles, "sops-pgp-key-file", nil, "armored OpenPGP secret key (no passphrase) to decrypt SOPS-encrypted manifests with (repeat or comma-separate)")
	// Commit verification (docs/security.md).
	f.StringVar(&cfg.Verify.Mode, "verify-commits", "off", "which commits must be signed by a trusted key: all (every commit since the applied one), merges (the tip, a merge) or off")
	f.StringVar(&cfg.Verify.TrustedKeys, "trusted-keys", "", "file or directory of trusted signing keys: OpenPGP armored public keys and/or SSH allowed_signers lines (required with --verify-commits)")
	f.BoolVar(&cfg.Verify.AllowForcePush, "allow-force-push", false, "accept a branch head that does not descend from the applied commit (its new commits are still verified)")
	f.IntVar(&cfg.Verify.MaxCommits, "verify-max-commits", 10000, "refuse a sync that would verify more commits than this")
	// Naming hooks (reconcile/naming): told of every change of the Services' endpoints.
	f.StringVar(&cfg.Naming.WebhookURL, "naming-webhook", "", "URL that receives the Services and their endpoints as a JSON POST whenever they change")
	f.StringVar(&cfg.Naming.WebhookSecretFile, "naming-webhook-secret-file", "", "file holding the secret that signs --naming-webhook's payloads (HMAC-SHA256, header X-Stevedore-Signature)")
	f.StringVar(&cfg.Naming.Exec, "naming-exec", "", "command (run by /bin/sh -c) given the Services and their endpoints as JSON on stdin whenever they change")
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func run(ctx context.Context, cfg server.Config) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		_ = s.Shutdown(context.Background())
		return err
	}
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}
