package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// secServices measures the Service and DNS paths on a cluster of network
// namespaces.
const secServices = "services"

// benchServiceManifests are 3 hello pods spread over the nodes behind a
// Service, and an idle client pod the requests start from.
const benchServiceManifests = `apiVersion: v1
kind: Namespace
metadata: {name: svcbench}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: svcbench}
spec:
  replicas: 3
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: backend}}}
      containers:
        - name: hello
          image: %s
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: svcbench}
spec:
  selector: {app: backend}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: svcbench}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: %s
      command: ["sleep", "3600"]
`

// podName finds the answering pod in hello's greeting.
var podName = regexp.MustCompile(`pod=(\S+)`)

// podNetns is the network namespace agent/runtime creates for a pod:
// /var/run/netns/stv-<first 12 hex digits of sha256(UID)>. Checking by UID
// keeps other tests' namespaces on this host out of the count.
func podNetns(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return "/var/run/netns/stv-" + hex.EncodeToString(sum[:])[:12]
}

// podNetnsName is the network namespace agent/runtime creates for a pod:
// stv-<first 12 hex digits of sha256(UID)>.
func podNetnsName(uid string) string {
	return strings.TrimPrefix(podNetns(uid), "/var/run/netns/")
}

// gatewayOf is the first address of a pod's /24: its bridge, where its
// node's DNS server listens.
func gatewayOf(podIP string) string {
	a := netip.MustParseAddr(podIP).As4()
	a[3] = 1
	return netip.AddrFrom4(a).String()
}

// timedGets makes n GETs from inside netns, one new connection each, to
// the urls in turn; it returns each call's latency and the answering pods
// (failed calls, and answers from no pod, count under "FAILED").
func timedGets(ctx context.Context, netns string, urls []string, n int) ([]time.Duration, map[string]int, error) {
	hc := devenv.InsideHTTPClient(netns)
	hc.Timeout = 3 * time.Second
	lat := make([]time.Duration, 0, n)
	seen := map[string]int{}
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[i%len(urls)], nil)
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			seen["FAILED"]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if m := podName.FindSubmatch(b); m != nil {
			seen[string(m[1])]++
		} else {
			seen["FAILED"]++
		}
	}
	return lat, seen, nil
}

// tryLookup asks addr, from inside netns, for name's records of type
// qtype: A as addresses, SRV as "port target".
func tryLookup(netns, addr, name string, qtype uint16) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	raw, err := devenv.DialInNetns(netns)(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	conn := &dns.Conn{Conn: raw}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if err := conn.WriteMsg(m); err != nil {
		return nil, err
	}
	r, err := conn.ReadMsg()
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.SRV:
			out = append(out, fmt.Sprintf("%d %s", v.Port, v.Target))
		}
	}
	return out, nil
}

// dnsLoad sends queries for name from inside netns over `workers` sockets
// for d (at most max queries in all) and returns every answered query's
// latency.
func dnsLoad(netns, addr, name string, workers int, d time.Duration, max int) ([]time.Duration, error) {
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range workers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Second)
			defer cancel()
			raw, err := devenv.DialInNetns(netns)(ctx, "udp", addr)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			conn := &dns.Conn{Conn: raw}
			defer conn.Close()
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			var mine []time.Duration
			for i := 0; i < max/workers && time.Now().Before(stop); i++ {
				m.Id = dns.Id()
				start := time.Now()
				_ = conn.SetDeadline(start.Add(time.Second))
				if err := conn.WriteMsg(m); err != nil {
					continue
				}
				if r, err := conn.ReadMsg(); err == nil && r.Id == m.Id && len(r.Answer) > 0 {
					mine = append(mine, time.Since(start))
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(all) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return all, nil
}

// rulesHold reports whether the nftables ruleset of every agent's
// namespace mentions ip (as a DNAT target).
func rulesHold(ctx context.Context, c *devenv.Cluster, ip string) ([]bool, error) {
	out := make([]bool, len(c.Agents))
	for i, a := range c.Agents {
		b, err := exec.CommandContext(ctx, "ip", "netns", "exec", a.Netns, "nft", "list", "ruleset").Output()
		if err != nil {
			return nil, fmt.Errorf("failed to list the rules of %s: %w", a.Name, err)
		}
		out[i] = strings.Contains(string(b), ip+":") || strings.Contains(string(b), ip+" ")
	}
	return out, nil
}

// killContainer SIGKILLs the running container of a pod on its node,
// through containerd.
func killContainer(ctx context.Context, c *devenv.Cluster, node, podUID string) error {
	ctrs, err := c.NodeContainers(ctx, node)
	if err != nil {
		return err
	}
	for _, ctr := range ctrs {
		if ctr.PodUID == podUID && ctr.Status == "running" {
			return c.KillTask(ctx, node, ctr.ID, syscall.SIGKILL)
		}
	}
	return fmt.Errorf("no running container of pod %s on %s", podUID, node)
}

// benchServices measures, on a cluster of 3 network namespaces: requests to
// a Service's virtual IP beside the same requests to its pods' IPs (the
// floor), how long a pod that stops being Ready stays in every node's
// rules, and DNS queries per second with their p99 on one node.
func benchServices(ctx context.Context, o options, goTool string, out io.Writer) (string, error) {
	// The rules' update time first, alone on the machine.
	fmt.Fprintln(out, "services: go test ./agent/proxy -bench BenchmarkApply1000Endpoints")
	rules, err := proxyApplyTable(ctx, goTool)
	if err != nil {
		return "", err
	}
	o.netns = true
	o.reconcilers = 1
	var section string
	var ferr error
	err = withBenchCluster(ctx, &o, fmt.Sprintf("bsv%d", os.Getpid()%1000), func(bc *benchCluster) {
		section, ferr = measureServices(ctx, bc, rules, out)
	})
	if err != nil {
		return "", err
	}
	return section, ferr
}

// proxyBenchLine matches a result line of BenchmarkApply1000Endpoints.
var proxyBenchLine = regexp.MustCompile(`^BenchmarkApply1000Endpoints/(\S+?)(?:-\d+)?\s+(\d+)\s+(\d+) ns/op\s+([\d.]+) cpu-ms/op\s+(\d+) rules`)

// proxyApplyTable runs agent/proxy's Apply benchmark (100 Services of 10
// endpoints in a namespace of its own) and renders its results as a table.
func proxyApplyTable(ctx context.Context, goTool string) (string, error) {
	cmd := exec.CommandContext(ctx, goTool, "test", "./agent/proxy", "-run", "^$", "-bench", "BenchmarkApply1000Endpoints",
		"-benchtime", "30x", "-count", "1", "-timeout", "10m")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("failed to run the proxy's benchmark: %w\n%s", err, b)
	}
	what := map[string]string{
		"same":            "the same set again (no transaction)",
		"update":          "one endpoint turns unready",
		"update-affinity": "one endpoint turns unready, every Service with ClientIP affinity",
		"full":            "every chain rewritten (an agent's first Apply, taking over its table)",
		"full-affinity":   "every chain rewritten, ClientIP affinity",
	}
	var t strings.Builder
	t.WriteString("| Apply of 1,000 endpoints (100 Services × 10) | rules | wall per Apply | CPU per Apply |\n|---|---|---|---|\n")
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		m := proxyBenchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		ns, _ := time.ParseDuration(m[3] + "ns")
		fmt.Fprintf(&t, "| %s | %s | %v | %s ms |\n", what[m[1]], m[5], r(ns), m[4])
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("no result in the proxy's benchmark output:\n%s", b)
	}
	return t.String(), nil
}

func measureServices(ctx context.Context, bc *benchCluster, rules string, out io.Writer) (string, error) {
	c := bc.c
	st := newStamp()
	busybox := c.Image(devenv.BusyboxRepo)
	if _, err := c.Repo.Commit(ctx, "Service bench", map[string][]byte{
		"svcbench.yaml": fmt.Appendf(nil, benchServiceManifests, bc.image, busybox),
	}); err != nil {
		return "", err
	}
	var pods []rapi.Pod
	err := pollUntil(ctx, 2*time.Minute, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		ps, err := currentPods(ctx, c.Client, "svcbench")
		if err != nil {
			return false, nil
		}
		pods = ps
		return len(ps) == 4 && allSettled(ps), nil
	})
	if err != nil {
		return "", fmt.Errorf("failed to run the service bench's pods: %w", err)
	}
	var clientNS string
	var podURLs []string
	var backends []rapi.Pod
	for _, p := range pods {
		if p.Name == "client" {
			clientNS = podNetnsName(p.UID)
			continue
		}
		backends = append(backends, p)
		podURLs = append(podURLs, "http://"+net.JoinHostPort(p.PodIP, "8080")+"/")
	}
	svc, err := c.Ctl(ctx, "get", "svc", "backend", "-n", "svcbench", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		return "", fmt.Errorf("failed to read the Service's cluster IP: %w: %s", err, svc)
	}
	clusterIP := strings.TrimSpace(svc)
	const n = 1500
	// Warm both paths (ARP, conntrack, page cache), then alternate blocks
	// so that a change in the machine's load hits both alike.
	_, _, _ = timedGets(ctx, clientNS, podURLs, 60)
	_, _, _ = timedGets(ctx, clientNS, []string{"http://" + clusterIP + "/"}, 60)
	var podLat, svcLat []time.Duration
	svcSeen := map[string]int{}
	start := time.Now()
	for range 5 {
		l, _, err := timedGets(ctx, clientNS, podURLs, n/5)
		if err != nil {
			return "", err
		}
		podLat = append(podLat, l...)
		l, seen, err := timedGets(ctx, clientNS, []string{"http://" + clusterIP + "/"}, n/5)
		if err != nil {
			return "", err
		}
		svcLat = append(svcLat, l...)
		for k, v := range seen {
			svcSeen[k] += v
		}
	}
	wall := time.Since(start)
	fmt.Fprintf(out, "services: pod IP p50 %v, Service p50 %v (%v)\n", median(podLat), median(svcLat), svcSeen)

	// Unready to gone from every node's rules: kill a backend's container.
	var removal []time.Duration
	for r := range 5 {
		victim := backends[r%len(backends)]
		if err := pollUntil(ctx, time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
			held, err := rulesHold(ctx, c, victim.PodIP)
			return err == nil && all(held), err
		}); err != nil {
			return "", fmt.Errorf("run %d: %s never in every node's rules: %w", r+1, victim.Name, err)
		}
		if err := killContainer(ctx, c, victim.Node, victim.UID); err != nil {
			return "", err
		}
		killed := time.Now()
		if err := pollUntil(ctx, 30*time.Second, 10*time.Millisecond, func(ctx context.Context) (bool, error) {
			held, err := rulesHold(ctx, c, victim.PodIP)
			return err == nil && none(held), err
		}); err != nil {
			return "", fmt.Errorf("run %d: %s still in the rules: %w", r+1, victim.Name, err)
		}
		removal = append(removal, time.Since(killed))
	}
	fmt.Fprintf(out, "services: unready to removed from every node's rules: %v\n", removal)

	// DNS on one node, from a pod's namespace.
	dnsAddr := net.JoinHostPort(gatewayOf(backends[0].PodIP), "53")
	if clientPod := findPod(pods, "client"); clientPod != nil {
		dnsAddr = net.JoinHostPort(gatewayOf(clientPod.PodIP), "53")
	}
	dnsStart := time.Now()
	dnsLat, err := dnsLoad(clientNS, dnsAddr, "backend.svcbench.svc.cluster.local.", 4, 3*time.Second, 200000)
	if err != nil {
		return "", fmt.Errorf("failed to query DNS: %w", err)
	}
	dnsWall := time.Since(dnsStart)
	qps := float64(len(dnsLat)) / dnsWall.Seconds()
	fmt.Fprintf(out, "services: DNS %.0f queries/s, p99 %v\n", qps, percentile(dnsLat, 99))

	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## %s\n\n", beginOf(secServices), sectionTitles[secServices])
	fmt.Fprintf(&b, "A cluster of 3 network namespaces (one agent each) runs 3 hello pods, one per node, behind a\n")
	fmt.Fprintf(&b, "ClusterIP Service, and an idle client pod. Every request opens a new TCP connection from inside the\n")
	fmt.Fprintf(&b, "client pod (so each one goes through the Service's DNAT), %d to the Service's virtual IP and %d\n", len(svcLat), len(podLat))
	fmt.Fprintf(&b, "straight to the pods' IPs in turn (the floor), in alternating blocks; %v in all.\n\n", wall.Round(time.Millisecond))
	b.WriteString("| path | p50 | p99 | requests/s (one client) | ratio to the floor (p50) | target |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| pod IP (floor) | %v | %v | %.0f | 1.00 | |\n", r(median(podLat)), r(percentile(podLat, 99)), perSec(podLat))
	ratio := float64(median(svcLat)) / float64(median(podLat))
	fmt.Fprintf(&b, "| Service virtual IP | %v | %v | %.0f | %.2f | ≤ 1.1 %s |\n\n", r(median(svcLat)), r(percentile(svcLat, 99)), perSec(svcLat), ratio, met(ratio <= 1.1))
	fmt.Fprintf(&b, "The Service's answers came from %d pods (%v).\n\n", len(svcSeen), svcSeen)
	fmt.Fprintf(&b, "**Unready to out of every node's rules.** A backend's container is killed (SIGKILL through\n")
	fmt.Fprintf(&b, "containerd); measured until no agent's nftables ruleset names its IP any more (polled every\n")
	fmt.Fprintf(&b, "10 ms per node, which is the resolution): %s; p99 (the worst of %d) %v, target ≤ 1 s %s.\n\n",
		durList(removal), len(removal), r(percentile(removal, 99)), met(percentile(removal, 99) <= time.Second))
	fmt.Fprintf(&b, "**DNS on one node.** 4 sockets in the client pod query `backend.svcbench.svc.cluster.local`\n")
	fmt.Fprintf(&b, "(A) at its node's DNS server for %v: %d answers, **%.0f queries/s**, p50 %v, p99 %v.\n",
		dnsWall.Round(time.Millisecond), len(dnsLat), qps, r(median(dnsLat)), r(percentile(dnsLat, 99)))
	fmt.Fprintf(&b, "\n**Rules update time** (`go test ./agent/proxy -bench BenchmarkApply1000Endpoints`, one netlink\n")
	fmt.Fprintf(&b, "transaction per Apply into a namespace of its own; the target is an update well under the 1 s\n")
	fmt.Fprintf(&b, "budget of unready-to-removed):\n\n%s", rules)
	fmt.Fprintf(&b, "\n%s\n", st.machineLine())
	b.WriteString(endOf(secServices))
	return b.String(), nil
}

func findPod(ps []rapi.Pod, name string) *rapi.Pod {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}

func all(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

func none(bs []bool) bool {
	for _, b := range bs {
		if b {
			return false
		}
	}
	return true
}

func perSec(ds []time.Duration) float64 {
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	if total == 0 {
		return 0
	}
	return float64(len(ds)) / total.Seconds()
}

func r(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func met(ok bool) string {
	if ok {
		return "(met)"
	}
	return "(missed)"
}

func durList(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = r(d).String()
	}
	return strings.Join(s, ", ")
}
