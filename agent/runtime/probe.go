package runtime

// Container probes with the kubelet's semantics (pkg/kubelet/prober): one
// goroutine and one timer per probe of a running container; a startup
// probe gates the liveness and readiness probes; a result counts only after
// failureThreshold (successThreshold) of them in a row; a failed liveness or
// startup probe kills the task, and its exit flows through runContainer's
// usual path (restart policy, back-off, RestartCount). The handlers are in
// probe_exec.go, probe_http.go and probe_grpc.go.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// probeKind is which of a container's probes a worker runs.
type probeKind uint8

const (
	probeLiveness probeKind = iota
	probeReadiness
	probeStartup
)

// String is the kind as the kubelet's events name it ("Liveness probe
// failed: ...").
func (k probeKind) String() string {
	switch k {
	case probeLiveness:
		return "Liveness"
	case probeReadiness:
		return "Readiness"
	default:
		return "Startup"
	}
}

// probeResult is the outcome of one probe.
type probeResult uint8

const (
	resultUnknown probeResult = iota
	resultSuccess
	// resultWarning is a success with something to say (an HTTP redirect
	// not followed): counted as a success, reported as a ProbeWarning.
	resultWarning
	resultFailure
)

func (r probeResult) String() string {
	switch r {
	case resultSuccess:
		return "success"
	case resultWarning:
		return "warning"
	case resultFailure:
		return "failure"
	default:
		return "unknown"
	}
}

// probeHandler runs one probe: exec, httpGet, tcpSocket or grpc. out is
// the message of a failure or warning (bounded). An error means the probe
// could not be run at all (an unknown port name, a failed exec): as in the
// kubelet, it is reported and does not count either way. Handlers are used
// by one goroutine at a time.
type probeHandler interface {
	probe(ctx context.Context, timeout time.Duration) (res probeResult, out string, err error)
}

// probeTarget is what a probe worker acts on: the container's status and
// task. The real one is ctrProbeTarget; tests use a fake.
type probeTarget interface {
	// started is called once, when the startup probe first succeeds.
	started()
	// setReady is called when the readiness result changes (the first
	// call is always true: readiness starts false).
	setReady(ready bool)
	// kill stops the container after its liveness or startup probe
	// failed; it returns once ctx ends (the task exited, the pod is
	// stopping or the runtime closing).
	kill(ctx context.Context, kind probeKind)
	// event records an event about the container.
	event(typ, reason, msg string)
}

// probeParams are a probe's settings with the defaults applied.
type probeParams struct {
	initialDelay, period, timeout time.Duration
	success, failure              int
}

// resolveProbe applies Kubernetes' defaults to p's zero fields (they are
// not written into the spec, so that writing one does not change a pod
// template's hash). successThreshold is 1 for liveness and startup probes,
// whatever the spec says (validation refuses anything else).
func resolveProbe(p *spec.Probe, kind probeKind) probeParams {
	sec := func(v, def int32) time.Duration {
		if v <= 0 {
			v = def
		}
		return time.Duration(v) * time.Second
	}
	pp := probeParams{
		initialDelay: sec(p.InitialDelaySeconds, 0),
		period:       sec(p.PeriodSeconds, spec.DefaultProbePeriodSeconds),
		timeout:      sec(p.TimeoutSeconds, spec.DefaultProbeTimeoutSeconds),
		success:      int(p.SuccessThreshold),
		failure:      int(p.FailureThreshold),
	}
	if pp.success <= 0 || kind != probeReadiness {
		pp.success = spec.DefaultProbeSuccessThreshold
	}
	if pp.failure <= 0 {
		pp.failure = spec.DefaultProbeFailureThreshold
	}
	return pp
}

// probeWorker runs one probe of one container incarnation: the kubelet's
// worker.doProbe state machine, without the per-tick status lookups (the
// worker lives exactly as long as the task it probes).
type probeWorker struct {
	kind   probeKind
	params probeParams
	h      probeHandler
	t      probeTarget
	// observe, when set, is told of every probe run (the agent's metrics).
	observe func(probeKind, probeResult, error)

	last  probeResult // result of the previous probe
	run   int         // probes in a row with result last
	ready bool        // readiness last reported to t
}

// loop probes every period, the first time after first, until ctx ends or
// the worker is done (startup succeeded; liveness or startup failed and the
// kill returned).
func (pw *probeWorker) loop(ctx context.Context, first time.Duration) {
	timer := time.NewTimer(max(first, 0))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		if !pw.step(ctx) {
			return
		}
		// A fixed rate, as the kubelet's ticker: a slow probe does not
		// push the next ones back.
		timer.Reset(max(time.Until(nextProbeTime(start, pw.params.period)), 0))
	}
}

// probeTick is the grid probes after the first are aligned to, so that
// the probes of a node wake the agent at most 1/probeTick times a second
// together rather than each on its own: every wake-up costs context
// switches, which dominate a cheap probe's cost (docs/runtime.md).
const probeTick = 100 * time.Millisecond

// nextProbeTime is one period after start, rounded up to the probeTick
// grid (at most probeTick later than the kubelet's ticker would run it).
func nextProbeTime(start time.Time, period time.Duration) time.Time {
	next := start.Add(period)
	if r := next.Truncate(probeTick); r.Before(next) {
		return r.Add(probeTick)
	}
	return next
}

// step runs the probe once and applies its result; false when the worker
// is done.
func (pw *probeWorker) step(ctx context.Context) bool {
	res, out, err := pw.h.probe(ctx, pw.params.timeout)
	if ctx.Err() != nil {
		return false // stopped meanwhile: the result is about a container going away
	}
	if pw.observe != nil {
		pw.observe(pw.kind, res, err)
	}
	if err != nil {
		pw.t.event(api.EventWarning, api.EventUnhealthy, fmt.Sprintf("%s probe errored and resulted in %s state: %s", pw.kind, res, err))
		return true
	}
	switch res {
	case resultSuccess:
	case resultWarning:
		pw.t.event(api.EventWarning, api.EventProbeWarning, pw.kind.String()+" probe warning: "+out)
		res = resultSuccess
	default:
		pw.t.event(api.EventWarning, api.EventUnhealthy, pw.kind.String()+" probe failed: "+out)
		res = resultFailure
	}
	if res == pw.last {
		pw.run++
	} else {
		pw.last, pw.run = res, 1
	}
	if res == resultFailure && pw.run < pw.params.failure || res == resultSuccess && pw.run < pw.params.success {
		return true // below the threshold: nothing changes
	}
	switch pw.kind {
	case probeReadiness:
		if ready := res == resultSuccess; ready != pw.ready {
			pw.ready = ready
			pw.t.setReady(ready)
		}
		return true
	case probeStartup:
		if res == resultSuccess {
			pw.t.started()
			return false
		}
	case probeLiveness:
		if res == resultSuccess {
			return true
		}
	}
	// The kubelet puts the worker on hold until a new container; here the
	// next incarnation gets new workers.
	pw.t.kill(ctx, pw.kind)
	return false
}

// probeSet is the workers of one container incarnation; any may be nil.
type probeSet struct {
	liveness, readiness, startup *probeWorker
}

// containerProbes are the running workers of one container incarnation.
type containerProbes struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// stop ends the workers and waits for them: after it returns, none
// changes the container's status any more. Safe on nil and twice.
func (cp *containerProbes) stop() {
	if cp == nil {
		return
	}
	cp.cancel()
	cp.wg.Wait()
}

// runProbes starts the workers of set for a task started at startedAt:
// the startup probe first (its initialDelay counted from startedAt); the
// liveness and readiness probes once it succeeded (at once without one),
// each first after its own initialDelay from startedAt, then every period.
// adopted (a task found running by a restarted agent) spreads the first
// liveness probes over a period, as the kubelet does after its own restart;
// readiness and startup probes run at once then, so that readiness is known
// quickly. nil when set is empty.
func runProbes(ctx context.Context, set probeSet, startedAt time.Time, adopted bool) *containerProbes {
	if set.liveness == nil && set.readiness == nil && set.startup == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	cp := &containerProbes{cancel: cancel}
	firstDelay := func(pw *probeWorker) time.Duration {
		d := time.Until(startedAt.Add(pw.params.initialDelay))
		if adopted && pw.kind == probeLiveness && pw.params.period > 0 {
			d = max(d, rand.N(pw.params.period))
		}
		return d
	}
	var gate chan struct{}
	if set.startup != nil {
		gate = make(chan struct{})
		pw := set.startup
		pw.t = &gatedTarget{probeTarget: pw.t, gate: gate}
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			pw.loop(ctx, firstDelay(pw))
		}()
	}
	for _, pw := range []*probeWorker{set.liveness, set.readiness} {
		if pw == nil {
			continue
		}
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return
				}
			}
			pw.loop(ctx, firstDelay(pw))
		}()
	}
	return cp
}

// gatedTarget opens the gate of the liveness and readiness workers once
// the startup probe succeeded (after the container is marked started).
type gatedTarget struct {
	probeTarget
	gate chan struct{}
}

func (g *gatedTarget) started() {
	g.probeTarget.started()
	close(g.gate)
}

// probeState is a container incarnation's probe results, guarded by r.mu.
type probeState struct {
	// started: the startup probe succeeded (or there is none).
	started bool
	// ready: the readiness probe succeeded last (or there is none).
	ready bool
	// killed: the task was killed for a failed liveness or startup
	// probe, so that it restarts even under OnFailure after exit 0, as
	// the kubelet restarts it.
	killed bool
}

// resetProbesLocked gives a container that just started (or was adopted
// running) its initial probe results: not started while a startup probe
// has to succeed, not ready while a readiness probe has to; r.mu is held
// or the worker not running yet.
func (c *ctr) resetProbesLocked() {
	c.probe = probeState{started: c.spec.StartupProbe == nil, ready: c.spec.ReadinessProbe == nil}
	c.applyProbesLocked()
}

// applyProbesLocked derives Started and Ready from the probe results; r.mu
// is held.
func (c *ctr) applyProbesLocked() {
	if c.st.State.Running == nil {
		c.st.Started, c.st.Ready = nil, false
		return
	}
	started := c.probe.started
	c.st.Started = &started
	c.st.Ready = started && c.probe.ready
}

// startProbes starts the probes of c's task run (nil if it has none); the
// caller stops them when the task exits or the pod stops.
func (w *podWorker) startProbes(ctx context.Context, c *ctr, run *running, adopted bool) *containerProbes {
	cs := &c.spec
	if cs.LivenessProbe == nil && cs.ReadinessProbe == nil && cs.StartupProbe == nil {
		return nil
	}
	t := &ctrProbeTarget{w: w, c: c, run: run}
	ip := w.podIP()
	var set probeSet
	mk := func(p *spec.Probe, kind probeKind) *probeWorker {
		if p == nil {
			return nil
		}
		return &probeWorker{kind: kind, params: resolveProbe(p, kind), h: w.probeHandler(c, run, p, kind, ip), t: t, observe: w.r.observeProbe}
	}
	set.liveness = mk(cs.LivenessProbe, probeLiveness)
	set.readiness = mk(cs.ReadinessProbe, probeReadiness)
	set.startup = mk(cs.StartupProbe, probeStartup)
	return runProbes(ctx, set, run.started, adopted)
}

// probeHandler builds the handler of probe p of container c.
func (w *podWorker) probeHandler(c *ctr, run *running, p *spec.Probe, kind probeKind, podIP string) probeHandler {
	switch {
	case p.Exec != nil:
		return &execProbe{r: w.r, id: c.id, task: run.task, cmd: p.Exec.Command, kind: kind}
	case p.HTTPGet != nil:
		return newHTTPProbe(p.HTTPGet, podIP, &w.pod.Spec, &c.spec)
	case p.TCPSocket != nil:
		return newTCPProbe(p.TCPSocket, podIP, &w.pod.Spec, &c.spec)
	case p.GRPC != nil:
		return newGRPCProbe(p.GRPC, podIP)
	}
	return errProbe{fmt.Errorf("%s probe of container %s has no handler", strings.ToLower(kind.String()), c.spec.Name)}
}

var (
	_ probeHandler = (*execProbe)(nil)
	_ probeHandler = (*httpProbe)(nil)
	_ probeHandler = (*tcpProbe)(nil)
	_ probeHandler = (*grpcProbe)(nil)
	_ probeHandler = errProbe{}
)

// errProbe is a probe that cannot run; its error is reported each period.
type errProbe struct{ err error }

func (p errProbe) probe(context.Context, time.Duration) (probeResult, string, error) {
	return resultUnknown, "", p.err
}

// ctrProbeTarget applies a container's probe results to its status and
// kills its task.
type ctrProbeTarget struct {
	w   *podWorker
	c   *ctr
	run *running
}

var _ probeTarget = (*ctrProbeTarget)(nil)

func (t *ctrProbeTarget) started() {
	t.w.update(func() {
		t.c.probe.started = true
		t.c.applyProbesLocked()
	})
}

func (t *ctrProbeTarget) setReady(ready bool) {
	t.w.update(func() {
		t.c.probe.ready = ready
		t.c.applyProbesLocked()
	})
}

func (t *ctrProbeTarget) event(typ, reason, msg string) {
	t.w.event(t.c.spec.Name, typ, reason, msg)
}

func (t *ctrProbeTarget) kill(ctx context.Context, kind probeKind) {
	t.w.killForProbe(ctx, t.c, t.run, kind)
}

// killForProbe stops a task whose liveness or startup probe failed, as the
// kubelet's killContainer does: SIGTERM, the probe's
// terminationGracePeriodSeconds (else the pod's), then SIGKILL to every
// process of the container. The task's exit is then seen by runContainer
// like any other: a termination (reason Error, exit 143 or 137), the
// restart policy and its back-off, RestartCount. It returns when ctx ends,
// i.e. once runContainer saw the exit (or the pod stops, or the runtime
// closes); a task that outlives SIGKILL gets it again every killWait.
func (w *podWorker) killForProbe(ctx context.Context, c *ctr, run *running, kind probeKind) {
	p := c.spec.LivenessProbe
	if kind == probeStartup {
		p = c.spec.StartupProbe
	}
	grace := w.gracePeriod()
	if p != nil && p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds >= 0 {
		grace = time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	msg := fmt.Sprintf("Container %s failed %s probe", c.spec.Name, strings.ToLower(kind.String()))
	if w.restartPolicy() != spec.RestartPolicyNever {
		msg += ", will be restarted"
	}
	w.r.mu.Lock()
	c.probe.killed = true
	w.r.mu.Unlock()
	// As any stop: the Killing event, preStop within grace, SIGTERM,
	// SIGKILL. The exit reaches the container's goroutine, which restarts
	// it per the restart policy.
	if err := w.killContainer(context.WithoutCancel(ctx), c, run.task, msg, grace); err != nil {
		w.r.log.Warn("failed to kill container after its probe failed", "container", c.id, "err", err)
	}
}
