package volume_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/volume"
)

// TestSSHFSRefusesUnsafeVolumes: what a StorageClass or PersistentVolume
// gives the sshfs driver (mount options, host, user, port, path, handle)
// is checked before anything runs, on the node or the storage host.
func TestSSHFSRefusesUnsafeVolumes(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "storage")
	pwned := filepath.Join(dir, "pwned")
	d := &volume.SSHFS{IdentityFile: filepath.Join(dir, "id"), KnownHostsFile: filepath.Join(dir, "kh"), BasePaths: []string{base}}
	good := func() volume.Volume {
		return volume.Volume{Name: "pv-1", Handle: "pvc-1",
			Parameters: map[string]string{"host": "127.0.0.1", "port": "1", "user": "root", "path": base}}
	}
	for _, tc := range []struct {
		name string
		edit func(v *volume.Volume)
		want string
	}{
		{"ProxyCommand", func(v *volume.Volume) { v.MountOptions = []string{"reconnect", "ProxyCommand=touch " + pwned} }, `mount option "ProxyCommand=touch`},
		{"ssh_command", func(v *volume.Volume) { v.MountOptions = []string{"ssh_command=touch " + pwned} }, `mount option "ssh_command=touch`},
		{"hidden after a comma", func(v *volume.Volume) { v.MountOptions = []string{"cache=yes,ProxyCommand=x"} }, `mount option "ProxyCommand=x"`},
		{"escaped comma", func(v *volume.Volume) { v.MountOptions = []string{`uid=1\,ProxyCommand=x`} }, `mount option "uid=1\\`},
		{"bad value", func(v *volume.Volume) { v.MountOptions = []string{"compression=maybe"} }, `mount option "compression=maybe"`},
		{"host option", func(v *volume.Volume) { v.Parameters["host"] = "-oProxyCommand=x" }, `parameter host "-oProxyCommand=x"`},
		{"host shell", func(v *volume.Volume) { v.Parameters["host"] = "a;touch x" }, `parameter host`},
		{"user", func(v *volume.Volume) { v.Parameters["user"] = "-oProxyCommand=x" }, `parameter user`},
		{"port", func(v *volume.Volume) { v.Parameters["port"] = "+22" }, `parameter port`},
		{"root of the host", func(v *volume.Volume) { v.Parameters["path"] = "/"; v.Handle = "etc" }, `parameter path "/" is not under an allowed base path`},
		{"beside the base", func(v *volume.Volume) { v.Parameters["path"] = base + "x" }, `is not under an allowed base path`},
		{"dot dot", func(v *volume.Volume) { v.Parameters["path"] = base + "/../etc" }, `without a ".." element`},
		{"handle", func(v *volume.Volume) { v.Handle = "../etc" }, `invalid volume handle`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := good()
			tc.edit(&v)
			ctx := context.Background()
			staging := t.TempDir()
			for op, call := range map[string]func() error{
				"Provision": func() error { return d.Provision(ctx, v) },
				"Stage":     func() error { return d.Stage(ctx, v, staging) },
				"Delete":    func() error { return d.Delete(ctx, v) },
			} {
				err := call()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want an error containing %s", op, err, tc.want)
				}
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Fatal("a mount option ran a command on the node")
			}
		})
	}

	// Allowed options, a host name, a path under the base: the checks
	// pass and the driver goes on to connect (port 1: refused).
	v := good()
	v.Parameters["host"] = "localhost"
	v.Parameters["path"] = base + "/team-a"
	v.MountOptions = []string{"reconnect,compression=yes", "cache=no", "uid=1000", "gid=1000", "umask=022", "idmap=user", "ServerAliveInterval=5", "ro"}
	if err := d.Provision(context.Background(), v); err == nil || !strings.Contains(err.Error(), "failed to") {
		t.Fatalf("allowed volume: got %v, want a connection failure", err)
	}

	// Without a base path every volume is refused, naming the flag.
	none := &volume.SSHFS{IdentityFile: d.IdentityFile, KnownHostsFile: d.KnownHostsFile}
	if err := none.Provision(context.Background(), good()); err == nil || !strings.Contains(err.Error(), "--volume-ssh-base-path") {
		t.Fatalf("no base path: %v", err)
	}
}

// TestSSHFSRefusesSymlinks: a link planted under the base path (as a pod
// can, in its own volume) does not let a PersistentVolume whose path and
// handle lead through it chmod or remove what it points at.
func TestSSHFSRefusesSymlinks(t *testing.T) {
	srv := startSSHD(t)
	victim := t.TempDir()
	if err := os.Chmod(victim, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(srv.Storage, "pvc-a")
	if err := os.MkdirAll(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(planted, "link")); err != nil {
		t.Fatal(err)
	}
	d := srv.driver()
	ctx := context.Background()
	for _, v := range []volume.Volume{
		{Name: "through-handle", Handle: "link", Parameters: srv.params()},
		{Name: "through-path", Handle: "keep", Parameters: srv.params()},
	} {
		v.Parameters["path"] = planted
		if v.Name == "through-path" {
			v.Parameters["path"] = filepath.Join(planted, "link")
		}
		for op, f := range map[string]func(context.Context, volume.Volume) error{"Provision": d.Provision, "Delete": d.Delete} {
			if err := f(ctx, v); err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("%s %s: %v, want a refusal naming the symbolic link", op, v.Name, err)
			}
		}
	}
	st, err := os.Stat(victim)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the link's target: %v %v, want it untouched (0700)", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(victim, "keep")); err != nil {
		t.Errorf("the link's target lost its file: %v", err)
	}
}
