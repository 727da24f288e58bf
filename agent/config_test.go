package agent

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{NodeName: "n1"}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIAddr != DefaultAPIAddr || cfg.GossipAddr != DefaultGossipAddr || cfg.PodCIDR != "" ||
		cfg.DNSPort != DefaultDNSPort || cfg.NetworkPlugin != NetworkBuiltin || cfg.VXLAN != VXLANAuto || cfg.NetworkRetryInterval != DefaultNetworkRetry ||
		cfg.DataDir != "/var/lib/stevedore/n1" || cfg.ContainerdNamespace != "stevedore-n1" ||
		cfg.MaxPods != DefaultMaxPods || cfg.WatchHeartbeat != DefaultWatchHeartbeat || cfg.Logger == nil ||
		cfg.AllocatableMilliCPU <= 0 || cfg.AllocatableMemory <= 0 {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"api without port":     {APIAddr: "127.0.0.1"},
		"gossip host name":     {GossipAddr: "localhost:7947"},
		"gossip bad port":      {GossipAddr: "127.0.0.1:99999"},
		"advertise no scheme":  {AdvertiseAPI: "10.0.0.1:7701"},
		"bad pod CIDR":         {PodCIDR: "10.0.0.0"},
		"bad taint effect":     {Taints: []spec.Taint{{Key: "k", Effect: "Sometimes"}}},
		"negative cpu":         {AllocatableMilliCPU: -1},
		"unqualified extended": {ExtendedResources: map[string]int64{"gpu": 1}},
		"native extended":      {ExtendedResources: map[string]int64{"cpu": 1}},
		"negative extended":    {ExtendedResources: map[string]int64{"nvidia.com/gpu": -1}},
		"hugepages not whole":  {ExtendedResources: map[string]int64{"hugepages-2Mi": 3 << 20}},
		"hugepages bad size":   {ExtendedResources: map[string]int64{"hugepages-big": 1}},
		"unknown plugin":       {NetworkPlugin: "calico"},
		"unknown vxlan mode":   {VXLAN: "never"},
		"upstream not an IP":   {DNSUpstreams: []string{"resolver"}},
		"negative DNS port":    {DNSPort: -1},
	} {
		cfg.NodeName = "n1"
		if _, err := cfg.WithDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAdvertiseURL(t *testing.T) {
	for _, tc := range []struct {
		bound, gossip, want string
	}{
		{"127.0.0.1:7701", "127.0.0.1:7947", "http://127.0.0.1:7701"},
		{"0.0.0.0:7701", "10.1.2.3:7947", "http://10.1.2.3:7701"},
		{"[::]:7701", "10.1.2.3:7947", "http://10.1.2.3:7701"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := advertiseURL(a, tc.gossip); got != tc.want {
			t.Errorf("advertiseURL(%s, %s) = %s, want %s", tc.bound, tc.gossip, got, tc.want)
		}
	}
	// Both unspecified: some address of this machine, never 0.0.0.0.
	a, _ := net.ResolveTCPAddr("tcp", "0.0.0.0:7701")
	if got := advertiseURL(a, "0.0.0.0:7947"); strings.Contains(got, "0.0.0.0") || !strings.HasSuffix(got, ":7701") {
		t.Errorf("advertiseURL with unspecified hosts = %s", got)
	}
}

func TestParseMemTotal(t *testing.T) {
	got, err := parseMemTotal(bufio.NewScanner(strings.NewReader("MemFree: 1 kB\nMemTotal:  2048 kB\n")))
	if err != nil || got != 2048*1024 {
		t.Errorf("parseMemTotal = %d, %v", got, err)
	}
	if _, err := parseMemTotal(bufio.NewScanner(strings.NewReader("MemFree: 1 kB\n"))); err == nil {
		t.Error("parseMemTotal without MemTotal: no error")
	}
}

func TestGossipProfileValidated(t *testing.T) {
	for _, p := range []string{"", api.GossipLocal, api.GossipLarge} {
		cfg := testConfig(t, "n1")
		cfg.GossipProfile = p
		if err := cfg.validate(); err != nil {
			t.Errorf("profile %q: %v", p, err)
		}
	}
	cfg := testConfig(t, "n1")
	cfg.GossipProfile = "huge"
	if err := cfg.validate(); !errors.Is(err, api.ErrGossipProfile) {
		t.Errorf("profile huge: %v, want ErrGossipProfile", err)
	}
}
