package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestServiceLinkEnv(t *testing.T) {
	redis := api.Service{
		Namespace: "app", Name: "redis-primary", Type: api.ServiceTypeClusterIP, ClusterIP: "10.96.0.11",
		Ports: []api.ServicePort{{Name: "db", Protocol: "TCP", Port: 6379}, {Name: "metrics-http", Protocol: "TCP", Port: 9121}},
	}
	dns := api.Service{
		Namespace: "app", Name: "dns", Type: api.ServiceTypeNodePort, ClusterIP: "10.96.0.10",
		Ports: []api.ServicePort{{Protocol: "UDP", Port: 53, NodePort: 30053}},
	}
	for _, tc := range []struct {
		name string
		svcs []api.Service
		ns   string
		want []spec.EnvVar
	}{
		{name: "no Services"},
		{
			name: "one unnamed UDP port",
			svcs: []api.Service{dns},
			ns:   "app",
			want: []spec.EnvVar{
				{Name: "DNS_SERVICE_HOST", Value: "10.96.0.10"},
				{Name: "DNS_SERVICE_PORT", Value: "53"},
				{Name: "DNS_PORT", Value: "udp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_UDP", Value: "udp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_UDP_PROTO", Value: "udp"},
				{Name: "DNS_PORT_53_UDP_PORT", Value: "53"},
				{Name: "DNS_PORT_53_UDP_ADDR", Value: "10.96.0.10"},
			},
		},
		{
			name: "named ports, dashes, by Service name",
			svcs: []api.Service{redis, dns},
			ns:   "app",
			want: []spec.EnvVar{
				{Name: "DNS_SERVICE_HOST", Value: "10.96.0.10"},
				{Name: "DNS_SERVICE_PORT", Value: "53"},
				{Name: "DNS_PORT", Value: "udp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_UDP", Value: "udp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_UDP_PROTO", Value: "udp"},
				{Name: "DNS_PORT_53_UDP_PORT", Value: "53"},
				{Name: "DNS_PORT_53_UDP_ADDR", Value: "10.96.0.10"},
				{Name: "REDIS_PRIMARY_SERVICE_HOST", Value: "10.96.0.11"},
				{Name: "REDIS_PRIMARY_SERVICE_PORT", Value: "6379"},
				{Name: "REDIS_PRIMARY_SERVICE_PORT_DB", Value: "6379"},
				{Name: "REDIS_PRIMARY_SERVICE_PORT_METRICS_HTTP", Value: "9121"},
				{Name: "REDIS_PRIMARY_PORT", Value: "tcp://10.96.0.11:6379"},
				{Name: "REDIS_PRIMARY_PORT_6379_TCP", Value: "tcp://10.96.0.11:6379"},
				{Name: "REDIS_PRIMARY_PORT_6379_TCP_PROTO", Value: "tcp"},
				{Name: "REDIS_PRIMARY_PORT_6379_TCP_PORT", Value: "6379"},
				{Name: "REDIS_PRIMARY_PORT_6379_TCP_ADDR", Value: "10.96.0.11"},
				{Name: "REDIS_PRIMARY_PORT_9121_TCP", Value: "tcp://10.96.0.11:9121"},
				{Name: "REDIS_PRIMARY_PORT_9121_TCP_PROTO", Value: "tcp"},
				{Name: "REDIS_PRIMARY_PORT_9121_TCP_PORT", Value: "9121"},
				{Name: "REDIS_PRIMARY_PORT_9121_TCP_ADDR", Value: "10.96.0.11"},
			},
		},
		{
			name: "other namespaces, headless and IP-less Services give nothing",
			svcs: []api.Service{
				redis,
				{Namespace: "other", Name: "web", ClusterIP: "10.96.0.20", Ports: []api.ServicePort{{Protocol: "TCP", Port: 80}}},
				{Namespace: "default", Name: "kubernetes", ClusterIP: "10.96.0.1", Ports: []api.ServicePort{{Name: "https", Protocol: "TCP", Port: 443}}},
				{Namespace: "mine", Name: "db", ClusterIP: api.ClusterIPNone, Ports: []api.ServicePort{{Protocol: "TCP", Port: 5432}}},
				{Namespace: "mine", Name: "pending", Ports: []api.ServicePort{{Protocol: "TCP", Port: 5432}}},
			},
			ns: "mine",
		},
		{
			name: "no protocol is TCP",
			svcs: []api.Service{{Namespace: "a", Name: "web", ClusterIP: "10.96.1.2", Ports: []api.ServicePort{{Port: 80}}}},
			ns:   "a",
			want: []spec.EnvVar{
				{Name: "WEB_SERVICE_HOST", Value: "10.96.1.2"},
				{Name: "WEB_SERVICE_PORT", Value: "80"},
				{Name: "WEB_PORT", Value: "tcp://10.96.1.2:80"},
				{Name: "WEB_PORT_80_TCP", Value: "tcp://10.96.1.2:80"},
				{Name: "WEB_PORT_80_TCP_PROTO", Value: "tcp"},
				{Name: "WEB_PORT_80_TCP_PORT", Value: "80"},
				{Name: "WEB_PORT_80_TCP_ADDR", Value: "10.96.1.2"},
			},
		},
		{
			name: "no ports: only the host",
			svcs: []api.Service{{Namespace: "a", Name: "bare", ClusterIP: "10.96.1.3"}},
			ns:   "a",
			want: []spec.EnvVar{{Name: "BARE_SERVICE_HOST", Value: "10.96.1.3"}},
		},
		{
			// Valid names can collide: "a-port-80-tcp"'s first-port URL
			// and "a"'s port 80 number are both A_PORT_80_TCP_PORT. The
			// kubelet's winner depends on a map's order; here the first
			// Service by name keeps it, whatever the input order.
			name: "a collision: the first by name wins",
			svcs: []api.Service{
				{Namespace: "a", Name: "a-port-80-tcp", ClusterIP: "10.96.1.6", Ports: []api.ServicePort{{Protocol: "TCP", Port: 8080}}},
				{Namespace: "a", Name: "a", ClusterIP: "10.96.1.5", Ports: []api.ServicePort{{Protocol: "TCP", Port: 80}}},
			},
			ns: "a",
			want: []spec.EnvVar{
				{Name: "A_SERVICE_HOST", Value: "10.96.1.5"},
				{Name: "A_SERVICE_PORT", Value: "80"},
				{Name: "A_PORT", Value: "tcp://10.96.1.5:80"},
				{Name: "A_PORT_80_TCP", Value: "tcp://10.96.1.5:80"},
				{Name: "A_PORT_80_TCP_PROTO", Value: "tcp"},
				{Name: "A_PORT_80_TCP_PORT", Value: "80"},
				{Name: "A_PORT_80_TCP_ADDR", Value: "10.96.1.5"},
				{Name: "A_PORT_80_TCP_SERVICE_HOST", Value: "10.96.1.6"},
				{Name: "A_PORT_80_TCP_SERVICE_PORT", Value: "8080"},
				{Name: "A_PORT_80_TCP_PORT_8080_TCP", Value: "tcp://10.96.1.6:8080"},
				{Name: "A_PORT_80_TCP_PORT_8080_TCP_PROTO", Value: "tcp"},
				{Name: "A_PORT_80_TCP_PORT_8080_TCP_PORT", Value: "8080"},
				{Name: "A_PORT_80_TCP_PORT_8080_TCP_ADDR", Value: "10.96.1.6"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := serviceLinkEnv(tc.svcs, tc.ns)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("serviceLinkEnv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerEnv(t *testing.T) {
	svc := []spec.EnvVar{{Name: "WEB_SERVICE_HOST", Value: "10.96.0.5"}, {Name: "WEB_SERVICE_PORT", Value: "80"}}
	for _, tc := range []struct {
		name     string
		own, svc []spec.EnvVar
		want     []string
	}{
		{name: "nothing"},
		{name: "own only", own: []spec.EnvVar{{Name: "A", Value: "1"}, {Name: "B"}}, want: []string{"A=1", "B="}},
		{name: "Services only", svc: svc, want: []string{"WEB_SERVICE_HOST=10.96.0.5", "WEB_SERVICE_PORT=80"}},
		{
			name: "own env wins, even empty",
			own:  []spec.EnvVar{{Name: "WEB_SERVICE_PORT", Value: "8080"}, {Name: "WEB_SERVICE_HOST"}, {Name: "X", Value: "y"}},
			svc:  svc,
			want: []string{"WEB_SERVICE_PORT=8080", "WEB_SERVICE_HOST=", "X=y"},
		},
		{
			name: "own first, in its order",
			own:  []spec.EnvVar{{Name: "Z", Value: "1"}, {Name: "A", Value: "2"}},
			svc:  svc,
			want: []string{"Z=1", "A=2", "WEB_SERVICE_HOST=10.96.0.5", "WEB_SERVICE_PORT=80"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &api.Pod{Namespace: "default", Name: "p"}
			got, _, err := makeEnv(envInput{facts: &podFacts{pod: p}, ctr: &spec.Container{Name: "c", Env: tc.own}, services: tc.svc,
				lookup: func(string, string, string) *api.ConfigObject { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("makeEnv (-want +got):\n%s", diff)
			}
		})
	}
}
