package volume

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// SSHFS is the stevedore.dev/sshfs driver: a volume is the directory
// <path>/<handle> on a storage host reached over SSH, mounted on the node
// with sshfs (FUSE). Its data lives on the storage host, so a volume
// survives the loss of the node and a pod using it can move; capacity is
// not enforced (the storage host's file system is the limit).
//
// StorageClass parameters: host (required), port (default 22), user
// (default root), path (required: the base directory on the host, one of
// the agent's BasePaths or under one). mountOptions are limited to an
// allowlist (SSHFSAllowedOptions): they reach sshfs's -o, where ssh's own
// options would run commands on the node. The SSH identity, known_hosts
// and base paths come from the agent's config, never from the
// repository.
type SSHFS struct {
	// IdentityFile is the private key the agent logs in with.
	IdentityFile string
	// KnownHostsFile holds the storage hosts' keys; a host not in it is
	// refused.
	KnownHostsFile string
	// BasePaths are the directories on the storage hosts a volume's path
	// parameter must be, or be under; none refuses every volume (a
	// volume must not choose the directory its Delete removes as root).
	BasePaths []string
	// Timeout bounds connecting and each remote command; zero means 30s.
	Timeout time.Duration
}

var _ Driver = (*SSHFS)(nil)

// Name implements Driver.
func (d *SSHFS) Name() string { return SSHFSName }

// Capabilities implements Driver.
func (d *SSHFS) Capabilities() Capabilities { return Capabilities{} }

// sshTarget is one volume's place on its storage host.
type sshTarget struct {
	host, port, user, dir string
	// base is the allowed base path dir is under (--volume-ssh-base-path).
	base string
}

func (t sshTarget) addr() string { return net.JoinHostPort(t.host, t.port) }

func (d *SSHFS) target(v Volume) (sshTarget, error) {
	if err := checkHandle(v.Handle); err != nil {
		return sshTarget{}, err
	}
	p := v.Parameters
	t := sshTarget{host: p["host"], port: p["port"], user: p["user"], dir: p["path"]}
	if t.host == "" || t.dir == "" {
		return t, fmt.Errorf("volume %s: the sshfs driver needs the parameters host and path", v.Name)
	}
	if err := checkSSHHost(v.Name, t.host); err != nil {
		return t, err
	}
	if t.port == "" {
		t.port = "22"
	}
	if err := checkSSHPort(v.Name, t.port); err != nil {
		return t, err
	}
	if t.user == "" {
		t.user = "root"
	}
	if err := checkSSHUser(v.Name, t.user); err != nil {
		return t, err
	}
	dir, base, err := checkSSHBase(v.Name, t.dir, d.BasePaths)
	if err != nil {
		return t, err
	}
	t.base = base
	if err := checkSSHFSOptions(v.Name, v.MountOptions); err != nil {
		return t, err
	}
	if d.IdentityFile == "" || d.KnownHostsFile == "" {
		return t, fmt.Errorf("volume %s: the sshfs driver needs the agent's SSH identity and known_hosts files (--volume-ssh-identity, --volume-ssh-known-hosts)", v.Name)
	}
	t.dir = path.Join(dir, v.Handle)
	return t, nil
}

func (d *SSHFS) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 30 * time.Second
}

// run runs a command on the storage host.
func (d *SSHFS) run(ctx context.Context, t sshTarget, cmd string) error {
	key, err := os.ReadFile(d.IdentityFile)
	if err != nil {
		return fmt.Errorf("failed to read SSH identity: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return fmt.Errorf("failed to parse SSH identity %s: %w", d.IdentityFile, err)
	}
	hostKeys, err := knownhosts.New(d.KnownHostsFile)
	if err != nil {
		return fmt.Errorf("failed to read known hosts %s: %w", d.KnownHostsFile, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", t.addr())
	if err != nil {
		return fmt.Errorf("failed to reach storage host %s: %w", t.addr(), err)
	}
	// The handshake and the command end with ctx.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(conn, t.addr(), &ssh.ClientConfig{
		User:            t.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         d.timeout(),
	})
	if err != nil {
		conn.Close()
		return fmt.Errorf("failed to log in to storage host %s as %s: %w", t.addr(), t.user, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("failed to open SSH session on %s: %w", t.addr(), err)
	}
	defer s.Close()
	if out, err := s.CombinedOutput(cmd); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("%s on %s: %w: %s", cmd, t.addr(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Provision implements Driver: mkdir -p on the storage host.
func (d *SSHFS) Provision(ctx context.Context, v Volume) error {
	t, err := d.target(v)
	if err != nil {
		return err
	}
	q := shellQuote(t.dir)
	if err := d.run(ctx, t, noSymlinks(t)+"mkdir -p -- "+q+" && "+noSymlinks(t)+"chmod 0777 -- "+q); err != nil {
		return fmt.Errorf("failed to provision volume %s: %w", v.Name, err)
	}
	return nil
}

// Delete implements Driver: rm -rf on the storage host.
func (d *SSHFS) Delete(ctx context.Context, v Volume) error {
	t, err := d.target(v)
	if err != nil {
		return err
	}
	if err := d.run(ctx, t, noSymlinks(t)+"rm -rf -- "+shellQuote(t.dir)); err != nil {
		return fmt.Errorf("failed to delete volume %s: %w", v.Name, err)
	}
	return nil
}

// Stage implements Driver: sshfs mounts the directory at stagingPath,
// reconnecting after a network outage. A live mount is staged; a dead
// one (its sshfs process gone, "transport endpoint is not connected")
// is unmounted and mounted again.
func (d *SSHFS) Stage(ctx context.Context, v Volume, stagingPath string) error {
	t, err := d.target(v)
	if err != nil {
		return err
	}
	if ok, err := IsMountPoint(stagingPath); err != nil {
		return err
	} else if ok {
		var st unix.Stat_t
		if err := unix.Stat(stagingPath, &st); err == nil {
			return nil
		}
		if err := unmountAll(stagingPath); err != nil {
			return err
		}
	}
	tool, err := findTool("sshfs")
	if err != nil {
		return err
	}
	opts := []string{
		"reconnect", "ServerAliveInterval=15", "ServerAliveCountMax=3",
		"BatchMode=yes", "IdentitiesOnly=yes", "StrictHostKeyChecking=yes",
		"IdentityFile=" + d.IdentityFile, "UserKnownHostsFile=" + d.KnownHostsFile,
		"GlobalKnownHostsFile=/dev/null", "ConnectTimeout=" + strconv.Itoa(int(d.timeout().Seconds())),
		"port=" + t.port,
		// Containers run as any user; the mount is the agent's (root's).
		"allow_other",
	}
	// Checked against the allowlist by target.
	opts = append(opts, v.MountOptions...)
	host := t.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	// sshfs connects, mounts, then daemonises: its exit says whether the
	// mount is there.
	cmd := exec.CommandContext(ctx, tool, t.user+"@"+host+":"+t.dir, stagingPath, "-o", strings.Join(opts, ","))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to mount volume %s from %s: %w: %s", v.Name, t.addr(), err, strings.TrimSpace(string(out)))
	}
	if ok, err := IsMountPoint(stagingPath); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("failed to mount volume %s: sshfs exited without a mount at %s", v.Name, stagingPath)
	}
	return nil
}

// Unstage implements Driver: unmounting ends the sshfs process.
func (d *SSHFS) Unstage(ctx context.Context, v Volume, stagingPath string) error {
	return unmountAll(stagingPath)
}

// Publish implements Driver.
func (d *SSHFS) Publish(ctx context.Context, v Volume, stagingPath, targetPath string, readOnly bool) error {
	return publishBind(stagingPath, targetPath, readOnly)
}

// Unpublish implements Driver.
func (d *SSHFS) Unpublish(ctx context.Context, v Volume, targetPath string) error {
	return unmountAll(targetPath)
}
