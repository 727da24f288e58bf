package runtime_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// events collects what the runtime records (Config.Events).
type events struct {
	mu  sync.Mutex
	evs []api.Event
}

func (c *events) record(e api.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, e)
}

// of returns the events about pod name (and container ctr, "" for every
// one), in the order recorded, as "Reason: message".
func (c *events) of(name, ctr string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.evs {
		if e.Object == "Pod/default/"+name && (ctr == "" || e.Container == ctr) {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

// reasons is of with the reasons only.
func (c *events) reasons(name, ctr string) []string {
	var out []string
	for _, s := range c.of(name, ctr) {
		r, _, _ := strings.Cut(s, ":")
		out = append(out, r)
	}
	return out
}

// waitEvent waits until pod name has an event whose "Reason: message"
// contains want.
func (c *events) waitEvent(t *testing.T, name, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, s := range c.of(name, "") {
			if strings.Contains(s, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event %q for %s; events: %q", want, name, c.of(name, ""))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newEnvEvents(t *testing.T) (*env, *events) {
	evs := &events{}
	e := newEnvWith(t, func(c *runtime.Config) { c.Events = evs.record })
	return e, evs
}

func execHook(script string) *spec.LifecycleHandler {
	return &spec.LifecycleHandler{Exec: &spec.ExecAction{Command: []string{"sh", "-c", script}}}
}

// politeLoop exits 0 on SIGTERM (after the sleep under way). It logs
// "trapped" once the trap is set: PID 1 ignores SIGTERM before.
const politeLoop = `trap 'exit 0' TERM; echo trapped; while true; do sleep 0.1; done`

func containerNamed(p api.PodStatus, name string) api.ContainerStatus {
	for _, c := range p.Containers {
		if c.Name == name {
			return c
		}
	}
	return api.ContainerStatus{}
}

// TestPreStopAndTerminating: removing a pod runs each container's preStop
// hook before its SIGTERM, within the grace period, all containers at
// once; meanwhile the pod shows a DeletionTimestamp and its stopped
// containers' terminated states, then leaves the list.
func TestPreStopAndTerminating(t *testing.T) {
	t.Parallel()
	e, evs := newEnvEvents(t)
	// main's preStop and its TERM trap append to its termination message:
	// the message says in which order they ran.
	mainC := sh("main", `trap 'echo term >> /dev/termination-log; exit 0' TERM; echo trapped; while true; do sleep 0.1; done`)
	mainC.Lifecycle = &spec.Lifecycle{PreStop: execHook("echo prestop >> /dev/termination-log")}
	// slow keeps the pod terminating for 3s with a sleep hook.
	slow := sh("slow", politeLoop)
	slow.Lifecycle = &spec.Lifecycle{PreStop: &spec.LifecycleHandler{Sleep: &spec.SleepAction{Seconds: 3}}}
	p := newPod("stopper", spec.RestartPolicyAlways, mainC, slow)
	grace := int64(10)
	p.Owner, p.Hash = "Deployment/default/stopper", "abc123"
	p.Spec.TerminationGracePeriodSeconds = &grace
	e.sync(p)
	st := e.waitPod("stopper", "running", 30*time.Second, running)
	e.waitLog("stopper", "main", "trapped", 10*time.Second)
	e.waitLog("stopper", "slow", "trapped", 10*time.Second)
	if st.Owner != p.Owner || st.Hash != p.Hash || st.DeletionTimestamp != nil {
		t.Fatalf("running pod: owner=%q hash=%q deletionTimestamp=%v", st.Owner, st.Hash, st.DeletionTimestamp)
	}

	start := time.Now()
	e.sync()
	st = e.waitPod("stopper", "main stopped while slow's preStop sleeps", 10*time.Second, func(p api.PodStatus) bool {
		return p.DeletionTimestamp != nil && containerNamed(p, "main").State.Terminated != nil
	})
	term := containerNamed(st, "main").State.Terminated
	if term.Message != "prestop\nterm\n" || term.ExitCode != 0 || term.Reason != api.ReasonCompleted {
		t.Errorf("main terminated %+v; want exit 0 and the message \"prestop\\nterm\\n\" (preStop before SIGTERM)", term)
	}
	if s := containerNamed(st, "slow").State; s.Running == nil {
		t.Errorf("slow is %s while its 3s preStop sleeps; want running", stateString(s))
	}
	if d := st.DeletionTimestamp; d.After(time.Now()) || start.Sub(*d) > 2*time.Second {
		t.Errorf("deletionTimestamp %v, removal began at %v", d, start)
	}
	if st.Owner != p.Owner || st.Hash != p.Hash {
		t.Errorf("terminating pod: owner=%q hash=%q", st.Owner, st.Hash)
	}
	e.wait("stopper gone", 15*time.Second, gone("stopper"))
	if el := time.Since(start); el < 3*time.Second || el > 9*time.Second {
		t.Errorf("pod removal took %s; want slow's 3s preStop, then its exit on SIGTERM", el)
	}
	for _, c := range []string{"main", "slow"} {
		if r := evs.reasons("stopper", c); !slices.Contains(r, api.EventKilling) {
			t.Errorf("%s: no Killing event in %q", c, r)
		}
	}
	evs.waitEvent(t, "stopper", api.EventContainersKilled+": ", 5*time.Second)
}

// TestPreStopUsesUpGrace: a preStop hook longer than the grace period is
// cut, and the container still gets SIGTERM (and a short grace) before
// SIGKILL; a failing preStop is an event and the stop goes on.
func TestPreStopUsesUpGrace(t *testing.T) {
	t.Parallel()
	e, evs := newEnvEvents(t)
	long := sh("c", politeLoop)
	long.Lifecycle = &spec.Lifecycle{PreStop: execHook("sleep 60")}
	p := newPod("longhook", "", long)
	g := int64(1)
	p.Spec.TerminationGracePeriodSeconds = &g
	bad := sh("c", politeLoop)
	bad.Lifecycle = &spec.Lifecycle{PreStop: execHook("echo cannot; exit 3")}
	q := newPod("badhook", "", bad)
	g10 := int64(10) // room for the exec on a loaded machine
	q.Spec.TerminationGracePeriodSeconds = &g10
	e.sync(p, q)
	e.waitPod("longhook", "running", 30*time.Second, running)
	e.waitPod("badhook", "running", 30*time.Second, running)
	start := time.Now()
	e.sync()
	e.wait("longhook gone", 15*time.Second, gone("longhook"))
	// 1s of hook, then SIGTERM, which the loop obeys within 0.1s.
	if el := time.Since(start); el < time.Second || el > 4*time.Second {
		t.Errorf("removal took %s; want the 1s grace spent on the hook, then SIGTERM", el)
	}
	e.wait("badhook gone", 15*time.Second, gone("badhook"))
	evs.waitEvent(t, "badhook", api.EventFailedPreStop+": PreStopHook failed: exec", 5*time.Second)
	for _, s := range evs.of("badhook", "c") {
		if strings.HasPrefix(s, api.EventFailedPreStop) && (!strings.Contains(s, "code 3") || !strings.Contains(s, "cannot")) {
			t.Errorf("FailedPreStopHook event %q lacks the exit code and output", s)
		}
	}
}

// TestPostStart: a container is neither Started nor Ready while its
// postStart hook runs; a failing hook is an event, and the container is
// killed and restarted with back-off.
func TestPostStart(t *testing.T) {
	t.Parallel()
	e, evs := newEnvEvents(t)
	ok := sh("c", politeLoop)
	ok.Lifecycle = &spec.Lifecycle{PostStart: execHook("sleep 2")}
	fail := sh("c", politeLoop)
	fail.Lifecycle = &spec.Lifecycle{PostStart: execHook("echo nope; exit 7")}
	e.sync(newPod("hooked", "", ok), newPod("hookfail", spec.RestartPolicyAlways, fail))

	st := e.waitPod("hooked", "running, hook under way", 30*time.Second, func(p api.PodStatus) bool {
		return p.Containers[0].State.Running != nil
	})
	if c := st.Containers[0]; c.Ready || c.Started == nil || *c.Started {
		t.Errorf("during postStart: ready=%v started=%v; want neither", c.Ready, c.Started)
	}
	e.waitPod("hooked", "ready after its hook", 10*time.Second, func(p api.PodStatus) bool {
		c := p.Containers[0]
		return c.Ready && c.Started != nil && *c.Started && c.State.Running != nil
	})

	st = e.waitPod("hookfail", "restarted twice", 30*time.Second, func(p api.PodStatus) bool {
		return p.Containers[0].RestartCount >= 2
	})
	if lt := st.Containers[0].LastTerminationState.Terminated; lt == nil {
		t.Errorf("hookfail: lastState %s, want the killed run", stateString(st.Containers[0].LastTerminationState))
	}
	var failed, killing, backoff int
	for _, s := range evs.of("hookfail", "c") {
		switch {
		case strings.HasPrefix(s, api.EventFailedPostStart+": "):
			failed++
			if !strings.Contains(s, "code 7") || !strings.Contains(s, "nope") {
				t.Errorf("FailedPostStartHook event %q lacks the exit code and output", s)
			}
		case s == api.EventKilling+": FailedPostStartHook":
			killing++
		case strings.HasPrefix(s, api.EventBackOff+": Back-off restarting failed container c in pod hookfail_default("):
			backoff++
		}
	}
	if failed < 2 || killing < 2 || backoff < 2 {
		t.Errorf("events: %d FailedPostStartHook, %d Killing, %d BackOff; want one each per failed start: %q", failed, killing, backoff, evs.of("hookfail", "c"))
	}
}

// TestTerminationMessages: the file a container writes at its
// terminationMessagePath becomes its terminated state's message; with
// FallbackToLogsOnError an empty file and a failure give the log's tail.
func TestTerminationMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	custom := sh("c", "echo custom > /tmp/why; exit 1")
	custom.TerminationMessagePath = "/tmp/why"
	logs := sh("c", `i=1; while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); done; exit 3`)
	logs.TerminationMessagePolicy = spec.TerminationMessageFallbackToLogsOnError
	logsOK := sh("c", "echo fine; exit 0")
	logsOK.TerminationMessagePolicy = spec.TerminationMessageFallbackToLogsOnError
	fileWins := sh("c", "echo from-file > /dev/termination-log; echo from-log; exit 2")
	fileWins.TerminationMessagePolicy = spec.TerminationMessageFallbackToLogsOnError
	pods := map[string]spec.Container{
		"msg-default": sh("c", "printf bye > /dev/termination-log; exit 0"),
		"msg-custom":  custom,
		"msg-logs":    logs,
		"msg-logs-ok": logsOK,
		"msg-file":    fileWins,
	}
	var ps []api.Pod
	for name, c := range pods {
		ps = append(ps, newPod(name, spec.RestartPolicyNever, c))
	}
	e.sync(ps...)
	var want []string
	for i := 21; i <= 100; i++ {
		want = append(want, fmt.Sprintf("line %d\n", i))
	}
	for name, msg := range map[string]string{
		"msg-default": "bye",
		"msg-custom":  "custom\n",
		"msg-logs":    strings.Join(want, ""), // the last 80 lines
		"msg-logs-ok": "",
		"msg-file":    "from-file\n",
	} {
		st := e.waitPod(name, "terminated", 30*time.Second, func(p api.PodStatus) bool { return p.Containers[0].State.Terminated != nil })
		if got := st.Containers[0].State.Terminated.Message; got != msg {
			t.Errorf("%s: message %q, want %q", name, got, msg)
		}
	}
}

// TestEvents: a container's start and stop are recorded as the kubelet
// records them, in order; a crash loop records one BackOff per back-off.
func TestEvents(t *testing.T) {
	t.Parallel()
	e, evs := newEnvEvents(t)
	crash := newPod("crash", "", sh("c", "exit 1"))
	e.sync(newPod("ev", "", sh("web", politeLoop)), crash)
	e.waitPod("ev", "running", 30*time.Second, running)
	e.sync(crash)
	e.wait("ev gone", 15*time.Second, gone("ev"))
	got := evs.of("ev", "web")
	want := []string{
		api.EventPulling + `: Pulling image "` + busybox + `"`,
		api.EventPulled + `: Successfully pulled image "` + busybox + `" in `,
		api.EventCreated + ": Created container web",
		api.EventStarted + ": Started container web",
		api.EventKilling + ": Stopping container web",
	}
	if len(got) != len(want) {
		t.Fatalf("events of ev/web: %q, want %d like %q", got, len(want), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("event %d = %q, want %q…", i, got[i], want[i])
		}
	}
	evs.waitEvent(t, "ev", api.EventContainersKilled+": ", 5*time.Second)

	e.waitPod("crash", "3 restarts", 30*time.Second, func(p api.PodStatus) bool { return p.Containers[0].RestartCount >= 3 })
	backoffs := func() int {
		n := 0
		for _, r := range evs.reasons("crash", "c") {
			if r == api.EventBackOff {
				n++
			}
		}
		return n
	}
	// A restart counts after its back-off's event: between two equal
	// counts of events, the status is consistent with them.
	for i := 0; ; i++ {
		n := backoffs()
		restarts := -1
		for _, p := range e.rt.Status() {
			if p.Name == "crash" {
				restarts = int(p.Containers[0].RestartCount)
			}
		}
		if backoffs() != n && i < 100 {
			continue
		}
		if n < restarts || n > restarts+1 {
			t.Errorf("%d BackOff events for %d restarts; want one per back-off: %q", n, restarts, evs.of("crash", "c"))
		}
		break
	}
	if r := evs.reasons("crash", "c"); slices.Index(r, api.EventPulled) > slices.Index(r, api.EventCreated) {
		t.Errorf("crash events %q: want Pulled before Created", r)
	}
}

// TestTerminationMessageAfterAdoption: a container that exits while no
// agent runs gets its termination message when the next agent sees the
// exit.
func TestTerminationMessageAfterAdoption(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod("late", spec.RestartPolicyNever, sh("c", `trap 'echo "stopped while alone" > /dev/termination-log; exit 4' TERM; echo trapped; while true; do sleep 0.1; done`))
	e.sync(p)
	e.waitPod("late", "running", 30*time.Second, running)
	e.waitLog("late", "c", "trapped", 10*time.Second)
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	cont, err := e.cl.LoadContainer(e.ctx, runtime.PodID(p.UID)+"-c")
	if err != nil {
		t.Fatal(err)
	}
	task, err := cont.Task(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exitCh, err := task.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(e.ctx, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exitCh:
	case <-time.After(10 * time.Second):
		t.Fatal("the container ignored SIGTERM")
	}
	e.open()
	st := e.waitPod("late", "terminated after adoption", 15*time.Second, func(p api.PodStatus) bool { return p.Containers[0].State.Terminated != nil })
	if tt := st.Containers[0].State.Terminated; tt.ExitCode != 4 || tt.Message != "stopped while alone\n" {
		t.Errorf("terminated %+v; want exit 4 with the message the container left", tt)
	}
}
