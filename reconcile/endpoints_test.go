package reconcile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func epPod(name, ip string, labels map[string]string, ready bool, mod ...func(*PodView)) PodView {
	p := PodView{Namespace: "shop", Name: name, Node: "n1", Labels: labels, PodIP: ip, Phase: api.PodRunning,
		Spec: spec.PodSpec{Containers: []spec.Container{{Name: "web", Ports: []spec.ContainerPort{
			{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 5353, Protocol: "UDP"}}}}}}
	p.Status = &api.PodStatus{Phase: p.Phase, PodIP: ip, Containers: []api.ContainerStatus{{Name: "web", Ready: ready}}}
	for _, m := range mod {
		m(&p)
	}
	return p
}

func epService(name string, sel map[string]string, ports ...spec.ServicePort) *spec.Service {
	s := &spec.Service{Spec: spec.ServiceSpec{Selector: sel, Ports: ports}}
	s.Namespace, s.Name = "shop", name
	return s
}

func TestResolveServices(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "front"}
	named := spec.ServicePort{Name: "http", Port: 80, TargetPort: spec.FromString("http")}
	tests := []struct {
		name     string
		svc      *spec.Service
		addrs    ServiceAddrs
		pods     []PodView
		want     []api.Endpoint
		excluded []EndpointExclusion
		check    func(t *testing.T, r api.Service)
	}{{
		name: "named and numeric target ports, sorted by IP",
		svc: epService("web", map[string]string{"app": "web"}, named,
			spec.ServicePort{Name: "raw", Port: 81, TargetPort: spec.FromInt(9000)},
			spec.ServicePort{Name: "same", Port: 82},
			spec.ServicePort{Name: "dns", Port: 53, Protocol: "UDP", TargetPort: spec.FromString("dns")},
			spec.ServicePort{Name: "dnstcp", Port: 54, TargetPort: spec.FromString("dns")}),
		addrs: ServiceAddrs{ClusterIP: "10.96.0.1"},
		pods:  []PodView{epPod("b", "10.244.1.10", web, true), epPod("a", "10.244.1.9", web, true)},
		want: []api.Endpoint{
			{IP: "10.244.1.9", Node: "n1", Pod: "a", Ready: true, Ports: []int32{8080, 9000, 82, 5353, 0}},
			{IP: "10.244.1.10", Node: "n1", Pod: "b", Ready: true, Ports: []int32{8080, 9000, 82, 5353, 0}},
		},
		check: func(t *testing.T, r api.Service) {
			if r.ClusterIP != "10.96.0.1" || r.Type != api.ServiceTypeClusterIP || r.SessionAffinity != api.AffinityNone || r.Ports[3].Protocol != "UDP" || r.Ports[0].Protocol != "TCP" {
				t.Errorf("resolved = %+v", r)
			}
		},
	}, {
		name: "readiness, no IP, finished",
		svc:  epService("web", map[string]string{"app": "web"}, named),
		pods: []PodView{
			epPod("ready", "10.244.1.2", web, true),
			epPod("unready", "10.244.1.3", web, false),
			epPod("pending", "", web, false, func(p *PodView) { p.Phase, p.Reason = api.PodPending, "ContainerCreating" }),
			epPod("done", "10.244.1.4", web, false, func(p *PodView) { p.Phase = api.PodSucceeded }),
			epPod("unreported", "10.244.1.5", web, false, func(p *PodView) { p.Status.Containers = nil }),
		},
		want: []api.Endpoint{
			{IP: "10.244.1.2", Node: "n1", Pod: "ready", Ready: true, Ports: []int32{8080}},
			{IP: "10.244.1.3", Node: "n1", Pod: "unready", Ports: []int32{8080}},
			{IP: "10.244.1.5", Node: "n1", Pod: "unreported", Ports: []int32{8080}},
		},
		excluded: []EndpointExclusion{
			{Pod: "done", Node: "n1", Reason: ExclusionTerminating, Message: "the pod has finished (Succeeded)"},
			{Pod: "pending", Node: "n1", Reason: ExclusionNoIP, Message: "the pod has no IP yet (Pending: ContainerCreating)"},
			{Pod: "unready", Node: "n1", Reason: ExclusionNotReady, Message: "container(s) not ready: web"},
			{Pod: "unreported", Node: "n1", Reason: ExclusionNotReady, Message: "the pod's containers have not all reported yet"},
		},
	}, {
		name: "selector mismatch named only for partial matches, other namespaces ignored",
		svc:  epService("web", map[string]string{"app": "web", "tier": "front"}, named),
		pods: []PodView{
			epPod("api", "10.244.1.2", map[string]string{"app": "api", "tier": "front"}, true),
			epPod("nolabel", "10.244.1.3", map[string]string{"app": "web"}, true),
			epPod("other", "10.244.1.4", map[string]string{"app": "db"}, true),
			epPod("elsewhere", "10.244.1.5", web, true, func(p *PodView) { p.Namespace = "other" }),
		},
		excluded: []EndpointExclusion{
			{Pod: "api", Node: "n1", Reason: ExclusionSelectorMismatch, Message: "selector wants app=web, the pod has app=api"},
			{Pod: "nolabel", Node: "n1", Reason: ExclusionSelectorMismatch, Message: "selector wants tier=front, the pod has no label tier"},
		},
	}, {
		name: "empty selector: no endpoints",
		svc:  epService("ext", nil, named),
		pods: []PodView{epPod("a", "10.244.1.2", web, true)},
	}, {
		name: "hostname only under the subdomain's Service; headless",
		svc: func() *spec.Service {
			s := epService("db", map[string]string{"app": "web"}, named)
			s.Spec.ClusterIP = api.ClusterIPNone
			return s
		}(),
		addrs: ServiceAddrs{ClusterIP: "10.96.0.9"},
		pods: []PodView{
			epPod("a", "10.244.1.2", web, true, func(p *PodView) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db" }),
			epPod("b", "10.244.1.3", web, true, func(p *PodView) { p.Spec.Hostname, p.Spec.Subdomain = "db-1", "other" }),
		},
		want: []api.Endpoint{
			{IP: "10.244.1.2", Node: "n1", Pod: "a", Hostname: "db-0", Ready: true, Ports: []int32{8080}},
			{IP: "10.244.1.3", Node: "n1", Pod: "b", Ready: true, Ports: []int32{8080}},
		},
		check: func(t *testing.T, r api.Service) {
			if r.ClusterIP != api.ClusterIPNone {
				t.Errorf("headless ClusterIP = %q", r.ClusterIP)
			}
		},
	}, {
		name: "NodePort and ClientIP affinity",
		svc: func() *spec.Service {
			s := epService("np", map[string]string{"app": "web"}, named)
			s.Spec.Type, s.Spec.SessionAffinity = api.ServiceTypeNodePort, api.AffinityClientIP
			return s
		}(),
		addrs: ServiceAddrs{ClusterIP: "10.96.0.2", NodePorts: []int32{30001}},
		check: func(t *testing.T, r api.Service) {
			if r.Ports[0].NodePort != 30001 || r.AffinityTimeoutSeconds != 10800 || r.Type != api.ServiceTypeNodePort {
				t.Errorf("resolved = %+v", r)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			views := ResolveServices([]*spec.Service{tt.svc}, map[string]ServiceAddrs{"shop/" + tt.svc.Name: tt.addrs}, tt.pods)
			if len(views) != 1 {
				t.Fatalf("got %d views", len(views))
			}
			v := views[0]
			if diff := cmp.Diff(tt.want, v.Resolved.Endpoints); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.excluded, v.Excluded); diff != "" {
				t.Errorf("excluded (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, v.Resolved)
			}
		})
	}
}

func TestResolveServicesSorted(t *testing.T) {
	a, b, c := epService("b", nil), epService("a", nil), epService("a", nil)
	c.Namespace = "alpha"
	views := ResolveServices([]*spec.Service{a, b, c}, nil, nil)
	got := Services(views)
	var names []string
	for _, s := range got {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	if diff := cmp.Diff([]string{"alpha/a", "shop/a", "shop/b"}, names); diff != "" {
		t.Error(diff)
	}
}
