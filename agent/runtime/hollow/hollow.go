// Package hollow is a pod runtime that runs nothing: Sync "starts" every pod
// of the set at once (or after Config.StartDelay, failing Config.FailureRate
// of them) and reports it Running and Ready with an IP from the node's pod
// CIDR, as the containerd runtime (agent/runtime) reports a pod whose
// containers started. Hollow agents (internal/hollow) run the real agent
// daemon over it, so that one process can stand in for a thousand nodes in
// the scale benchmark; it passes the same behavioural suite as the
// containerd runtime (agent/runtime/runtimetest).
//
// What it fakes, and how far:
//   - a pod synced before SetNetwork waits, Pending with reason
//     NetworkNotReady, as on a real node; a pod gets the next free address
//     of the pod CIDR round-robin (never one a pod holds; the first is the
//     bridge's), and waits in ContainerCreating when none is free;
//   - a hollow container exits at once on SIGTERM: a pod that leaves the
//     set leaves Status at once, whatever its terminationGracePeriodSeconds
//     (no preStop hooks, no Terminating phase);
//   - an injected failure (FailureRate) is a first container in
//     CrashLoopBackOff for good, the pod Running but not Ready; nothing
//     restarts, no probe runs, no image is pulled, Logs gives one line;
//   - a changed spec under the same UID starts the pod again, as the
//     containerd runtime replaces it.
//
// It is built to be small, for 1,000 runtimes of 30 pods in one process:
// no goroutine per pod, a timer only while a pod waits out StartDelay.
package hollow

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Config configures a Runtime. The zero value starts every pod at once.
type Config struct {
	// StartDelay is how long a new pod stays Pending (ContainerCreating)
	// once its network is known, before it runs; zero means at once.
	StartDelay time.Duration
	// FailureRate is the fraction (0 to 1) of new pods whose first
	// container fails to start (CrashLoopBackOff); zero means none.
	FailureRate float64
	// Seed picks which pods fail: with the same Seed a pod UID fails in
	// every run or in none, whatever the order pods start in.
	Seed uint64
}

// Why a pod waits, as the containerd runtime and the kubelet say it.
const (
	reasonNetworkNotReady = "NetworkNotReady"
	msgNetworkNotReady    = "waiting for the node's pod CIDR from the leader"
	msgInjectedFailure    = "hollow runtime: injected failure"
)

// ErrClosed is returned by Sync and SetNetwork after Close.
var ErrClosed = errors.New("hollow runtime closed")

// Runtime is the hollow runtime. Create it with New. Its methods are safe
// for concurrent use.
type Runtime struct {
	cfg     Config
	changes chan struct{}

	mu     sync.Mutex
	pods   map[string]*pod // by UID
	prefix netip.Prefix    // invalid until SetNetwork
	ips    ipPool
	closed bool
}

// pod is one pod's state. The status is kept ready to copy: Status is
// what the daemon calls most.
type pod struct {
	spec   api.Pod
	status api.PodStatus
	state  podState
	ip     netip.Addr // valid while held
	timer  *time.Timer
}

type podState uint8

const (
	fresh          podState = iota // just synced
	waitingNetwork                 // no pod CIDR yet
	waitingDelay                   // timer running (StartDelay)
	waitingIP                      // every address taken
	started
)

// New returns an empty runtime.
func New(cfg Config) *Runtime {
	return &Runtime{
		cfg:     cfg,
		changes: make(chan struct{}, 1),
		pods:    map[string]*pod{},
	}
}

// SetNetwork takes the node's pod CIDR, from which pods get their IPs, and
// starts the pods that waited for it. An empty PodCIDR is no change. Should
// the CIDR change (a fault: the leader keeps it), pods outside the new one
// start again with an address inside it.
func (r *Runtime) SetNetwork(_ context.Context, n api.Network) error {
	if n.PodCIDR == "" {
		return nil
	}
	p, err := netip.ParsePrefix(n.PodCIDR)
	if err != nil {
		return fmt.Errorf("failed to parse pod CIDR %q: %w", n.PodCIDR, err)
	}
	p = p.Masked()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if p == r.prefix {
		return nil
	}
	r.prefix = p
	r.ips = newIPPool(p)
	// Pods keep an address that is still theirs to hold, first, so
	// that the others' new addresses do not collide with it.
	var moved []*pod
	for _, pd := range r.pods {
		if pd.ip.IsValid() && !r.ips.take(pd.ip) {
			pd.ip = netip.Addr{}
			moved = append(moved, pd)
		}
	}
	for _, pd := range r.pods {
		if pd.state == waitingNetwork || pd.state == waitingIP {
			r.launch(pd)
		}
	}
	for _, pd := range moved {
		r.launch(pd)
	}
	r.signal()
	return nil
}

// Sync makes the pods of the set the ones that run: new pods start, pods
// no longer in it stop at once, pods whose spec changed start again.
func (r *Runtime) Sync(_ context.Context, pods []api.Pod) error {
	want := make(map[string]bool, len(pods))
	for _, p := range pods {
		if p.UID == "" {
			return fmt.Errorf("failed to sync pod %s/%s: empty UID", p.Namespace, p.Name)
		}
		want[p.UID] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	changed := false
	for uid, pd := range r.pods {
		if !want[uid] {
			r.remove(pd)
			changed = true
		}
	}
	for i := range pods {
		p := &pods[i]
		pd, ok := r.pods[p.UID]
		switch {
		case !ok:
			pd = &pod{spec: *p}
			r.pods[p.UID] = pd
		case !reflect.DeepEqual(pd.spec.Spec, p.Spec):
			r.remove(pd)
			pd = &pod{spec: *p}
			r.pods[p.UID] = pd
		default:
			continue
		}
		r.launch(pd)
		changed = true
	}
	// Addresses freed above go to the pods that waited for one.
	for _, pd := range r.pods {
		if pd.state == waitingIP && r.ips.free() > 0 {
			r.launch(pd)
			changed = true
		}
	}
	if changed {
		r.signal()
	}
	return nil
}

// remove forgets pd at once (hollow containers exit on SIGTERM), freeing
// its address and timer. Called with mu held.
func (r *Runtime) remove(pd *pod) {
	if pd.timer != nil {
		pd.timer.Stop()
	}
	if pd.ip.IsValid() {
		r.ips.release(pd.ip)
	}
	delete(r.pods, pd.spec.UID)
}

// launch moves pd on as far as it can go now: waiting for the network,
// for StartDelay, or for an address, or started. Called with mu held.
func (r *Runtime) launch(pd *pod) {
	p := &pd.spec
	st := &pd.status
	*st = api.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Owner: p.Owner, Hash: p.Hash,
		Phase: api.PodPending, Reason: api.ReasonContainerCreating}
	switch {
	case !r.prefix.IsValid():
		pd.state = waitingNetwork
		st.Reason, st.Message = reasonNetworkNotReady, msgNetworkNotReady
	case r.cfg.StartDelay > 0 && (pd.state == fresh || pd.state == waitingNetwork):
		pd.state = waitingDelay
		pd.timer = time.AfterFunc(r.cfg.StartDelay, func() { r.delayed(pd) })
	default:
		r.start(pd)
	}
}

// delayed starts pd when its StartDelay is over, unless it has left the
// runtime (or been replaced) since.
func (r *Runtime) delayed(pd *pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.pods[pd.spec.UID] != pd || pd.state != waitingDelay {
		return
	}
	r.start(pd)
	r.signal()
}

// start turns a Pending pod Running, Ready or (FailureRate) crash-looping,
// or leaves it waiting for an address. Called with mu held.
func (r *Runtime) start(pd *pod) {
	pd.timer = nil
	if !pd.ip.IsValid() {
		pd.ip = r.ips.alloc()
	}
	st := &pd.status
	if !pd.ip.IsValid() {
		pd.state = waitingIP
		st.Message = fmt.Sprintf("hollow runtime: no free address in %s", r.prefix)
		return
	}
	pd.state = started
	now := time.Now().UTC()
	failed := r.fails(pd.spec.UID)
	st.Reason, st.Message = "", ""
	st.Phase = api.PodRunning
	st.StartTime = &now
	st.PodIP = pd.ip.String()
	startedTrue := true
	running := &api.StateRunning{StartedAt: now}
	st.Containers = make([]api.ContainerStatus, len(pd.spec.Spec.Containers))
	for i, c := range pd.spec.Spec.Containers {
		cs := &st.Containers[i]
		*cs = api.ContainerStatus{Name: c.Name, Image: c.Image, ContainerID: "hollow://" + pd.spec.UID + "/" + c.Name,
			Ready: true, Started: &startedTrue, State: api.ContainerState{Running: running}}
		if failed && i == 0 {
			// As the kubelet shows a container that exited and waits
			// out its back-off: it has run, so the pod is Running.
			*cs = api.ContainerStatus{Name: c.Name, Image: c.Image, ContainerID: cs.ContainerID, RestartCount: 1,
				State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonCrashLoopBackOff, Message: msgInjectedFailure}},
				LastTerminationState: api.ContainerState{Terminated: &api.StateTerminated{
					ExitCode: 1, Reason: api.ReasonError, StartedAt: now, FinishedAt: now}}}
		}
	}
	st.Conditions = conditions(failed, now, pd.spec.Spec.Containers)
}

// conditions are the pod's Initialized, Ready and ContainersReady, as the
// containerd runtime (conditions.go) words them.
func conditions(failed bool, now time.Time, cs []spec.Container) []api.Condition {
	ready := api.Condition{Type: api.PodContainersReady, Status: api.ConditionTrue, LastTransitionTime: now}
	if failed && len(cs) > 0 {
		ready.Status = api.ConditionFalse
		ready.Reason = "ContainersNotReady"
		ready.Message = fmt.Sprintf("containers with unready status: [%s]", cs[0].Name)
	}
	podReady := ready
	podReady.Type = api.PodReady
	return []api.Condition{
		{Type: api.PodInitialized, Status: api.ConditionTrue, LastTransitionTime: now},
		podReady,
		ready,
	}
}

// fails draws whether the pod of this UID fails to start: a hash of the
// UID seeds the draw, so the answer does not depend on the order pods
// start in (timers fire in any order).
func (r *Runtime) fails(uid string) bool {
	if r.cfg.FailureRate <= 0 {
		return false
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, uid)
	return rand.New(rand.NewPCG(r.cfg.Seed, h.Sum64())).Float64() < r.cfg.FailureRate
}

func (r *Runtime) signal() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Status is every pod's status, sorted by namespace, name and UID. It is a
// copy, but for the container states' members (State.Running…) and
// Started, which are replaced, never changed, and must not be written.
func (r *Runtime) Status() []api.PodStatus {
	r.mu.Lock()
	out := make([]api.PodStatus, 0, len(r.pods))
	for _, pd := range r.pods {
		c := pd.status
		if c.StartTime != nil {
			t := *c.StartTime
			c.StartTime = &t
		}
		c.Containers = slices.Clone(c.Containers)
		c.Conditions = slices.Clone(c.Conditions)
		out = append(out, c)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b api.PodStatus) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.UID, b.UID)
	})
	return out
}

// Changes is signalled (coalesced) when a status changes.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

// Pods are the pods of the last Sync, as given, sorted by namespace and
// name.
func (r *Runtime) Pods() []api.Pod {
	r.mu.Lock()
	out := make([]api.Pod, 0, len(r.pods))
	for _, pd := range r.pods {
		out = append(out, pd.spec)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b api.Pod) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Logs answers one line for a started container and nothing for one that
// has not started; an unknown pod or container, or no container named in a
// pod of several, is api.ErrNotFound, as with the containerd runtime.
func (r *Runtime) Logs(_ context.Context, namespace, name string, o api.LogOptions) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pd := range r.pods {
		if pd.spec.Namespace != namespace || pd.spec.Name != name {
			continue
		}
		cs := pd.spec.Spec.Containers
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
			// No name picks the pod's only container, as kubectl logs does.
			if c.Name != o.Container && (o.Container != "" || len(cs) != 1) {
				continue
			}
			if pd.state != started {
				return io.NopCloser(strings.NewReader("")), nil
			}
			return io.NopCloser(strings.NewReader(fmt.Sprintf("hollow container %s of %s/%s started\n", c.Name, namespace, name))), nil
		}
		if o.Container == "" && len(names) > 1 {
			return nil, fmt.Errorf("a container name must be given for pod %s/%s, one of %s: %w", namespace, name, strings.Join(names, ", "), api.ErrNotFound)
		}
	}
	return nil, fmt.Errorf("failed to find container %s/%s/%s: %w", namespace, name, o.Container, api.ErrNotFound)
}

// Close stops the pending start timers; Sync and SetNetwork fail after it.
// Safe to call twice.
func (r *Runtime) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, pd := range r.pods {
		if pd.timer != nil {
			pd.timer.Stop()
			pd.timer = nil
		}
	}
}
