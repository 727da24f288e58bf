package runtime_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	ctrdlog "github.com/containerd/log"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/spec"
)

// busybox is the test image, pushed to a private registry by TestMain.
var (
	busybox  string
	registry string
)

// TestMain starts a private containerd and a registry holding the test
// image for every test of the package.
func TestMain(m *testing.M) {
	// The shim starts this binary as the containers' log driver.
	runtime.RunLogDriverIfRequested()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "rt-registry-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	reg, err := devenv.StartRegistry(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "failed to start registry:", err)
		return 1
	}
	defer reg.Stop()
	registry = reg.Addr
	// The containerd client logs every failed fetch through logrus.
	_ = ctrdlog.SetLevel("warn")
	busybox = reg.Addr + "/test/busybox:1"
	if err := devenv.BusyboxImage(ctx, busybox); err != nil {
		fmt.Fprintln(os.Stderr, "failed to push busybox:", err)
		return 1
	}
	return m.Run()
}

// subnets hands out /24s in 10.200–249.x that no host route uses, so tests
// (and other engineers' clusters in 10.100–199) never share a subnet.
var (
	subnetMu   sync.Mutex
	subnetUsed = map[string]bool{}
)

func freeCIDR(t testing.TB) string {
	t.Helper()
	subnetMu.Lock()
	defer subnetMu.Unlock()
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatalf("ip route: %v", err)
	}
	for range 100 {
		a, _ := rand.Int(rand.Reader, big.NewInt(50))
		b, _ := rand.Int(rand.Reader, big.NewInt(250))
		prefix := fmt.Sprintf("10.%d.%d.", 200+a.Int64(), b.Int64())
		if !subnetUsed[prefix] && !strings.Contains(string(out), prefix) {
			subnetUsed[prefix] = true
			return prefix + "0/24"
		}
	}
	t.Fatal("no free subnet")
	return ""
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type env struct {
	t   testing.TB
	cfg runtime.Config
	rt  *runtime.Runtime
	cl  *client.Client
	ctx context.Context // carries the runtime's containerd namespace
}

// newEnv starts a private containerd and a Runtime on it, with a fixed
// pod CIDR (Config.PodCIDR); everything is torn down at the end of the test.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the config changed by mod before New (to clear
// PodCIDR, pick a network plugin).
func newEnvWith(t testing.TB, mod func(*runtime.Config)) *env {
	t.Helper()
	ctd := devenv.TestContainerd(t)
	cfg := runtime.Config{
		NodeName:           "n" + randomID(),
		ContainerdAddress:  ctd.Address,
		DataDir:            t.TempDir(),
		PodCIDR:            freeCIDR(t),
		InsecureRegistries: []string{registry},
		BackoffBase:        100 * time.Millisecond,
		BackoffMax:         400 * time.Millisecond,
		Logger:             slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: benchLevel})),
	}
	if mod != nil {
		mod(&cfg)
	}
	e := &env{t: t, cfg: cfg}
	e.open()
	cl, err := client.New(ctd.Address)
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	e.ctx = namespaces.WithNamespace(context.Background(), e.rt.ConfigForTest().Namespace)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if e.rt != nil {
			if err := e.rt.Teardown(ctx); err != nil {
				t.Errorf("Teardown: %v", err)
			}
			e.rt.Close()
		}
		cl.Close()
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := runtime.New(ctx, e.cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.rt = rt
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if benchLevel == slog.LevelDebug {
		return os.Stderr.Write(p)
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *env) sync(pods ...api.Pod) {
	e.t.Helper()
	if err := e.rt.Sync(context.Background(), pods); err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
}

// wait waits until cond holds for the runtime's status, re-checking after
// every change notification (and every 200ms, to be safe).
func (e *env) wait(what string, timeout time.Duration, cond func([]api.PodStatus) bool) []api.PodStatus {
	e.t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st := e.rt.Status()
		if cond(st) {
			return st
		}
		select {
		case <-e.rt.Changes():
		case <-tick.C:
		case <-deadline:
			e.t.Fatalf("timed out waiting for %s; status: %s", what, dump(st))
		}
	}
}

// waitPod waits until the named pod satisfies cond and returns its status.
func (e *env) waitPod(name, what string, timeout time.Duration, cond func(api.PodStatus) bool) api.PodStatus {
	e.t.Helper()
	var got api.PodStatus
	e.wait(name+" "+what, timeout, func(st []api.PodStatus) bool {
		for _, p := range st {
			if p.Name == name && cond(p) {
				got = p
				return true
			}
		}
		return false
	})
	return got
}

func dump(st []api.PodStatus) string {
	var b strings.Builder
	for _, p := range st {
		fmt.Fprintf(&b, "\n  %s/%s phase=%s ip=%s reason=%s %s", p.Namespace, p.Name, p.Phase, p.PodIP, p.Reason, p.Message)
		for _, c := range p.Containers {
			fmt.Fprintf(&b, "\n    %s restarts=%d state=%s last=%s", c.Name, c.RestartCount, stateString(c.State), stateString(c.LastTerminationState))
		}
	}
	return b.String()
}

func stateString(s api.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return "waiting(" + s.Waiting.Reason + ": " + s.Waiting.Message + ")"
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%s code=%d sig=%d %s)", s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Signal, s.Terminated.Message)
	}
	return "none"
}

func running(p api.PodStatus) bool {
	if p.Phase != api.PodRunning {
		return false
	}
	for _, c := range p.Containers {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

func gone(name string) func([]api.PodStatus) bool {
	return func(st []api.PodStatus) bool {
		for _, p := range st {
			if p.Name == name {
				return false
			}
		}
		return true
	}
}

func newPod(name, policy string, cs ...spec.Container) api.Pod {
	for i := range cs {
		if cs[i].Image == "" {
			cs[i].Image = busybox
		}
	}
	grace := int64(1)
	return api.Pod{
		UID:       name + "-" + randomID(),
		Namespace: "default",
		Name:      name,
		Spec:      spec.PodSpec{Containers: cs, RestartPolicy: policy, TerminationGracePeriodSeconds: &grace},
	}
}

func sh(name, script string) spec.Container {
	return spec.Container{Name: name, Command: []string{"sh", "-c", script}}
}

func (e *env) logs(pod, container string, tail int) string {
	e.t.Helper()
	rc, err := e.rt.Logs(context.Background(), "default", pod, api.LogOptions{Container: container, Tail: tail})
	if err != nil {
		e.t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func (e *env) logsWith(pod string, o api.LogOptions) string {
	e.t.Helper()
	rc, err := e.rt.Logs(context.Background(), "default", pod, o)
	if err != nil {
		e.t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func (e *env) taskPID(p api.Pod, container string) uint32 {
	e.t.Helper()
	c, err := e.cl.LoadContainer(e.ctx, runtime.PodID(p.UID)+"-"+container)
	if err != nil {
		e.t.Fatalf("LoadContainer: %v", err)
	}
	task, err := c.Task(e.ctx, nil)
	if err != nil {
		e.t.Fatalf("Task: %v", err)
	}
	return task.Pid()
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
