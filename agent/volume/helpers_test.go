package volume_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/stevedore-dev/stevedore/agent/volume"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("volume driver tests mount file systems and need root")
	}
}

func needTool(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: install the Debian package %s (make deps)", path, pkg)
	}
}

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// examplePluginDir builds the example plug-in once into a plug-in
// directory, installed as example.com/dir.
func examplePluginDir(t testing.TB) string {
	t.Helper()
	pluginOnce.Do(func() {
		pluginDir, pluginErr = os.MkdirTemp("", "volume-plugins-")
		if pluginErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", volume.PluginPath(pluginDir, "example.com/dir"), "./plugin-example").CombinedOutput()
		if err != nil {
			pluginErr = fmt.Errorf("go build ./plugin-example: %w: %s", err, out)
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

// sshServer is a private sshd on 127.0.0.1, as a storage host for the
// sshfs driver: its own config, host key and authorized key in a temp
// dir, logging in as root with a key.
type sshServer struct {
	Port                 int
	Identity, KnownHosts string
	Storage              string
}

func writeKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startSSHD(t testing.TB) *sshServer {
	t.Helper()
	needRoot(t)
	needTool(t, "/usr/sbin/sshd", "openssh-server")
	needTool(t, "/usr/bin/sshfs", "sshfs")
	// sshd refuses to start without its privilege separation directory,
	// which Debian creates at boot.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &sshServer{
		Identity:   filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Storage:    filepath.Join(dir, "storage"),
	}
	if err := os.Mkdir(s.Storage, 0o755); err != nil {
		t.Fatal(err)
	}
	hostKey := writeKey(t, filepath.Join(dir, "host_key"))
	userKey := writeKey(t, s.Identity)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userKey), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		s.Port = freePort(t)
		conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_key
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
`, s.Port, dir)
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfgPath)
		log, err := os.Create(filepath.Join(dir, "sshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); log.Close(); close(exited) }()
		if waitListening(s.Port, exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			break
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 3 {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not start: %s", b)
		}
	}
	line := "[127.0.0.1]:" + strconv.Itoa(s.Port) + " " + string(ssh.MarshalAuthorizedKey(hostKey))
	if err := os.WriteFile(s.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitListening waits (bounded) until port accepts or the server exits.
func waitListening(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (s *sshServer) driver() *volume.SSHFS {
	return &volume.SSHFS{IdentityFile: s.Identity, KnownHostsFile: s.KnownHosts, BasePaths: []string{s.Storage}}
}

func (s *sshServer) params() map[string]string {
	return map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(s.Port), "user": "root", "path": s.Storage}
}
