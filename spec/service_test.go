package spec

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const svcHead = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`

// svc is a Service named web whose spec is body (indented by two).
func svc(body string) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n" + body
}

func TestServiceDefaults(t *testing.T) {
	set := mustLoad(t, svc(`  selector: {app: web}
  sessionAffinity: ClientIP
  ports:
  - {name: http, port: 80}
  - {name: dns, port: 53, protocol: UDP, targetPort: dns}
  - {name: zero, port: 8080, targetPort: 0}
`))
	s := set.Objects[ObjectKey{KindService, "default", "web"}].(*Service)
	if s.Spec.Type != ServiceTypeClusterIP || s.Spec.SessionAffinity != ServiceAffinityClientIP || s.Spec.ClusterIP != "" {
		t.Errorf("spec = %+v", s.Spec)
	}
	if c := s.Spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil || *c.ClientIP.TimeoutSeconds != 10800 {
		t.Errorf("sessionAffinityConfig = %+v", c)
	}
	want := []ServicePort{
		{Name: "http", Protocol: ProtocolTCP, Port: 80, TargetPort: FromInt(80)},
		{Name: "dns", Protocol: ProtocolUDP, Port: 53, TargetPort: FromString("dns")},
		{Name: "zero", Protocol: ProtocolTCP, Port: 8080, TargetPort: FromInt(8080)},
	}
	for i, p := range s.Spec.Ports {
		if p != want[i] {
			t.Errorf("ports[%d] = %+v, want %+v", i, p, want[i])
		}
	}
	// None gets no config; clusterIPs alone gives clusterIP.
	set = mustLoad(t, svc(`  clusterIPs: [10.96.3.4]
  ports: [{port: 80}]
`))
	s = set.OfKind(KindService)[0].(*Service)
	if s.Spec.SessionAffinity != ServiceAffinityNone || s.Spec.SessionAffinityConfig != nil || s.Spec.ClusterIP != "10.96.3.4" {
		t.Errorf("spec = %+v", s.Spec)
	}
	before := *s
	SetDefaults(s)
	if s.Spec.ClusterIP != before.Spec.ClusterIP || s.Spec.Type != before.Spec.Type {
		t.Error("defaulting twice changed the Service")
	}
}

// TestServiceKubectlDefaultsAccepted: what `kubectl get service -o yaml`
// prints for a ClusterIP Service loads.
func TestServiceKubectlDefaultsAccepted(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: Service
metadata:
  name: web
  uid: 0b2d7a6c-4f8e-4d0c-9d2c-2f6f6e7d3c11
  resourceVersion: "1234"
  creationTimestamp: "2024-05-14T09:25:31Z"
spec:
  clusterIP: 10.96.112.7
  clusterIPs:
  - 10.96.112.7
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  externalIPs: []
  healthCheckNodePort: 0
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 8080
  selector:
    app: web
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer: {}
`)
	if s := set.OfKind(KindService)[0].(*Service); s.Spec.ClusterIP != "10.96.112.7" || s.Spec.Ports[0].TargetPort != FromInt(8080) {
		t.Errorf("spec = %+v", s.Spec)
	}
	mustLoad(t, svc(`  type: NodePort
  externalTrafficPolicy: Cluster
  ports: [{port: 80, nodePort: 30080}]
`))
}

func TestServiceRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"LoadBalancer", svc(`  type: LoadBalancer #!
  ports: [{port: 80}]
`), "spec.type", "not supported by Stevedore"},
		{"ExternalName", svc(`  type: ExternalName #!
  ports: [{port: 80}]
`), "spec.type", "not supported by Stevedore"},
		{"unknown type", svc(`  type: Cluster #!
  ports: [{port: 80}]
`), "spec.type", `supported values: "ClusterIP", "NodePort"`},
		{"no ports", `apiVersion: v1
kind: Service
metadata:
  name: web
spec: #!
  selector: {app: web}
`, "spec.ports", "at least one port unless it is headless"},
		{"name required with two ports", svc(`  ports:
  - {name: a, port: 80}
  - {port: 81} #!
`), "spec.ports[1].name", "required"},
		{"name not a label", svc(`  ports:
  - {name: Web_1, port: 80} #!
`), "spec.ports[0].name", "RFC 1123 label"},
		{"duplicate name", svc(`  ports:
  - {name: web, port: 80}
  - {name: web, port: 81} #!
`), "spec.ports[1].name", `duplicate value "web": ports[0]`},
		{"port 0", svc(`  ports:
  - port: 0 #!
`), "spec.ports[0].port", "between 1 and 65535"},
		{"port too big", svc(`  ports:
  - port: 65536 #!
`), "spec.ports[0].port", "between 1 and 65535"},
		{"SCTP", svc(`  ports:
  - port: 80
    protocol: SCTP #!
`), "spec.ports[0].protocol", "SCTP is not supported by Stevedore"},
		{"unknown protocol", svc(`  ports:
  - port: 80
    protocol: tcp #!
`), "spec.ports[0].protocol", `unsupported value "tcp": supported values: "TCP", "UDP"`},
		{"targetPort out of range", svc(`  ports:
  - port: 80
    targetPort: 70000 #!
`), "spec.ports[0].targetPort", "between 1 and 65535"},
		{"targetPort name", svc(`  ports:
  - port: 80
    targetPort: http--alt #!
`), "spec.ports[0].targetPort", "consecutive hyphens"},
		{"targetPort name too long", svc(`  ports:
  - port: 80
    targetPort: a-very-long-port-name #!
`), "spec.ports[0].targetPort", "no more than 15 characters"},
		{"duplicate port and protocol", svc(`  ports:
  - {name: a, port: 80}
  - {name: b, port: 80, targetPort: 81} #!
`), "spec.ports[1]", "duplicate value 80/TCP: ports[0]"},
		{"nodePort on ClusterIP", svc(`  ports:
  - port: 80
    nodePort: 30080 #!
`), "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"},
		{"duplicate nodePort", svc(`  type: NodePort
  ports:
  - {name: a, port: 80, nodePort: 30080}
  - {name: b, port: 81, nodePort: 30080} #!
`), "spec.ports[1].nodePort", "duplicate value 30080/TCP: ports[0]"},
		{"nodePort out of the default range", svc(`  type: NodePort
  ports:
  - port: 80
    nodePort: 8080 #!
`), "spec.ports[0].nodePort", "not in the cluster's node-port range 30000-32767"},
		{"clusterIP not an IP", svc(`  clusterIP: 10.96.0.300 #!
  ports: [{port: 80}]
`), "spec.clusterIP", "must be empty, 'None' or a valid IP address"},
		{"clusterIP with leading zeros", svc(`  clusterIP: 10.96.0.010 #!
  ports: [{port: 80}]
`), "spec.clusterIP", "valid IP address"},
		{"clusterIP IPv6", svc(`  clusterIP: fd00::10 #!
  ports: [{port: 80}]
`), "spec.clusterIP", "IPv6 is not supported by Stevedore"},
		{"clusterIP outside the service CIDR", svc(`  clusterIP: 10.97.0.10 #!
  ports: [{port: 80}]
`), "spec.clusterIP", "not in the cluster's service CIDR 10.96.0.0/16"},
		{"clusterIP the network address", svc(`  clusterIP: 10.96.0.0 #!
  ports: [{port: 80}]
`), "spec.clusterIP", "network or broadcast address"},
		{"clusterIP the broadcast address", svc(`  clusterIP: 10.96.255.255 #!
  ports: [{port: 80}]
`), "spec.clusterIP", "network or broadcast address"},
		{"headless NodePort", svc(`  type: NodePort
  clusterIP: None #!
  ports: [{port: 80}]
`), "spec.clusterIP", "may be 'None' (headless) only when `type` is 'ClusterIP'"},
		{"clusterIPs dual-stack", svc(`  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00::10"] #!
  ports: [{port: 80}]
`), "spec.clusterIPs", "at most one cluster IP"},
		{"clusterIPs differs", svc(`  clusterIP: 10.96.0.10
  clusterIPs:
  - 10.96.0.11 #!
  ports: [{port: 80}]
`), "spec.clusterIPs[0]", "must match `clusterIP`"},
		{"sessionAffinity unknown", svc(`  sessionAffinity: Cookie #!
  ports: [{port: 80}]
`), "spec.sessionAffinity", `supported values: "None", "ClientIP"`},
		{"affinity timeout 0", svc(`  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 0 #!
  ports: [{port: 80}]
`), "spec.sessionAffinityConfig.clientIP.timeoutSeconds", "must be greater than 0"},
		{"affinity timeout over a day", svc(`  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 86401 #!
  ports: [{port: 80}]
`), "spec.sessionAffinityConfig.clientIP.timeoutSeconds", "less than or equal to 86400"},
		{"affinity config without ClientIP", svc(`  sessionAffinityConfig: #!
    clientIP: {timeoutSeconds: 60}
  ports: [{port: 80}]
`), "spec.sessionAffinityConfig", "must not be set when `sessionAffinity` is None"},
		{"selector value", svc(`  selector:
    app: "not valid!" #!
  ports: [{port: 80}]
`), "spec.selector[app]", "a valid label"},
		{"selector key", svc(`  selector:
    "-app": web #!
  ports: [{port: 80}]
`), "spec.selector[-app]", "invalid label key"},
		{"name is a DNS-1035 label", `apiVersion: v1
kind: Service
metadata:
  name: 1web #!
spec:
  ports: [{port: 80}]
`, "metadata.name", "DNS-1035 label"},
		{"appProtocol", svc(`  ports:
  - port: 80
    appProtocol: "h t t p" #!
`), "spec.ports[0].appProtocol", "invalid value"},
		{"typo", svc(`  ports: [{port: 80}]
  sessionAfinity: ClientIP #!
`), "spec.sessionAfinity", `did you mean "sessionAffinity"?`},
		{"loadBalancerIP", svc(`  ports: [{port: 80}]
  loadBalancerIP: 192.0.2.1 #!
`), "spec.loadBalancerIP", "not supported by Stevedore"},
	})
	// Headless needs no port; NodePort, UDP and TCP on one node port, a
	// named targetPort, and ClientIP load.
	mustLoad(t, svc("  clusterIP: None\n  selector: {app: db}\n"))
	mustLoad(t, svc(`  type: NodePort
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports:
  - {name: dns, port: 53, protocol: UDP, nodePort: 30053, targetPort: dns}
  - {name: dns-tcp, port: 53, protocol: TCP, nodePort: 30053, targetPort: dns-tcp}
`))
}

// loadFiles loads several files and returns the errors, which must exist.
func loadErrors(t *testing.T, l Loader, files map[string]string) ErrorList {
	t.Helper()
	in := map[string][]byte{}
	for k, v := range files {
		in[k] = []byte(v)
	}
	set, err := l.Load(in)
	if err == nil {
		t.Fatalf("loaded %d objects, want errors", len(set.Objects))
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %T: %v", err, err)
	}
	return list
}

func named(name, body string) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\nspec:\n" + body
}

// TestServicesAcrossTheRevision: a cluster IP or node port two Services ask
// for is refused on the second, naming the first's file and line.
func TestServicesAcrossTheRevision(t *testing.T) {
	list := loadErrors(t, Loader{}, map[string]string{
		"a.yaml": named("a", "  clusterIP: 10.96.0.10\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n"),
		"b.yaml": named("b", "  ports: [{port: 81}]\n  clusterIP: 10.96.0.10\n") + "---\n" +
			named("c", "  type: NodePort\n  ports:\n  - {port: 80, protocol: UDP, nodePort: 30080}\n"),
	})
	want := []string{
		`b.yaml:7: Service default/b: spec.clusterIP: invalid value "10.96.0.10": already asked for by Service default/a (a.yaml:6): two Services cannot share a cluster IP`,
		`b.yaml:16: Service default/c: spec.ports[0].nodePort: invalid value 30080: already asked for by Service default/a (a.yaml:8): two Services cannot share a node port`,
	}
	if got := list.Error(); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// Distinct addresses load; a Service declared twice is reported once,
	// as declared twice.
	list = loadErrors(t, Loader{}, map[string]string{
		"a.yaml": named("a", "  clusterIP: 10.96.0.10\n  ports: [{port: 80}]\n"),
		"b.yaml": named("a", "  clusterIP: 10.96.0.10\n  ports: [{port: 80}]\n"),
	})
	if len(list) != 1 || !strings.Contains(list[0].Message, "declared twice") {
		t.Errorf("errors:\n%v", list)
	}
}

// TestServicesAgainstTheNetwork: the Loader's Network replaces the defaults,
// and cached loads check it too.
func TestServicesAgainstTheNetwork(t *testing.T) {
	l := Loader{Network: Network{ServiceCIDR: netip.MustParsePrefix("10.100.0.0/24"), NodePortMin: 20000, NodePortMax: 20100}}
	files := map[string]string{"s.yaml": named("s", `  type: NodePort
  clusterIP: 10.96.0.10
  ports:
  - {port: 80, nodePort: 30080}
`)}
	list := loadErrors(t, l, files)
	if len(list) != 2 || !strings.Contains(list[0].Message, "not in the cluster's service CIDR 10.100.0.0/24") ||
		!strings.Contains(list[1].Message, "node-port range 20000-20100") || list[0].Line != 7 || list[1].Line != 9 {
		t.Errorf("errors:\n%v", list)
	}
	ok := map[string][]byte{"s.yaml": []byte(named("s", "  type: NodePort\n  clusterIP: 10.100.0.254\n  ports: [{port: 80, nodePort: 20100}]\n"))}
	set, cache, err := l.LoadCached(ok, nil)
	if err != nil || len(set.Objects) != 1 {
		t.Fatalf("load: %v", err)
	}
	if _, err := (Loader{}).Load(ok); err == nil {
		t.Error("the default network accepted 10.100.0.254 and node port 20100")
	}
	// The document is reused from the cache, and still checked against
	// the (now different) network.
	if _, _, err := (Loader{}).LoadCached(ok, cache); err == nil || !strings.Contains(err.Error(), "s.yaml:7") {
		t.Errorf("cached load with another network: %v", err)
	}
	if _, err := (Loader{Network: Network{ServiceCIDR: netip.MustParsePrefix("fd00::/108")}}).Load(ok); err == nil || !strings.Contains(err.Error(), "must be IPv4") {
		t.Errorf("IPv6 CIDR: %v", err)
	}
	for _, n := range []Network{{NodePortMin: 100}, {NodePortMin: 2, NodePortMax: 1}, {ServiceCIDR: netip.MustParsePrefix("10.0.0.0/31")}} {
		if n.Validate() == nil {
			t.Errorf("%+v is valid", n)
		}
	}
	if err := (Network{}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestDNSPolicyKeepsTemplateHash: dnsPolicy became a field; a template
// writing Kubernetes' default must hash as one without it, as before, or an
// upgrade would restart every such pod.
func TestDNSPolicyKeepsTemplateHash(t *testing.T) {
	hash := func(extra string) string {
		set := mustLoad(t, deployHead+"      containers: [{name: c, image: busybox}]\n"+extra)
		return TemplateHash(&set.OfKind(KindDeployment)[0].(*Deployment).Spec.Template)
	}
	plain := hash("")
	// The hash of this template before dnsPolicy was a field: it names
	// running pods.
	if plain != "e2bd521538" {
		t.Errorf("hash = %s: the template hash of an unchanged manifest changed", plain)
	}
	for _, p := range []string{"ClusterFirst", "ClusterFirstWithHostNet"} {
		if h := hash("      dnsPolicy: " + p + "\n"); h != plain {
			t.Errorf("dnsPolicy %s: hash %s, want %s", p, h, plain)
		}
	}
	if h := hash("      dnsPolicy: Default\n"); h == plain {
		t.Error("dnsPolicy Default hashes as ClusterFirst")
	}
	d := mustLoad(t, deployHead+"      containers: [{name: c, image: busybox}]\n      dnsPolicy: ClusterFirst\n").OfKind(KindDeployment)[0].(*Deployment)
	if s := &d.Spec.Template.Spec; s.DNSPolicy != "" || s.EffectiveDNSPolicy() != DNSClusterFirst {
		t.Errorf("dnsPolicy = %q, effective %q", s.DNSPolicy, s.EffectiveDNSPolicy())
	}
}

func TestPodDNSRules(t *testing.T) {
	long := strings.Repeat("a", 60)
	var searches []string
	for i := 0; i < 33; i++ {
		searches = append(searches, "s.example")
	}
	var longSearches []string
	for i := 0; i < 9; i++ {
		longSearches = append(longSearches, long+"."+long+"."+long+"."+long)
	}
	c := podHead + "  containers: [{name: c, image: busybox}]\n"
	runRuleCases(t, []ruleCase{
		{"unknown policy", c + "  dnsPolicy: Cluster #!\n", "spec.dnsPolicy", `supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"`},
		{"None without dnsConfig", podHead + "  containers: [{name: c, image: busybox}]\n  dnsPolicy: None\n", "spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"},
		{"None without nameservers", c + "  dnsPolicy: None\n  dnsConfig: #!\n    searches: [example.com]\n", "spec.dnsConfig.nameservers", "at least one DNS nameserver"},
		{"four nameservers", c + "  dnsConfig:\n    nameservers: [1.1.1.1, 8.8.8.8, 9.9.9.9, 1.0.0.1] #!\n", "spec.dnsConfig.nameservers", "more than 3 nameservers"},
		{"nameserver not an IP", c + "  dnsConfig:\n    nameservers:\n    - dns.example #!\n", "spec.dnsConfig.nameservers[0]", "valid IP address"},
		{"33 searches", c + "  dnsConfig:\n    searches: [" + strings.Join(searches, ", ") + "] #!\n", "spec.dnsConfig.searches", "more than 32 search paths"},
		{"search list too long", c + "  dnsConfig:\n    searches: [" + strings.Join(longSearches, ", ") + "] #!\n", "spec.dnsConfig.searches", "more than 2048 characters"},
		{"search not a domain", c + "  dnsConfig:\n    searches:\n    - Example.com #!\n", "spec.dnsConfig.searches[0]", "RFC 1123 subdomain"},
		{"option without name", c + "  dnsConfig:\n    options:\n    - value: \"2\" #!\n", "spec.dnsConfig.options[0].name", "must not be empty"},
		{"subdomain", c + "  subdomain: db.internal #!\n", "spec.subdomain", "RFC 1123 label"},
		{"in a Deployment", deployHead + "      containers: [{name: c, image: busybox}]\n      dnsPolicy: none #!\n", "spec.template.spec.dnsPolicy", "unsupported value"},
	})
	set := mustLoad(t, c+`  hostname: db-0
  subdomain: db
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.53, "fd00::53"]
    searches: [svc.example., example.com, _tcp.example.com, "."]
    options:
    - {name: ndots, value: "2"}
    - name: edns0
`)
	p := set.OfKind(KindPod)[0].(*Pod)
	if p.Spec.DNSPolicy != DNSNone || len(p.Spec.DNSConfig.Options) != 2 || *p.Spec.DNSConfig.Options[0].Value != "2" || p.Spec.Subdomain != "db" {
		t.Errorf("spec = %+v", p.Spec)
	}
	mustLoad(t, c+"  dnsPolicy: Default\n")
}
