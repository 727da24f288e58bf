package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestServiceEnvVars: containers get the variables of their namespace's
// Services with a cluster IP as SetNetwork last gave them, their own env
// wins, enableServiceLinks false turns them off, and a restarted container
// sees the Services of its restart. The cluster IPs are documentation
// addresses (192.0.2.0/24): nothing is sent to them.
func TestServiceEnvVars(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	network := api.Network{PodCIDR: e.cfg.PodCIDR, ClusterDomain: "cluster.local", Services: []api.Service{
		{Namespace: "default", Name: "web-api", Type: api.ServiceTypeClusterIP, ClusterIP: "192.0.2.10",
			Ports: []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}, {Name: "dns", Protocol: "UDP", Port: 53}}},
		{Namespace: "default", Name: "db", Type: api.ServiceTypeClusterIP, ClusterIP: api.ClusterIPNone,
			Ports: []api.ServicePort{{Protocol: "TCP", Port: 5432}}},
		{Namespace: "other", Name: "cache", Type: api.ServiceTypeClusterIP, ClusterIP: "192.0.2.11",
			Ports: []api.ServicePort{{Protocol: "TCP", Port: 6379}}},
	}}
	if err := e.rt.SetNetwork(context.Background(), network); err != nil {
		t.Fatalf("SetNetwork: %v", err)
	}

	show := sh("c", "env; echo END; exec sleep 3600")
	show.Env = []spec.EnvVar{{Name: "WEB_API_SERVICE_PORT", Value: "8080"}, {Name: "MINE", Value: "yes"}}
	links := newPod("links", "", show)
	off := newPod("off", "", sh("c", "env; echo END; exec sleep 3600"))
	no := false
	off.Spec.EnableServiceLinks = &no
	// Prints its environment at every start and fails until it sees the
	// Service added below, so it restarts into it.
	late := newPod("late", spec.RestartPolicyOnFailure,
		sh("c", `env | grep '^LATE_'; echo RUN; if [ -n "$LATE_SERVICE_HOST" ]; then echo FOUND; exec sleep 3600; fi; exit 1`))
	e.sync(links, off, late)

	env := func(pod string) map[string]string {
		log := e.waitLog(pod, "c", "END\n", 30*time.Second)
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSuffix(log, "END\n"), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	got := env("links")
	for k, want := range map[string]string{
		"WEB_API_SERVICE_HOST":      "192.0.2.10",
		"WEB_API_SERVICE_PORT":      "8080", // the container's own
		"WEB_API_SERVICE_PORT_HTTP": "80",
		"WEB_API_SERVICE_PORT_DNS":  "53",
		"WEB_API_PORT":              "tcp://192.0.2.10:80",
		"WEB_API_PORT_80_TCP":       "tcp://192.0.2.10:80",
		"WEB_API_PORT_80_TCP_PROTO": "tcp",
		"WEB_API_PORT_80_TCP_PORT":  "80",
		"WEB_API_PORT_80_TCP_ADDR":  "192.0.2.10",
		"WEB_API_PORT_53_UDP":       "udp://192.0.2.10:53",
		"WEB_API_PORT_53_UDP_PROTO": "udp",
		"WEB_API_PORT_53_UDP_PORT":  "53",
		"WEB_API_PORT_53_UDP_ADDR":  "192.0.2.10",
		"MINE":                      "yes",
	} {
		if got[k] != want {
			t.Errorf("links: %s=%q, want %q", k, got[k], want)
		}
	}
	for k := range got {
		// Headless and other namespaces' Services give nothing.
		if strings.HasPrefix(k, "DB_") || strings.HasPrefix(k, "CACHE_") || strings.HasPrefix(k, "KUBERNETES_") {
			t.Errorf("links: unexpected %s=%s", k, got[k])
		}
	}
	for k := range env("off") {
		if strings.HasPrefix(k, "WEB_API_") {
			t.Errorf("off (enableServiceLinks false): unexpected %s", k)
		}
	}

	first := e.waitLog("late", "c", "RUN\n", 30*time.Second)
	if strings.Contains(first, "LATE_") {
		t.Fatalf("late saw a Service before it existed: %q", first)
	}
	network.Services = append(network.Services, api.Service{Namespace: "default", Name: "late", Type: api.ServiceTypeClusterIP,
		ClusterIP: "192.0.2.12", Ports: []api.ServicePort{{Protocol: "TCP", Port: 7}}})
	if err := e.rt.SetNetwork(context.Background(), network); err != nil {
		t.Fatalf("SetNetwork: %v", err)
	}
	log := e.waitLog("late", "c", "FOUND\n", 30*time.Second)
	if !strings.Contains(log, "LATE_SERVICE_HOST=192.0.2.12\n") || !strings.Contains(log, "LATE_PORT_7_TCP=tcp://192.0.2.12:7\n") {
		t.Errorf("late after its restart:\n%s", log)
	}
	// A running container's environment does not change: links started
	// before the Service was added and still runs the same process.
	if st := e.waitPod("links", "running", 10*time.Second, running); st.Containers[0].RestartCount != 0 {
		t.Errorf("links restarted: %d", st.Containers[0].RestartCount)
	}
}
