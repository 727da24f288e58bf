package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// This file serves Services and Endpoints in Kubernetes' v1 shapes, built
// from the view's reconcile.ServiceView: the object as committed, what the
// leader resolved (cluster IP, node ports, endpoints) and the pods that are
// not endpoints.

// registerServiceRoutes adds the Service and Endpoints reads, served by
// the leader (a follower forwards them, as every read of the view).
func (s *Server) registerServiceRoutes(lead func(string, http.HandlerFunc)) {
	lead("GET "+api.PathServices, s.handleServices)
	lead("GET "+api.PathService, s.handleService)
	lead("GET "+api.PathEndpoints, s.handleEndpoints)
	lead("GET "+api.PathEndpointsOf, s.handleEndpointsOf)
}

func (s *Server) handleServices(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	if isWatch(r) {
		s.serveWatch(w, r, watchServiceViews(ns, wireService))
		return
	}
	writeJSON(w, http.StatusOK, api.ServiceList{APIVersion: spec.CoreV1, Kind: api.KindServiceList,
		Items: servicesIn(s.view.Load(), ns, wireService)})
}

func (s *Server) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	if isWatch(r) {
		s.serveWatch(w, r, watchServiceViews(ns, wireEndpoints))
		return
	}
	writeJSON(w, http.StatusOK, api.EndpointsList{APIVersion: spec.CoreV1, Kind: api.KindEndpointsList,
		Items: servicesIn(s.view.Load(), ns, wireEndpoints)})
}

func (s *Server) handleService(w http.ResponseWriter, r *http.Request) {
	sv, err := s.view.Load().service(r.PathValue("namespace"), r.PathValue("name"))
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusOK, describeService(sv))
}

func (s *Server) handleEndpointsOf(w http.ResponseWriter, r *http.Request) {
	sv, err := s.view.Load().service(r.PathValue("namespace"), r.PathValue("name"))
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wireEndpoints(sv))
}

// service finds a Service of the view; the services are sorted by
// namespace and name.
func (v *view) service(namespace, name string) (*reconcile.ServiceView, error) {
	i := sort.Search(len(v.services), func(i int) bool {
		r := &v.services[i].Resolved
		return r.Namespace > namespace || r.Namespace == namespace && r.Name >= name
	})
	if i < len(v.services) && v.services[i].Resolved.Namespace == namespace && v.services[i].Resolved.Name == name {
		return &v.services[i], nil
	}
	// Not sorted after all (a view built elsewhere): look at every one.
	for i := range v.services {
		if r := &v.services[i].Resolved; r.Namespace == namespace && r.Name == name {
			return &v.services[i], nil
		}
	}
	return nil, errNotFound("service " + namespace + "/" + name + " not found")
}

// wireService is the v1 Service of a view: the committed object with the
// resolved cluster IP and node ports.
func wireService(sv *reconcile.ServiceView) api.Service {
	res := &sv.Resolved
	out := api.Service{APIVersion: spec.CoreV1, Kind: api.KindService}
	out.Metadata = api.ObjectMeta{Name: res.Name, Namespace: res.Namespace}
	var obj spec.ServiceSpec
	if sv.Object != nil {
		out.Metadata.Labels, out.Metadata.Annotations = sv.Object.Labels, sv.Object.Annotations
		obj = sv.Object.Spec
	}
	sp := &out.Spec
	sp.Type = res.Type
	if sp.Type == "" {
		sp.Type = orDefault(obj.Type, agentapi.ServiceTypeClusterIP)
	}
	sp.ClusterIP = res.ClusterIP
	if sp.ClusterIP == "" {
		sp.ClusterIP = obj.ClusterIP
	}
	if sp.ClusterIP != "" {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	sp.IPFamilies, sp.IPFamilyPolicy = []string{"IPv4"}, "SingleStack"
	sp.Selector = obj.Selector
	sp.SessionAffinity = res.SessionAffinity
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = orDefault(obj.SessionAffinity, agentapi.AffinityNone)
	}
	sp.SessionAffinityConfig = obj.SessionAffinityConfig
	if sp.SessionAffinity == agentapi.AffinityClientIP && sp.SessionAffinityConfig == nil && res.AffinityTimeoutSeconds > 0 {
		t := res.AffinityTimeoutSeconds
		sp.SessionAffinityConfig = &spec.SessionAffinityConfig{ClientIP: &spec.ClientIPConfig{TimeoutSeconds: &t}}
	}
	sp.PublishNotReadyAddresses = obj.PublishNotReadyAddresses || res.PublishNotReadyAddresses
	sp.Ports = wireServicePorts(obj.Ports, res.Ports)
	return out
}

// wireServicePorts merges the committed ports (targetPort, appProtocol)
// with the resolved ones (node ports), which the leader keeps index for
// index; a resolved port without its committed one is shown as resolved.
func wireServicePorts(committed []spec.ServicePort, resolved []agentapi.ServicePort) []api.ServicePort {
	n := max(len(committed), len(resolved))
	if n == 0 {
		return nil
	}
	out := make([]api.ServicePort, n)
	for i := range out {
		p := &out[i]
		if i < len(committed) {
			c := committed[i]
			*p = api.ServicePort{Name: c.Name, Protocol: orDefault(c.Protocol, "TCP"), AppProtocol: c.AppProtocol,
				Port: c.Port, TargetPort: c.TargetPort, NodePort: c.NodePort}
		}
		if i < len(resolved) {
			r := resolved[i]
			p.Name, p.Port = r.Name, r.Port
			if r.Protocol != "" {
				p.Protocol = r.Protocol
			}
			if r.NodePort != 0 {
				p.NodePort = r.NodePort
			}
		}
		if !p.TargetPort.IsString && p.TargetPort.IntVal == 0 {
			p.TargetPort = spec.FromInt(p.Port)
		}
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// wireEndpoints is the v1 Endpoints of a view's Service, packed as
// Kubernetes' endpoints controller packs them: an endpoint serves the
// Service ports it resolved a target port for, and endpoints serving the
// same ports share a subset. Ready pods (every pod when the Service
// publishes not-ready addresses) are addresses, the others
// notReadyAddresses. A headless Service without ports lists its pods with
// no ports; any other endpoint that resolved no port is left out, as in
// Kubernetes.
func wireEndpoints(sv *reconcile.ServiceView) api.Endpoints {
	res := &sv.Resolved
	out := api.Endpoints{APIVersion: spec.CoreV1, Kind: api.KindEndpoints, Metadata: api.ObjectMeta{Name: res.Name, Namespace: res.Namespace}}
	if sv.Object != nil {
		out.Metadata.Labels = sv.Object.Labels
	}
	var appProto []string
	if sv.Object != nil {
		for _, p := range sv.Object.Spec.Ports {
			appProto = append(appProto, p.AppProtocol)
		}
	}
	publish := res.PublishNotReadyAddresses || sv.Object != nil && sv.Object.Spec.PublishNotReadyAddresses
	bySet := map[string]*api.EndpointSubset{}
	var keys []string
	for _, ep := range res.Endpoints {
		var ports []api.EndpointPort
		for i, sp := range res.Ports {
			if i >= len(ep.Ports) || ep.Ports[i] == 0 {
				continue
			}
			ep := api.EndpointPort{Name: sp.Name, Port: ep.Ports[i], Protocol: sp.Protocol}
			if i < len(appProto) {
				ep.AppProtocol = appProto[i]
			}
			ports = append(ports, ep)
		}
		if len(ports) == 0 && len(res.Ports) > 0 {
			continue
		}
		key := portsKey(ports)
		ss := bySet[key]
		if ss == nil {
			ss = &api.EndpointSubset{Ports: ports}
			bySet[key] = ss
			keys = append(keys, key)
		}
		addr := api.EndpointAddress{IP: ep.IP, Hostname: ep.Hostname, NodeName: ep.Node,
			TargetRef: &api.ObjectReference{Kind: spec.KindPod, Namespace: res.Namespace, Name: ep.Pod}}
		if ep.Ready || publish {
			ss.Addresses = append(ss.Addresses, addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ss := bySet[k]
		sortAddresses(ss.Addresses)
		sortAddresses(ss.NotReadyAddresses)
		out.Subsets = append(out.Subsets, *ss)
	}
	return out
}

// portsKey identifies a subset's port list.
func portsKey(ports []api.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s\x00%s\x00%05d\x00", p.Name, p.Protocol, p.Port)
	}
	return b.String()
}

func sortAddresses(a []api.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool { return ipLess(a[i].IP, a[j].IP) })
}

// ipLess orders dotted IPv4 addresses numerically (10.0.0.9 before
// 10.0.0.10), anything else as text.
func ipLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 4 || len(pb) != 4 {
		return a < b
	}
	for i := range pa {
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) < len(pb[i])
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

// describeService is GET /v1/services/{namespace}/{name}'s answer.
func describeService(sv *reconcile.ServiceView) api.ServiceDescription {
	d := api.ServiceDescription{Service: wireService(sv), Endpoints: wireEndpoints(sv)}
	// A not-Ready endpoint may be listed as excluded too: count pods once.
	matching := map[string]bool{}
	for _, ep := range sv.Resolved.Endpoints {
		matching[ep.Pod] = true
	}
	for _, e := range sv.Excluded {
		d.Excluded = append(d.Excluded, api.EndpointExclusion(e))
		if e.Reason != reconcile.ExclusionSelectorMismatch {
			matching[e.Pod] = true
		}
	}
	d.MatchingPods = len(matching)
	return d
}

// watchServiceViews is the list a watch of Services (conv wireService) or
// Endpoints (wireEndpoints) follows.
func watchServiceViews[T any](namespace string, conv func(*reconcile.ServiceView) T) func(*view) []keyed {
	return func(v *view) []keyed {
		var out []keyed
		for i := range v.services {
			if sv := &v.services[i]; namespace == "" || sv.Resolved.Namespace == namespace {
				out = append(out, keyed{key: sv.Resolved.Namespace + "/" + sv.Resolved.Name, obj: conv(sv)})
			}
		}
		return out
	}
}

// servicesIn converts the view's Services of namespace ns (all for "") in
// order; never nil, so an empty list is [] on the wire.
func servicesIn[T any](v *view, ns string, conv func(*reconcile.ServiceView) T) []T {
	out := []T{}
	for i := range v.services {
		if sv := &v.services[i]; ns == "" || sv.Resolved.Namespace == ns {
			out = append(out, conv(sv))
		}
	}
	return out
}
