package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDirMount makes netnsDir a shared mount point of its own, as
// iproute2 does before its first `ip netns add`. Without it, the first
// `ip netns add` after the agent made pod namespaces bind-mounts the
// directory over itself and hides every namespace mounted in it before:
// found on a fresh machine, where the test run's first pods came before
// any `ip netns`, and left two pod namespaces no one could reach.
var netnsDirMount = sync.OnceValue(func() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("failed to create %s: %w", netnsDir, err)
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err = unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("failed to make %s a shared mount point: %w", netnsDir, err)
	}
	return nil
})

// netnsDir is where named network namespaces are bind-mounted, the place
// `ip netns` looks, so operators can inspect a pod with `ip netns exec`.
const netnsDir = "/var/run/netns"

// netnsPrefix marks the network namespaces Stevedore creates.
const netnsPrefix = "stv-"

// cniNetworkName names the pod network; host-local keeps its allocations
// under <ipam dir>/<name>/.
const cniNetworkName = "stevedore"

// cniNet attaches pods through the CNI bridge and host-local plugins (two
// plugin processes per pod), for those who want a CNI chain; the built-in
// network is the default.
type cniNet struct {
	cni      *libcni.CNIConfig
	ipamDir  string
	cacheDir string
	bridgeNm string

	mu    sync.Mutex
	lists map[string]*libcni.NetworkConfigList // by pod CIDR
}

func newCNINet(cfg Config) (*cniNet, error) {
	n := &cniNet{
		ipamDir:  filepath.Join(cfg.DataDir, "cni", "ipam"),
		cacheDir: filepath.Join(cfg.DataDir, "cni", "cache"),
		bridgeNm: cfg.BridgeName,
		lists:    map[string]*libcni.NetworkConfigList{},
	}
	for _, t := range []string{"bridge", "host-local"} {
		found := false
		for _, d := range cfg.CNIBinDirs {
			if _, err := os.Stat(filepath.Join(d, t)); err == nil {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("failed to find CNI plugin %q in %v: install the Debian package containernetworking-plugins", t, cfg.CNIBinDirs)
		}
	}
	// An explicit exec: libcni creates its default lazily, unsynchronised,
	// and pods are attached concurrently.
	n.cni = libcni.NewCNIConfigWithCacheDir(cfg.CNIBinDirs, n.cacheDir, &invoke.DefaultExec{
		RawExec:       &invoke.RawExec{Stderr: os.Stderr},
		PluginDecoder: version.PluginDecoder{},
	})
	return n, nil
}

// list returns the CNI configuration for a pod CIDR. Teardown, which may
// run before the network is known, passes ""; host-local releases by
// container ID, so any valid subnet serves there.
func (n *cniNet) list(podCIDR string) (*libcni.NetworkConfigList, error) {
	if podCIDR == "" {
		podCIDR = DefaultPodCIDR
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.lists[podCIDR]; l != nil {
		return l, nil
	}
	// No ipMasq: masquerading is the node network's (nftables) job.
	bridge := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetworkName,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      n.bridgeNm,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
				"dataDir": n.ipamDir,
			},
		}},
	}
	b, err := json.Marshal(bridge)
	if err != nil {
		return nil, fmt.Errorf("failed to encode CNI config: %w", err)
	}
	l, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("failed to parse CNI config: %w", err)
	}
	n.lists[podCIDR] = l
	return l, nil
}

func netnsPath(id string) string { return filepath.Join(netnsDir, netnsPrefix+id) }

// createNetns creates the named network namespace stv-<id>. It runs on a
// locked OS thread because creating a namespace switches the calling
// thread into it; the thread is switched back before it is unlocked, and if
// that fails the thread is left locked so the Go runtime retires it.
//
// inNS, if not nil, runs on that thread inside the new namespace with a
// handle of the original (host) one, to configure the pod's side without
// a netlink handle per namespace. Without inNS an existing namespace is
// reused.
func createNetns(id string, inNS func(host netns.NsHandle) error) (string, error) {
	path := netnsPath(id)
	if _, err := os.Stat(path); err == nil && inNS == nil {
		return path, nil
	}
	if err := netnsDirMount(); err != nil {
		return "", err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("failed to get current netns: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.NewNamed(netnsPrefix + id)
		if err == nil {
			ns.Close()
			// The thread is in the new namespace: bring its loopback up
			// here, rather than run the CNI loopback plugin (one process
			// less per pod on the start path).
			err = loopbackUp()
			if err == nil && inNS != nil {
				err = inNS(orig)
			}
		}
		if serr := netns.Set(orig); serr != nil {
			// Leave the thread locked: it is in the wrong namespace.
			errc <- errors.Join(err, fmt.Errorf("failed to restore netns: %w", serr))
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			errc <- fmt.Errorf("failed to create netns %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		return "", err
	}
	return path, nil
}

// loopbackUp sets IFF_UP on "lo" in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("failed to bring up loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("failed to bring up loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("failed to bring up loopback: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("failed to bring up loopback: %w", err)
	}
	return nil
}

// deleteNetns unmounts and removes stv-<id>; a missing one is fine.
func deleteNetns(id string) error {
	if _, err := os.Stat(netnsPath(id)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(netnsPrefix + id); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Not mounted (a half-made namespace): just remove the file.
		if rerr := os.Remove(netnsPath(id)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return fmt.Errorf("failed to delete netns %s: %w", netnsPath(id), err)
		}
	}
	return nil
}

func (n *cniNet) runtimeConf(id, nsPath, ifName string, p podMeta) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: id,
		NetNS:       nsPath,
		IfName:      ifName,
		// IgnoreUnknown: the Kubernetes-style args are informational;
		// plugins that do not know them must not fail.
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_UID", p.UID},
		},
	}
}

type podMeta struct{ UID, Namespace, Name string }

// setup creates the pod's netns (bringing its loopback up in process),
// attaches it to the bridge through the plugins and returns the pod IP.
func (n *cniNet) setup(ctx context.Context, id string, p podMeta, nc *netConf, br netlink.Link) (string, error) {
	_ = br // the bridge plugin finds it by name
	nsPath, err := createNetns(id, nil)
	if err != nil {
		return "", err
	}
	list, err := n.list(nc.cidr.String())
	if err != nil {
		return "", err
	}
	res, err := n.cni.AddNetworkList(ctx, list, n.runtimeConf(id, nsPath, "eth0", p))
	if err != nil {
		return "", fmt.Errorf("failed to attach pod network: %w", err)
	}
	cur, err := current.NewResultFromResult(res)
	if err != nil {
		return "", fmt.Errorf("failed to read CNI result: %w", err)
	}
	for _, ip := range cur.IPs {
		if ip.Address.IP.To4() != nil {
			return ip.Address.IP.String(), nil
		}
	}
	if len(cur.IPs) > 0 {
		return cur.IPs[0].Address.IP.String(), nil
	}
	return "", errors.New("failed to attach pod network: CNI returned no IP")
}

// teardownPod detaches the pod (CNI DEL releases its IP) and deletes its
// netns. CNI DEL is idempotent, so it is safe after a partial setup.
func (n *cniNet) teardownPod(ctx context.Context, id string, p podMeta) error {
	nsPath := netnsPath(id)
	if _, err := os.Stat(nsPath); err != nil {
		// DEL still runs without a netns: it must release the IP.
		nsPath = ""
	}
	var errs []error
	list, err := n.list("")
	if err != nil {
		return err
	}
	if err := n.cni.DelNetworkList(ctx, list, n.runtimeConf(id, nsPath, "eth0", p)); err != nil {
		errs = append(errs, fmt.Errorf("failed to detach pod network: %w", err))
	}
	if err := deleteNetns(id); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// adopt has nothing to add for CNI: pod directories without a record are
// torn down by the caller, and host-local's allocations are released by
// CNI DEL.
func (n *cniNet) adopt(ctx context.Context, live map[string]string, bridge string) error {
	return nil
}

// teardown removes the node-wide CNI state: the IPAM directory and the
// CNI cache.
func (n *cniNet) teardown(ctx context.Context) error {
	_ = ctx
	var errs []error
	for _, d := range []string{n.ipamDir, n.cacheDir} {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
