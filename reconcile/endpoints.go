package reconcile

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// ServiceAddrs are the addresses the leader allocated to one Service.
type ServiceAddrs struct {
	// ClusterIP is the virtual IP; empty when none could be allocated
	// (a headless Service's is api.ClusterIPNone whatever this says).
	ClusterIP string
	// NodePorts are index for index with the Service's ports; 0 or
	// missing means none.
	NodePorts []int32
}

// defaultAffinityTimeout is Kubernetes' ClientIP stickiness default (3 h).
const defaultAffinityTimeout = 10800

// ResolveServices turns every Service into what agents serve and what the
// view shows: its allocated addresses (addrs, keyed "namespace/name") and
// its endpoints among pods (the core's views, whose Status is the node's
// report). The result is sorted by namespace and name and is a pure
// function of its arguments.
//
// A pod is an endpoint when it is in the Service's namespace, carries
// every label of a non-empty selector, has an IP and has not finished.
// It is Ready when its Ready condition is True (from an agent that reports
// no conditions: Running with every container Ready). Terminating pods
// (PodView.Terminating) are never endpoints.
// Pods that match but receive no traffic (not Ready, no IP, finished) and
// pods that carry at least one of the selector's labels but not all of
// them are listed in Excluded with the reason.
func ResolveServices(services []*spec.Service, addrs map[string]ServiceAddrs, pods []PodView) []ServiceView {
	if len(services) == 0 {
		return nil
	}
	byNS := map[string][]*PodView{}
	for i := range pods {
		p := &pods[i]
		byNS[p.Namespace] = append(byNS[p.Namespace], p)
	}
	out := make([]ServiceView, 0, len(services))
	for _, svc := range services {
		out = append(out, resolveService(svc, addrs[svc.Namespace+"/"+svc.Name], byNS[svc.Namespace]))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Object, out[j].Object
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// Services returns what agents serve of views, in their order.
func Services(views []ServiceView) []api.Service {
	out := make([]api.Service, len(views))
	for i := range views {
		out[i] = views[i].Resolved
	}
	return out
}

func resolveService(svc *spec.Service, addrs ServiceAddrs, pods []*PodView) ServiceView {
	r := api.Service{
		Namespace:                svc.Namespace,
		Name:                     svc.Name,
		Type:                     svc.Spec.Type,
		ClusterIP:                addrs.ClusterIP,
		SessionAffinity:          svc.Spec.SessionAffinity,
		PublishNotReadyAddresses: svc.Spec.PublishNotReadyAddresses,
	}
	if r.Type == "" {
		r.Type = api.ServiceTypeClusterIP
	}
	if svc.Spec.ClusterIP == api.ClusterIPNone || svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == api.ClusterIPNone {
		r.ClusterIP = api.ClusterIPNone
	}
	if r.SessionAffinity == "" {
		r.SessionAffinity = api.AffinityNone
	}
	if r.SessionAffinity == api.AffinityClientIP {
		r.AffinityTimeoutSeconds = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			r.AffinityTimeoutSeconds = *c.ClientIP.TimeoutSeconds
		}
	}
	for i, p := range svc.Spec.Ports {
		sp := api.ServicePort{Name: p.Name, Protocol: protocolOf(p.Protocol), Port: p.Port}
		if i < len(addrs.NodePorts) {
			sp.NodePort = addrs.NodePorts[i]
		}
		r.Ports = append(r.Ports, sp)
	}
	v := ServiceView{Object: svc}
	if len(svc.Spec.Selector) > 0 {
		r.Endpoints, v.Excluded = endpointsOf(svc, pods)
	}
	v.Resolved = r
	return v
}

// protocolOf defaults a port's protocol to TCP.
func protocolOf(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

// endpointsOf returns the endpoints of a Service with a selector among the
// pods of its namespace, and the pods that are not (or get no traffic).
func endpointsOf(svc *spec.Service, pods []*PodView) ([]api.Endpoint, []EndpointExclusion) {
	var eps []api.Endpoint
	var excl []EndpointExclusion
	for _, p := range pods {
		if p.Terminating() {
			// An incarnation the core no longer wants, still stopping:
			// never an endpoint (its labels are not known anyway).
			continue
		}
		if mismatch, partial := selectorMismatch(svc.Spec.Selector, p.Labels); mismatch != "" {
			if partial {
				excl = append(excl, EndpointExclusion{Pod: p.Name, Node: p.Node, Reason: ExclusionSelectorMismatch, Message: mismatch})
			}
			continue
		}
		switch {
		case p.Phase == api.PodSucceeded || p.Phase == api.PodFailed:
			excl = append(excl, EndpointExclusion{Pod: p.Name, Node: p.Node, Reason: ExclusionTerminating, Message: "the pod has finished (" + p.Phase + ")"})
			continue
		case p.PodIP == "":
			msg := "the pod has no IP yet (" + p.Phase
			if p.Reason != "" {
				msg += ": " + p.Reason
			}
			excl = append(excl, EndpointExclusion{Pod: p.Name, Node: p.Node, Reason: ExclusionNoIP, Message: msg + ")"})
			continue
		}
		ep := api.Endpoint{IP: p.PodIP, Node: p.Node, Pod: p.Name, Ready: podReady(p), Ports: make([]int32, len(svc.Spec.Ports))}
		if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
			ep.Hostname = p.Spec.Hostname
		}
		for i, sp := range svc.Spec.Ports {
			ep.Ports[i] = targetPort(sp, &p.Spec)
		}
		if !ep.Ready {
			excl = append(excl, EndpointExclusion{Pod: p.Name, Node: p.Node, Reason: ExclusionNotReady, Message: notReadyMessage(p)})
		}
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool {
		a, errA := netip.ParseAddr(eps[i].IP)
		b, errB := netip.ParseAddr(eps[j].IP)
		if errA == nil && errB == nil && a != b {
			return a.Less(b)
		}
		if eps[i].IP != eps[j].IP {
			return eps[i].IP < eps[j].IP
		}
		return eps[i].Pod < eps[j].Pod
	})
	sort.SliceStable(excl, func(i, j int) bool { return excl[i].Pod < excl[j].Pod })
	return eps, excl
}

// selectorMismatch says how labels fail the selector ("" when they match),
// and whether they match it in part (at least one key equal): only those
// pods are worth naming, the others are simply other pods.
func selectorMismatch(sel, labels map[string]string) (string, bool) {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wants, has []string
	partial := false
	for _, k := range keys {
		v, ok := labels[k]
		switch {
		case ok && v == sel[k]:
			partial = true
		case ok:
			wants, has = append(wants, k+"="+sel[k]), append(has, k+"="+v)
		default:
			wants, has = append(wants, k+"="+sel[k]), append(has, "no label "+k)
		}
	}
	if len(wants) == 0 {
		return "", false
	}
	return fmt.Sprintf("selector wants %s, the pod has %s", strings.Join(wants, ","), strings.Join(has, ",")), partial
}

// podReady is the pod's readiness (ready, shared with the workload views
// and rollouts).
func podReady(p *PodView) bool { return ready(p.Status) }

func notReadyMessage(p *PodView) string {
	if p.Phase != api.PodRunning {
		msg := "the pod is " + p.Phase
		if p.Reason != "" {
			msg += " (" + p.Reason + ")"
		}
		return msg
	}
	if p.Status != nil && len(p.Status.Conditions) > 0 {
		parts := []string{"the pod is not ready"}
		if c := p.Status.Condition(api.PodReady); c != nil {
			for _, s := range []string{c.Reason, c.Message} {
				if s != "" {
					parts = append(parts, s)
				}
			}
		}
		return strings.Join(parts, ": ")
	}
	var names []string
	if p.Status != nil {
		for _, c := range p.Status.Containers {
			if !c.Ready {
				names = append(names, c.Name)
			}
		}
	}
	if len(names) == 0 {
		return "the pod's containers have not all reported yet"
	}
	return "container(s) not ready: " + strings.Join(names, ", ")
}

// targetPort resolves a Service port's targetPort on one pod: a number as
// is (the Service's port when unset), a name through the pod's containers'
// ports of that name and protocol, 0 when the pod has none.
func targetPort(sp spec.ServicePort, ps *spec.PodSpec) int32 {
	tp := sp.TargetPort
	if !tp.IsString {
		if tp.IntVal == 0 {
			return sp.Port
		}
		return tp.IntVal
	}
	proto := protocolOf(sp.Protocol)
	for _, c := range ps.Containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal && protocolOf(cp.Protocol) == proto {
				return cp.ContainerPort
			}
		}
	}
	return 0
}
