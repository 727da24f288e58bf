package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// scriptHandler is a probe handler the test drives one probe at a time:
// each probe announces itself on calls and returns the next result sent
// on results. Receiving the next call proves the previous result was
// applied (the worker is sequential).
type scriptHandler struct {
	calls   chan time.Time
	results chan scripted
}

type scripted struct {
	res probeResult
	out string
	err error
}

func newScript() *scriptHandler {
	return &scriptHandler{calls: make(chan time.Time), results: make(chan scripted)}
}

func (h *scriptHandler) probe(ctx context.Context, _ time.Duration) (probeResult, string, error) {
	select {
	case h.calls <- time.Now():
	case <-ctx.Done():
		return resultUnknown, "", ctx.Err()
	}
	select {
	case s := <-h.results:
		return s.res, s.out, s.err
	case <-ctx.Done():
		return resultUnknown, "", ctx.Err()
	}
}

// await waits for the next probe to start (the previous result applied).
func (h *scriptHandler) await(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-h.calls:
		return at
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a probe")
		return time.Time{}
	}
}

// idle checks that no probe starts within d.
func (h *scriptHandler) idle(t *testing.T, d time.Duration, why string) {
	t.Helper()
	select {
	case <-h.calls:
		t.Fatalf("a probe ran: %s", why)
	case <-time.After(d):
	}
}

var (
	okP   = scripted{res: resultSuccess}
	failP = scripted{res: resultFailure, out: "boom"}
)

// fakeTarget records what the workers did.
type fakeTarget struct {
	mu       sync.Mutex
	nStarted int
	ready    []bool
	events   []string
	killed   chan probeKind
}

func newFakeTarget() *fakeTarget { return &fakeTarget{killed: make(chan probeKind, 4)} }

func (f *fakeTarget) startedCount() int { f.mu.Lock(); defer f.mu.Unlock(); return f.nStarted }

func (f *fakeTarget) started() { f.mu.Lock(); f.nStarted++; f.mu.Unlock() }

func (f *fakeTarget) setReady(r bool) { f.mu.Lock(); f.ready = append(f.ready, r); f.mu.Unlock() }

func (f *fakeTarget) kill(ctx context.Context, k probeKind) {
	f.killed <- k
	<-ctx.Done() // as the real kill: until the task's exit stops the probes
}

func (f *fakeTarget) event(typ, reason, msg string) {
	f.mu.Lock()
	f.events = append(f.events, typ+" "+reason+" "+msg)
	f.mu.Unlock()
}

func (f *fakeTarget) readyLog() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.ready...)
}

func (f *fakeTarget) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func fastParams(success, failure int) probeParams {
	return probeParams{period: 5 * time.Millisecond, timeout: time.Second, success: success, failure: failure}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// run answers the probe in progress with each of seq in turn; after each
// result is applied (the next probe started) it calls check, if any.
func (h *scriptHandler) run(t *testing.T, seq []scripted, check func(i int)) {
	t.Helper()
	for i, s := range seq {
		h.results <- s
		h.await(t)
		if check != nil {
			check(i)
		}
	}
}

func TestProbeReadinessThresholds(t *testing.T) {
	h, ft := newScript(), newFakeTarget()
	pw := &probeWorker{kind: probeReadiness, params: fastParams(2, 2), h: h, t: ft}
	cp := runProbes(context.Background(), probeSet{readiness: pw}, time.Now(), false)
	defer cp.stop()
	warn := scripted{res: resultWarning, out: "moved"}
	seq := []struct {
		s    scripted
		want []bool // readiness reports so far
	}{
		{okP, nil},                        // 1 success of 2: still not ready
		{okP, []bool{true}},               // 2 in a row: ready
		{failP, []bool{true}},             // 1 failure of 2
		{okP, []bool{true}},               // the run is broken
		{failP, []bool{true}},             // 1
		{failP, []bool{true, false}},      // 2: not ready
		{failP, []bool{true, false}},      // stays so, not reported again
		{okP, []bool{true, false}},        // 1 of 2
		{warn, []bool{true, false, true}}, // a warning is a success: ready again
		{okP, []bool{true, false, true}},  // no new report
	}
	h.await(t)
	var ss []scripted
	for _, st := range seq {
		ss = append(ss, st.s)
	}
	h.run(t, ss, func(i int) {
		if got := ft.readyLog(); !equalBools(got, seq[i].want) {
			t.Fatalf("after probe %d: readiness reports %v, want %v", i+1, got, seq[i].want)
		}
	})
	events := ft.eventLog()
	fails := 0
	for _, e := range events {
		if e == "Warning Unhealthy Readiness probe failed: boom" {
			fails++
		}
	}
	if fails != 4 || !strings.Contains(strings.Join(events, "\n"), "Warning ProbeWarning Readiness probe warning: moved") {
		t.Fatalf("events %q: want 4 failures (one per failed probe) and the warning", events)
	}
}

func TestProbeLivenessKillsAfterThreshold(t *testing.T) {
	h, ft := newScript(), newFakeTarget()
	pw := &probeWorker{kind: probeLiveness, params: fastParams(1, 3), h: h, t: ft}
	cp := runProbes(context.Background(), probeSet{liveness: pw}, time.Now(), false)
	h.await(t)
	// Two failures, a success, two failures: never three in a row.
	h.run(t, []scripted{failP, failP, okP, failP, failP}, func(int) {
		if len(ft.killed) != 0 {
			t.Fatal("killed below the failure threshold")
		}
	})
	h.results <- failP // the third in a row
	select {
	case k := <-ft.killed:
		if k != probeLiveness {
			t.Fatalf("kill for %v", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no kill after failureThreshold failures")
	}
	// On hold until the container is gone: no more probes.
	h.idle(t, 50*time.Millisecond, "liveness probed after its kill")
	cp.stop() // the exit: the kill returns, the worker ends
}

func TestProbeErrorsDoNotCount(t *testing.T) {
	h, ft := newScript(), newFakeTarget()
	pw := &probeWorker{kind: probeLiveness, params: fastParams(1, 1), h: h, t: ft}
	cp := runProbes(context.Background(), probeSet{liveness: pw}, time.Now(), false)
	defer cp.stop()
	h.await(t)
	boom := scripted{err: errors.New("port web not found")}
	h.run(t, []scripted{boom, boom, boom}, nil)
	if len(ft.killed) != 0 {
		t.Fatal("a probe that could not run killed the container")
	}
	want := "Warning Unhealthy Liveness probe errored and resulted in unknown state: port web not found"
	if ev := ft.eventLog(); len(ev) != 3 || ev[0] != want {
		t.Fatalf("events %q, want 3 of %q", ev, want)
	}
}

func TestProbeStartupGatesOthers(t *testing.T) {
	start, live, ready := newScript(), newScript(), newScript()
	ft := newFakeTarget()
	set := probeSet{
		startup:   &probeWorker{kind: probeStartup, params: fastParams(1, 5), h: start, t: ft},
		liveness:  &probeWorker{kind: probeLiveness, params: fastParams(1, 1), h: live, t: ft},
		readiness: &probeWorker{kind: probeReadiness, params: fastParams(1, 1), h: ready, t: ft},
	}
	cp := runProbes(context.Background(), set, time.Now(), false)
	defer cp.stop()
	start.await(t)
	start.run(t, []scripted{failP, failP}, func(int) {
		if ft.startedCount() != 0 {
			t.Fatal("started before the startup probe succeeded")
		}
	})
	live.idle(t, 30*time.Millisecond, "liveness ran before the startup probe succeeded")
	ready.idle(t, 0, "readiness ran before the startup probe succeeded")
	start.results <- okP
	live.await(t)
	ready.await(t)
	if ft.startedCount() != 1 {
		t.Fatalf("started %d times, want 1", ft.startedCount())
	}
	// The startup probe is done for this container.
	start.idle(t, 30*time.Millisecond, "startup probed after it succeeded")
	ready.results <- okP
	ready.await(t)
	if got := ft.readyLog(); !equalBools(got, []bool{true}) {
		t.Fatalf("readiness reports %v, want [true]", got)
	}
	live.results <- failP
	if k := <-ft.killed; k != probeLiveness {
		t.Fatalf("kill for %v", k)
	}
}

func TestProbeStartupFailureKills(t *testing.T) {
	start, live := newScript(), newScript()
	ft := newFakeTarget()
	set := probeSet{
		startup:  &probeWorker{kind: probeStartup, params: fastParams(1, 2), h: start, t: ft},
		liveness: &probeWorker{kind: probeLiveness, params: fastParams(1, 1), h: live, t: ft},
	}
	cp := runProbes(context.Background(), set, time.Now(), false)
	start.await(t)
	start.run(t, []scripted{failP}, nil)
	start.results <- failP
	if k := <-ft.killed; k != probeStartup {
		t.Fatalf("kill for %v, want startup", k)
	}
	live.idle(t, 30*time.Millisecond, "liveness ran for a container that never started")
	cp.stop()
	if ft.startedCount() != 0 {
		t.Fatal("marked started")
	}
}

func TestProbeInitialDelay(t *testing.T) {
	// From the task's start: a fresh task waits the delay...
	h, ft := newScript(), newFakeTarget()
	p := fastParams(1, 1)
	p.initialDelay = 150 * time.Millisecond
	begin := time.Now()
	cp := runProbes(context.Background(), probeSet{readiness: &probeWorker{kind: probeReadiness, params: p, h: h, t: ft}}, begin, false)
	if at := h.await(t); at.Sub(begin) < p.initialDelay {
		t.Fatalf("first probe %v after start, before initialDelaySeconds (%v)", at.Sub(begin), p.initialDelay)
	}
	cp.stop()
	// ...one that started long ago (adopted) is probed at once.
	h2 := newScript()
	begin = time.Now()
	cp = runProbes(context.Background(), probeSet{readiness: &probeWorker{kind: probeReadiness, params: p, h: h2, t: ft}}, begin.Add(-time.Hour), true)
	defer cp.stop()
	if at := h2.await(t); at.Sub(begin) > 100*time.Millisecond {
		t.Fatalf("adopted container's readiness first probed %v after adoption, want at once", at.Sub(begin))
	}
}

func TestProbeStopDiscardsResultInFlight(t *testing.T) {
	h, ft := newScript(), newFakeTarget()
	cp := runProbes(context.Background(), probeSet{readiness: &probeWorker{kind: probeReadiness, params: fastParams(1, 1), h: h, t: ft}}, time.Now(), false)
	h.await(t)
	cp.stop() // the handler sees ctx end and returns
	if got := ft.readyLog(); len(got) != 0 {
		t.Fatalf("readiness reported %v after stop", got)
	}
	var nilProbes *containerProbes
	nilProbes.stop()
	if runProbes(context.Background(), probeSet{}, time.Now(), false) != nil {
		t.Fatal("runProbes without probes started workers")
	}
}

func TestResolveProbeDefaults(t *testing.T) {
	got := resolveProbe(&spec.Probe{}, probeReadiness)
	want := probeParams{period: 10 * time.Second, timeout: time.Second, success: 1, failure: 3}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	got = resolveProbe(&spec.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 4, FailureThreshold: 6}, probeReadiness)
	want = probeParams{initialDelay: 5 * time.Second, period: 2 * time.Second, timeout: 3 * time.Second, success: 4, failure: 6}
	if got != want {
		t.Fatalf("set %+v, want %+v", got, want)
	}
	if got := resolveProbe(&spec.Probe{SuccessThreshold: 4}, probeLiveness); got.success != 1 {
		t.Fatalf("liveness successThreshold %d, want 1", got.success)
	}
}

func TestContainerStartedAndReady(t *testing.T) {
	running := api.ContainerState{Running: &api.StateRunning{}}
	for _, tc := range []struct {
		name                   string
		startup, readiness     bool
		wantStarted, wantReady bool
	}{
		{name: "no probes", wantStarted: true, wantReady: true},
		{name: "readiness", readiness: true, wantStarted: true},
		{name: "startup", startup: true},
		{name: "both", startup: true, readiness: true},
	} {
		c := &ctr{st: api.ContainerStatus{State: running}}
		if tc.startup {
			c.spec.StartupProbe = &spec.Probe{}
		}
		if tc.readiness {
			c.spec.ReadinessProbe = &spec.Probe{}
		}
		c.resetProbesLocked()
		if c.st.Started == nil || *c.st.Started != tc.wantStarted || c.st.Ready != tc.wantReady {
			t.Errorf("%s: started=%v ready=%v, want %v %v", tc.name, c.st.Started, c.st.Ready, tc.wantStarted, tc.wantReady)
		}
		c.probe.started, c.probe.ready = true, true
		c.applyProbesLocked()
		if !*c.st.Started || !c.st.Ready {
			t.Errorf("%s: not ready after its probes succeeded", tc.name)
		}
		c.st.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonCrashLoopBackOff}}
		c.applyProbesLocked()
		if c.st.Started != nil || c.st.Ready {
			t.Errorf("%s: not running but started=%v ready=%v", tc.name, c.st.Started, c.st.Ready)
		}
	}
}

func TestNextProbeTimeAligns(t *testing.T) {
	base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ start, want time.Duration }{
		{0, time.Second},
		{30 * time.Millisecond, time.Second + 100*time.Millisecond},
		{100 * time.Millisecond, time.Second + 100*time.Millisecond},
		{199 * time.Millisecond, time.Second + 200*time.Millisecond},
	} {
		if got := nextProbeTime(base.Add(tc.start), time.Second); !got.Equal(base.Add(tc.want)) {
			t.Errorf("nextProbeTime(+%s) = +%s, want +%s", tc.start, got.Sub(base), tc.want)
		}
	}
}
