package runtime_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestPodNetworkAndSpec: two containers share the pod's netns (the client
// reaches the server on 127.0.0.1), the pod gets an IP in PodCIDR that the
// host can reach, and command/args/env/workingDir/hostname/resources are
// applied as Kubernetes defines them.
func TestPodNetworkAndSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	server := spec.Container{
		Name:    "server",
		Command: []string{"httpd"},
		Args:    []string{"-f", "-p", "8080", "-h", "/etc"},
		Resources: spec.Resources{
			Limits:   spec.ResourceList{"memory": mustQuantity("64Mi"), "cpu": mustQuantity("500m")},
			Requests: spec.ResourceList{"cpu": mustQuantity("250m")},
		},
	}
	clientC := spec.Container{
		Name: "client",
		// command + args; the image's cmd ("sh") is dropped.
		Command:    []string{"sh", "-c"},
		Args:       []string{`echo "env=$GREETING pwd=$(pwd) host=$(hostname)"; until wget -q -O - http://127.0.0.1:8080/hostname; do sleep 0.1; done; exec sleep 3600`},
		Env:        []spec.EnvVar{{Name: "GREETING", Value: "hello"}},
		WorkingDir: "/etc",
	}
	p := newPod("web", "", server, clientC)
	e.sync(p)
	st := e.waitPod("web", "running", 30*time.Second, running)

	_, cidr, _ := net.ParseCIDR(e.rt.ConfigForTest().PodCIDR)
	ip := net.ParseIP(st.PodIP)
	if ip == nil || !cidr.Contains(ip) {
		t.Fatalf("pod IP %q not in %s", st.PodIP, cidr)
	}
	if st.Node != e.cfg.NodeName || st.StartTime == nil {
		t.Fatalf("node=%q startTime=%v", st.Node, st.StartTime)
	}

	// From the host to the pod IP, through the bridge.
	var body string
	hc := &http.Client{Timeout: time.Second}
	for i := 0; i < 50; i++ {
		resp, err := hc.Get("http://" + net.JoinHostPort(st.PodIP, "8080") + "/hostname")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "web\n" {
		t.Fatalf("GET pod:8080/hostname = %q, want the pod name", body)
	}

	// From one container to the other over localhost.
	deadline := time.Now().Add(20 * time.Second)
	var log string
	for time.Now().Before(deadline) {
		log = e.logs("web", "client", 0)
		if strings.Contains(log, "\nweb\n") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(log, "env=hello pwd=/etc host=web") {
		t.Fatalf("client log %q lacks env/workingDir/hostname line", log)
	}
	if !strings.Contains(log, "\nweb\n") {
		t.Fatalf("client log %q: no answer from the server over 127.0.0.1; status %s; server log %q", log, dump(e.rt.Status()), e.logs("web", "server", 0))
	}
	if tail := e.logs("web", "client", 1); tail != "web\n" {
		t.Fatalf("Logs tail=1 = %q", tail)
	}
	if _, err := e.rt.Logs(context.Background(), "default", "web", api.LogOptions{Container: "nope"}); err == nil {
		t.Fatal("Logs of an unknown container succeeded")
	}
	// No container name in a two-container pod: an error naming both.
	if _, err := e.rt.Logs(context.Background(), "default", "web", api.LogOptions{}); err == nil || !strings.Contains(err.Error(), "server") || !strings.Contains(err.Error(), "client") {
		t.Fatalf("Logs without a container name in a two-container pod: %v", err)
	}

	// Resources: the server's cgroup, under its pod's (v1 here; v2 paths differ).
	cg := "/" + e.rt.ConfigForTest().Namespace + "/pod-" + runtime.PodID(p.UID) + "/" + runtime.PodID(p.UID) + "-server"
	checks := map[string]string{
		"/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes": "67108864",
		"/sys/fs/cgroup/cpu" + cg + "/cpu.cfs_quota_us":         "50000",
		"/sys/fs/cgroup/cpu" + cg + "/cpu.shares":               "256",
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Log("cgroup v1 memory controller absent; resource files not checked")
		checks = nil
	}
	for f, want := range checks {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s = %s, want %s", f, got, want)
		}
	}
}

// TestRestartPolicies covers Always (restarts with back-off, counting),
// OnFailure (restarts failures, stops after success) and Never.
func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	always := newPod("always", spec.RestartPolicyAlways, sh("c", "echo run; exit 3"))
	onfailOK := newPod("onfailure-ok", spec.RestartPolicyOnFailure, sh("c", "exit 0"))
	onfailBad := newPod("onfailure-bad", spec.RestartPolicyOnFailure, sh("c", "exit 1"))
	never := newPod("never", spec.RestartPolicyNever, sh("c", "exit 2"))

	var mu sync.Mutex
	seen := map[string]bool{} // waiting reasons observed for "always"
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			for _, p := range e.rt.Status() {
				if p.Name == "always" && p.Containers[0].State.Waiting != nil {
					mu.Lock()
					seen[p.Containers[0].State.Waiting.Reason] = true
					mu.Unlock()
				}
			}
			select {
			case <-e.rt.Changes():
			case <-time.After(50 * time.Millisecond):
			case <-stop:
				return
			}
		}
	}()
	start := time.Now()
	e.sync(always, onfailOK, onfailBad, never)

	st := e.waitPod("always", "3 restarts", 30*time.Second, func(p api.PodStatus) bool { return p.Containers[0].RestartCount >= 3 })
	close(stop)
	<-watched
	// Back-off 100, 200, 400ms before restarts 1..3: at least 700ms.
	if el := time.Since(start); el < 700*time.Millisecond {
		t.Errorf("3 restarts took %v, faster than the back-off allows", el)
	}
	c := st.Containers[0]
	if lt := c.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != api.ReasonError {
		t.Errorf("always: lastState = %s, want terminated Error code 3", stateString(c.LastTerminationState))
	}
	if st.Phase != api.PodRunning {
		t.Errorf("always: phase %s, want Running", st.Phase)
	}
	mu.Lock()
	if !seen[api.ReasonCrashLoopBackOff] {
		t.Errorf("always: never saw CrashLoopBackOff; saw %v", seen)
	}
	mu.Unlock()
	// Each instance has its log; the previous one's is kept.
	if log := e.logsWith("always", api.LogOptions{Container: "c", Previous: true}); log != "run\n" {
		t.Errorf("always: previous instance's log %q, want %q", log, "run\n")
	}

	st = e.waitPod("onfailure-ok", "Succeeded", 30*time.Second, func(p api.PodStatus) bool { return p.Phase == api.PodSucceeded })
	if c := st.Containers[0]; c.RestartCount != 0 || c.State.Terminated == nil || c.State.Terminated.Reason != api.ReasonCompleted {
		t.Errorf("onfailure-ok: %s restarts=%d", stateString(c.State), c.RestartCount)
	}
	st = e.waitPod("onfailure-bad", "restarted", 30*time.Second, func(p api.PodStatus) bool { return p.Containers[0].RestartCount >= 2 })
	if st.Phase != api.PodRunning {
		t.Errorf("onfailure-bad: phase %s, want Running (restarting)", st.Phase)
	}
	st = e.waitPod("never", "Failed", 30*time.Second, func(p api.PodStatus) bool { return p.Phase == api.PodFailed })
	if c := st.Containers[0]; c.State.Terminated == nil || c.State.Terminated.ExitCode != 2 || c.State.Terminated.Reason != api.ReasonError {
		t.Errorf("never: %s", stateString(c.State))
	}
	// Neither finished pod restarts later.
	time.Sleep(600 * time.Millisecond)
	for _, p := range e.rt.Status() {
		if (p.Name == "never" || p.Name == "onfailure-ok") && p.Containers[0].RestartCount != 0 {
			t.Errorf("%s restarted: %s", p.Name, dump([]api.PodStatus{p}))
		}
	}
}

// TestTerminationReasons: exit by signal, OOMKilled, ContainerCannotRun
// and ErrImagePull/ImagePullBackOff.
func TestTerminationReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	oomC := sh("c", `a=xxxxxxxxxxxxxxxx; while true; do a="$a$a"; done`)
	oomC.Resources.Limits = spec.ResourceList{"memory": mustQuantity("16Mi")}
	// PID 1 of a pid namespace can't be SIGKILLed from inside it, so the
	// test kills it from outside, as an operator (or the OOM killer) would.
	signal := newPod("signal", spec.RestartPolicyNever, sh("c", "exec sleep 3600"))
	oom := newPod("oom", spec.RestartPolicyNever, oomC)
	cannot := newPod("cannot", spec.RestartPolicyNever, spec.Container{Name: "c", Command: []string{"/no/such/binary"}})
	missing := newPod("missing", spec.RestartPolicyNever, spec.Container{Name: "c", Image: registry + "/test/missing:1"})
	neverPull := newPod("neverpull", spec.RestartPolicyNever, spec.Container{Name: "c", Image: registry + "/test/absent:1", ImagePullPolicy: spec.PullNever})
	e.sync(signal, oom, cannot, missing, neverPull)

	e.waitPod("signal", "running", 30*time.Second, running)
	cont, err := e.cl.LoadContainer(e.ctx, runtime.PodID(signal.UID)+"-c")
	if err != nil {
		t.Fatal(err)
	}
	task, err := cont.Task(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(e.ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	term := func(name string) *api.StateTerminated {
		st := e.waitPod(name, "terminated", 30*time.Second, func(p api.PodStatus) bool { return p.Containers[0].State.Terminated != nil })
		if st.Phase != api.PodFailed {
			t.Errorf("%s: phase %s, want Failed", name, st.Phase)
		}
		return st.Containers[0].State.Terminated
	}
	if tt := term("signal"); tt.ExitCode != 137 || tt.Signal != 9 || tt.Reason != api.ReasonError {
		t.Errorf("signal: %+v", tt)
	}
	if tt := term("oom"); tt.ExitCode != 137 || tt.Reason != api.ReasonOOMKilled {
		t.Errorf("oom: %+v", tt)
	}
	if tt := term("cannot"); tt.Reason != api.ReasonContainerCannotRun || !strings.Contains(tt.Message, "/no/such/binary") {
		t.Errorf("cannot: %+v", tt)
	}
	st := e.waitPod("missing", "ErrImagePull", 30*time.Second, func(p api.PodStatus) bool {
		w := p.Containers[0].State.Waiting
		return w != nil && w.Reason == api.ReasonErrImagePull
	})
	if st.Phase != api.PodPending {
		t.Errorf("missing: phase %s, want Pending", st.Phase)
	}
	e.waitPod("missing", "ImagePullBackOff", 30*time.Second, func(p api.PodStatus) bool {
		w := p.Containers[0].State.Waiting
		return w != nil && w.Reason == api.ReasonImagePullBackOff && strings.Contains(w.Message, "missing")
	})
	e.waitPod("neverpull", "ErrImageNeverPull", 30*time.Second, func(p api.PodStatus) bool {
		w := p.Containers[0].State.Waiting
		return w != nil && w.Reason == "ErrImageNeverPull" && p.Phase == api.PodPending
	})
	// It keeps retrying: the image appears, the pod runs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := devenv.BusyboxImage(ctx, registry+"/test/missing:1"); err != nil {
		t.Fatal(err)
	}
	e.waitPod("missing", "Succeeded after the image appeared", 30*time.Second, func(p api.PodStatus) bool { return p.Phase == api.PodSucceeded })
}

// TestGracefulStop: removal sends SIGTERM, waits up to the grace period,
// then SIGKILLs.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	polite := newPod("polite", "", sh("c", `trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done`))
	stubborn := newPod("stubborn", "", sh("c", `exec sleep 3600`)) // PID 1 without a handler ignores SIGTERM
	g := int64(2)
	stubborn.Spec.TerminationGracePeriodSeconds = &g
	g10 := int64(10)
	polite.Spec.TerminationGracePeriodSeconds = &g10
	e.sync(polite, stubborn)
	e.waitPod("polite", "running", 30*time.Second, running)
	e.waitPod("stubborn", "running", 30*time.Second, running)

	start := time.Now()
	e.sync(stubborn)
	e.wait("polite gone", 15*time.Second, gone("polite"))
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("polite pod took %v to stop; it exits on SIGTERM", el)
	}
	start = time.Now()
	e.sync()
	e.wait("stubborn gone", 15*time.Second, gone("stubborn"))
	if el := time.Since(start); el < 2*time.Second || el > 6*time.Second {
		t.Errorf("stubborn pod took %v to stop, want the 2s grace period then SIGKILL", el)
	}
	cs, err := e.cl.Containers(e.ctx)
	if err != nil || len(cs) != 0 {
		t.Fatalf("containers left: %d %v", len(cs), err)
	}
}

// TestSyncIdempotentAndAdoption: the same set twice restarts nothing; a new
// Runtime adopts running containers without restarting them and removes
// them once a Sync no longer lists them.
func TestSyncIdempotentAndAdoption(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod("keep", "", sh("a", "exec sleep 3600"), sh("b", "exec sleep 3600"))
	e.sync(p)
	st := e.waitPod("keep", "running", 30*time.Second, running)
	pidA, pidB := e.taskPID(p, "a"), e.taskPID(p, "b")
	started := st.Containers[0].State.Running.StartedAt

	// Same set again, and an identical copy.
	e.sync(p)
	cp := p
	cp.Spec.Containers = append([]spec.Container(nil), p.Spec.Containers...)
	e.sync(cp)
	time.Sleep(500 * time.Millisecond)
	st2 := e.waitPod("keep", "running", 5*time.Second, running)
	if !st2.Containers[0].State.Running.StartedAt.Equal(started) || st2.Containers[0].RestartCount != 0 {
		t.Fatalf("Sync of the same set restarted the container: %s", dump([]api.PodStatus{st2}))
	}
	if e.taskPID(p, "a") != pidA {
		t.Fatal("task PID changed after an identical Sync")
	}

	// Restart the agent.
	if err := e.rt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.rt.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if e.taskPID(p, "a") != pidA {
		t.Fatal("Close stopped the container")
	}
	e.open()
	// Before any Sync, the adopted pod is reported as it was.
	st3 := e.waitPod("keep", "adopted", 10*time.Second, running)
	if st3.PodIP != st.PodIP || st3.UID != p.UID {
		t.Fatalf("adopted pod differs: %s vs %s", dump([]api.PodStatus{st3}), dump([]api.PodStatus{st}))
	}
	for i, c := range st3.Containers {
		if c.RestartCount != 0 || !c.State.Running.StartedAt.Equal(st.Containers[i].State.Running.StartedAt) {
			t.Fatalf("adopted container %s restarted: %s", c.Name, dump([]api.PodStatus{st3}))
		}
	}
	e.sync(p)
	time.Sleep(300 * time.Millisecond)
	if e.taskPID(p, "a") != pidA || e.taskPID(p, "b") != pidB {
		t.Fatal("adoption restarted a container")
	}
	// The adopted pod is still supervised: kill a container, it restarts.
	cont, _ := e.cl.LoadContainer(e.ctx, runtime.PodID(p.UID)+"-b")
	task, _ := cont.Task(e.ctx, nil)
	if err := task.Kill(e.ctx, 9); err != nil {
		t.Fatal(err)
	}
	st4 := e.waitPod("keep", "b restarted", 15*time.Second, func(ps api.PodStatus) bool {
		return ps.Containers[1].RestartCount == 1 && ps.Containers[1].State.Running != nil
	})
	if lt := st4.Containers[1].LastTerminationState.Terminated; lt == nil || lt.Signal != 9 {
		t.Fatalf("b lastState: %s", stateString(st4.Containers[1].LastTerminationState))
	}

	// No longer desired: removed.
	e.sync()
	e.wait("keep removed", 20*time.Second, gone("keep"))
	cs, _ := e.cl.Containers(e.ctx)
	if len(cs) != 0 {
		t.Fatalf("%d containers left after removal", len(cs))
	}
	if _, err := os.Stat(runtime.NetnsPath(runtime.PodID(p.UID))); !os.IsNotExist(err) {
		t.Fatalf("netns left: %v", err)
	}
}

// TestTeardown: after Teardown no container, task, snapshot, netns, IP
// allocation or bridge of the node is left.
func TestTeardown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var pods []api.Pod
	for i := 0; i < 3; i++ {
		pods = append(pods, newPod(fmt.Sprintf("p%d", i), "", sh("c", "exec sleep 3600")))
	}
	e.sync(pods...)
	e.wait("3 running", 30*time.Second, func(st []api.PodStatus) bool {
		n := 0
		for _, p := range st {
			if running(p) {
				n++
			}
		}
		return n == 3
	})
	ipam := filepath.Join(e.cfg.DataDir, "network", "ipam.json")
	if got := ipamEntries(t, e.cfg.DataDir); len(got) != 3 {
		t.Fatalf("expected 3 IP allocations in %s, found %v", ipam, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.rt.Teardown(ctx); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if st := e.rt.Status(); len(st) != 0 {
		t.Fatalf("pods after Teardown: %s", dump(st))
	}
	cs, err := e.cl.Containers(e.ctx)
	if err != nil || len(cs) != 0 {
		t.Fatalf("containers after Teardown: %d %v", len(cs), err)
	}
	ts, err := e.cl.TaskService().List(e.ctx, nil)
	if err != nil || len(ts.Tasks) != 0 {
		t.Fatalf("tasks after Teardown: %v %v", ts, err)
	}
	for _, p := range pods {
		if _, err := os.Stat(runtime.NetnsPath(runtime.PodID(p.UID))); !os.IsNotExist(err) {
			t.Errorf("netns of %s left: %v", p.Name, err)
		}
	}
	if got := ipamEntries(t, e.cfg.DataDir); len(got) != 0 {
		t.Errorf("IPAM state left: %v", got)
	}
	if _, err := net.InterfaceByName(e.rt.ConfigForTest().BridgeName); err == nil {
		t.Errorf("bridge %s left", e.rt.ConfigForTest().BridgeName)
	}
	sns, _ := e.cl.SnapshotService(runtime.DefaultSnapshotter).Stat(e.ctx, runtime.PodID(pods[0].UID)+"-c")
	if sns.Name != "" {
		t.Errorf("snapshot left: %s", sns.Name)
	}
	// The runtime is still usable after Teardown.
	e.sync(pods[0])
	e.waitPod("p0", "running again", 30*time.Second, running)
}

// benchLevel is the runtime's log level in tests; STV_DEBUG=1 shows stage
// timings.
var benchLevel = func() slog.Level {
	if os.Getenv("STV_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}()

// TestAdoptEdgeCases: a container that died while no agent ran is handled
// like any exit (restarted per policy, counted) by the next process, and
// containers of a pod whose record is gone are removed by New.
func TestAdoptEdgeCases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dies := newPod("dies", "", sh("c", "exec sleep 3600"))
	orphan := newPod("orphan", "", sh("c", "exec sleep 3600"))
	e.sync(dies, orphan)
	e.waitPod("dies", "running", 30*time.Second, running)
	e.waitPod("orphan", "running", 30*time.Second, running)
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	// While the agent is down: one container is killed, and the other
	// pod's record disappears.
	cont, err := e.cl.LoadContainer(e.ctx, runtime.PodID(dies.UID)+"-c")
	if err != nil {
		t.Fatal(err)
	}
	task, err := cont.Task(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exitCh, _ := task.Wait(e.ctx)
	if err := task.Kill(e.ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exitCh
	if err := os.Remove(filepath.Join(e.cfg.DataDir, "pods", runtime.PodID(orphan.UID), "pod.json")); err != nil {
		t.Fatal(err)
	}
	e.open()
	st := e.waitPod("dies", "restarted after adoption", 15*time.Second, func(p api.PodStatus) bool {
		return p.Containers[0].RestartCount == 1 && p.Containers[0].State.Running != nil
	})
	if lt := st.Containers[0].LastTerminationState.Terminated; lt == nil || lt.Signal != 9 {
		t.Fatalf("lastState after adoption: %s", stateString(st.Containers[0].LastTerminationState))
	}
	for _, p := range e.rt.Status() {
		if p.Name == "orphan" {
			t.Fatalf("orphan pod adopted without a record: %s", dump([]api.PodStatus{p}))
		}
	}
	if _, err := e.cl.LoadContainer(e.ctx, runtime.PodID(orphan.UID)+"-c"); err == nil {
		t.Fatal("orphan container not removed")
	}
	if _, err := os.Stat(runtime.NetnsPath(runtime.PodID(orphan.UID))); !os.IsNotExist(err) {
		t.Fatalf("orphan netns left: %v", err)
	}
}

// TestAdoptTerminated: a restarted agent neither runs a finished container
// again nor restarts a crash-looping one before its back-off is over.
func TestAdoptTerminated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := newPod("done", spec.RestartPolicyNever, sh("c", "echo once; exit 0"))
	failed := newPod("failed", spec.RestartPolicyOnFailure, sh("c", "exit 0"))
	e.sync(done, failed)
	before := map[string]api.PodStatus{}
	for _, name := range []string{"done", "failed"} {
		before[name] = e.waitPod(name, "succeeded", 30*time.Second, func(p api.PodStatus) bool { return p.Phase == api.PodSucceeded })
	}
	// No container name in a one-container pod: that container's log.
	if log := e.logs("done", "", 0); log != "once\n" {
		t.Fatalf("log of done without a container name = %q, want \"once\\n\"", log)
	}
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.sync(done, failed)
	// Give a wrongly restarted container time to show up.
	time.Sleep(1500 * time.Millisecond)
	for _, p := range e.rt.Status() {
		b := before[p.Name]
		if p.Phase != api.PodSucceeded || p.Containers[0].RestartCount != 0 {
			t.Errorf("%s after adoption: phase %s, restarts %d, state %s; want Succeeded, not run again", p.Name, p.Phase, p.Containers[0].RestartCount, stateString(p.Containers[0].State))
			continue
		}
		got, want := p.Containers[0].State.Terminated, b.Containers[0].State.Terminated
		if got == nil || want == nil || !got.StartedAt.Equal(want.StartedAt) || got.Reason != want.Reason {
			t.Errorf("%s: terminated state changed across adoption: %s, was %s", p.Name, stateString(p.Containers[0].State), stateString(b.Containers[0].State))
		}
	}
}
