package runtime_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestPodPidsLimit: a fork loop in one container of a pod stops at the
// pod's pids limit, which binds its two containers together (the pod's
// cgroup is their parent); the node is fine (another pod still starts and
// execs work), and the pod's cgroup goes with the pod.
func TestPodPidsLimit(t *testing.T) {
	t.Parallel()
	const limit = 24
	e := newEnvWith(t, func(c *runtime.Config) { c.PodPidsLimit = limit })
	// An inner shell starts up to 200 sleeps; the first fork over the
	// limit ends it ("can't fork"), the container's shell carries on.
	bomb := sh("bomb", `sh -c 'i=0; while [ $i -lt 200 ]; do sleep 3600 & i=$((i+1)); done' 2>/dev/null; echo started; exec sleep 3600`)
	p := newPod("forky", "", bomb, sh("quiet", "exec sleep 3600"))
	e.sync(p)
	e.waitPod("forky", "running", 30*time.Second, running)
	pids := filepath.Join("/sys/fs/cgroup/pids", e.rt.ConfigForTest().Namespace, "pod-"+runtime.PodID(p.UID))
	if b, err := os.ReadFile(filepath.Join(pids, "pids.max")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(limit) {
		t.Fatalf("pod pids.max: %q, %v", b, err)
	}
	var current int
	if !poll(func() bool {
		return strings.Contains(e.logs("forky", "bomb", 0), "started")
	}, 60*time.Second) {
		t.Fatalf("the fork loop did not finish: %q", e.logs("forky", "bomb", 0))
	}
	b, err := os.ReadFile(filepath.Join(pids, "pids.current"))
	if err != nil {
		t.Fatal(err)
	}
	current, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	// At the failed fork the pod held limit processes; some were passing
	// ones (a runc init, the loop's own forks) and are gone by now, more
	// of them on a loaded machine: well above half the limit says the loop
	// did reach it, at most the limit that it stopped there.
	if current > limit || current < limit/2 {
		t.Errorf("pod pids.current %d: want the loop stopped at the limit %d", current, limit)
	}
	// Both containers are under the pod's cgroup.
	entries, _ := os.ReadDir(pids)
	var children int
	for _, en := range entries {
		if en.IsDir() {
			children++
		}
	}
	if children != 2 {
		t.Errorf("pod cgroup has %d container cgroups, want 2", children)
	}
	// The node is fine: another pod starts and runs commands.
	e.sync(p, newPod("calm", "", sh("app", "exec sleep 3600")))
	e.waitPod("calm", "running", 30*time.Second, running)
	id, err := e.rt.ExecTarget("default", "calm", "")
	if err != nil {
		t.Fatal(err)
	}
	var out outBuffer
	if code, err := e.rt.Exec(context.Background(), id, []string{"sh", "-c", "sleep 0 & wait; echo ok"}, false, api.ExecIO{Stdout: &out, Stderr: io.Discard}); err != nil || code != 0 || out.String() != "ok\n" {
		t.Errorf("exec in another pod: code %d err %v out %q", code, err, out.String())
	}
	// Removing the pod removes its cgroup, in every hierarchy.
	e.sync()
	e.wait("pods gone", 60*time.Second, func(st []api.PodStatus) bool { return len(st) == 0 })
	for _, h := range []string{"pids", "memory", "cpu"} {
		d := filepath.Join("/sys/fs/cgroup", h, e.rt.ConfigForTest().Namespace, "pod-"+runtime.PodID(p.UID))
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", d, err)
		}
	}
}

// TestSeccompDefault: a system call containerd's default profile denies
// (unshare without SYS_ADMIN) fails when the pod asks for no profile, and
// works with Unconfined.
func TestSeccompDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	try := `unshare -U true && echo unshare-allowed || echo unshare-denied`
	unconfined := sh("unconfined", try)
	unconfined.SecurityContext = &spec.SecurityContext{SeccompProfile: &spec.SeccompProfile{Type: spec.SeccompProfileUnconfined}}
	p := newPod("sec", spec.RestartPolicyNever, sh("default", try), unconfined)
	e.sync(p)
	e.waitPod("sec", "done", 30*time.Second, func(p api.PodStatus) bool {
		for _, c := range p.Containers {
			if c.State.Terminated == nil {
				return false
			}
		}
		return true
	})
	if l := e.logs("sec", "default", 0); !strings.Contains(l, "unshare-denied") {
		t.Errorf("default profile: %q, want unshare denied", l)
	}
	if l := e.logs("sec", "unconfined", 0); !strings.Contains(l, "unshare-allowed") {
		t.Errorf("Unconfined: %q, want unshare allowed", l)
	}
}
