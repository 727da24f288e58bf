package spec

import (
	"errors"
	"fmt"
	"net/netip"
)

// Kubernetes' defaults for the cluster's Service addresses, which
// Stevedore's reconciler uses too.
var DefaultServiceCIDR = netip.MustParsePrefix("10.96.0.0/16")

// Node-port range defaults, inclusive.
const (
	DefaultNodePortMin = 30000
	DefaultNodePortMax = 32767
)

// Network is the address plan of the cluster a revision is loaded for. A
// Service asking for a cluster IP outside the service CIDR, or a node port
// outside the range, is refused when the revision loads, with its file and
// line, instead of being accepted and failing later. The zero value means
// Kubernetes' defaults: 10.96.0.0/16 and 30000-32767.
type Network struct {
	// ServiceCIDR is the range cluster IPs come from (the reconciler's
	// --service-cidr). Zero: DefaultServiceCIDR.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound node ports, inclusive (the
	// reconciler's node-port range). Both zero: 30000-32767.
	NodePortMin, NodePortMax int32
}

// WithDefaults returns n with its zero fields set to the defaults.
func (n Network) WithDefaults() Network {
	if !n.ServiceCIDR.IsValid() {
		n.ServiceCIDR = DefaultServiceCIDR
	}
	n.ServiceCIDR = n.ServiceCIDR.Masked()
	if n.NodePortMin == 0 && n.NodePortMax == 0 {
		n.NodePortMin, n.NodePortMax = DefaultNodePortMin, DefaultNodePortMax
	}
	return n
}

// Validate reports why n (after WithDefaults) cannot be a cluster's plan:
// an IPv6 or too small service CIDR, or a node-port range that is empty or
// not made of ports.
func (n Network) Validate() error {
	n = n.WithDefaults()
	var errs []error
	if !n.ServiceCIDR.Addr().Is4() {
		errs = append(errs, fmt.Errorf("service CIDR %s: must be IPv4", n.ServiceCIDR))
	} else if n.ServiceCIDR.Bits() > 30 {
		errs = append(errs, fmt.Errorf("service CIDR %s: must be /30 or larger (a network and a broadcast address, and room for Services)", n.ServiceCIDR))
	}
	if n.NodePortMin < 1 || n.NodePortMax > 65535 || n.NodePortMin > n.NodePortMax {
		errs = append(errs, fmt.Errorf("node-port range %d-%d: must be within 1-65535, lowest first", n.NodePortMin, n.NodePortMax))
	}
	return errors.Join(errs...)
}

// lastAddr returns the last (broadcast) address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Loader loads revisions for one cluster: Load, LoadCached, LoadInputs and
// LoadInputsCached with the cluster's Network. The zero Loader is what the
// package's functions of those names use.
type Loader struct {
	Network Network
	// Decrypt decrypts SOPS-encrypted documents (a *sops.Keys of package
	// spec/sops). Nil: an encrypted document is an error saying that no
	// keys are configured.
	Decrypt Decryptor
}

// Load is Load with l's settings.
func (l Loader) Load(files map[string][]byte) (*Set, error) {
	set, _, err := l.loadInputs(inputsOf(files), nil, nil, false)
	return set, err
}

// LoadCached is LoadCached with l's settings.
func (l Loader) LoadCached(files map[string][]byte, prev *Cache) (*Set, *Cache, error) {
	return l.loadInputs(inputsOf(files), nil, prev, true)
}

// LoadInputs is LoadInputs with l's settings.
func (l Loader) LoadInputs(inputs []Input, extra ErrorList) (*Set, error) {
	set, _, err := l.loadInputs(inputs, extra, nil, false)
	return set, err
}

// LoadInputsCached is LoadInputsCached with l's settings.
func (l Loader) LoadInputsCached(inputs []Input, extra ErrorList, prev *Cache) (*Set, *Cache, error) {
	return l.loadInputs(inputs, extra, prev, true)
}

func (l Loader) loadInputs(inputs []Input, extra ErrorList, prev *Cache, cached bool) (*Set, *Cache, error) {
	if err := l.Network.Validate(); err != nil {
		return nil, nil, fmt.Errorf("failed to load: invalid network settings: %w", err)
	}
	return loadInputs(inputs, extra, prev, cached, l.Network.WithDefaults(), l.Decrypt)
}

// placed is where a Service asked for something first.
type placed struct {
	doc  *document
	path fieldPath
}

func (p placed) String() string {
	return fmt.Sprintf("%s (%s)", keyLabel(KeyOf(p.doc.obj)), fileLine(p.doc.file, p.doc.lineOf(p.path)))
}

// checkServices runs the Service checks that need the whole revision or
// the cluster's Network: an explicit cluster IP must be a usable address
// of the service CIDR and no other Service's; a node port must be in the
// range and no other Service's (Kubernetes' allocator holds a node port
// for one Service whatever the protocol). They run on every load, cached
// documents included, because they depend on more than the document.
func checkServices(docs []*document, set *Set, net Network, errs *errorSink) {
	ips := map[netip.Addr]placed{}
	nodePorts := map[int32]placed{}
	lo, hi := net.ServiceCIDR.Masked().Addr(), lastAddr(net.ServiceCIDR)
	add := func(doc *document, p fieldPath, format string, args ...any) {
		errs.add(&Error{File: doc.file, Line: doc.lineOf(p), Object: keyLabel(KeyOf(doc.obj)), Field: string(p), Message: fmt.Sprintf(format, args...)})
	}
	for _, doc := range docs {
		svc, ok := doc.obj.(*Service)
		if !ok || set.Objects[KeyOf(svc)] != doc.obj {
			continue // not a Service, or a second declaration (reported)
		}
		s := &svc.Spec
		cp := fieldPath("spec.clusterIP")
		if a, err := netip.ParseAddr(s.ClusterIP); err == nil && a.Is4() && a.Zone() == "" {
			switch {
			case !net.ServiceCIDR.Contains(a):
				add(doc, cp, "invalid value %q: not in the cluster's service CIDR %s", s.ClusterIP, net.ServiceCIDR)
			case a == lo || a == hi:
				add(doc, cp, "invalid value %q: the network or broadcast address of the service CIDR %s cannot be a cluster IP", s.ClusterIP, net.ServiceCIDR)
			default:
				if first, taken := ips[a]; taken {
					add(doc, cp, "invalid value %q: already asked for by %s: two Services cannot share a cluster IP", s.ClusterIP, first)
				} else {
					ips[a] = placed{doc, cp}
				}
			}
		}
		if s.Type != ServiceTypeNodePort {
			continue
		}
		mine := map[int32]bool{} // one Service may use a node port for TCP and UDP
		for i, sp := range s.Ports {
			np := fieldPath("spec.ports").index(i).child("nodePort")
			switch n := sp.NodePort; {
			case n == 0 || mine[n]:
			case n < net.NodePortMin || n > net.NodePortMax:
				add(doc, np, "invalid value %d: not in the cluster's node-port range %d-%d", n, net.NodePortMin, net.NodePortMax)
			default:
				if first, taken := nodePorts[n]; taken {
					add(doc, np, "invalid value %d: already asked for by %s: two Services cannot share a node port", n, first)
				} else {
					nodePorts[n] = placed{doc, np}
					mine[n] = true
				}
			}
		}
	}
}
