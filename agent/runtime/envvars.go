package runtime

// Service environment variables (PodSpec.enableServiceLinks), as the
// kubelet gives them: when a container starts, each Service with a cluster
// IP in the pod's namespace becomes a set of Docker-links-style variables.
// They are computed at every start (a restarted container sees the
// Services of its restart) and never change a running container, so a
// Service made after the pod is not in its environment until it restarts:
// DNS names have no such ordering, which is why they are the better way.
//
// Kubernetes also gives every pod, even with enableServiceLinks false, the
// variables of the `kubernetes` Service of the default namespace (the API
// server). Stevedore has no API server and no such Service, so there are
// none; a Service a user names `kubernetes` in the default namespace is an
// ordinary one.

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// setServices keeps the latest Services for new containers' environment.
// The slice is kept, not copied: the agent hands over a freshly decoded
// network and never modifies it.
func (r *Runtime) setServices(svcs []api.Service) {
	r.svcMu.Lock()
	r.services = svcs
	r.svcMu.Unlock()
}

// serviceEnvFor returns the Service variables for a container of pod p.
func (r *Runtime) serviceEnvFor(p *api.Pod) []spec.EnvVar {
	if !p.Spec.ServiceLinksEnabled() {
		return nil
	}
	r.svcMu.RLock()
	svcs := r.services
	r.svcMu.RUnlock()
	return serviceLinkEnv(svcs, p.Namespace)
}

// serviceLinkEnv returns the variables of every Service of the namespace
// that has a cluster IP (headless ones have none to give), by Service name.
// For a Service "redis-primary" with cluster IP 10.96.0.11 and a port 6379
// named "db":
//
//	REDIS_PRIMARY_SERVICE_HOST=10.96.0.11
//	REDIS_PRIMARY_SERVICE_PORT=6379            (the first port)
//	REDIS_PRIMARY_SERVICE_PORT_DB=6379         (each named port)
//	REDIS_PRIMARY_PORT=tcp://10.96.0.11:6379   (the first port)
//	REDIS_PRIMARY_PORT_6379_TCP=tcp://10.96.0.11:6379
//	REDIS_PRIMARY_PORT_6379_TCP_PROTO=tcp
//	REDIS_PRIMARY_PORT_6379_TCP_PORT=6379
//	REDIS_PRIMARY_PORT_6379_TCP_ADDR=10.96.0.11
//
// the last four for each port. Should two Services make the same name
// (which valid names do only in contrived ways), the first by Service name
// keeps it, so that the result does not depend on the order of the input.
func serviceLinkEnv(svcs []api.Service, namespace string) []spec.EnvVar {
	var mine []*api.Service
	for i := range svcs {
		s := &svcs[i]
		if s.Namespace == namespace && s.ClusterIP != "" && s.ClusterIP != api.ClusterIPNone {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].Name < mine[j].Name })
	var out []spec.EnvVar
	seen := make(map[string]bool)
	add := func(name, value string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, spec.EnvVar{Name: name, Value: value})
		}
	}
	for _, s := range mine {
		prefix := envName(s.Name)
		add(prefix+"_SERVICE_HOST", s.ClusterIP)
		if len(s.Ports) == 0 {
			// Not a valid Service with a cluster IP; the host is all
			// there is to say.
			continue
		}
		add(prefix+"_SERVICE_PORT", strconv.Itoa(int(s.Ports[0].Port)))
		for _, p := range s.Ports {
			if p.Name != "" {
				add(prefix+"_SERVICE_PORT_"+envName(p.Name), strconv.Itoa(int(p.Port)))
			}
		}
		for i, p := range s.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = spec.ProtocolTCP
			}
			port := strconv.Itoa(int(p.Port))
			url := strings.ToLower(proto) + "://" + net.JoinHostPort(s.ClusterIP, port)
			if i == 0 {
				// Docker's links special-case the first port.
				add(prefix+"_PORT", url)
			}
			pp := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
			add(pp, url)
			add(pp+"_PROTO", strings.ToLower(proto))
			add(pp+"_PORT", port)
			add(pp+"_ADDR", s.ClusterIP)
		}
	}
	return out
}

// envName makes a Service or port name (a DNS label) a variable name, as
// the kubelet does: upper case, '-' as '_'.
func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
