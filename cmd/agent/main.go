// Command agent runs a Stevedore node agent: it joins the cluster over serf,
// serves the /v1 agent API through which the leader hands it the node's pod
// set, and runs those pods through containerd. Flags map one to one onto
// agent.Config; docs/agent.md describes them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/agent/volume"
	"github.com/stevedore-dev/stevedore/internal/logfile"
	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/spec"
)

// DefaultContainerdAddress is containerd's standard socket.
const DefaultContainerdAddress = "/run/containerd/containerd.sock"

func main() {
	// The shim starts this binary as each container's log driver.
	runtime.RunLogDriverIfRequested()
	if err := newCommand(run, teardown).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// flags are the command line before it is mapped onto agent.Config.
type flags struct {
	labels, taints []string
	extended       []string
	cpu, memory    string
	logLevel       string
	tokenFile      string
	teardown       bool
	log            logfile.Flags
}

// newCommand builds the command; run is what it calls with the parsed
// config, and teardown with --teardown (tests substitute both).
func newCommand(run, teardown func(context.Context, agent.Config) error) *cobra.Command {
	cfg := agent.DefaultConfig()
	cfg.ContainerdAddress = DefaultContainerdAddress
	var fl flags
	cmd := &cobra.Command{
		Use:           "agent --node NAME --join ADDR --data-dir DIR [flags]",
		Short:         "Run a Stevedore node agent",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fl.apply(&cfg); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if fl.teardown {
				return teardown(ctx, cfg)
			}
			return run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.NodeName, "node", "", "node name in membership and pod statuses (default: the host name)")
	f.StringArrayVar(&cfg.Join, "join", nil, "gossip address (host:port) of a member to join, usually the reconciler; repeatable; retried until one answers")
	f.StringVar(&cfg.GossipAddr, "gossip", cfg.GossipAddr, "host:port serf binds (UDP and TCP)")
	f.StringVar(&cfg.GossipProfile, "gossip-profile", "local", "gossip timings: local (a dead node seen in 2-5 s, up to a few hundred nodes) or large (thousands of nodes); every member should use the same")
	f.StringVar(&cfg.APIAddr, "api", cfg.APIAddr, "host:port the agent API listens on")
	f.StringVar(&cfg.AdvertiseAPI, "advertise-api", "", "base URL others use to reach the API (default: derived from --api)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the agent's fencing state and the runtime's data (default: /var/lib/stevedore/NODE)")
	f.StringVar(&cfg.ContainerdAddress, "containerd", cfg.ContainerdAddress, "containerd socket")
	f.StringVar(&cfg.ContainerdNamespace, "containerd-namespace", "", "containerd namespace (default: stevedore-NODE)")
	f.StringArrayVar(&cfg.InsecureRegistries, "insecure-registry", nil, "host:port of a registry pulled over plain HTTP; repeatable")
	f.BoolVar(&cfg.AllowPrivileged, "allow-privileged", false, "let pods run privileged containers (securityContext.privileged: every capability, the host's devices) and use the host's network (hostNetwork); refused by default")
	f.Int64Var(&cfg.PodPidsLimit, "pod-pids-limit", runtime.DefaultPodPidsLimit, "maximum processes (threads included) of each pod as a whole; -1 for unlimited (the kubelet's default)")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "", "override of the pod subnet the leader allocates, advertised for the leader to honour (default: the leader's allocation)")
	f.StringVar(&cfg.NetworkPlugin, "network-plugin", cfg.NetworkPlugin, "how pods are attached: builtin (in-process, netlink) or cni (CNI bridge plugins)")
	f.StringVar(&cfg.VXLAN, "vxlan", cfg.VXLAN, "reach other nodes' pods over VXLAN: auto (only nodes not on a directly connected network) or always; the same on every node")
	f.StringArrayVar(&cfg.DNSUpstreams, "dns-upstream", nil, "resolver (IP or host:port) the node's DNS server forwards other names to; repeatable (default: the host's /etc/resolv.conf minus loopback)")
	f.BoolVar(&fl.teardown, "teardown", false, "remove everything this node's agent left (pods, routes, VXLAN, Service rules, persisted network) and exit; run it with the agent stopped")
	f.StringVar(&cfg.BridgeName, "bridge", "", "CNI bridge name (default: stv- + a short hash of the node name)")
	f.StringArrayVar(&fl.labels, "label", nil, "node label key=value; repeatable")
	f.StringArrayVar(&fl.taints, "taint", nil, "node taint key[=value]:Effect (NoSchedule, PreferNoSchedule, NoExecute); repeatable")
	f.StringVar(&fl.cpu, "cpu", "", "allocatable CPU as a Kubernetes quantity, e.g. 2 or 1500m (default: all CPUs)")
	f.StringVar(&fl.memory, "memory", "", "allocatable memory as a Kubernetes quantity, e.g. 4Gi (default: MemTotal)")
	f.Int64Var(&cfg.MaxPods, "max-pods", cfg.MaxPods, "maximum number of pods")
	f.BoolVar(&cfg.AllowHostPaths, "allow-host-paths", false, "let pods mount hostPath volumes (where the namespace's policy allows them too); refused otherwise")
	f.StringArrayVar(&fl.extended, "extended-resource", nil, "extended resource or hugepages the node offers, name=quantity, e.g. nvidia.com/gpu=2 or hugepages-2Mi=1Gi; repeatable")
	f.IntVar(&cfg.LeasePort, "lease-port", cfg.LeasePort, "TCP port of the pods' lease endpoint on the bridge address, beside the DNS server (0: 7702, -1: off; docs/leases.md)")
	f.IntVar(&cfg.EventsKept, "events-kept", cfg.EventsKept, "how many pod and container events the agent keeps in memory for its watch streams")
	f.DurationVar(&cfg.WatchHeartbeat, "watch-heartbeat", cfg.WatchHeartbeat, "how often the pod watch stream repeats the state when nothing changed")
	f.DurationVar(&cfg.StatsInterval, "stats-interval", cfg.StatsInterval, "how often container, pod and node CPU, memory, network and disk use is sampled (GET /v1/stats, ctl top; 0: 10s)")
	f.StringVar(&cfg.ContainerdRoot, "containerd-root", "", "containerd's root directory, whose file system is reported as the image file system (default: "+agent.DefaultContainerdRoot+")")
	f.StringVar(&fl.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	// The node's credentials (docs/security.md). The daemon is always
	// secured: Config.Security.Disabled has no flag.
	f.StringVar(&fl.tokenFile, "token-file", "", "on first start, join the cluster with the bootstrap token this file holds (a reconciler's <data-dir>/bootstrap-token); later starts use <data-dir>/pki")
	f.StringSliceVar(&cfg.Security.Servers, "server", nil, "https:// API URL of a reconciler to join through with --token-file (repeat or comma-separate)")
	fl.log.Register(f)
	volumeFlags(f, &cfg)
	evictionFlags(f, &cfg)
	logFlags(f, &cfg)
	return cmd
}

// apply maps the flags that need parsing onto cfg.
func (fl flags) apply(cfg *agent.Config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(fl.logLevel)); err != nil {
		return fmt.Errorf("failed to parse --log-level: %w", err)
	}
	var err error
	if cfg.Logger, err = fl.log.Logger(level); err != nil {
		return err
	}
	for _, kv := range fl.labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("failed to parse --label %q: %w", kv, errLabelSyntax)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	for _, s := range fl.taints {
		t, err := parseTaint(s)
		if err != nil {
			return err
		}
		cfg.Taints = append(cfg.Taints, t)
	}
	if fl.cpu != "" {
		q, err := resource.ParseQuantity(fl.cpu)
		if err != nil {
			return fmt.Errorf("failed to parse --cpu %q: %w", fl.cpu, err)
		}
		cfg.AllocatableMilliCPU = q.MilliValue()
	}
	if fl.memory != "" {
		q, err := resource.ParseQuantity(fl.memory)
		if err != nil {
			return fmt.Errorf("failed to parse --memory %q: %w", fl.memory, err)
		}
		cfg.AllocatableMemory = q.Value()
	}
	for _, kv := range fl.extended {
		name, qs, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return fmt.Errorf("failed to parse --extended-resource %q: %w", kv, errExtendedSyntax)
		}
		q, err := resource.ParseQuantity(qs)
		if err != nil {
			return fmt.Errorf("failed to parse --extended-resource %q: %w", kv, err)
		}
		if !spec.IsHugePageResourceName(name) && q.MilliValue()%1000 != 0 {
			return fmt.Errorf("failed to parse --extended-resource %q: %w", kv, errExtendedInteger)
		}
		if cfg.ExtendedResources == nil {
			cfg.ExtendedResources = map[string]int64{}
		}
		cfg.ExtendedResources[name] = q.Value()
	}
	if fl.tokenFile != "" {
		b, err := os.ReadFile(fl.tokenFile)
		if err != nil {
			return fmt.Errorf("failed to read --token-file: %w", err)
		}
		cfg.Security.Token = strings.TrimSpace(string(b))
		if len(cfg.Security.Servers) == 0 {
			return errors.New("--token-file needs --server, the URL of a reconciler to join through")
		}
	}
	if cfg.ContainerdAddress == "" {
		return errNoContainerd
	}
	return nil
}

var (
	errLabelSyntax = errors.New("want key=value")
	errTaintSyntax = errors.New("want key[=value]:Effect")
	// Extended resources are counted in whole units, as Kubernetes
	// requires; hugepages are bytes.
	errExtendedSyntax  = errors.New("want name=quantity")
	errExtendedInteger = errors.New("an extended resource is a whole number")
	errNoContainerd    = errors.New("--containerd must name containerd's socket")
)

func parseTaint(s string) (spec.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok || kv == "" || effect == "" {
		return spec.Taint{}, fmt.Errorf("failed to parse --taint %q: %w", s, errTaintSyntax)
	}
	k, v, _ := strings.Cut(kv, "=")
	return spec.Taint{Key: k, Value: v, Effect: effect}, nil
}

// run starts the runtime, the networking and the daemon and blocks until
// ctx ends. It then closes the runtime without stopping pods, and leaves
// routes and Service rules in place: the next agent process on this node
// adopts the pods and restores the network.
func run(ctx context.Context, cfg agent.Config) error {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return fmt.Errorf("failed to validate agent config: %w", err)
	}
	// The event log before the runtime: adopted pods record events as
	// soon as New supervises them.
	events := agent.NewEventLog(cfg.EventsKept)
	// The volume manager before the runtime too: adopted pods publish
	// their claims through it.
	vm, err := volume.NewManager(cfg.Volumes)
	if err != nil {
		return err
	}
	defer vm.Close()
	rt, err := newRuntime(ctx, cfg, events.Record, vm)
	if err != nil {
		return err
	}
	defer rt.Close()
	n, release, err := networking(cfg, runtimeBridge(rt, cfg))
	if err != nil {
		return err
	}
	defer release()
	metrics := agent.NewMetrics() // the runtime's probes and pulls count on the agent's /metrics
	rt.SetObserver(metrics)
	a, err := agent.New(cfg, rt, agent.WithNetworking(n), agent.WithEvents(events), agent.WithVolumes(vm),
		agent.WithStatsSource(rt), agent.WithImages(rt), agent.WithMetrics(metrics))
	if err != nil {
		return err
	}
	if err := a.Run(ctx); err != nil {
		return fmt.Errorf("failed to run agent: %w", err)
	}
	return nil
}
