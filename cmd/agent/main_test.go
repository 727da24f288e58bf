package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/agent/volume"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/spec"
)

// parse runs the command with args and returns the config it would run.
func parse(t *testing.T, args ...string) (agent.Config, error) {
	t.Helper()
	got, _, err := parseMode(t, args...)
	return got, err
}

// parseMode also says whether the command would tear down instead of run.
func parseMode(t *testing.T, args ...string) (agent.Config, bool, error) {
	t.Helper()
	var got agent.Config
	var tore bool
	cmd := newCommand(
		func(_ context.Context, cfg agent.Config) error { got = cfg; return nil },
		func(_ context.Context, cfg agent.Config) error { got, tore = cfg, true; return nil },
	)
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(new(strings.Builder))
	err := cmd.Execute()
	return got, tore, err
}

func TestFlagsMapOntoConfig(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("stv1.abc.def\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parse(t,
		"--token-file", tokenFile, "--server", "https://10.0.0.9:7070,https://10.0.0.10:7070",
		"--node", "n1", "--join", "127.0.0.1:1", "--join", "127.0.0.1:2", "--gossip", "127.0.0.1:3", "--gossip-profile", "large",
		"--api", "127.0.0.1:4", "--advertise-api", "http://10.0.0.1:4", "--data-dir", "/d",
		"--containerd", "/s.sock", "--containerd-namespace", "ns",
		"--insecure-registry", "127.0.0.1:5000", "--insecure-registry", "r:5001",
		"--pod-cidr", "10.1.2.0/24", "--bridge", "br9", "--label", "zone=a", "--label", "ssd=",
		"--taint", "gpu=yes:NoSchedule", "--taint", "spot:PreferNoSchedule",
		"--cpu", "1500m", "--memory", "2Gi", "--max-pods", "9", "--watch-heartbeat", "2s", "--log-level", "debug", "--events-kept", "50",
		"--extended-resource", "nvidia.com/gpu=2", "--extended-resource", "hugepages-2Mi=1Gi",
		"--network-plugin", "cni", "--vxlan", "always", "--dns-upstream", "192.0.2.53:53", "--dns-upstream", "[2001:db8::1]:53",
		"--allow-privileged", "--pod-pids-limit", "100",
		"--volume-plugin-dir", "/p", "--volume-plugin-timeout", "30s", "--volume-local-dir-root", "/ld",
		"--volume-local-block-root", "/lb", "--volume-ssh-identity", "/id", "--volume-ssh-known-hosts", "/kh",
		"--volume-ssh-base-path", "/srv/a", "--volume-ssh-base-path", "/srv/b",
		"--container-log-max-size", "2Mi", "--container-log-max-files", "3",
	)
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Config{
		NodeName: "n1", Join: []string{"127.0.0.1:1", "127.0.0.1:2"}, GossipAddr: "127.0.0.1:3", GossipProfile: "large",
		APIAddr: "127.0.0.1:4", AdvertiseAPI: "http://10.0.0.1:4", DataDir: "/d",
		ContainerdAddress: "/s.sock", ContainerdNamespace: "ns",
		InsecureRegistries: []string{"127.0.0.1:5000", "r:5001"},
		PodCIDR:            "10.1.2.0/24", BridgeName: "br9",
		Labels:              map[string]string{"zone": "a", "ssd": ""},
		Taints:              []spec.Taint{{Key: "gpu", Value: "yes", Effect: "NoSchedule"}, {Key: "spot", Effect: "PreferNoSchedule"}},
		AllocatableMilliCPU: 1500, AllocatableMemory: 2 << 30, MaxPods: 9, WatchHeartbeat: 2 * time.Second,
		ExtendedResources: map[string]int64{"nvidia.com/gpu": 2, "hugepages-2Mi": 1 << 30},
		NetworkPlugin:     "cni", VXLAN: "always", DNSUpstreams: []string{"192.0.2.53:53", "[2001:db8::1]:53"},
		DNSPort: agent.DefaultDNSPort, EventsKept: 50, AllowPrivileged: true, PodPidsLimit: 100,
		Volumes: volume.Config{PluginDir: "/p", PluginTimeout: 30 * time.Second, LocalDirRoot: "/ld",
			LocalBlockRoot: "/lb", SSHIdentityFile: "/id", SSHKnownHostsFile: "/kh",
			SSHBasePaths: []string{"/srv/a", "/srv/b"}},
		ContainerLogMaxSize: 2 << 20, ContainerLogMaxFiles: 3,
		Security: agent.SecurityConfig{Token: "stv1.abc.def", Servers: []string{"https://10.0.0.9:7070", "https://10.0.0.10:7070"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(agent.Config{}, "Logger")); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if got.Logger == nil || !got.Logger.Enabled(context.Background(), -4) {
		t.Error("--log-level debug did not give a debug logger")
	}

	def, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if def.ContainerdAddress != DefaultContainerdAddress || def.APIAddr != agent.DefaultAPIAddr ||
		def.GossipAddr != agent.DefaultGossipAddr || def.MaxPods != agent.DefaultMaxPods ||
		def.PodCIDR != "" || def.AllowPrivileged || def.PodPidsLimit != runtime.DefaultPodPidsLimit || def.NetworkPlugin != agent.NetworkBuiltin || def.VXLAN != agent.VXLANAuto ||
		def.ContainerLogMaxSize != agent.DefaultContainerLogMaxSize || def.ContainerLogMaxFiles != agent.DefaultContainerLogMaxFiles {
		t.Errorf("defaults: %+v", def)
	}
	if _, tore, err := parseMode(t, "--teardown", "--node", "n1"); err != nil || !tore {
		t.Errorf("--teardown: teardown called %v, err %v", tore, err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--label", "novalue"},
		{"--taint", "gpu"},
		{"--cpu", "lots"},
		{"--memory", "2Gb!"},
		{"--log-level", "loud"},
		{"--extended-resource", "nvidia.com/gpu"},
		{"--extended-resource", "nvidia.com/gpu=half"},
		{"--extended-resource", "nvidia.com/gpu=500m"},
		{"--extended-resource", "=1"},
		{"--containerd", ""},
		{"extra-arg"},
		{"--token-file", "/nonexistent/token", "--server", "https://r:7070"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestBinary runs the real agent binary against a private containerd and a
// serf member gossiping with the cluster's key: with credentials in its
// data dir (as a join leaves them) it joins with its tags, serves the API
// over mutual TLS with the real runtime, leaves on SIGTERM, and is
// declared failed after SIGKILL.
func TestBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "agent")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctrd := devenv.TestContainerd(t)

	// The cluster's credentials, as a join leaves them in the data dir.
	dataDir := t.TempDir()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	gk, _ := pki.NewGossipKey()
	nodeCert, nodeKey, err := ca.Issue(pki.Request{User: pki.NodeUser("bin-n1"), IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	pubCA, _ := pki.LoadCA(ca.CertPEM, nil)
	m := &pki.Material{CA: pubCA, GossipKey: gk, Self: pki.KeyPair{CertPEM: nodeCert, KeyPEM: nodeKey}}
	if err := m.SaveDir(filepath.Join(dataDir, "pki")); err != nil {
		t.Fatal(err)
	}
	recCert, recKey, _ := ca.Issue(pki.Request{User: pki.ReconcilerUser("r1")})
	tlsConf, err := ca.ClientTLS(pki.KeyPair{CertPEM: recCert, KeyPEM: recKey}, policy.GroupNodes)
	if err != nil {
		t.Fatal(err)
	}

	gossipPort := freePort(t)
	conf := api.SerfConfig("reconciler", "127.0.0.1", gossipPort, testLogger(t))
	conf.Tags = map[string]string{api.TagRole: api.RoleReconciler}
	if err := api.EncryptGossip(conf, gk); err != nil {
		t.Fatal(err)
	}
	rec, err := serf.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Shutdown()

	bridge := "stvt" + strconv.Itoa(os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	apiAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	args := []string{
		"--node", "bin-n1", "--join", "127.0.0.1:" + strconv.Itoa(gossipPort),
		"--gossip", "127.0.0.1:" + strconv.Itoa(freePort(t)), "--api", apiAddr,
		"--data-dir", dataDir, "--containerd", ctrd.Address, "--bridge", bridge,
		"--pod-cidr", "10.231.7.0/24", "--label", "zone=t", "--cpu", "2", "--memory", "1Gi",
	}
	start := func() (*exec.Cmd, *strings.Builder) {
		var logs strings.Builder
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd, &logs
	}
	status := func() serf.MemberStatus {
		for _, m := range rec.Members() {
			if m.Name == "bin-n1" {
				return m.Status
			}
		}
		return serf.StatusNone
	}
	wait := func(what string, logs *strings.Builder, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; agent log:\n%s", what, logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	cmd, logs := start()
	wait("agent alive in membership", logs, func() bool { return status() == serf.StatusAlive })
	var tags map[string]string
	for _, m := range rec.Members() {
		if m.Name == "bin-n1" {
			tags = m.Tags
		}
	}
	info, err := api.DecodeTags("bin-n1", tags)
	if err != nil {
		t.Fatal(err)
	}
	if info.APIAddr != "https://"+apiAddr || info.Allocatable.MilliCPU != 2000 || info.Allocatable.Memory != 1<<30 ||
		info.Labels["zone"] != "t" || info.PodCIDR != "10.231.7.0/24" {
		t.Errorf("advertised %+v", info)
	}
	if _, err := api.NewClient(info.APIAddr, nil).Info(ctx); err == nil {
		t.Error("the agent answered a client without a certificate")
	}
	c := api.NewClient(info.APIAddr, &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}})
	if _, err := c.Apply(ctx, api.PodSet{Node: "bin-n1", Term: 1, Generation: 1}); err != nil {
		t.Fatalf("Apply to the real runtime: %v\n%s", err, logs)
	}
	l, err := c.Pods(ctx)
	if err != nil || l.Term != 1 || l.Generation != 1 || len(l.Pods) != 0 {
		t.Fatalf("Pods = %+v, %v", l, err)
	}

	// SIGTERM: a graceful leave, exit 0.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent exited with %v after SIGTERM:\n%s", err, logs)
	}
	wait("agent left", logs, func() bool { return status() == serf.StatusLeft })

	// Restarted, it still refuses the old term; SIGKILL is seen as a failure.
	cmd, logs = start()
	wait("agent alive again", logs, func() bool { return status() == serf.StatusAlive })
	wait("agent API up", logs, func() bool { _, err := c.Info(ctx); return err == nil })
	if _, err := c.Apply(ctx, api.PodSet{Node: "bin-n1", Term: 0, Generation: 5}); !errors.Is(err, api.ErrStale) {
		t.Errorf("restarted agent accepted a lower term: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	killed := time.Now()
	wait("killed agent failed", logs, func() bool { return status() == serf.StatusFailed })
	t.Logf("killed agent process declared failed after %s", time.Since(killed).Round(10*time.Millisecond))
}

func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free TCP+UDP port")
	return 0
}

func testLogger(*testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestOwnPorts: the agent's API and gossip ports are reserved from node
// ports; a port 0 (picked at start) is not known in advance.
func TestOwnPorts(t *testing.T) {
	got := ownPorts(agent.Config{APIAddr: "127.0.0.1:7701", GossipAddr: "0.0.0.0:7947"})
	if len(got) != 2 || got[0] != 7701 || got[1] != 7947 {
		t.Errorf("ownPorts = %v, want [7701 7947]", got)
	}
	if got := ownPorts(agent.Config{APIAddr: "127.0.0.1:0", GossipAddr: "bad"}); len(got) != 0 {
		t.Errorf("ownPorts = %v, want none", got)
	}
}
