package spec

import (
	"net/netip"
)

// Service types, affinities and the headless cluster IP.
const (
	ServiceTypeClusterIP    = "ClusterIP"
	ServiceTypeNodePort     = "NodePort"
	ServiceTypeLoadBalancer = "LoadBalancer"
	ServiceTypeExternalName = "ExternalName"

	ServiceAffinityNone     = "None"
	ServiceAffinityClientIP = "ClientIP"

	// ClusterIPNone is the ClusterIP of a headless Service.
	ClusterIPNone = "None"

	// DefaultClientIPTimeoutSeconds is how long ClientIP affinity holds
	// (3 hours), and MaxClientIPTimeoutSeconds the longest it may (a day).
	DefaultClientIPTimeoutSeconds = 10800
	MaxClientIPTimeoutSeconds     = 86400
)

// Headless reports whether the Service is headless (clusterIP: None): DNS
// answers with its pods' addresses and nothing is proxied.
func (s *Service) Headless() bool { return s.Spec.ClusterIP == ClusterIPNone }

// defaultServiceSpec applies Kubernetes' defaults (SetDefaults_Service and
// the API server's normalisation of clusterIPs).
func defaultServiceSpec(s *ServiceSpec) {
	if s.Type == "" {
		s.Type = ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = ServiceAffinityNone
	}
	if s.SessionAffinity == ServiceAffinityClientIP {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIP == nil {
			s.SessionAffinityConfig.ClientIP = &ClientIPConfig{}
		}
		if s.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := int32(DefaultClientIPTimeoutSeconds)
			s.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
		}
	}
	// `kubectl get -o yaml` prints both; a manifest giving only clusterIPs
	// means its first entry, as the API server reads it.
	if s.ClusterIP == "" && len(s.ClusterIPs) > 0 {
		s.ClusterIP = s.ClusterIPs[0]
	}
	for i := range s.Ports {
		sp := &s.Ports[i]
		if sp.Protocol == "" {
			sp.Protocol = ProtocolTCP
		}
		// An absent targetPort, 0 or "" all mean the Service's port.
		if (!sp.TargetPort.IsString && sp.TargetPort.IntVal == 0) || (sp.TargetPort.IsString && sp.TargetPort.StrVal == "") {
			sp.TargetPort = FromInt(sp.Port)
		}
	}
}

// serviceSpec checks a Service on its own as Kubernetes' ValidateService
// does, less what Stevedore does not implement. What depends on the
// cluster (the service CIDR, the node-port range) or on the other Services
// (a cluster IP or node port asked for twice) is checked with the whole
// revision, in checkServices.
func (v *validator) serviceSpec(s *ServiceSpec, p fieldPath) {
	tp := p.child("type")
	switch s.Type {
	case ServiceTypeClusterIP, ServiceTypeNodePort:
	case ServiceTypeLoadBalancer:
		v.add(tp, "unsupported value %q: not supported by Stevedore, which provisions no external load balancer; use %q (every node's addresses) and put a load balancer in front of the nodes", s.Type, ServiceTypeNodePort)
	case ServiceTypeExternalName:
		v.add(tp, "unsupported value %q: not supported by Stevedore (its DNS server serves no CNAME aliases to outside names)", s.Type)
	default:
		v.add(tp, "unsupported value %q: supported values: %q, %q", s.Type, ServiceTypeClusterIP, ServiceTypeNodePort)
	}
	v.clusterIP(s, p)
	v.labels(s.Selector, p.child("selector"))

	pp := p.child("ports")
	if len(s.Ports) == 0 && s.ClusterIP != ClusterIPNone {
		v.add(pp, "required: a Service needs at least one port unless it is headless (clusterIP: None)")
	}
	names := map[string]int{}
	type portKey struct {
		port  int32
		proto string
	}
	ports, nodePorts := map[portKey]int{}, map[portKey]int{}
	for i := range s.Ports {
		sp := &s.Ports[i]
		ip := pp.index(i)
		v.servicePort(sp, ip, len(s.Ports) > 1, names, i)
		k := portKey{sp.Port, sp.Protocol}
		if j, dup := ports[k]; dup {
			v.add(ip, "duplicate value %d/%s: ports[%d] has the same port and protocol", sp.Port, sp.Protocol, j)
		} else {
			ports[k] = i
		}
		if sp.NodePort == 0 {
			continue
		}
		np := ip.child("nodePort")
		switch {
		case s.Type == ServiceTypeClusterIP:
			v.add(np, "forbidden: may not be used when `type` is 'ClusterIP'")
			continue
		case sp.NodePort < 1 || sp.NodePort > 65535:
			v.add(np, "invalid value %d: must be between 1 and 65535, inclusive", sp.NodePort)
			continue
		}
		k = portKey{sp.NodePort, sp.Protocol}
		if j, dup := nodePorts[k]; dup {
			v.add(np, "duplicate value %d/%s: ports[%d] has the same node port and protocol", sp.NodePort, sp.Protocol, j)
		} else {
			nodePorts[k] = i
		}
	}
	v.sessionAffinity(s, p)
}

// clusterIP checks clusterIP and clusterIPs: empty (allocated), None
// (headless) or one IPv4 address.
func (v *validator) clusterIP(s *ServiceSpec, p fieldPath) {
	cp := p.child("clusterIP")
	switch ip := s.ClusterIP; ip {
	case "":
	case ClusterIPNone:
		if s.Type != ServiceTypeClusterIP {
			v.add(cp, "invalid value %q: may be 'None' (headless) only when `type` is 'ClusterIP'", ip)
		}
	default:
		a, err := netip.ParseAddr(ip)
		switch {
		case err != nil || a.Zone() != "":
			v.add(cp, "invalid value %q: must be empty, 'None' or a valid IP address (e.g. 10.96.0.10)", ip)
		case !a.Is4():
			v.add(cp, "invalid value %q: IPv6 is not supported by Stevedore: cluster IPs are IPv4", ip)
		}
	}
	switch {
	case len(s.ClusterIPs) == 0:
	case len(s.ClusterIPs) > 1:
		v.add(p.child("clusterIPs"), "too many: %d: Stevedore is IPv4 only (dual-stack is not supported): at most one cluster IP", len(s.ClusterIPs))
	case s.ClusterIPs[0] != s.ClusterIP:
		v.add(p.child("clusterIPs").index(0), "invalid value %q: must match `clusterIP` (%q)", s.ClusterIPs[0], s.ClusterIP)
	}
}

// servicePort checks one port as validateServicePort does.
func (v *validator) servicePort(sp *ServicePort, p fieldPath, requireName bool, names map[string]int, i int) {
	switch {
	case sp.Name == "" && requireName:
		v.add(p.child("name"), "required: every port needs a name when a Service has more than one")
	case sp.Name != "":
		if msg := isDNS1123Label(sp.Name); msg != "" {
			v.check(p.child("name"), sp.Name, msg)
		} else if j, dup := names[sp.Name]; dup {
			v.add(p.child("name"), "duplicate value %q: ports[%d] has the same name", sp.Name, j)
		} else {
			names[sp.Name] = i
		}
	}
	if sp.Port < 1 || sp.Port > 65535 {
		v.add(p.child("port"), "invalid value %d: must be between 1 and 65535, inclusive", sp.Port)
	}
	switch sp.Protocol {
	case ProtocolTCP, ProtocolUDP:
	case ProtocolSCTP:
		v.add(p.child("protocol"), "unsupported value %q: SCTP is not supported by Stevedore; supported values: %q, %q", sp.Protocol, ProtocolTCP, ProtocolUDP)
	default:
		v.add(p.child("protocol"), "unsupported value %q: supported values: %q, %q", sp.Protocol, ProtocolTCP, ProtocolUDP)
	}
	if sp.AppProtocol != "" {
		v.check(p.child("appProtocol"), sp.AppProtocol, isQualifiedName(sp.AppProtocol))
	}
	tp := p.child("targetPort")
	if sp.TargetPort.IsString {
		v.check(tp, sp.TargetPort.StrVal, isIANASvcName(sp.TargetPort.StrVal))
	} else if n := sp.TargetPort.IntVal; (n < 1 || n > 65535) && n != sp.Port {
		// (Defaulted from a bad port, it is that port's error.)
		v.add(tp, "invalid value %d: must be between 1 and 65535, inclusive", n)
	}
}

// sessionAffinity checks sessionAffinity and its config, as defaulted.
func (v *validator) sessionAffinity(s *ServiceSpec, p fieldPath) {
	cp := p.child("sessionAffinityConfig")
	switch s.SessionAffinity {
	case ServiceAffinityNone:
		if s.SessionAffinityConfig != nil {
			v.add(cp, "forbidden: must not be set when `sessionAffinity` is None")
		}
	case ServiceAffinityClientIP:
		// Defaulting filled in the timeout, so it is there.
		t := *s.SessionAffinityConfig.ClientIP.TimeoutSeconds
		if t < 1 || t > MaxClientIPTimeoutSeconds {
			v.add(cp.child("clientIP.timeoutSeconds"), "invalid value %d: must be greater than 0 and less than or equal to %d", t, MaxClientIPTimeoutSeconds)
		}
	default:
		v.add(p.child("sessionAffinity"), "unsupported value %q: supported values: %q, %q", s.SessionAffinity, ServiceAffinityNone, ServiceAffinityClientIP)
	}
}
