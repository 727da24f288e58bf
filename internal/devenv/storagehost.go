package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The storage host is where the sshfs volume driver keeps network volumes:
// a real OpenSSH server (Debian's openssh-server) with its own host key,
// one authorised client key and a directory of volumes. With Netns it runs
// in a network namespace of its own on the cluster's bridge, so that a node
// cut off from the bridge loses its volumes as a real host would, while the
// data stays on the storage host for the node a pod moves to.

// storageHostNumber is the storage host's address number in a Netns
// cluster's /24, above every agent's.
const storageHostNumber = 250

// StorageHost is a running storage host.
type StorageHost struct {
	// Host and Port are where agents reach its SSH server.
	Host string
	Port int
	// User is the SSH user volumes are reached as.
	User string
	// Root is the directory holding the volumes, on this machine.
	Root string
	// IdentityFile and KnownHostsFile are the client key and the host's
	// key line that agents are configured with.
	IdentityFile   string
	KnownHostsFile string
	// Netns is its namespace's short name ("st"), empty on loopback.
	Netns string

	proc *process
}

// startStorageHost generates the keys, writes sshd's config and starts
// sshd, waiting until it accepts connections.
func startStorageHost(ctx context.Context, dir string, hn *hostNet, logPath string) (*StorageHost, error) {
	for bin, pkg := range map[string]string{"/usr/sbin/sshd": "openssh-server", "/usr/bin/ssh-keygen": "openssh-client", "/usr/bin/sshfs": "sshfs"} {
		if err := ctrdEnsureBinary(ctx, bin, pkg); err != nil {
			return nil, fmt.Errorf("failed to start the storage host: %w", err)
		}
	}
	st := &StorageHost{User: "root", Root: filepath.Join(dir, "volumes")}
	if err := os.MkdirAll(st.Root, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create storage root: %w", err)
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("failed to create /run/sshd: %w", err)
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	st.IdentityFile = filepath.Join(dir, "client_ed25519")
	for _, k := range []string{hostKey, st.IdentityFile} {
		_ = os.Remove(k)
		_ = os.Remove(k + ".pub")
		if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stevedore-dev", "-f", k).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("failed to generate %s: %v: %s", k, err, out)
		}
	}
	clientPub, err := os.ReadFile(st.IdentityFile + ".pub")
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, clientPub, 0o600); err != nil {
		return nil, err
	}

	var argvPrefix []string
	if hn != nil {
		st.Netns = "st"
		addr := hn.host(storageHostNumber)
		if err := hn.addHost(ctx, st.Netns, addr); err != nil {
			return nil, fmt.Errorf("failed to create the storage host's namespace: %w", err)
		}
		st.Host, st.Port = addr.String(), 22
		argvPrefix = []string{"nsenter", "--net=" + filepath.Join(netnsDir, hn.nsName(st.Netns))}
	} else {
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return nil, err
		}
		st.Host, st.Port = ap.Addr().String(), int(ap.Port())
	}

	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(hostPub))
	if len(f) < 2 {
		return nil, fmt.Errorf("failed to read host key %s.pub", hostKey)
	}
	st.KnownHostsFile = filepath.Join(dir, "known_hosts")
	line := fmt.Sprintf("[%s]:%d %s %s\n", st.Host, st.Port, f[0], f[1])
	if st.Port == 22 {
		line = fmt.Sprintf("%s %s %s\n", st.Host, f[0], f[1])
	}
	if err := os.WriteFile(st.KnownHostsFile, []byte(line), 0o644); err != nil {
		return nil, err
	}

	cfg := filepath.Join(dir, "sshd_config")
	conf := strings.Join([]string{
		"Port " + strconv.Itoa(st.Port),
		"ListenAddress " + st.Host,
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authorized,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		// The key files live in a temporary directory whose modes
		// sshd's strict checks would refuse.
		"StrictModes no",
		"UsePAM no",
		"Subsystem sftp internal-sftp",
		"LogLevel ERROR",
	}, "\n") + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	argv := append(argvPrefix, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	if st.proc, err = startProcess("storage-host", logPath, nil, argv...); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 20*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		if st.proc.exited() {
			return errors.New("sshd exited (see its log)")
		}
		// From the root namespace: the bridge reaches the storage host.
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(st.Host, strconv.Itoa(st.Port)))
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		st.Stop()
		return nil, fmt.Errorf("failed to start the storage host's sshd: %w", err)
	}
	return st, nil
}

// Stop stops sshd. Its namespace goes with the cluster's others.
func (st *StorageHost) Stop() {
	if st != nil && st.proc != nil {
		_ = st.proc.stop(5 * time.Second)
	}
}

// StartStorageHost starts a storage host on loopback (no network
// namespace), keeping its keys, config and volumes under dir and its log
// at logPath: for benchmarks and tests that need one without a cluster.
func StartStorageHost(ctx context.Context, dir, logPath string) (*StorageHost, error) {
	return startStorageHost(ctx, dir, nil, logPath)
}
