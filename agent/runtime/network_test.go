package runtime_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// ipamEntries reads the built-in network's IPAM file: pod ID → IP.
func ipamEntries(t testing.TB, dataDir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "network", "ipam.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pods map[string]string `json:"pods"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("ipam.json: %v", err)
	}
	return st.Pods
}

// ipCmd runs `ip args...`, failing the test on error.
func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// cidrIP returns the n-th address of a /24 like "10.201.7.0/24".
func cidrIP(cidr string, n int) string {
	_, ipn, _ := net.ParseCIDR(cidr)
	ip := ipn.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], byte(n)).String()
}

func (e *env) setNetwork(cidr string) {
	e.t.Helper()
	if err := e.rt.SetNetwork(context.Background(), api.Network{PodCIDR: cidr, ClusterDomain: "cluster.local"}); err != nil {
		e.t.Fatalf("SetNetwork: %v", err)
	}
}

// bridgeAddrs returns the bridge's IPv4 addresses as CIDR strings.
func bridgeAddrs(t testing.TB, name string) []string {
	t.Helper()
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatalf("bridge %s: %v", name, err)
	}
	addrs, _ := ifc.Addrs()
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			out = append(out, ipn.String())
		}
	}
	return out
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// waitLog waits until the container's log contains want and returns it.
func (e *env) waitLog(pod, container, want string, timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var log string
	for time.Now().Before(deadline) {
		log = e.logs(pod, container, 0)
		if strings.Contains(log, want) {
			return log
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%s/%s log lacks %q: %q; status %s", pod, container, want, log, dump(e.rt.Status()))
	return ""
}

func httpServer() spec.Container {
	return spec.Container{Name: "server", Command: []string{"httpd"}, Args: []string{"-f", "-p", "8080", "-h", "/etc"}}
}

// fetcher gets peer's /etc/hostname over the pod network, then sleeps.
func fetcher(peer string) spec.Container {
	return sh("c", "cat /etc/resolv.conf; echo ===; until wget -q -O - http://"+peer+":8080/hostname; do sleep 0.1; done; exec sleep 3600")
}

// TestSetNetwork: without a pod CIDR pods wait, saying why; SetNetwork
// repairs a bridge a previous run left with another address; two pods get
// distinct IPs from the CIDR and reach each other over the bridge, with
// hairpin on their ports and a ClusterFirst resolv.conf.
func TestSetNetwork(t *testing.T) {
	t.Parallel()
	testSetNetwork(t, runtime.NetworkBuiltin)
}

// TestCNIPlugin is TestSetNetwork through the CNI bridge and host-local
// plugins.
func TestCNIPlugin(t *testing.T) {
	t.Parallel()
	testSetNetwork(t, runtime.NetworkCNI)
}

func testSetNetwork(t *testing.T, plugin string) {
	e := newEnvWith(t, func(c *runtime.Config) { c.PodCIDR, c.NetworkPlugin = "", plugin })
	br := e.rt.BridgeName()
	// A bridge left by a run with another pod CIDR (issue 7).
	wrong := cidrIP(freeCIDR(t), 1) + "/24"
	ipCmd(t, "link", "add", br, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", br).Run() })
	ipCmd(t, "addr", "add", wrong, "dev", br)

	b := newPod("b", "", httpServer())
	e.sync(b)
	e.waitPod("b", "waiting for the network", 10*time.Second, func(p api.PodStatus) bool {
		return p.Phase == api.PodPending && p.Reason == "NetworkNotReady" &&
			p.Message == "waiting for the node's pod CIDR from the leader" && p.PodIP == ""
	})
	if e.rt.Gateway() != "" {
		t.Fatalf("Gateway before SetNetwork = %q", e.rt.Gateway())
	}

	cidr := freeCIDR(t)
	gw := cidrIP(cidr, 1)
	e.setNetwork(cidr)
	if got := bridgeAddrs(t, br); len(got) != 1 || got[0] != gw+"/24" {
		t.Fatalf("bridge addresses %v, want only %s/24", got, gw)
	}
	if e.rt.Gateway() != gw {
		t.Fatalf("Gateway = %q, want %s", e.rt.Gateway(), gw)
	}
	if f, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(f)) != "1" {
		t.Fatalf("ip_forward = %q", f)
	}
	// Again, unchanged: idempotent.
	e.setNetwork(cidr)
	if got := bridgeAddrs(t, br); len(got) != 1 || got[0] != gw+"/24" {
		t.Fatalf("bridge addresses after a second SetNetwork %v", got)
	}

	stB := e.waitPod("b", "running", 30*time.Second, running)
	a := newPod("a", "", fetcher(stB.PodIP))
	e.sync(b, a)
	stA := e.waitPod("a", "running", 30*time.Second, running)
	_, ipn, _ := net.ParseCIDR(cidr)
	for _, ip := range []string{stA.PodIP, stB.PodIP} {
		if p := net.ParseIP(ip); p == nil || !ipn.Contains(p) || ip == gw || ip == cidrIP(cidr, 0) {
			t.Fatalf("pod IP %q not a host address of %s", ip, cidr)
		}
	}
	if stA.PodIP == stB.PodIP {
		t.Fatalf("both pods got %s", stA.PodIP)
	}
	log := e.waitLog("a", "c", "===\nb\n", 20*time.Second)
	want := "nameserver " + gw + "\nsearch default.svc.cluster.local svc.cluster.local cluster.local"
	if !strings.HasPrefix(log, want) || !strings.Contains(log, "options ndots:5\n") {
		t.Fatalf("ClusterFirst resolv.conf:\n%s\nwant it to start with %q and hold ndots:5", log, want)
	}
	if plugin == runtime.NetworkBuiltin {
		for _, p := range []api.Pod{a, b} {
			veth := "stv" + runtime.PodID(p.UID)
			hp, err := os.ReadFile("/sys/class/net/" + veth + "/brport/hairpin_mode")
			if err != nil || strings.TrimSpace(string(hp)) != "1" {
				t.Errorf("hairpin of %s: %q %v", veth, hp, err)
			}
		}
		if got := ipamEntries(t, e.cfg.DataDir); len(got) != 2 || got[runtime.PodID(a.UID)] != stA.PodIP || got[runtime.PodID(b.UID)] != stB.PodIP {
			t.Fatalf("IPAM entries %v", got)
		}
	}
	// Removal releases the IP and deletes the netns and veth.
	e.sync(b)
	e.wait("a removed", 20*time.Second, gone("a"))
	if _, err := os.Stat(runtime.NetnsPath(runtime.PodID(a.UID))); !os.IsNotExist(err) {
		t.Errorf("netns of a left: %v", err)
	}
	if plugin == runtime.NetworkBuiltin {
		if linkExists("stv" + runtime.PodID(a.UID)) {
			t.Error("veth of a left")
		}
		if got := ipamEntries(t, e.cfg.DataDir); len(got) != 1 {
			t.Errorf("IPAM entries after removal %v", got)
		}
	}
}

// TestRestartKeepsIPs: a new Runtime on the same DataDir adopts the pods
// with their IPs (and does not restart them), removes what a killed run
// left (an IPAM entry with its netns and veth, a stray veth on the
// bridge), and gives a new pod a fresh IP that reaches an adopted one.
func TestRestartKeepsIPs(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) { c.PodCIDR = "" })
	cidr := freeCIDR(t)
	e.setNetwork(cidr)
	a := newPod("a", "", httpServer())
	b := newPod("b", "", sh("c", "exec sleep 3600"))
	e.sync(a, b)
	stA := e.waitPod("a", "running", 30*time.Second, running)
	stB := e.waitPod("b", "running", 30*time.Second, running)
	pidA := e.taskPID(a, "server")
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}

	// Leftovers of a killed run.
	br := e.rt.BridgeName()
	ghost := randomID()
	ipamPath := filepath.Join(e.cfg.DataDir, "network", "ipam.json")
	raw, err := os.ReadFile(ipamPath)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	_ = json.Unmarshal(raw, &st)
	st["pods"].(map[string]any)[ghost] = cidrIP(cidr, 200)
	raw, _ = json.Marshal(st)
	if err := os.WriteFile(ipamPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ipCmd(t, "netns", "add", "stv-"+ghost)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", "stv-"+ghost).Run() })
	ghostVeth, strayVeth := "stv"+ghost, "stv"+randomID()
	for _, v := range []string{ghostVeth, strayVeth} {
		ipCmd(t, "link", "add", v, "type", "veth", "peer", "name", "tp"+randomID()[:10])
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", v).Run() })
		ipCmd(t, "link", "set", v, "master", br)
	}

	// A port without hairpin (an older run's): SetNetwork turns it on.
	vethA := "stv" + runtime.PodID(a.UID)
	ipCmd(t, "link", "set", vethA, "type", "bridge_slave", "hairpin", "off")

	e.open()
	// Adopted before any SetNetwork, with their IPs, not restarted.
	stA2 := e.waitPod("a", "adopted", 10*time.Second, running)
	stB2 := e.waitPod("b", "adopted", 10*time.Second, running)
	if stA2.PodIP != stA.PodIP || stB2.PodIP != stB.PodIP || e.taskPID(a, "server") != pidA {
		t.Fatalf("adoption changed the pods: %s", dump(e.rt.Status()))
	}
	if _, err := os.Stat(runtime.NetnsPath(ghost)); !os.IsNotExist(err) {
		t.Errorf("leftover netns stv-%s kept: %v", ghost, err)
	}
	for _, v := range []string{ghostVeth, strayVeth} {
		if linkExists(v) {
			t.Errorf("leftover veth %s kept", v)
		}
	}
	want := map[string]string{runtime.PodID(a.UID): stA.PodIP, runtime.PodID(b.UID): stB.PodIP}
	if got := ipamEntries(t, e.cfg.DataDir); len(got) != 2 || got[runtime.PodID(a.UID)] != stA.PodIP || got[runtime.PodID(b.UID)] != stB.PodIP {
		t.Fatalf("IPAM entries %v, want %v", got, want)
	}

	e.setNetwork(cidr)
	if hp, _ := os.ReadFile("/sys/class/net/" + vethA + "/brport/hairpin_mode"); strings.TrimSpace(string(hp)) != "1" {
		t.Errorf("hairpin of the adopted pod's port after SetNetwork: %q", hp)
	}
	c := newPod("c", "", fetcher(stA.PodIP))
	e.sync(a, b, c)
	stC := e.waitPod("c", "running", 30*time.Second, running)
	if stC.PodIP == stA.PodIP || stC.PodIP == stB.PodIP {
		t.Fatalf("new pod got an adopted pod's IP %s", stC.PodIP)
	}
	e.waitLog("c", "c", "===\na\n", 20*time.Second)
}

// TestResolvConfByDNSPolicy: the resolv.conf, hosts and hostname files
// inside containers for each dnsPolicy, with dnsConfig merged.
func TestResolvConfByDNSPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gw := cidrIP(e.cfg.PodCIDR, 1)
	show := sh("c", "cat /etc/resolv.conf; echo ===; cat /etc/hosts; echo ===; hostname; echo END; exec sleep 3600")
	str := func(s string) *string { return &s }

	cf := newPod("cf", "", show)
	cf.Spec.Hostname, cf.Spec.Subdomain = "web-0", "web"
	cf.Spec.DNSConfig = &spec.PodDNSConfig{
		Nameservers: []string{"10.9.9.9"},
		Searches:    []string{"example.com", "svc.cluster.local"},
		Options:     []spec.PodDNSConfigOption{{Name: "ndots", Value: str("2")}, {Name: "edns0"}},
	}
	def := newPod("def", "", show)
	def.Spec.DNSPolicy = "Default"
	none := newPod("none", "", show)
	none.Spec.DNSPolicy = "None"
	none.Spec.DNSConfig = &spec.PodDNSConfig{
		Nameservers: []string{"1.2.3.4"},
		Searches:    []string{"a.example"},
		Options:     []spec.PodDNSConfigOption{{Name: "ndots", Value: str("1")}},
	}
	e.sync(cf, def, none)

	parts := func(pod string) (resolv, hosts, hostname string) {
		log := e.waitLog(pod, "c", "END\n", 30*time.Second)
		p := strings.SplitN(strings.TrimSuffix(log, "END\n"), "===\n", 3)
		return p[0], p[1], strings.TrimSpace(p[2])
	}

	resolv, hosts, hn := parts("cf")
	lines := strings.Split(strings.TrimSpace(resolv), "\n")
	if len(lines) != 4 || lines[0] != "nameserver "+gw || lines[1] != "nameserver 10.9.9.9" ||
		!strings.HasPrefix(lines[2], "search default.svc.cluster.local svc.cluster.local cluster.local ") ||
		!strings.HasSuffix(lines[2], " example.com") || strings.Count(lines[2], " svc.cluster.local") != 1 ||
		lines[3] != "options ndots:2 edns0" {
		t.Errorf("ClusterFirst with dnsConfig resolv.conf:\n%s", resolv)
	}
	ip := e.waitPod("cf", "running", 10*time.Second, running).PodIP
	if !strings.Contains(hosts, ip+"\tweb-0.web.default.svc.cluster.local\tweb-0\n") || hn != "web-0" {
		t.Errorf("hosts with subdomain:\n%s\nhostname %q", hosts, hn)
	}

	resolv, hosts, hn = parts("def")
	if strings.Contains(resolv, "cluster.local") || strings.Contains(resolv, "nameserver 127.") || strings.Contains(resolv, "ndots:5") {
		t.Errorf("Default resolv.conf sees the cluster or a loopback server:\n%s", resolv)
	}
	ip = e.waitPod("def", "running", 10*time.Second, running).PodIP
	if !strings.Contains(hosts, ip+"\tdef\n") || hn != "def" {
		t.Errorf("hosts without subdomain:\n%s\nhostname %q", hosts, hn)
	}

	resolv, _, _ = parts("none")
	if resolv != "nameserver 1.2.3.4\nsearch a.example\noptions ndots:1\n" {
		t.Errorf("None resolv.conf:\n%q", resolv)
	}
}

// TestPodCIDRChange: should the pod CIDR change under running pods (the
// leader keeps it, so this is a fault), the bridge moves to the new
// gateway and the pods are re-created with IPs in the new CIDR.
func TestPodCIDRChange(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) { c.PodCIDR = "" })
	// An empty pod CIDR (not allocated yet) changes nothing.
	if err := e.rt.SetNetwork(context.Background(), api.Network{}); err != nil || e.rt.Gateway() != "" {
		t.Fatalf("SetNetwork without a CIDR: %v, gateway %q", err, e.rt.Gateway())
	}
	old := freeCIDR(t)
	e.setNetwork(old)
	p := newPod("p", "", sh("c", "exec sleep 3600"))
	e.sync(p)
	st := e.waitPod("p", "running", 30*time.Second, running)

	cidr := freeCIDR(t)
	e.setNetwork(cidr)
	if got := bridgeAddrs(t, e.rt.BridgeName()); len(got) != 1 || got[0] != cidrIP(cidr, 1)+"/24" {
		t.Fatalf("bridge addresses %v after the change", got)
	}
	_, ipn, _ := net.ParseCIDR(cidr)
	st2 := e.waitPod("p", "re-created in the new CIDR", 30*time.Second, func(s api.PodStatus) bool {
		return running(s) && ipn.Contains(net.ParseIP(s.PodIP))
	})
	if st2.PodIP == st.PodIP {
		t.Fatalf("pod kept %s", st.PodIP)
	}
}
