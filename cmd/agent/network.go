package main

// The agent's networking pieces: the node network (agent/netnode) and the
// constructors of the Service proxy (agent/proxy) and the DNS server
// (agent/dns), given to the daemon as agent.Networking. The daemon builds
// the proxy and the DNS server itself once the leader has told it the pod
// CIDR, so here they are constructors.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/dns"
	"github.com/stevedore-dev/stevedore/agent/netnode"
	"github.com/stevedore-dev/stevedore/agent/proxy"
	"github.com/stevedore-dev/stevedore/agent/runtime"
)

// newProxy and newDNSServer build agent/proxy and agent/dns. Nil leaves
// the piece out (the agent logs it at start).
var (
	newProxy = func(cfg agent.Config, bridge string, pc agent.ProxyConfig) (agent.ServiceProxy, error) {
		p, err := proxy.New(proxy.Config{
			// A table per bridge, so that agents sharing one network
			// namespace (a test cluster on one host) keep theirs apart.
			Table:       proxy.DefaultTable + "-" + bridge,
			ClusterCIDR: pc.ClusterCIDR, PodCIDR: pc.PodCIDR, Bridge: bridge,
			ReservedNodePorts: ownPorts(cfg),
			Logger:            cfg.Logger.With("component", "proxy", "node", cfg.NodeName)})
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	newDNSServer = func(cfg agent.Config, dc agent.DNSConfig) (agent.DNSServer, error) {
		s, err := dns.New(dns.Config{Listen: dc.Listen, Domain: dc.Domain, Upstreams: cfg.DNSUpstreams,
			Logger: cfg.Logger.With("component", "dns", "node", cfg.NodeName)})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
)

// networking builds the daemon's networking pieces for cfg (defaults
// filled) on the bridge the runtime uses. The returned func releases what
// they hold and removes nothing: routes and rules outlive the process.
func networking(cfg agent.Config, bridge string) (agent.Networking, func() error, error) {
	log := cfg.Logger.With("node", cfg.NodeName)
	node, err := netnode.New(netnode.Config{
		NodeName: cfg.NodeName,
		Bridge:   bridge,
		// Per bridge, as the proxy's table: agents may share a namespace.
		Table:      "stevedore-node-" + bridge,
		ForceVXLAN: cfg.VXLAN == agent.VXLANAlways,
		Logger:     log,
	})
	if err != nil {
		return agent.Networking{}, nil, fmt.Errorf("failed to set up the node network: %w", err)
	}
	n := agent.Networking{Node: node}
	if newProxy != nil {
		n.NewProxy = func(pc agent.ProxyConfig) (agent.ServiceProxy, error) { return newProxy(cfg, bridge, pc) }
	} else {
		log.Warn("this agent is built without the Service proxy: Services' virtual IPs do not answer on this node")
	}
	if newDNSServer != nil {
		n.NewDNS = func(dc agent.DNSConfig) (agent.DNSServer, error) { return newDNSServer(cfg, dc) }
		// The lease endpoint listens beside the DNS server, on the bridge.
		n.LeaseListen = func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
	} else {
		log.Warn("this agent is built without the DNS server: pods on this node cannot resolve cluster names")
	}
	return n, node.Close, nil
}

// runtimeBridge is the bridge the runtime puts pods on.
func runtimeBridge(rt *runtime.Runtime, _ agent.Config) string { return rt.BridgeName() }

// teardown removes everything an agent of this node left on the host, with
// no agent running: its pods (through the runtime, which knows their
// network namespaces and IPs), its routes, VXLAN device, Service rules and
// persisted network. For operators retiring a node and for test harnesses
// after a killed run.
func teardown(ctx context.Context, cfg agent.Config) error {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return fmt.Errorf("failed to validate agent config: %w", err)
	}
	var errs []error
	rt, err := newRuntime(ctx, cfg, nil, nil)
	if err != nil {
		return err
	}
	if err := rt.Teardown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("failed to tear down pods: %w", err))
	}
	// After the pods: unmount every volume the agent mounted (data stays).
	if err := teardownVolumes(ctx, cfg); err != nil {
		errs = append(errs, err)
	}
	n, release, err := networking(cfg, runtimeBridge(rt, cfg))
	if err != nil {
		errs = append(errs, err)
	} else {
		a, err := agent.New(cfg, rt, agent.WithNetworking(n))
		if err != nil {
			errs = append(errs, err)
		} else if err := a.TeardownNetwork(); err != nil {
			errs = append(errs, err)
		}
		_ = release()
	}
	_ = rt.Close()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cfg.Logger.Info("node torn down", "node", cfg.NodeName)
	return nil
}

// newRuntime builds the containerd runtime for cfg (defaults filled);
// events, when set, receives its events (an agent.EventLog's Record); pvs,
// when set, publishes claims' volumes (the volume manager).
func newRuntime(ctx context.Context, cfg agent.Config, events func(api.Event), pvs runtime.PersistentVolumes) (*runtime.Runtime, error) {
	rt, err := runtime.New(ctx, withVolumes(cfg, pvs, runtime.Config{
		NodeName:           cfg.NodeName,
		ContainerdAddress:  cfg.ContainerdAddress,
		Namespace:          cfg.ContainerdNamespace,
		DataDir:            filepath.Join(cfg.DataDir, "runtime"),
		BridgeName:         cfg.BridgeName,
		PodCIDR:            cfg.PodCIDR,
		InsecureRegistries: cfg.InsecureRegistries,
		NetworkPlugin:      cfg.NetworkPlugin,
		AllowPrivileged:    cfg.AllowPrivileged,
		PodPidsLimit:       cfg.PodPidsLimit,
		Events:             events,
		// Logs under the agent's --data-dir, as the kubelet's /var/log/pods.
		LogDir:               filepath.Join(cfg.DataDir, "logs"),
		ContainerLogMaxSize:  cfg.ContainerLogMaxSize,
		ContainerLogMaxFiles: cfg.ContainerLogMaxFiles,
		Logger:               cfg.Logger.With("component", "runtime", "node", cfg.NodeName),
	}))
	if err != nil {
		return nil, fmt.Errorf("failed to start runtime: %w", err)
	}
	return rt, nil
}

// ownPorts are the ports the agent itself listens on (API, gossip): no
// NodePort may take them on this node.
func ownPorts(cfg agent.Config) []int32 {
	var ports []int32
	for _, addr := range []string{cfg.APIAddr, cfg.GossipAddr} {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n <= 65535 {
				ports = append(ports, int32(n))
			}
		}
	}
	return ports
}

// withVolumes sets the runtime's fields for volumes and the downward API
// from the agent's config.
func withVolumes(cfg agent.Config, pvs runtime.PersistentVolumes, rc runtime.Config) runtime.Config {
	rc.PersistentVolumes = pvs
	rc.HostIP = hostIP(cfg)
	rc.AllocatableMilliCPU = cfg.AllocatableMilliCPU
	rc.AllocatableMemory = cfg.AllocatableMemory
	rc.AllowHostPaths = cfg.AllowHostPaths
	return rc
}

// hostIP is the node's address as pods see it in status.hostIP: the host
// of the advertised API URL, else of the API address, when it is an IP.
func hostIP(cfg agent.Config) string {
	for _, hp := range []string{cfg.AdvertiseAPI, cfg.APIAddr} {
		if u, err := url.Parse(hp); err == nil && u.Host != "" {
			hp = u.Host
		}
		h, _, err := net.SplitHostPort(hp)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			return ip.String()
		}
	}
	return ""
}
