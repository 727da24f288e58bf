package runtime

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/spec"
)

func TestParseResolvConf(t *testing.T) {
	got := parseResolvConf(`# generated
nameserver 127.0.0.53 ; stub
nameserver 192.0.2.1
search old.example
search corp.example. lab.example .
options edns0
options trust-ad ndots:2
bogus
`)
	want := resolvConf{
		Nameservers: []string{"127.0.0.53", "192.0.2.1"},
		Searches:    []string{"corp.example", "lab.example"},
		Options:     []string{"edns0", "trust-ad", "ndots:2"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("parseResolvConf (-want +got):\n%s", d)
	}
}

func TestPodResolvConf(t *testing.T) {
	host := resolvConf{Nameservers: []string{"192.0.2.1", "192.0.2.2"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}}
	s := func(v string) *string { return &v }
	many := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	cases := map[string]struct {
		policy string
		cfg    *spec.PodDNSConfig
		want   string
	}{
		"default policy is ClusterFirst": {"", nil,
			"nameserver 10.244.3.1\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		"ClusterFirstWithHostNet is ClusterFirst": {"ClusterFirstWithHostNet", nil,
			"nameserver 10.244.3.1\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		"ClusterFirst with dnsConfig": {"ClusterFirst", &spec.PodDNSConfig{
			Nameservers: []string{"10.244.3.1", "192.0.2.9"},
			Searches:    []string{"cluster.local", "x.example"},
			Options:     []spec.PodDNSConfigOption{{Name: "ndots", Value: s("1")}, {Name: "single-request"}},
		}, "nameserver 10.244.3.1\nnameserver 192.0.2.9\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local corp.example x.example\noptions ndots:1 single-request\n"},
		"Default is the host's": {"Default", nil,
			"nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch corp.example\noptions edns0\n"},
		"Default with an option removed of its value": {"Default", &spec.PodDNSConfig{
			Nameservers: []string{"192.0.2.3", "192.0.2.4"},
			Options:     []spec.PodDNSConfigOption{{Name: "edns0"}, {Name: "timeout", Value: s("2")}},
		}, "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nsearch corp.example\noptions edns0 timeout:2\n"},
		"None is only dnsConfig": {"None", &spec.PodDNSConfig{
			Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example", "a.example"},
		}, "nameserver 1.1.1.1\nsearch a.example\n"},
		"None without dnsConfig is empty": {"None", nil, ""},
		"at most 32 searches": {"None", &spec.PodDNSConfig{Searches: many("d", 40)},
			"search " + strings.Join(many("d", 32), " ") + "\n"},
	}
	for name, c := range cases {
		ps := spec.PodSpec{DNSPolicy: c.policy, DNSConfig: c.cfg}
		got := podResolvConf(ps, "ns1", "10.244.3.1", "cluster.local", host).String()
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, c.want)
		}
	}
	// 2048 characters at most.
	long := []string{strings.Repeat("a", 1000), strings.Repeat("b", 1000), strings.Repeat("c", 100)}
	got := podResolvConf(spec.PodSpec{DNSPolicy: "None", DNSConfig: &spec.PodDNSConfig{Searches: long}}, "ns1", "", "cluster.local", resolvConf{})
	if len(got.Searches) != 2 {
		t.Errorf("search list of %d chars kept %d domains", len(strings.Join(long, " ")), len(got.Searches))
	}
}

func TestPodHostsFile(t *testing.T) {
	got := podHostsFile("10.244.3.7", "web-0", "web", "shop", "cluster.local")
	if !strings.HasSuffix(got, "\n10.244.3.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n") || !strings.Contains(got, "127.0.0.1\tlocalhost\n") {
		t.Errorf("hosts with subdomain:\n%s", got)
	}
	got = podHostsFile("10.244.3.7", "p", "", "shop", "cluster.local")
	if !strings.HasSuffix(got, "\n10.244.3.7\tp\n") {
		t.Errorf("hosts without subdomain:\n%s", got)
	}
}

func TestIPAM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.json")
	a, err := loadIPAM(path)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := parseNetConf("10.250.1.0/29", "")
	if err != nil {
		t.Fatal(err)
	}
	if nc.gateway.String() != "10.250.1.1" || nc.domain != "cluster.local" {
		t.Fatalf("gateway %s domain %s", nc.gateway, nc.domain)
	}
	// A /29: .0 network, .1 gateway, .7 broadcast; .2-.6 for pods.
	var got []string
	for i := range 5 {
		ip, err := a.allocate(fmt.Sprintf("p%d", i), nc.cidr, nc.gateway)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	if d := cmp.Diff([]string{"10.250.1.2", "10.250.1.3", "10.250.1.4", "10.250.1.5", "10.250.1.6"}, got); d != "" {
		t.Fatalf("allocations (-want +got):\n%s", d)
	}
	if _, err := a.allocate("p5", nc.cidr, nc.gateway); err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("allocation in a full CIDR: %v", err)
	}
	// Idempotent for the same pod.
	if ip, _ := a.allocate("p2", nc.cidr, nc.gateway); ip.String() != "10.250.1.4" {
		t.Fatalf("re-allocation gave %s", ip)
	}
	if err := a.release("p1"); err != nil {
		t.Fatal(err)
	}
	// Durable: a new process sees the same state.
	b, err := loadIPAM(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"p0": "10.250.1.2", "p2": "10.250.1.4", "p3": "10.250.1.5", "p4": "10.250.1.6"}, b.ids()); d != "" {
		t.Fatalf("reloaded state (-want +got):\n%s", d)
	}
	if ip, _ := b.allocate("p6", nc.cidr, nc.gateway); ip.String() != "10.250.1.3" {
		t.Fatalf("freed address not reused when it is the only one: %s", ip)
	}
	// After a release the next search starts past the last one handed out.
	_ = b.release("p0")
	_ = b.release("p4")
	if ip, _ := b.allocate("p7", nc.cidr, nc.gateway); ip.String() != "10.250.1.6" {
		t.Fatalf("allocation after .3 gave %s, want .6 (then .2)", ip)
	}
	// Adoption: unknown pods dropped, adopted IPs recorded.
	stale, err := b.retain(map[string]string{"p2": "10.250.1.4", "p9": "10.250.1.2", "p3": ""})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"p6", "p7"}, stale); d != "" {
		t.Fatalf("stale (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"p2": "10.250.1.4", "p3": "10.250.1.5", "p9": "10.250.1.2"}, b.ids()); d != "" {
		t.Fatalf("retained (-want +got):\n%s", d)
	}
	c, _ := loadIPAM(path)
	if len(c.ids()) != 3 {
		t.Fatalf("retain not persisted: %v", c.ids())
	}
	// A new CIDR: the pod gets an address in it.
	nc2, _ := parseNetConf("10.250.2.0/24", "")
	if ip, _ := c.allocate("p2", nc2.cidr, nc2.gateway); !nc2.cidr.Contains(ip) {
		t.Fatalf("allocation in the new CIDR gave %s", ip)
	}
	if !nc2.cidr.Contains(net.ParseIP("10.250.2.9")) {
		t.Fatal("CIDR parse")
	}
}

func TestBridgeMAC(t *testing.T) {
	m := bridgeMAC("stv-abc")
	if m[0]&1 != 0 || m[0]&2 == 0 || m.String() != bridgeMAC("stv-abc").String() || m.String() == bridgeMAC("stv-abd").String() {
		t.Fatalf("bridge MAC %s: not a stable, locally administered unicast address", m)
	}
}

func TestTruncateHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	if got := truncateHostname(long); got != strings.Repeat("a", 62) {
		t.Errorf("truncateHostname(%q) = %q", long, got)
	}
	if got := truncateHostname("web-0"); got != "web-0" {
		t.Errorf("short name changed: %q", got)
	}
}
