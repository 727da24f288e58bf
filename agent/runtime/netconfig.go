package runtime

// The node's pod network, as the agent configures it.
//
// API (for the agent; the netnode helper wires it):
//
//	runtime.Config{
//	    // NetworkPlugin picks how pods are attached: "builtin" (zero value:
//	    // an in-process veth + IPAM over netlink, no process per pod) or
//	    // "cni" (the CNI bridge + host-local plugins from CNIBinDirs).
//	    NetworkPlugin string
//	    // PodCIDR, when set, configures the pod network at New as if
//	    // SetNetwork had been called with it (tests and a --pod-cidr
//	    // override). Zero (now the default: DefaultConfig no longer sets it)
//	    // means pods wait for SetNetwork.
//	    PodCIDR string
//	    // ClusterDomain is used with a Config.PodCIDR until SetNetwork says
//	    // otherwise; zero means "cluster.local".
//	    ClusterDomain string
//	    BridgeName string // as before; zero: "stv-" + hash of NodeName
//	}
//
//	// SetNetwork configures (or re-configures) the node's pod network from
//	// the leader's api.Network: it uses n.PodCIDR and n.ClusterDomain (the
//	// rest of api.Network is for the proxy, routes and DNS). It ensures the
//	// bridge exists, is up and holds exactly the gateway address (the first
//	// IP of n.PodCIDR), repairing a bridge an earlier run left with another
//	// address; sets net.ipv4.ip_forward=1; and remembers the cluster domain
//	// and DNS address (the gateway IP) for pods' resolv.conf. Idempotent and
//	// cheap when nothing changed: call it on every PodSet that carries a
//	// Network, BEFORE Sync with that PodSet's pods. Until it has been
//	// called (and Config.PodCIDR is empty) new pods stay Pending with
//	// reason "NetworkNotReady" and message "waiting for the node's pod CIDR
//	// from the leader"; adopted running pods are untouched.
//	func (r *Runtime) SetNetwork(ctx context.Context, n api.Network) error
//
//	// Gateway returns the bridge's address (the node's DNS listen address)
//	// and BridgeName the bridge's name (for agent/proxy's Config.Bridge);
//	// Gateway is "" until the network is configured.
//	func (r *Runtime) Gateway() string
//	func (r *Runtime) BridgeName() string
