// Package hollow is a pod runtime that runs nothing: Sync "starts" every pod
// of the set at once (or after Config.StartDelay, failing Config.FailureRate
// of them) and reports it Running and Ready with an IP from the node's pod
// CIDR, as the containerd runtime would report a pod whose containers
// started. Hollow agents (internal/hollow) run the real agent daemon over
// it, so that one process can stand in for a thousand nodes in the scale
// benchmark; it passes the same behavioural suite as the containerd
// runtime (agent/runtime/runtimetest).
package hollow

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Config configures a Runtime. The zero value starts every pod at once.
type Config struct {
	// StartDelay is how long a new pod stays Pending (ContainerCreating)
	// before it runs; zero means at once.
	StartDelay time.Duration
	// FailureRate is the fraction (0 to 1) of new pods whose first
	// container fails to start (CrashLoopBackOff); zero means none.
	FailureRate float64
	// Seed seeds the failure draw, so a run can be repeated.
	Seed uint64
}

// Runtime is the hollow runtime. Create it with New.
type Runtime struct {
	cfg     Config
	changes chan struct{}

	mu     sync.Mutex
	rnd    *rand.Rand
	pods   []api.Pod
	status map[string]*api.PodStatus // by UID
	prefix netip.Prefix
	nextIP netip.Addr
	timers map[string]*time.Timer
	closed bool
}

// New returns an empty runtime.
func New(cfg Config) *Runtime {
	return &Runtime{
		cfg:     cfg,
		changes: make(chan struct{}, 1),
		rnd:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		status:  map[string]*api.PodStatus{},
		timers:  map[string]*time.Timer{},
	}
}

// SetNetwork takes the node's pod CIDR, from which pods get their IPs.
func (r *Runtime) SetNetwork(_ context.Context, n api.Network) error {
	p, err := netip.ParsePrefix(n.PodCIDR)
	if err != nil {
		return fmt.Errorf("failed to parse pod CIDR %q: %w", n.PodCIDR, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p != r.prefix {
		r.prefix = p.Masked()
		// The first address is the bridge's, as on a real node.
		r.nextIP = r.prefix.Addr().Next().Next()
	}
	return nil
}

// Sync makes the pods of the set the ones that run: new pods start, pods
// no longer in it stop at once.
func (r *Runtime) Sync(_ context.Context, pods []api.Pod) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := make(map[string]bool, len(pods))
	now := time.Now()
	for _, p := range pods {
		want[p.UID] = true
		if _, ok := r.status[p.UID]; ok {
			continue
		}
		st := &api.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Owner: p.Owner, Hash: p.Hash,
			Phase: api.PodPending, Reason: api.ReasonContainerCreating}
		r.status[p.UID] = st
		if r.cfg.StartDelay > 0 {
			uid, spec := p.UID, p
			r.timers[uid] = time.AfterFunc(r.cfg.StartDelay, func() {
				r.mu.Lock()
				defer r.mu.Unlock()
				if s, ok := r.status[uid]; ok && !r.closed {
					r.start(s, spec, time.Now())
					r.signal()
				}
			})
			continue
		}
		r.start(st, p, now)
	}
	for uid := range r.status {
		if !want[uid] {
			delete(r.status, uid)
			if t, ok := r.timers[uid]; ok {
				t.Stop()
				delete(r.timers, uid)
			}
		}
	}
	r.pods = slices.Clone(pods)
	r.signal()
	return nil
}

// start turns a Pending pod Running (or crash-looping). Called with mu held.
func (r *Runtime) start(st *api.PodStatus, p api.Pod, now time.Time) {
	delete(r.timers, p.UID)
	failed := r.cfg.FailureRate > 0 && r.rnd.Float64() < r.cfg.FailureRate
	st.Reason = ""
	st.StartTime = &now
	st.PodIP = r.allocIP()
	ready := !failed
	t := true
	st.Containers = st.Containers[:0]
	for i, c := range p.Spec.Containers {
		cs := api.ContainerStatus{Name: c.Name, Image: c.Image, ContainerID: "hollow://" + p.UID + "/" + c.Name,
			Ready: ready, Started: &t, State: api.ContainerState{Running: &api.StateRunning{StartedAt: now}}}
		if failed && i == 0 {
			cs.Started = nil
			cs.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: "CrashLoopBackOff", Message: "hollow runtime: injected failure"}}
			cs.RestartCount = 1
		}
		st.Containers = append(st.Containers, cs)
	}
	st.Phase = api.PodRunning
	cond := api.ConditionTrue
	if failed {
		cond = api.ConditionFalse
	}
	st.Conditions = []api.Condition{
		{Type: api.PodInitialized, Status: api.ConditionTrue, LastTransitionTime: now},
		{Type: api.PodContainersReady, Status: cond, LastTransitionTime: now},
		{Type: api.PodReady, Status: cond, LastTransitionTime: now},
	}
}

// allocIP is the next address of the pod CIDR, wrapping around; "" before
// SetNetwork. Called with mu held.
func (r *Runtime) allocIP() string {
	if !r.prefix.IsValid() {
		return ""
	}
	ip := r.nextIP
	next := ip.Next()
	if !r.prefix.Contains(next) || next == lastAddr(r.prefix) {
		next = r.prefix.Addr().Next().Next()
	}
	r.nextIP = next
	return ip.String()
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	bits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<bits - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (r *Runtime) signal() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Status is every pod's status, sorted by namespace and name.
func (r *Runtime) Status() []api.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.PodStatus, 0, len(r.status))
	for _, s := range r.status {
		c := *s
		c.Containers = slices.Clone(s.Containers)
		c.Conditions = slices.Clone(s.Conditions)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b api.PodStatus) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Changes is signalled (coalesced) when a status changes.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

// Pods are the pods of the last Sync, as given.
func (r *Runtime) Pods() []api.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pods)
}

// Logs answers one line per container that ran, or api.ErrNotFound.
func (r *Runtime) Logs(_ context.Context, namespace, pod string, o api.LogOptions) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.status {
		if s.Namespace != namespace || s.Name != pod {
			continue
		}
		for _, c := range s.Containers {
			if o.Container == "" || c.Name == o.Container {
				return io.NopCloser(strings.NewReader(fmt.Sprintf("hollow container %s of %s/%s started\n", c.Name, namespace, pod))), nil
			}
		}
	}
	return nil, fmt.Errorf("pod %s/%s container %q: %w", namespace, pod, o.Container, api.ErrNotFound)
}

// Close stops the pending start timers.
func (r *Runtime) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, t := range r.timers {
		t.Stop()
	}
}
