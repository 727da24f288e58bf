package runtime_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// freePort returns a TCP port of loopback nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestHostNetworkPod: a host-network pod starts while the node's pod
// network is not configured (no SetNetwork: other pods wait), its IP is the
// node's address, its server listens in the agent's own network namespace
// (this test reaches it on loopback), its resolv.conf is the host's
// (ClusterFirst means Default for it), an agent restart adopts it as it
// runs, and removing it leaves no pod namespace and takes no address from
// IPAM.
func TestHostNetworkPod(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) { c.PodCIDR, c.HostIP, c.AllowPrivileged = "", "127.0.0.1", true })
	port := freePort(t)
	p := newPod("hostnet", spec.RestartPolicyAlways, spec.Container{Name: "server", Command: []string{"httpd"},
		Args: []string{"-f", "-p", "127.0.0.1:" + strconv.Itoa(port), "-h", "/etc"}})
	p.Spec.HostNetwork = true
	other := newPod("podnet", spec.RestartPolicyAlways, sh("c", "exec sleep 3600"))
	e.sync(p, other)
	st := e.waitPod("hostnet", "running", 60*time.Second, running)
	if st.PodIP != "127.0.0.1" {
		t.Errorf("podIP = %q, want the node's address 127.0.0.1", st.PodIP)
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/resolv.conf")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host-network pod's server on 127.0.0.1:%d never answered in the agent's namespace: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(body, "ndots:5") || strings.Contains(body, "svc.cluster.local") {
		t.Errorf("host-network pod's resolv.conf has the cluster's settings:\n%s", body)
	}
	for _, s := range e.rt.Status() {
		if s.Name == "podnet" && (s.Phase != api.PodPending || s.PodIP != "") {
			t.Errorf("pod-network pod without a configured network: phase %s, IP %q; want Pending without IP", s.Phase, s.PodIP)
		}
	}
	if n := len(ipamEntries(t, e.cfg.DataDir)); n != 0 {
		t.Errorf("IPAM holds %d addresses, want none", n)
	}
	// An agent restart adopts it as it runs: same process, same IP.
	pid := e.taskPID(p, "server")
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	st2 := e.waitPod("hostnet", "adopted", 10*time.Second, running)
	if st2.PodIP != "127.0.0.1" || e.taskPID(p, "server") != pid || st2.Containers[0].RestartCount != 0 {
		t.Fatalf("adoption changed the host-network pod: %s", dump(e.rt.Status()))
	}
	e.sync()
	e.wait("pods gone", 60*time.Second, func(ps []api.PodStatus) bool { return len(ps) == 0 })
	matches, _ := filepath.Glob("/var/run/netns/stv-*" + strings.TrimPrefix(p.UID, "hostnet-") + "*")
	if len(matches) != 0 {
		t.Errorf("namespaces left for the host-network pod: %v", matches)
	}
}

// TestHostNetworkReplacementIsSequenced: a set that replaces a
// host-network pod of a workload with another (the new pod in it, the old
// one gone, as the leader replaces a self-hosted reconciler's pod in one
// set) starts the new pod only once the old one stopped: the old pod holds
// its port until it is killed (up to its 3 s grace), and the new pod's
// server, on the same port, never fails to bind (no restart).
func TestHostNetworkReplacementIsSequenced(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) { c.PodCIDR, c.HostIP, c.AllowPrivileged = "", "127.0.0.1", true })
	port := strconv.Itoa(freePort(t))
	mk := func(name, script string) api.Pod {
		p := newPod(name, spec.RestartPolicyAlways, sh("server", script))
		p.Spec.HostNetwork = true
		grace := int64(3)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Owner = "DaemonSet/default/r"
		return p
	}
	old := mk("r-old", `httpd -f -p 127.0.0.1:`+port+` -h /etc & trap 'sleep 1; kill $!; exit 0' TERM; while true; do sleep 0.1; done`)
	e.sync(old)
	e.waitPod("r-old", "running", 60*time.Second, running)
	nu := mk("r-new", `exec httpd -f -p 127.0.0.1:`+port+` -h /etc`)
	e.sync(nu)
	st := e.waitPod("r-new", "running", 60*time.Second, running)
	e.wait("old pod gone", 30*time.Second, gone("r-old"))
	// Running for a while without a restart: its bind succeeded.
	time.Sleep(300 * time.Millisecond)
	st = e.waitPod("r-new", "running", 10*time.Second, running)
	if n := st.Containers[0].RestartCount; n != 0 {
		t.Fatalf("the new pod restarted %d times: it started while the old one held the port", n)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/hostname")
	if err != nil {
		t.Fatalf("the new pod does not answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != "r-new" {
		t.Errorf("port %s answered by %q, want r-new", port, b)
	}
}

// TestHostNetworkReplacesPodNetworkSequenced: a workload moved from the
// pod network to the host's (a DaemonSet's template gaining hostNetwork,
// replaced in one set) shares what its node keeps for it (a hostPath data
// dir here, and the ports the new pod takes on the host): the new
// host-network pod starts only once the old pod-network pod has stopped,
// which removes its marker from the shared directory as it exits.
func TestHostNetworkReplacesPodNetworkSequenced(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) {
		c.HostIP, c.AllowPrivileged, c.AllowHostPaths = "127.0.0.1", true, true
	})
	dir := t.TempDir()
	mk := func(name, script string, hostNet bool) api.Pod {
		c := sh("app", script)
		c.VolumeMounts = []spec.VolumeMount{{Name: "data", MountPath: "/data"}}
		p := newPod(name, spec.RestartPolicyAlways, c)
		p.Spec.HostNetwork = hostNet
		p.Spec.Volumes = []spec.Volume{{Name: "data", VolumeSource: spec.VolumeSource{HostPath: &spec.HostPathVolumeSource{Path: dir}}}}
		grace := int64(3)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Owner = "DaemonSet/default/d"
		return p
	}
	old := mk("d-old", `touch /data/old; trap 'sleep 1; rm -f /data/old; exit 0' TERM; while true; do sleep 0.1; done`, false)
	e.sync(old)
	e.waitPod("d-old", "running", 60*time.Second, running)
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(filepath.Join(dir, "old")); err != nil; _, err = os.Stat(filepath.Join(dir, "old")) {
		if time.Now().After(deadline) {
			t.Fatalf("the old pod never wrote its marker: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	nu := mk("d-new", `if [ -e /data/old ]; then echo started: overlap; else echo started: alone; fi; exec sleep 3600`, true)
	e.sync(nu)
	e.waitPod("d-new", "running", 60*time.Second, running)
	if l := e.waitLog("d-new", "app", "started:", 10*time.Second); !strings.Contains(l, "started: alone") {
		t.Fatalf("the host-network pod started while its pod-network predecessor ran: %q", l)
	}
	e.wait("old pod gone", 30*time.Second, gone("d-old"))
}
