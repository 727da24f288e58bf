package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func allocSvc(ns, name, clusterIP, typ string, ports ...spec.ServicePort) *spec.Service {
	s := &spec.Service{Spec: spec.ServiceSpec{ClusterIP: clusterIP, Type: typ, Ports: ports}}
	s.Kind, s.APIVersion = spec.KindService, "v1"
	s.Namespace, s.Name = ns, name
	return s
}

func TestNetworkConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*NetworkConfig)
		err  string
	}{
		{"defaults", func(*NetworkConfig) {}, ""},
		{"zero fills", func(n *NetworkConfig) { *n = NetworkConfig{} }, ""},
		{"bad cluster CIDR", func(n *NetworkConfig) { n.ClusterCIDR = "10.244.0.0/33" }, "cluster CIDR"},
		{"not a network", func(n *NetworkConfig) { n.ServiceCIDR = "10.96.1.0/16" }, "did you mean 10.96.0.0/16"},
		{"overlap", func(n *NetworkConfig) { n.ServiceCIDR = "10.244.128.0/20" }, "overlap"},
		{"mask smaller than cluster", func(n *NetworkConfig) { n.NodeCIDRMaskSize = 8 }, "mask size"},
		{"ports", func(n *NetworkConfig) { n.NodePortRange = "32767-30000" }, "node port range"},
		{"ipv6", func(n *NetworkConfig) { n.ClusterCIDR = "fd00::/48" }, "IPv4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := DefaultNetworkConfig()
			tt.mod(&n)
			err := n.validate()
			if tt.err == "" {
				if err != nil || n != DefaultNetworkConfig() {
					t.Fatalf("validate = %v, %+v", err, n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("validate = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestAllocPodCIDR(t *testing.T) {
	cluster := netip.MustParsePrefix("10.244.0.0/22")
	var taken []netip.Prefix
	var got []string
	for range 4 {
		p, err := allocPodCIDR(cluster, 24, taken)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, p)
		got = append(got, p.String())
	}
	if diff := cmp.Diff([]string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"}, got); diff != "" {
		t.Error(diff)
	}
	if _, err := allocPodCIDR(cluster, 24, taken); !errors.Is(err, errExhausted) {
		t.Errorf("exhausted: err = %v", err)
	}
	// The lowest free one, skipping an override that covers two.
	p, err := allocPodCIDR(cluster, 24, []netip.Prefix{netip.MustParsePrefix("10.244.0.0/23"), netip.MustParsePrefix("10.244.3.0/24")})
	if err != nil || p.String() != "10.244.2.0/24" {
		t.Errorf("after an override = %v, %v", p, err)
	}
}

func TestAllocServices(t *testing.T) {
	cfg := DefaultNetworkConfig()
	cfg.ServiceCIDR = "10.96.0.0/29" // .1 to .6
	cfg.NodePortRange = "30000-30002"
	http := spec.ServicePort{Name: "http", Port: 80}
	a := allocSvc("ns", "a", "", "")
	b := allocSvc("ns", "b", "10.96.0.1", "")
	h := allocSvc("ns", "h", agentapi.ClusterIPNone, "")
	np := allocSvc("ns", "np", "", agentapi.ServiceTypeNodePort, http, spec.ServicePort{Name: "fixed", Port: 81, NodePort: 30000})

	// Explicit addresses first, then the lowest free ones: a does not take
	// the .1 b asks for. Headless gets none.
	got, errs := allocServices(svcAllocs{}, []*spec.Service{a, b, h, np}, cfg)
	if len(errs) != 0 {
		t.Fatalf("errors: %+v", errs)
	}
	want := svcAllocs{
		ClusterIPs: map[string]string{"ns/a": "10.96.0.2", "ns/b": "10.96.0.1", "ns/np": "10.96.0.3"},
		NodePorts:  map[string]int32{"ns/np/http/TCP": 30001, "ns/np/fixed/TCP": 30000},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("first allocation (-want +got):\n%s", diff)
	}
	// Deterministic.
	again, _ := allocServices(svcAllocs{}, []*spec.Service{a, b, h, np}, cfg)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Fatalf("not deterministic:\n%s", diff)
	}

	// Kept across revisions; a deleted Service's address is released and
	// is the next one a new Service gets.
	c := allocSvc("ns", "c", "", "")
	next, errs := allocServices(got, []*spec.Service{b, c, np}, cfg)
	if len(errs) != 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if next.ClusterIPs["ns/b"] != "10.96.0.1" || next.ClusterIPs["ns/np"] != "10.96.0.3" || next.ClusterIPs["ns/c"] != "10.96.0.2" || len(next.ClusterIPs) != 3 {
		t.Errorf("kept/released = %v", next.ClusterIPs)
	}
	if next.NodePorts["ns/np/http/TCP"] != 30001 {
		t.Errorf("node port not kept: %v", next.NodePorts)
	}

	// An explicit IP another Service holds is an error; a free one is
	// taken by an existing Service asking for it.
	thief := allocSvc("ns", "thief", "10.96.0.3", "")
	moved := allocSvc("ns", "b", "10.96.0.5", "")
	_, errs = allocServices(next, []*spec.Service{moved, c, np, thief}, cfg)
	if diff := cmp.Diff([]allocError{{"ns/thief", "spec.clusterIP", "10.96.0.3 is already allocated to Service ns/np"}}, errs); diff != "" {
		t.Errorf("taken IP (-want +got):\n%s", diff)
	}
	res, _ := allocServices(next, []*spec.Service{moved, c, np}, cfg)
	if res.ClusterIPs["ns/b"] != "10.96.0.5" {
		t.Errorf("moved to a free explicit IP: %v", res.ClusterIPs)
	}

	// Out of range, taken node port, exhaustion.
	bad := allocSvc("ns", "bad", "10.97.0.1", agentapi.ServiceTypeNodePort, spec.ServicePort{Name: "x", Port: 1, NodePort: 80}, spec.ServicePort{Name: "y", Port: 2, NodePort: 30000})
	_, errs = allocServices(next, []*spec.Service{bad, np}, cfg)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field+": "+e.Message)
	}
	if diff := cmp.Diff([]string{
		"spec.clusterIP: 10.97.0.1 is not a host address of the service CIDR 10.96.0.0/29",
		"spec.ports[0].nodePort: 80 is not in the node port range 30000-30002",
		"spec.ports[1].nodePort: 30000 is already allocated to Service ns/np",
	}, fields); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var many []*spec.Service
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"} {
		many = append(many, allocSvc("ns", n, "", ""))
	}
	full, errs := allocServices(svcAllocs{}, many, cfg)
	if len(full.ClusterIPs) != 6 || len(errs) != 1 || errs[0].Service != "ns/s7" || !strings.Contains(errs[0].Message, "no free address") {
		t.Errorf("exhaustion: %v %+v", full.ClusterIPs, errs)
	}
	if full.ClusterIPs["ns/s6"] != "10.96.0.6" {
		t.Errorf("the broadcast address was given out? %v", full.ClusterIPs)
	}
	// clusterIPs alone stands for clusterIP, as Kubernetes defaults it.
	ips := allocSvc("ns", "ips", "", "")
	ips.Spec.ClusterIPs = []string{"10.96.0.4"}
	if got, errs := allocServices(svcAllocs{}, []*spec.Service{ips}, cfg); len(errs) != 0 || got.ClusterIPs["ns/ips"] != "10.96.0.4" {
		t.Errorf("clusterIPs: %v %+v", got.ClusterIPs, errs)
	}
}

const svcYAML = `apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: default
spec:
  clusterIP: %s
  selector:
    app: web
  ports:
  - port: 80
`

func svcDoc(name, ip string) []byte {
	return []byte(strings.NewReplacer("%s\n  namespace", name+"\n  namespace", "clusterIP: %s", "clusterIP: "+ip).Replace(svcYAML))
}

// TestStoreAllocations: allocations are made in Apply, survive a snapshot,
// and an old snapshot without them comes up with addresses.
func TestStoreAllocations(t *testing.T) {
	s := newStore()
	rev := func(hash string, files map[string][]byte) *command {
		return &command{Op: opRevision, Revision: &savedRevision{Commit: api.Commit{Hash: hash}, Files: files}}
	}
	applyCmd(t, s, 1, &command{Op: opNetConfig, Net: &NetworkConfig{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.96.0.0/16", ClusterDomain: "cluster.local", NodePortRange: "30000-32767"}})
	applyCmd(t, s, 2, rev("a", map[string][]byte{"web.yaml": svcDoc("web", `""`), "db.yaml": svcDoc("db", "10.96.0.1")}))
	n := s.network()
	if diff := cmp.Diff(map[string]string{"default/db": "10.96.0.1", "default/web": "10.96.0.2"}, n.clusterIPs); diff != "" {
		t.Fatalf("cluster IPs (-want +got):\n%s", diff)
	}
	applyCmd(t, s, 3, &command{Op: opNodeCIDR, PodCIDRs: map[string]string{"n1": "", "n2": "", "n3": "10.88.0.0/24"}})
	applyCmd(t, s, 4, &command{Op: opNodeCIDR, PodCIDRs: map[string]string{"n1": "", "n4": "10.88.0.0/24", "n5": ""}})
	if diff := cmp.Diff(map[string]string{"n1": "10.244.0.0/24", "n2": "10.244.1.0/24", "n3": "10.88.0.0/24", "n5": "10.244.2.0/24"}, s.network().podCIDRs); diff != "" {
		t.Fatalf("pod CIDRs (-want +got):\n%s", diff)
	}
	if _, _, err := s.nodeCIDRChange("n4", "10.88.0.0/25"); err == nil || !strings.Contains(err.Error(), "overlaps node n3's 10.88.0.0/24") {
		t.Errorf("override overlap: %v", err)
	}
	// A new revision keeps web's IP; a deleted Service releases its own.
	applyCmd(t, s, 5, rev("b", map[string][]byte{"web.yaml": svcDoc("web", `""`), "api.yaml": svcDoc("api", `""`)}))
	if diff := cmp.Diff(map[string]string{"default/api": "10.96.0.1", "default/web": "10.96.0.2"}, s.network().clusterIPs); diff != "" {
		t.Fatalf("after revision b (-want +got):\n%s", diff)
	}
	// A revision asking for a taken IP is refused alike on every store.
	set, err := loadApp(map[string][]byte{"web.yaml": svcDoc("web", `""`), "api.yaml": svcDoc("api", `""`), "x.yaml": svcDoc("x", "10.96.0.2")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.serviceErrors("", set)
	if err == nil || !strings.Contains(err.Error(), "x.yaml:1: Service default/x: spec.clusterIP: 10.96.0.2 is already allocated to Service default/web") {
		t.Errorf("serviceErrors = %v", err)
	}
	b, _ := encodeCommand(rev("c", map[string][]byte{"web.yaml": svcDoc("web", `""`), "x.yaml": svcDoc("x", "10.96.0.2")}))
	if res := s.Apply(&raft.Log{Index: 6, Type: raft.LogCommand, Data: b}); res == nil || !strings.Contains(res.(error).Error(), "already allocated") {
		t.Errorf("Apply of a taken IP = %v", res)
	}
	if s.failed() != nil {
		t.Errorf("a refused entry broke the store: %v", s.failed())
	}

	// Snapshot and restore.
	snap, _ := s.Snapshot()
	buf := &memSink{}
	if err := snap.Persist(buf); err != nil {
		t.Fatal(err)
	}
	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.network(), r.network(), cmp.AllowUnexported(netState{})); diff != "" {
		t.Errorf("restored (-want +got):\n%s", diff)
	}

	// A snapshot from before networking: no allocations, no plan.
	var old map[string]any
	if err := json.Unmarshal(buf.Bytes(), &old); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"net", "podCIDRs", "clusterIPs", "nodePorts"} {
		delete(old, k)
	}
	ob, _ := json.Marshal(old)
	o := newStore()
	if err := o.Restore(io.NopCloser(bytes.NewReader(ob))); err != nil {
		t.Fatal(err)
	}
	on := o.network()
	if on.cfg != DefaultNetworkConfig() || len(on.podCIDRs) != 0 || len(on.clusterIPs) != 2 {
		t.Errorf("old snapshot restored as %+v", on)
	}
}

// What a Service gives up in a revision is free for the others in that
// same revision, whatever their order: two Services swap explicit
// addresses, and a Service takes the node port and cluster IP of one that
// turned ClusterIP and headless. Refusing these valid revisions (as
// "already allocated") left no way but two commits.
func TestAllocServicesReleasedInTheSameRevision(t *testing.T) {
	cfg := DefaultNetworkConfig()
	http := spec.ServicePort{Name: "http", Port: 80}
	a := allocSvc("ns", "a", "10.96.0.10", agentapi.ServiceTypeNodePort, spec.ServicePort{Name: "http", Port: 80, NodePort: 30010})
	b := allocSvc("ns", "b", "10.96.0.11", agentapi.ServiceTypeNodePort, spec.ServicePort{Name: "http", Port: 80, NodePort: 30011})
	prev, errs := allocServices(svcAllocs{}, []*spec.Service{a, b}, cfg)
	if len(errs) != 0 {
		t.Fatalf("errors: %+v", errs)
	}
	a2 := allocSvc("ns", "a", "10.96.0.11", agentapi.ServiceTypeNodePort, spec.ServicePort{Name: "http", Port: 80, NodePort: 30011})
	b2 := allocSvc("ns", "b", "10.96.0.10", agentapi.ServiceTypeNodePort, spec.ServicePort{Name: "http", Port: 80, NodePort: 30010})
	got, errs := allocServices(prev, []*spec.Service{a2, b2}, cfg)
	if len(errs) != 0 {
		t.Fatalf("swap refused: %+v", errs)
	}
	want := svcAllocs{
		ClusterIPs: map[string]string{"ns/a": "10.96.0.11", "ns/b": "10.96.0.10"},
		NodePorts:  map[string]int32{"ns/a/http/TCP": 30011, "ns/b/http/TCP": 30010},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("swap (-want +got):\n%s", diff)
	}

	// a (sorted first) takes what b gives up by turning headless and
	// ClusterIP.
	a3 := allocSvc("ns", "a", "10.96.0.11", agentapi.ServiceTypeNodePort, spec.ServicePort{Name: "http", Port: 80, NodePort: 30011})
	b3 := allocSvc("ns", "b", agentapi.ClusterIPNone, "", http)
	got, errs = allocServices(prev, []*spec.Service{a3, b3}, cfg)
	if len(errs) != 0 {
		t.Fatalf("released address refused: %+v", errs)
	}
	want = svcAllocs{ClusterIPs: map[string]string{"ns/a": "10.96.0.11"}, NodePorts: map[string]int32{"ns/a/http/TCP": 30011}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}

	// Still refused: an address a Service keeps; and one Service's old
	// address, kept while its own request is refused, is not given twice.
	c := allocSvc("ns", "c", "10.96.0.10", "")
	if _, errs := allocServices(prev, []*spec.Service{a, b, c}, cfg); len(errs) != 1 || errs[0].Service != "ns/c" {
		t.Errorf("kept address: %+v", errs)
	}
	stuck := allocSvc("ns", "a", "10.96.0.11", "") // b keeps .11
	thief := allocSvc("ns", "0", "10.96.0.10", "") // sorted before a
	got, _ = allocServices(prev, []*spec.Service{thief, stuck, b}, cfg)
	seen := map[string]string{}
	for k, ip := range got.ClusterIPs {
		if other, dup := seen[ip]; dup {
			t.Errorf("%s given to %s and %s", ip, other, k)
		}
		seen[ip] = k
	}
}

// A revision is checked against the cluster's committed service CIDR and
// node-port range, not Kubernetes' defaults (a cluster started with
// --service-cidr 10.100.0.0/16 refused `clusterIP: 10.100.0.50` as "not in
// the cluster's service CIDR 10.96.0.0/16"). When the ranges change, a
// Service keeps the explicit address it holds (it lost it, and so its
// rules, on a reconciler restarted with another --service-cidr), and the
// store still loads the revisions it accepted.
func TestRevisionsCheckedAgainstTheCommittedRanges(t *testing.T) {
	s := newStore()
	applyCmd(t, s, 1, &command{Op: opNetConfig, Net: &NetworkConfig{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.100.0.0/16", ClusterDomain: "cluster.local", NodePortRange: "20000-20100"}})
	np := func(name, ip string, port int) []byte {
		return fmt.Appendf(nil, "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: default\nspec:\n  type: NodePort\n  clusterIP: %s\n  ports:\n  - port: 80\n    nodePort: %d\n", name, ip, port)
	}
	check := func(files map[string][]byte) error {
		set, _, err := revisionLoader.LoadCached(files, nil)
		if err != nil {
			return err
		}
		return s.serviceErrors("", set)
	}
	good := map[string][]byte{"web.yaml": np("web", "10.100.0.50", 20050)}
	if err := check(good); err != nil {
		t.Fatalf("a Service in the cluster's ranges refused: %v", err)
	}
	err := check(map[string][]byte{"web.yaml": np("web", "10.96.0.50", 30050)})
	for _, want := range []string{
		"web.yaml:1: Service default/web: spec.clusterIP: 10.96.0.50 is not a host address of the service CIDR 10.100.0.0/16",
		"web.yaml:1: Service default/web: spec.ports[0].nodePort: 30050 is not in the node port range 20000-20100",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("outside the cluster's ranges: %v\nwant %s", err, want)
		}
	}
	applyCmd(t, s, 2, &command{Op: opRevision, Revision: &savedRevision{Commit: api.Commit{Hash: "a"}, Files: good}})
	want := netState{cfg: s.network().cfg, clusterIPs: map[string]string{"default/web": "10.100.0.50"}, nodePorts: map[string]int32{"default/web//TCP": 20050}}
	if diff := cmp.Diff(want, s.network(), cmp.AllowUnexported(netState{})); diff != "" {
		t.Fatalf("allocations (-want +got):\n%s", diff)
	}
	// The ranges change: web keeps its addresses, a new commit of it is
	// still accepted, and a restart restores the accepted revision.
	applyCmd(t, s, 3, &command{Op: opNetConfig, Net: &NetworkConfig{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.200.0.0/16", ClusterDomain: "cluster.local", NodePortRange: "30000-32767"}})
	if got := s.network(); got.clusterIPs["default/web"] != "10.100.0.50" || got.nodePorts["default/web//TCP"] != 20050 {
		t.Errorf("after the ranges changed: %v %v", got.clusterIPs, got.nodePorts)
	}
	if err := check(good); err != nil {
		t.Errorf("a commit keeping the Service's addresses refused: %v", err)
	}
	snap, _ := s.Snapshot()
	buf := &memSink{}
	if err := snap.Persist(buf); err != nil {
		t.Fatal(err)
	}
	s2 := newStore()
	if err := s2.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatalf("restore of a revision accepted under other ranges: %v", err)
	}
	if s.failed() != nil || s2.network().clusterIPs["default/web"] != "10.100.0.50" {
		t.Errorf("restored: %v %v", s.failed(), s2.network().clusterIPs)
	}
}
