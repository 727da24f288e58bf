package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnits checks the shipped units with systemd's own parser
// (systemd-analyze verify: unknown keys, bad values, a missing executable),
// over copies whose ExecStart points at an executable that exists, and the
// lines the install depends on.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is needed: apt-get install systemd (make deps)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := regexp.MustCompile(`/opt/stevedore/bin/([a-z-]+)`)
	want := map[string][]string{
		"stevedore-reconciler.service": {"EnvironmentFile=/etc/stevedore/reconciler.env", "Restart=always",
			"User=stevedore", "StateDirectory=stevedore/reconciler", "ProtectSystem=strict", "NoNewPrivileges=yes"},
		"stevedore-agent.service": {"EnvironmentFile=/etc/stevedore/agent.env", "Restart=always",
			"After=network-online.target containerd.service", "KillMode=process", "StateDirectory=stevedore/agent"},
	}
	for name, lines := range want {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		unit := string(b)
		for _, l := range lines {
			if !strings.Contains("\n"+unit+"\n", "\n"+l+"\n") {
				t.Errorf("%s has no line %q", name, l)
			}
		}
		if name == "stevedore-agent.service" {
			// Each of these gives the unit a mount namespace of its own,
			// hiding the agent's volume mounts from containerd.
			for _, k := range []string{"ProtectSystem=", "ProtectHome=", "PrivateTmp=", "PrivateDevices=", "ReadWritePaths=", "ReadOnlyPaths=", "PrivateMounts=", "TemporaryFileSystem="} {
				if strings.Contains(unit, "\n"+k) {
					t.Errorf("%s sets %s, which would hide the agent's mounts from containerd", name, k)
				}
			}
		}
		for _, m := range exe.FindAllStringSubmatch(unit, -1) {
			if err := os.WriteFile(filepath.Join(bin, m[1]), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		unit = exe.ReplaceAllString(unit, bin+"/$1")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, name))
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) != 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
	}
}
