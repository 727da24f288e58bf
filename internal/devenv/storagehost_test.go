package devenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStorageHost starts the storage host on loopback and logs in with the
// client key it made, checking the host key against its known_hosts.
func TestStorageHost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd")
	}
	if os.Getuid() != 0 {
		t.Skip("sshd needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	st, err := startStorageHost(ctx, dir, nil, filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	out, err := exec.CommandContext(ctx, "ssh", "-i", st.IdentityFile, "-o", "UserKnownHostsFile="+st.KnownHostsFile,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", strconv.Itoa(st.Port),
		st.User+"@"+st.Host, "ls -d "+st.Root).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
		t.Fatalf("ssh: %v: %s\nsshd log: %s", err, out, log)
	}
	if got := strings.TrimSpace(string(out)); got != st.Root {
		t.Errorf("ls over ssh = %q, want %q", got, st.Root)
	}
}
