// Package runtimetest is the behavioural suite every pod runtime of the
// agent daemon passes, in the manner of containerd's snapshotter testsuite:
// the containerd runtime (agent/runtime) and the hollow runtime
// (agent/runtime/hollow) both run it, so that hollow agents in the scale
// benchmark exercise the daemon the way real ones do.
//
// It checks only what the daemon relies on (agent.PodRuntime): pods
// of a Sync run and are Ready with an IP from SetNetwork's pod CIDR, a
// re-Sync of the same set changes nothing, a pod that leaves the set leaves
// Status without disturbing the others, a new UID is a new incarnation,
// Changes is a coalesced signal, Logs reports unknown pods and containers
// as api.ErrNotFound, SetNetwork is idempotent, and Status is a copy.
// Behaviour particular to one runtime (restart back-off, probes, hooks,
// injected failures) stays in that runtime's own tests.
//
// Every wait is on a condition (Changes, with a re-check every 200ms in
// case a runtime coalesces a change away), bounded by the timeout.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Runtime is what the suite drives: the agent daemon's PodRuntime (its
// threading rules are there).
type Runtime = agent.PodRuntime

// Option changes how the suite builds pods and how long it waits.
type Option func(*config)

type config struct {
	image   string
	command []string
	podCIDR func(t *testing.T) string
	timeout time.Duration
}

// WithImage makes the suite's containers run image with command, which
// must keep running until stopped (a real runtime needs both; the hollow
// one ignores them). Zero: image "hollow:1", no command.
func WithImage(image string, command ...string) Option {
	return func(c *config) { c.image, c.command = image, command }
}

// WithPodCIDR gives each subtest's runtime its pod CIDR (SetNetwork's),
// called once per runtime; a real runtime needs one no other network on
// the host uses. Zero: 10.244.0.0/24.
func WithPodCIDR(f func(t *testing.T) string) Option {
	return func(c *config) { c.podCIDR = f }
}

// WithTimeout bounds each wait for a condition. Zero: 30s.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// Run runs the suite. newRuntime returns a runtime with no pods and no pod
// network configured yet (SetNetwork not called), and releases it when t
// ends (t.Cleanup). Each subtest gets its own runtime.
func Run(t *testing.T, newRuntime func(t *testing.T) Runtime, opts ...Option) {
	cfg := config{image: "hollow:1", timeout: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.podCIDR == nil {
		cfg.podCIDR = func(*testing.T) string { return "10.244.0.0/24" }
	}
	tests := []struct {
		name string
		run  func(s *suite)
	}{
		{"SyncRunsPods", testSyncRunsPods},
		{"ResyncChangesNothing", testResyncChangesNothing},
		{"RemovedPodLeaves", testRemovedPodLeaves},
		{"NewUIDIsNewIncarnation", testNewUIDIsNewIncarnation},
		{"ChangesSignalled", testChangesSignalled},
		{"Logs", testLogs},
		{"SetNetworkIdempotent", testSetNetworkIdempotent},
		{"PendingUntilNetwork", testPendingUntilNetwork},
		{"StatusIsACopy", testStatusIsACopy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &suite{t: t, cfg: cfg, rt: newRuntime(t)}
			s.network = api.Network{PodCIDR: cfg.podCIDR(t), ClusterDomain: "cluster.local"}
			tc.run(s)
		})
	}
}

// suite is one subtest's runtime and helpers.
type suite struct {
	t       *testing.T
	cfg     config
	rt      Runtime
	network api.Network
}

// pod is a pod of the suite: named containers running the configured
// image, a one-second grace period (removal tests wait for it), and an
// Owner and Hash the runtime must report back.
func (s *suite) pod(name string, containers ...string) api.Pod {
	if len(containers) == 0 {
		containers = []string{"main"}
	}
	grace := int64(1)
	p := api.Pod{
		UID:       name + "-" + randomID(),
		Namespace: "default",
		Name:      name,
		Labels:    map[string]string{"app": name},
		Owner:     "Deployment/default/" + name,
		Hash:      "h" + randomID(),
		Created:   time.Now().UTC().Truncate(time.Second),
		Spec:      spec.PodSpec{TerminationGracePeriodSeconds: &grace, RestartPolicy: spec.RestartPolicyAlways},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, spec.Container{Name: c, Image: s.cfg.image, Command: s.cfg.command})
	}
	return p
}

func randomID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *suite) setNetwork() {
	s.t.Helper()
	if err := s.rt.SetNetwork(context.Background(), s.network); err != nil {
		s.t.Fatalf("SetNetwork(%+v): %v", s.network, err)
	}
}

func (s *suite) sync(pods ...api.Pod) {
	s.t.Helper()
	if err := s.rt.Sync(context.Background(), pods); err != nil {
		s.t.Fatalf("Sync: %v", err)
	}
}

// wait waits until cond holds for the runtime's status and returns that
// status.
func (s *suite) wait(what string, cond func([]api.PodStatus) bool) []api.PodStatus {
	s.t.Helper()
	deadline := time.NewTimer(s.cfg.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st := s.rt.Status()
		if cond(st) {
			return st
		}
		select {
		case <-s.rt.Changes():
		case <-tick.C:
		case <-deadline.C:
			s.t.Fatalf("timed out after %v waiting for %s; status:%s", s.cfg.timeout, what, dump(st))
		}
	}
}

// start syncs pods (after SetNetwork) and waits until every one runs and
// is Ready; it returns their statuses by UID.
func (s *suite) start(pods ...api.Pod) map[string]api.PodStatus {
	s.t.Helper()
	s.setNetwork()
	s.sync(pods...)
	return s.waitReady(pods...)
}

// waitReady waits until each of pods is Ready (see ready) and returns
// their statuses by UID.
func (s *suite) waitReady(pods ...api.Pod) map[string]api.PodStatus {
	s.t.Helper()
	st := s.wait(fmt.Sprintf("%d pods ready", len(pods)), func(st []api.PodStatus) bool {
		for _, p := range pods {
			ps, ok := find(st, p.UID)
			if !ok || !ready(ps) {
				return false
			}
		}
		return true
	})
	return byUID(st)
}

// ready is a pod Running, every container Running and Ready, the Ready
// condition True.
func ready(ps api.PodStatus) bool {
	if ps.Phase != api.PodRunning || ps.DeletionTimestamp != nil || len(ps.Containers) == 0 {
		return false
	}
	for _, c := range ps.Containers {
		if c.State.Running == nil || !c.Ready {
			return false
		}
	}
	return condition(ps, api.PodReady) == api.ConditionTrue
}

func condition(ps api.PodStatus, typ string) string {
	for _, c := range ps.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func find(st []api.PodStatus, uid string) (api.PodStatus, bool) {
	for _, ps := range st {
		if ps.UID == uid {
			return ps, true
		}
	}
	return api.PodStatus{}, false
}

func byUID(st []api.PodStatus) map[string]api.PodStatus {
	m := make(map[string]api.PodStatus, len(st))
	for _, ps := range st {
		m[ps.UID] = ps
	}
	return m
}

func dump(st []api.PodStatus) string {
	var b strings.Builder
	for _, p := range st {
		fmt.Fprintf(&b, "\n  %s/%s uid=%s phase=%s ip=%s reason=%s %s deleting=%v ready=%s",
			p.Namespace, p.Name, p.UID, p.Phase, p.PodIP, p.Reason, p.Message, p.DeletionTimestamp != nil, condition(p, api.PodReady))
		for _, c := range p.Containers {
			fmt.Fprintf(&b, "\n    %s id=%s ready=%v restarts=%d running=%v waiting=%+v terminated=%+v",
				c.Name, c.ContainerID, c.Ready, c.RestartCount, c.State.Running != nil, c.State.Waiting, c.State.Terminated)
		}
	}
	return b.String()
}

// incarnation is what must not change while a pod is left alone.
type incarnation struct {
	uid       string
	ip        string
	startTime time.Time
	ids       []string
	restarts  []int32
	started   []time.Time
}

func incarnationOf(ps api.PodStatus) incarnation {
	in := incarnation{uid: ps.UID, ip: ps.PodIP}
	if ps.StartTime != nil {
		in.startTime = *ps.StartTime
	}
	for _, c := range ps.Containers {
		in.ids = append(in.ids, c.ContainerID)
		in.restarts = append(in.restarts, c.RestartCount)
		var at time.Time
		if c.State.Running != nil {
			at = c.State.Running.StartedAt
		}
		in.started = append(in.started, at)
	}
	return in
}

// untouched fails unless every pod of before is in st, ready, as the same
// incarnation (containers, IP, start times, restarts).
func (s *suite) untouched(when string, before map[string]api.PodStatus, st []api.PodStatus) {
	s.t.Helper()
	for uid, old := range before {
		ps, ok := find(st, uid)
		if !ok {
			s.t.Errorf("%s: pod %s (%s) left Status; status:%s", when, old.Name, uid, dump(st))
			continue
		}
		if !ready(ps) {
			s.t.Errorf("%s: pod %s is no longer ready; status:%s", when, old.Name, dump(st))
		}
		if a, b := incarnationOf(old), incarnationOf(ps); !reflect.DeepEqual(a, b) {
			s.t.Errorf("%s: pod %s changed:\n  before %+v\n  after  %+v", when, old.Name, a, b)
		}
	}
}

// samePods fails unless got is want as given, in any order.
func (s *suite) samePods(got, want []api.Pod) {
	s.t.Helper()
	sortByUID := func(ps []api.Pod) []api.Pod {
		ps = slices.Clone(ps)
		slices.SortFunc(ps, func(a, b api.Pod) int { return strings.Compare(a.UID, b.UID) })
		return ps
	}
	if g, w := sortByUID(got), sortByUID(want); !reflect.DeepEqual(g, w) {
		s.t.Errorf("Pods() =\n  %+v\nwant\n  %+v", g, w)
	}
}

func (s *suite) inCIDR(ps api.PodStatus) {
	s.t.Helper()
	prefix := netip.MustParsePrefix(s.network.PodCIDR)
	ip, err := netip.ParseAddr(ps.PodIP)
	if err != nil || !prefix.Contains(ip) {
		s.t.Errorf("pod %s: IP %q is not in the pod CIDR %s", ps.Name, ps.PodIP, prefix)
	}
	// The first address is the bridge's (and the DNS server's).
	if ip == prefix.Masked().Addr().Next() {
		s.t.Errorf("pod %s has the gateway's address %s", ps.Name, ip)
	}
}

// isNotFound fails unless err matches api.ErrNotFound.
func (s *suite) isNotFound(what string, err error) {
	s.t.Helper()
	if !errors.Is(err, api.ErrNotFound) {
		s.t.Errorf("%s: err = %v, want one matching api.ErrNotFound", what, err)
	}
}
