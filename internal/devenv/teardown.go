package devenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
)

// NodeNamespace is the containerd namespace an agent uses by default.
func NodeNamespace(node string) string { return "stevedore-" + node }

// teardownNode removes everything agent a left on the host after its process
// stopped: first with `agent --teardown` in the agent's namespace (the
// runtime's pods with their network namespaces and IPs, the node's routes,
// VXLAN device and nftables tables), then whatever containers remain
// straight through containerd, then the node's bridge.
func (c *Cluster) teardownNode(ctx context.Context, a *Agent) error {
	var errs []error
	argv := []string{filepath.Join(c.cfg.BinDir, "agent"), "--teardown",
		"--node", a.Name, "--data-dir", a.DataDir, "--containerd", c.Containerd.Address}
	if a.Netns != "" {
		argv = append([]string{"nsenter", "--net=" + filepath.Join(netnsDir, a.Netns)}, argv...)
	}
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("failed to run %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out))))
	}
	if err := purgeNamespace(ctx, c.Containerd.Address, NodeNamespace(a.Name)); err != nil {
		errs = append(errs, err)
	}
	if err := deleteBridges(a); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// purgeNamespace kills and deletes every container (with its snapshot) in a
// containerd namespace.
func purgeNamespace(ctx context.Context, address, ns string) error {
	cl, err := client.New(address, client.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("failed to connect to containerd: %w", err)
	}
	defer cl.Close()
	ctx = namespaces.WithNamespace(ctx, ns)
	containers, err := cl.Containers(ctx)
	if err != nil {
		return fmt.Errorf("failed to list containers in %s: %w", ns, err)
	}
	var errs []error
	for _, ctr := range containers {
		if task, err := ctr.Task(ctx, nil); err == nil {
			_ = task.Kill(ctx, syscall.SIGKILL)
			if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("failed to delete task %s: %w", ctr.ID(), err))
			}
		}
		if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("failed to delete container %s: %w", ctr.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// ipAddrJSON is the part of `ip -j addr` output we read.
type ipAddrJSON struct {
	IfName   string `json:"ifname"`
	AddrInfo []struct {
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// bridgesIn returns the bridges holding an address inside the agent's pod
// CIDR: the CNI bridge plugin gives the bridge the subnet's gateway. Finding
// it by address rather than by name keeps this independent of how the
// runtime names bridges.
func bridgesIn(a *Agent) ([]string, error) {
	prefix, err := a.podCIDRPrefix()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("ip", "-j", "-4", "addr", "show", "type", "bridge").Output()
	if err != nil {
		return nil, fmt.Errorf("failed to list bridges: %w", err)
	}
	var links []ipAddrJSON
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("failed to parse ip -j addr: %w", err)
	}
	var names []string
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			if ip, err := netip.ParseAddr(ai.Local); err == nil && prefix.Contains(ip) {
				names = append(names, l.IfName)
				break
			}
		}
	}
	return names, nil
}

// deleteBridges deletes the agent's bridge(s).
func deleteBridges(a *Agent) error {
	names, err := bridgesIn(a)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if out, err := exec.Command("ip", "link", "del", n).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("failed to delete bridge %s: %w: %s", n, err, out))
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what the cluster's agents still hold on the host:
// containers in their containerd namespaces and IP allocations (host-local
// IPAM files named by IP) under their data directories. After every pod is
// deleted it must be empty.
func (c *Cluster) Leftovers(ctx context.Context) ([]string, error) {
	cl, err := client.New(c.Containerd.Address, client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("failed to connect to containerd: %w", err)
	}
	defer cl.Close()
	var left []string
	for _, a := range c.Agents {
		nctx := namespaces.WithNamespace(ctx, NodeNamespace(a.Name))
		containers, err := cl.Containers(nctx)
		if err != nil {
			return nil, fmt.Errorf("failed to list containers of %s: %w", a.Name, err)
		}
		for _, ctr := range containers {
			left = append(left, fmt.Sprintf("container %s/%s", NodeNamespace(a.Name), ctr.ID()))
		}
		// The built-in network's IP allocations (agent/runtime's
		// ipam.json): every pod's must be released with it.
		b, err := os.ReadFile(filepath.Join(a.DataDir, "runtime", "network", "ipam.json"))
		if err == nil {
			var st struct {
				Pods map[string]string `json:"pods"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("failed to read the IP allocations of %s: %w", a.Name, err)
			}
			for id, ip := range st.Pods {
				left = append(left, fmt.Sprintf("IP allocation %s (pod %s) of %s", ip, id, a.Name))
			}
		}
	}
	return left, nil
}
