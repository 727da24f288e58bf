package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// The table's fixed chains and maps (see docs/networking-proxy.md for the
// whole layout).
const (
	chainNatPrerouting   = "nat-prerouting"
	chainNatOutput       = "nat-output"
	chainNatPostrouting  = "nat-postrouting"
	chainFilterInput     = "filter-input"
	chainFilterForward   = "filter-forward"
	chainFilterOutput    = "filter-output"
	chainServices        = "services"
	chainMasquerading    = "masquerading"
	chainMarkMasq        = "mark-for-masquerade"
	chainServiceCheck    = "service-endpoints-check"
	chainNodePortCheck   = "nodeport-endpoints-check"
	chainReject          = "reject-chain"
	mapServiceIPs        = "service-ips"
	mapServiceNodePorts  = "service-nodeports"
	mapNoEndpointIPs     = "no-endpoint-services"
	mapNoEndpointNodePts = "no-endpoint-nodeports"
	// setHairpin holds "ip . ip" for every endpoint: a packet from an
	// endpoint to itself can only be one DNATed back to its sender.
	setHairpin = "hairpin"

	// markMasq asks the masquerading chain to masquerade a packet when it
	// leaves by an interface other than the bridge (external node-port
	// clients, cluster-IP clients outside the cluster CIDR). kube-proxy
	// uses 0x4000 the same way.
	markMasq = 0x4000
)

// baseChain is where a base chain hooks in.
type baseChain struct {
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
}

type chainSpec struct {
	name  string
	base  *baseChain
	rules []ruleSpec
	// sig lists everything the chain's rules are made from: two chains
	// with the same name and sig have the same rules. (Cheaper than
	// printing the expressions, which took a third of an Apply.)
	sig []string
}

func (c *chainSpec) describe(parts ...string) {
	c.sig = append(c.sig, parts...)
}

// ruleSpec is one rule; vmap, when set, is the anonymous verdict map of a
// numgen rule: index i goes to chain vmap[i].
type ruleSpec struct {
	exprs []expr.Any
	vmap  []string
}

type affinitySet struct {
	name    string
	timeout time.Duration
}

// plan is the whole desired content of the table.
type plan struct {
	chains   []*chainSpec
	maps     map[string][]nftables.SetElement
	affinity []affinitySet
	hairpin  map[string]net.IP
	udp      udpState
	claimed  map[string]string
	// fixed is how many of chains (the first ones) are the fixed chains.
	fixed int
}

func (pl *plan) ruleCount() int {
	n := 0
	for _, c := range pl.chains {
		n += len(c.rules)
	}
	return n
}

func (pl *plan) add(c *chainSpec) *chainSpec {
	pl.chains = append(pl.chains, c)
	return c
}

func (c *chainSpec) rule(e ...expr.Any) {
	c.rules = append(c.rules, ruleSpec{exprs: e})
}

// reservedOwner claims the node's own ports (Config.ReservedNodePorts).
const reservedOwner = "a port this node's agent serves (reserved)"

// buildPlan computes the table for a set of Services. A Service it cannot
// proxy (the leader validates them, so this is a bug or a version skew) is
// left out and reported, rather than failing every other Service.
func buildPlan(cfg Config, services []api.Service) (*plan, []error) {
	pl := &plan{
		maps: map[string][]nftables.SetElement{
			mapServiceIPs: nil, mapServiceNodePorts: nil, mapNoEndpointIPs: nil, mapNoEndpointNodePts: nil,
		},
		udp:     udpState{},
		hairpin: map[string]net.IP{},
		claimed: map[string]string{},
	}
	// The node's own ports are never a Service's: a node port there would
	// capture the agent's API or gossip, cutting the node off.
	for _, port := range cfg.ReservedNodePorts {
		for _, pr := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			pl.claim(reservedOwner, fmt.Sprintf("node %d %d", pr, port))
		}
	}
	var clusterNet *net.IPNet
	if cfg.ClusterCIDR != "" {
		_, clusterNet, _ = net.ParseCIDR(cfg.ClusterCIDR)
	}
	addFixedChains(pl, cfg.Bridge)
	pl.fixed = len(pl.chains)
	for _, c := range pl.chains {
		c.describe("fixed", cfg.Bridge)
	}
	// Sorted so that chain and rule order is the same for the same set,
	// whatever order the caller passed.
	svcs := append([]api.Service(nil), services...)
	sort.Slice(svcs, func(i, j int) bool {
		if svcs[i].Namespace != svcs[j].Namespace {
			return svcs[i].Namespace < svcs[j].Namespace
		}
		return svcs[i].Name < svcs[j].Name
	})
	var skipped []error
	for i := range svcs {
		if err := checkService(&svcs[i]); err != nil {
			skipped = append(skipped, fmt.Errorf("service %s/%s: %w", svcs[i].Namespace, svcs[i].Name, err))
			continue
		}
		skipped = append(skipped, addService(pl, &svcs[i], clusterNet)...)
	}
	return pl, skipped
}

var (
	prioDstNAT = nftables.ChainPriorityNATDest
	prioSrcNAT = nftables.ChainPriorityNATSource
	// The reject checks run in filter chains like kube-proxy's, a little
	// before the usual filter priority (kube-proxy uses it exactly): a
	// connection to a Service without endpoints is refused even where a
	// host firewall at priority filter would drop it and leave the client
	// waiting.
	prioFilter = nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 10)
)

func addFixedChains(pl *plan, bridge string) {
	hook := func(name string, typ nftables.ChainType, h *nftables.ChainHook, prio *nftables.ChainPriority, target string, ctNew bool) {
		c := pl.add(&chainSpec{name: name, base: &baseChain{typ: typ, hook: h, priority: prio}})
		if ctNew {
			c.rule(append(ctStateNew(), jump(target))...)
		} else {
			c.rule(jump(target))
		}
	}
	hook(chainNatPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, prioDstNAT, chainServices, false)
	hook(chainNatOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, prioDstNAT, chainServices, false)
	hook(chainNatPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, prioSrcNAT, chainMasquerading, false)
	hook(chainFilterInput, nftables.ChainTypeFilter, nftables.ChainHookInput, prioFilter, chainNodePortCheck, true)
	hook(chainFilterForward, nftables.ChainTypeFilter, nftables.ChainHookForward, prioFilter, chainServiceCheck, true)
	hook(chainFilterOutput, nftables.ChainTypeFilter, nftables.ChainHookOutput, prioFilter, chainServiceCheck, true)

	svc := pl.add(&chainSpec{name: chainServices})
	svc.rule(append(ipProtoPortKey(16), vmapLookup(mapServiceIPs))...)
	// Node ports answer on every local address but loopback (which would
	// need route_localnet, as kube-proxy notes).
	svc.rule(append(append(append(fibDaddrLocal(), notLoopbackDaddr()...), protoPortKey()...), vmapLookup(mapServiceNodePorts))...)

	check := pl.add(&chainSpec{name: chainServiceCheck})
	check.rule(append(ipProtoPortKey(16), vmapLookup(mapNoEndpointIPs))...)
	npCheck := pl.add(&chainSpec{name: chainNodePortCheck})
	npCheck.rule(append(append(fibDaddrLocal(), protoPortKey()...), vmapLookup(mapNoEndpointNodePts))...)

	rej := pl.add(&chainSpec{name: chainReject})
	rej.rule(append(l4proto(unix.IPPROTO_TCP), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})...)
	rej.rule(&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3 /* port unreachable */})

	mm := pl.add(&chainSpec{name: chainMarkMasq})
	mm.rule(setMark(markMasq)...)

	masq := pl.add(&chainSpec{name: chainMasquerading})
	// Hairpin: a pod reached itself through a Service. Unmasqueraded, it
	// would answer itself directly and drop a reply from an address it
	// never sent to. One set lookup instead of a rule per endpoint (which
	// is what kube-proxy does) keeps the transaction small.
	masq.rule(append(saddrDaddrKey(), &expr.Lookup{SourceRegister: 1, SetName: setHairpin},
		&expr.Masq{FullyRandom: true})...)
	external := markSet(markMasq)
	if bridge != "" {
		external = append(external, oifnameNot(bridge)...)
	}
	masq.rule(append(external, &expr.Masq{FullyRandom: true})...)
}

// proto numbers Kubernetes' protocol names; SCTP is not proxied.
func proto(p string) (uint8, error) {
	switch p {
	case "", "TCP":
		return unix.IPPROTO_TCP, nil
	case "UDP":
		return unix.IPPROTO_UDP, nil
	}
	return 0, fmt.Errorf("unsupported protocol %q", p)
}

// checkService reports what would keep a Service from being proxied.
func checkService(s *api.Service) error {
	if s.ClusterIP == "" || s.ClusterIP == api.ClusterIPNone {
		return nil
	}
	if ip := net.ParseIP(s.ClusterIP); ip == nil || ip.To4() == nil {
		return fmt.Errorf("cluster IP %q is not an IPv4 address", s.ClusterIP)
	}
	for _, sp := range s.Ports {
		if _, err := proto(sp.Protocol); err != nil {
			return fmt.Errorf("port %d: %w", sp.Port, err)
		}
		if sp.Port <= 0 || sp.Port > 65535 || sp.NodePort < 0 || sp.NodePort > 65535 {
			return fmt.Errorf("port %d/%d out of range", sp.Port, sp.NodePort)
		}
	}
	return nil
}

// claim takes keys (cluster IP ports, node ports, chain names) for owner,
// all or none; it returns the owner of the first one already taken. Two
// Services on one cluster IP port or node port (which validation refuses)
// would otherwise fail the whole transaction.
func (pl *plan) claim(owner string, keys ...string) string {
	for _, k := range keys {
		if o, ok := pl.claimed[k]; ok {
			return o
		}
	}
	for _, k := range keys {
		pl.claimed[k] = owner
	}
	return ""
}

// addService adds a checked Service: headless ones and those without a
// cluster IP get nothing (DNS serves the former). It returns the ports it
// had to leave out.
func addService(pl *plan, s *api.Service, clusterNet *net.IPNet) []error {
	if s.ClusterIP == "" || s.ClusterIP == api.ClusterIPNone {
		return nil
	}
	var skipped []error
	cip := net.ParseIP(s.ClusterIP).To4()
	for i, sp := range s.Ports {
		pr, _ := proto(sp.Protocol)
		// LoadBalancer Services have node ports too in Kubernetes (the
		// contract only has ClusterIP and NodePort today).
		nodePort := (s.Type == api.ServiceTypeNodePort || s.Type == "LoadBalancer") && sp.NodePort != 0
		base := fmt.Sprintf("%s/%s/%s/%s", s.Namespace, s.Name, strings.ToLower(protoName(pr)), portName(sp))
		keys := []string{fmt.Sprintf("ip %s %d %d", cip, pr, sp.Port), base}
		if nodePort {
			key := fmt.Sprintf("node %d %d", pr, sp.NodePort)
			if o := pl.claimed[key]; o == reservedOwner {
				// The cluster IP is served; only the node port is not.
				skipped = append(skipped, fmt.Errorf("service %s/%s node port %d/%s: left out, it is %s",
					s.Namespace, s.Name, sp.NodePort, protoName(pr), reservedOwner))
				nodePort = false
			} else {
				keys = append(keys, key)
			}
		}
		if owner := pl.claim(s.Namespace+"/"+s.Name, keys...); owner != "" {
			skipped = append(skipped, fmt.Errorf("service %s/%s port %d/%s (node port %d): already used by %s",
				s.Namespace, s.Name, sp.Port, protoName(pr), sp.NodePort, owner))
			continue
		}
		eps := readyEndpoints(s, i)
		if pr == unix.IPPROTO_UDP {
			pl.udp.record(s.ClusterIP, uint16(sp.Port), nodePort, uint16(sp.NodePort), eps)
		}
		if len(eps) == 0 {
			reject := &expr.Verdict{Kind: expr.VerdictGoto, Chain: chainReject}
			pl.maps[mapNoEndpointIPs] = append(pl.maps[mapNoEndpointIPs],
				nftables.SetElement{Key: ipProtoPort(cip, pr, uint16(sp.Port)), VerdictData: reject})
			if nodePort {
				pl.maps[mapNoEndpointNodePts] = append(pl.maps[mapNoEndpointNodePts],
					nftables.SetElement{Key: protoPort(pr, uint16(sp.NodePort)), VerdictData: reject})
			}
			continue
		}
		svcChain := chainName("svc", base)
		pl.maps[mapServiceIPs] = append(pl.maps[mapServiceIPs], nftables.SetElement{
			Key: ipProtoPort(cip, pr, uint16(sp.Port)), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: svcChain}})
		if nodePort {
			ext := pl.add(&chainSpec{name: chainName("ext", base)})
			ext.describe(svcChain)
			ext.rule(jump(chainMarkMasq))
			ext.rule(&expr.Verdict{Kind: expr.VerdictGoto, Chain: svcChain})
			pl.maps[mapServiceNodePorts] = append(pl.maps[mapServiceNodePorts], nftables.SetElement{
				Key: protoPort(pr, uint16(sp.NodePort)), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: ext.name}})
		}
		addServicePort(pl, s, svcChain, base, cip, pr, eps, clusterNet)
	}
	return skipped
}

// addServicePort writes the chain of one Service port and its endpoints'.
func addServicePort(pl *plan, s *api.Service, svcName, base string, cip net.IP, pr uint8, eps []endpoint, clusterNet *net.IPNet) {
	svc := pl.add(&chainSpec{name: svcName})
	svc.describe(cip.String())
	if clusterNet != nil {
		svc.describe(clusterNet.String())
		// A client outside the cluster CIDR (the node itself, another host
		// routing to the cluster IP) is masqueraded so that the endpoint's
		// reply comes back through this node.
		svc.rule(append(append(daddrIs(cip), saddrNotIn(clusterNet)...), jump(chainMarkMasq))...)
	}
	var timeout time.Duration
	if s.SessionAffinity == api.AffinityClientIP {
		secs := s.AffinityTimeoutSeconds
		if secs <= 0 {
			secs = 10800
		}
		timeout = time.Duration(secs) * time.Second
	}
	targets := make([]string, len(eps))
	for i, ep := range eps {
		epBase := fmt.Sprintf("%s__%s/%d", base, ep.ip, ep.port)
		epChain := pl.add(&chainSpec{name: chainName("ep", epBase)})
		targets[i] = epChain.name
		epChain.describe(protoName(pr), ep.ip.String(), fmt.Sprint(ep.port))
		pl.hairpin[ep.ip.String()] = ep.ip
		if timeout > 0 {
			set := affinitySet{name: chainName("aff", fmt.Sprintf("%s/%d", epBase, timeout/time.Second)), timeout: timeout}
			pl.affinity = append(pl.affinity, set)
			epChain.describe(set.name, fmt.Sprint(timeout))
			svc.describe(set.name, epChain.name)
			epChain.rule(loadSaddr(), &expr.Dynset{SrcRegKey: 1, SetName: set.name,
				Operation: uint32(unix.NFT_DYNSET_OP_UPDATE), Timeout: timeout})
			// Checked before the random choice: a client seen within the
			// timeout goes back to the same endpoint.
			svc.rule(loadSaddr(), &expr.Lookup{SourceRegister: 1, SetName: set.name},
				&expr.Verdict{Kind: expr.VerdictGoto, Chain: epChain.name})
		}
		epChain.rule(append(l4proto(pr), dnat(ep.ip, ep.port)...)...)
	}
	svc.describe("numgen")
	svc.describe(targets...)
	svc.rules = append(svc.rules, ruleSpec{
		exprs: []expr.Any{&expr.Numgen{Register: 1, Modulus: uint32(len(eps)), Type: unix.NFT_NG_RANDOM}},
		vmap:  targets,
	})
}

type endpoint struct {
	ip   net.IP
	port uint16
}

// readyEndpoints are the endpoints of Service port i that receive traffic:
// Ready, with a resolved target port, deduplicated.
func readyEndpoints(s *api.Service, i int) []endpoint {
	var eps []endpoint
	seen := map[string]bool{}
	for _, e := range s.Endpoints {
		if !e.Ready || i >= len(e.Ports) || e.Ports[i] <= 0 || e.Ports[i] > 65535 {
			continue
		}
		ip := net.ParseIP(e.IP).To4()
		if ip == nil {
			continue
		}
		key := fmt.Sprintf("%s:%d", ip, e.Ports[i])
		if seen[key] {
			continue
		}
		seen[key] = true
		eps = append(eps, endpoint{ip: ip, port: uint16(e.Ports[i])})
	}
	return eps
}

func protoName(p uint8) string {
	if p == unix.IPPROTO_UDP {
		return "UDP"
	}
	return "TCP"
}

func portName(sp api.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return fmt.Sprint(sp.Port)
}

// chainName is prefix-HASH-readable, as kube-proxy names its chains: the
// hash keeps names unique and short, the readable part is for people
// reading `nft list table`. Names stay under the kernel's limit.
func chainName(prefix, base string) string {
	sum := sha256.Sum256([]byte(base))
	h := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:])[:8])
	name := prefix + "-" + h + "-" + base
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}
