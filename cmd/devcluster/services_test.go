package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// shopManifests are a backend of hello pods spread over the three hosts,
// the Services in front of it (ClusterIP with a TCP and a UDP port,
// ClientIP affinity, headless, NodePort, and one selecting nothing), a
// client pod that calls the backend by its short name in a loop, and a pod
// whose dnsPolicy Default keeps cluster names away from it.
const shopManifests = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: shop}
spec:
  replicas: %d
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      terminationGracePeriodSeconds: 2
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: DoNotSchedule
          labelSelector: {matchLabels: {app: backend}}
      containers:
        - name: hello
          image: 127.0.0.1:5000/stevedore/hello:v1
          ports:
            - {name: http, containerPort: 8080}
            - {name: echo, containerPort: 8080, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: shop}
spec:
  selector: {app: backend}
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: echo, port: 53, protocol: UDP, targetPort: echo}
---
apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: shop}
spec:
  selector: {app: backend}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: peers, namespace: shop}
spec:
  clusterIP: None
  selector: {app: backend}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: shop}
spec:
  type: NodePort
  selector: {app: backend}
  ports: [{port: 80, targetPort: http, nodePort: 30090}]
---
apiVersion: v1
kind: Service
metadata: {name: nothing, namespace: shop}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: 127.0.0.1:5000/stevedore/hello:v1
      command: ["/usr/local/bin/hello", "fetch", "http://backend/"]
      env: [{name: FETCH_INTERVAL, value: 300ms}]
---
apiVersion: v1
kind: Pod
metadata: {name: outsider, namespace: shop}
spec:
  dnsPolicy: Default
  terminationGracePeriodSeconds: 1
  containers:
    - name: outsider
      image: 127.0.0.1:5000/stevedore/busybox:1.35
      command: ["sh", "-c", "cat /etc/resolv.conf; echo RESOLV-END; exec sleep 3600"]
`

// TestServices runs Services end to end on three hosts (network
// namespaces, each with its own agent): pods get their CIDR from the
// leader, a client reaches every backend pod through a Service's name,
// UDP, session affinity, headless names, NodePorts and hairpin traffic
// work, the set follows scaling within a second, and an agent killed and
// restarted gets its rules and DNS back without restarting its pods.
func TestServices(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: runs containerd, a registry, a reconciler and 3 agents in network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := buildBinaries(t)
	c, err := devenv.StartCluster(ctx, devenv.ClusterConfig{
		BinDir:     bin,
		Examples:   "../../examples-repo",
		NodePrefix: fmt.Sprintf("sv%d", os.Getpid()%1000),
		Netns:      true,
		SkipSeed:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopLogging(t, c) })
	e := &e2e{t: t, ctx: ctx, c: c, seen: map[string]bool{}}
	e.commit("Shop", map[string]string{"shop.yaml": fmt.Sprintf(shopManifests, 3)})

	pods := waitPodsOf(t, ctx, c, "the shop running", "shop", 2*time.Minute, func(ps []rapi.Pod) bool {
		return len(ps) == 5 && allSettled(ps)
	})
	backends := map[string]rapi.Pod{}
	var client, outsider rapi.Pod
	nodes := map[string]bool{}
	for _, p := range pods {
		switch {
		case p.Labels["app"] == "backend":
			backends[p.Name] = p
			nodes[p.Node] = true
		case p.Name == "client":
			client = p
		case p.Name == "outsider":
			outsider = p
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("backends on %d nodes, want 3 (topology spread)", len(nodes))
	}
	// Every node has its own pod CIDR from the leader: no two pods share
	// an IP, and each pod's IP is in its node's CIDR.
	cidrs := nodeCIDRs(t, ctx, c)
	for _, p := range pods {
		pfx, ok := cidrs[p.Node]
		if !ok || !pfx.Contains(netip.MustParseAddr(p.PodIP)) {
			t.Errorf("pod %s has IP %s, outside its node %s's CIDR %v", p.Name, p.PodIP, p.Node, pfx)
		}
	}
	if len(cidrs) != 3 || cidrs[c.Agents[0].Name] == cidrs[c.Agents[1].Name] {
		t.Errorf("node CIDRs %v, want 3 distinct", cidrs)
	}

	clusterIP := jsonpath(t, ctx, c, "svc", "backend", "{.spec.clusterIP}")
	if !netip.MustParsePrefix("10.96.0.0/16").Contains(netip.MustParseAddr(clusterIP)) && !strings.HasPrefix(clusterIP, "10.") {
		t.Fatalf("backend's cluster IP %q", clusterIP)
	}
	clientNS := strings.TrimPrefix(podNetns(client.UID), "/var/run/netns/")

	// The client reaches all three backends through the virtual IP…
	seen := callMany(t, ctx, clientNS, "http://"+clusterIP+"/", 30)
	wantAll(t, "ClusterIP", seen, backends)
	// …and through the Service's short name, resolved by its node's DNS
	// server through the search path of its resolv.conf.
	waitLog(t, ctx, c, "shop", "client", func(log string) bool {
		got := map[string]bool{}
		for _, m := range podName.FindAllStringSubmatch(log, -1) {
			got[m[1]] = true
		}
		return len(got) == len(backends)
	}, "the client's calls to http://backend/ answered by every backend pod")

	// DNS, asked from inside the client pod as its resolv.conf says.
	dnsAddr := gatewayOf(client.PodIP) + ":53"
	if got := lookup(t, clientNS, dnsAddr, "backend.shop.svc.cluster.local.", dns.TypeA); !equalSet(got, []string{clusterIP}) {
		t.Errorf("A backend.shop.svc.cluster.local = %v, want %s", got, clusterIP)
	}
	var backendIPs []string
	for _, p := range backends {
		backendIPs = append(backendIPs, p.PodIP)
	}
	if got := lookup(t, clientNS, dnsAddr, "peers.shop.svc.cluster.local.", dns.TypeA); !equalSet(got, backendIPs) {
		t.Errorf("A peers (headless) = %v, want the pods' %v", got, backendIPs)
	}
	if got := lookup(t, clientNS, dnsAddr, "_http._tcp.backend.shop.svc.cluster.local.", dns.TypeSRV); !equalSet(got, []string{"80 backend.shop.svc.cluster.local."}) {
		t.Errorf("SRV _http._tcp.backend = %v", got)
	}
	dashed := strings.ReplaceAll(client.PodIP, ".", "-") + ".shop.pod.cluster.local."
	if got := lookup(t, clientNS, dnsAddr, dashed, dns.TypeA); !equalSet(got, []string{client.PodIP}) {
		t.Errorf("A %s = %v", dashed, got)
	}

	// UDP through the virtual IP, spread too.
	udpSeen := map[string]int{}
	for range 12 {
		if pod := udpCall(t, ctx, clientNS, net.JoinHostPort(clusterIP, "53")); pod != "" {
			udpSeen[pod]++
		}
	}
	if len(udpSeen) < 2 {
		t.Errorf("UDP answers from %v, want at least 2 backends", udpSeen)
	}

	// Session affinity: one client, one backend.
	stickyIP := jsonpath(t, ctx, c, "svc", "sticky", "{.spec.clusterIP}")
	if got := callMany(t, ctx, clientNS, "http://"+stickyIP+"/", 15); len(got) != 1 {
		t.Errorf("ClientIP affinity: answers from %v, want one pod", got)
	}

	// Hairpin: a backend reaches itself through its own Service.
	for name, p := range backends {
		ns := strings.TrimPrefix(podNetns(p.UID), "/var/run/netns/")
		if got := callMany(t, ctx, ns, "http://"+clusterIP+"/", 30); got[name] == 0 {
			t.Errorf("hairpin: %s never reached itself through its Service: %v", name, got)
		}
		break
	}

	// NodePort: every host answers on its own address, from outside.
	for _, a := range c.Agents {
		host, _, _ := net.SplitHostPort(a.APIAddr)
		body := httpGet(t, "http://"+net.JoinHostPort(host, "30090")+"/")
		if !podName.MatchString(body) {
			t.Errorf("NodePort on %s answered %q", host, body)
		}
	}

	// dnsPolicy Default: the host's resolvers, no cluster names.
	waitLog(t, ctx, c, "shop", "outsider", func(log string) bool { return strings.Contains(log, "RESOLV-END") }, "the outsider's resolv.conf")
	if log := podLog(t, ctx, c, "shop", "outsider"); strings.Contains(log, "cluster.local") || strings.Contains(log, gatewayOf(outsider.PodIP)) {
		t.Errorf("a dnsPolicy Default pod sees cluster DNS:\n%s", log)
	}

	// A Service selecting nothing says so.
	if out, err := c.Ctl(ctx, "describe", "service", "-n", "shop", "nothing"); err != nil || !strings.Contains(out, "app=nobody") {
		t.Errorf("ctl describe service nothing: %v\n%s", err, out)
	}
	if out, err := c.Ctl(ctx, "get", "services", "-n", "shop"); err != nil || !strings.Contains(out, clusterIP) || !strings.Contains(out, "30090") {
		t.Errorf("ctl get services: %v\n%s", err, out)
	}

	// Scale down: the removed pod gets no request a second after it is
	// gone from the pod list.
	e.commit("Shop at 2", map[string]string{"shop.yaml": fmt.Sprintf(shopManifests, 2)})
	var left []rapi.Pod
	waitPodsOf(t, ctx, c, "2 backends", "shop", time.Minute, func(ps []rapi.Pod) bool {
		left = left[:0]
		for _, p := range ps {
			if p.Labels["app"] == "backend" {
				left = append(left, p)
			}
		}
		return len(left) == 2
	})
	gone := time.Now()
	var victim string
	for name := range backends {
		if !slicesHasPod(left, name) {
			victim = name
		}
	}
	time.Sleep(time.Until(gone.Add(time.Second)))
	got := callMany(t, ctx, clientNS, "http://"+clusterIP+"/", 20)
	if got[victim] > 0 || got["FAILED"] > 0 {
		t.Errorf("a second after %s was removed: answers %v", victim, got)
	}

	// Kill the agent of the client's node and restart it: the kernel keeps
	// serving the Service meanwhile, and the restarted agent brings back
	// its DNS without restarting the client.
	idx := agentIndex(t, c, client.Node)
	before := containerIDs(t, ctx, c, "client")
	c.KillAgent(idx)
	if got := callMany(t, ctx, clientNS, "http://"+clusterIP+"/", 5); got["FAILED"] > 0 {
		t.Errorf("with its agent killed, the client's Service calls: %v", got)
	}
	if err := c.RestartAgent(idx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := tryLookup(clientNS, dnsAddr, "backend.shop.svc.cluster.local.", dns.TypeA)
		if err == nil && equalSet(got, []string{clusterIP}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DNS after the agent's restart: %v %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after := containerIDs(t, ctx, c, "client"); after != before {
		t.Errorf("the client's container changed across its agent's restart: %s → %s", before, after)
	}
	if got := callMany(t, ctx, clientNS, "http://"+clusterIP+"/", 10); got["FAILED"] > 0 || len(got) != 2 {
		t.Errorf("after the agent's restart, the client's calls: %v", got)
	}
}

// nodeCIDRs returns every node's pod CIDR as the reconciler reports it.
func nodeCIDRs(t *testing.T, ctx context.Context, c *devenv.Cluster) map[string]netip.Prefix {
	t.Helper()
	nodes, err := c.Client.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]netip.Prefix{}
	for _, n := range nodes {
		if p, err := netip.ParsePrefix(n.PodCIDR); err == nil {
			out[n.Name] = p
		}
	}
	return out
}

// jsonpath runs ctl get KIND NAME -n shop -o jsonpath=EXPR.
func jsonpath(t *testing.T, ctx context.Context, c *devenv.Cluster, kind, name, expr string) string {
	t.Helper()
	out, err := c.Ctl(ctx, "get", kind, name, "-n", "shop", "-o", "jsonpath="+expr)
	if err != nil {
		t.Fatalf("ctl get %s %s: %v\n%s", kind, name, err, out)
	}
	return strings.TrimSpace(out)
}

// callMany makes n HTTP calls from inside netns and counts the answering
// pods; failed calls count under "FAILED".
func callMany(t *testing.T, ctx context.Context, netns, url string, n int) map[string]int {
	t.Helper()
	_, got, err := timedGets(ctx, netns, []string{url}, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// wantAll fails unless every backend answered.
func wantAll(t *testing.T, what string, seen map[string]int, backends map[string]rapi.Pod) {
	t.Helper()
	for name := range backends {
		if seen[name] == 0 {
			t.Errorf("%s: %s never answered: %v", what, name, seen)
		}
	}
	if seen["FAILED"] > 0 {
		t.Errorf("%s: failed calls: %v", what, seen)
	}
}

// udpCall sends one datagram from inside netns and returns the answering
// pod, or "" when none answered.
func udpCall(t *testing.T, ctx context.Context, netns, addr string) string {
	t.Helper()
	conn, err := devenv.DialInNetns(netns)(ctx, "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		return ""
	}
	b := make([]byte, 512)
	n, err := conn.Read(b)
	if err != nil {
		return ""
	}
	if m := podName.FindStringSubmatch(string(b[:n])); m != nil {
		return m[1]
	}
	return ""
}

// lookup asks addr, from inside netns, for name's records of type qtype:
// A as addresses, SRV as "port target".
func lookup(t *testing.T, netns, addr, name string, qtype uint16) []string {
	t.Helper()
	got, err := tryLookup(netns, addr, name, qtype)
	if err != nil {
		t.Errorf("DNS %s %s at %s: %v", dns.TypeToString[qtype], name, addr, err)
	}
	return got
}

func equalSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func podLog(t *testing.T, ctx context.Context, c *devenv.Cluster, ns, pod string) string {
	t.Helper()
	out, _ := c.Ctl(ctx, "logs", "-n", ns, pod)
	return out
}

// waitLog waits until ok holds for the pod's log.
func waitLog(t *testing.T, ctx context.Context, c *devenv.Cluster, ns, pod string, ok func(string) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		log := podLog(t, ctx, c, ns, pod)
		if ok(log) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; log of %s:\n%s", what, pod, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func slicesHasPod(ps []rapi.Pod, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

func agentIndex(t *testing.T, c *devenv.Cluster, node string) int {
	t.Helper()
	for i, a := range c.Agents {
		if a.Name == node {
			return i
		}
	}
	t.Fatalf("no agent %s", node)
	return -1
}

// containerIDs is the pod's container IDs, joined.
func containerIDs(t *testing.T, ctx context.Context, c *devenv.Cluster, pod string) string {
	t.Helper()
	pods, err := c.Client.Pods(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.Name == pod && p.Status != nil {
			var ids []string
			for _, cs := range p.Status.Containers {
				ids = append(ids, cs.ContainerID)
			}
			return strings.Join(ids, ",")
		}
	}
	return ""
}
