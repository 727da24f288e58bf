package runtime

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestPodPhase(t *testing.T) {
	run := api.ContainerStatus{State: api.ContainerState{Running: &api.StateRunning{}}}
	wait := api.ContainerStatus{State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonContainerCreating}}}
	ok := api.ContainerStatus{State: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 0}}}
	bad := api.ContainerStatus{State: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 1}}}
	backoff := api.ContainerStatus{
		State:                api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonCrashLoopBackOff}},
		LastTerminationState: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 1}},
	}
	for _, tc := range []struct {
		policy string
		cs     []api.ContainerStatus
		want   string
	}{
		{spec.RestartPolicyAlways, nil, api.PodPending},
		{spec.RestartPolicyAlways, []api.ContainerStatus{run, wait}, api.PodPending},
		{spec.RestartPolicyAlways, []api.ContainerStatus{run, run}, api.PodRunning},
		{spec.RestartPolicyAlways, []api.ContainerStatus{run, backoff}, api.PodRunning},
		{spec.RestartPolicyAlways, []api.ContainerStatus{backoff}, api.PodRunning},
		{spec.RestartPolicyAlways, []api.ContainerStatus{ok}, api.PodRunning},
		{spec.RestartPolicyOnFailure, []api.ContainerStatus{ok, ok}, api.PodSucceeded},
		{spec.RestartPolicyOnFailure, []api.ContainerStatus{ok, backoff}, api.PodRunning},
		{spec.RestartPolicyOnFailure, []api.ContainerStatus{ok, run}, api.PodRunning},
		{spec.RestartPolicyNever, []api.ContainerStatus{ok, bad}, api.PodFailed},
		{spec.RestartPolicyNever, []api.ContainerStatus{ok}, api.PodSucceeded},
		{spec.RestartPolicyNever, []api.ContainerStatus{bad, run}, api.PodRunning},
	} {
		if got := podPhase(tc.policy, tc.cs); got != tc.want {
			t.Errorf("podPhase(%s, %d containers) = %s, want %s", tc.policy, len(tc.cs), got, tc.want)
		}
	}
}

func TestProcessArgs(t *testing.T) {
	ep, cmd := []string{"/entry", "$(HOME)"}, []string{"default", "$(A)"}
	env := []string{"A=1", "B=two words", "A=3", "EMPTY="}
	for _, tc := range []struct {
		command, args []string
		want          []string
	}{
		{nil, nil, []string{"/entry", "$(HOME)", "default", "$(A)"}},
		{[]string{"/bin/x"}, nil, []string{"/bin/x"}},
		{[]string{"/bin/x"}, []string{"a"}, []string{"/bin/x", "a"}},
		{nil, []string{"a", "b"}, []string{"/entry", "$(HOME)", "a", "b"}},
		// Kubernetes' expansion: from the container's env (a later
		// duplicate wins), $$ escapes, unknown and unclosed stay.
		{[]string{"/bin/$(A)", "$(B)"}, []string{"x$(A)y", "$$(A)", "$(NOPE)", "$(EMPTY)", "$(A", "$$", "$"}, []string{"/bin/3", "two words", "x3y", "$(A)", "$(NOPE)", "", "$(A", "$", "$"}},
		{nil, []string{"--a=$(A)"}, []string{"/entry", "$(HOME)", "--a=3"}},
	} {
		got := processArgs(ep, cmd, spec.Container{Command: tc.command, Args: tc.args}, env)
		if !slices.Equal(got, tc.want) {
			t.Errorf("command=%q args=%q: got %q, want %q", tc.command, tc.args, got, tc.want)
		}
	}
}

func TestPullPolicy(t *testing.T) {
	for img, want := range map[string]string{
		"busybox":               spec.PullAlways,
		"busybox:latest":        spec.PullAlways,
		"busybox:1.36":          spec.PullIfNotPresent,
		"127.0.0.1:5000/x/y:v1": spec.PullIfNotPresent,
		"127.0.0.1:5000/x/y":    spec.PullAlways,
		"busybox@sha256:" + strings.Repeat("a", 64): spec.PullIfNotPresent,
	} {
		if got := pullPolicy(spec.Container{Image: img}); got != want {
			t.Errorf("pullPolicy(%s) = %s, want %s", img, got, want)
		}
	}
	if got := pullPolicy(spec.Container{Image: "busybox", ImagePullPolicy: spec.PullNever}); got != spec.PullNever {
		t.Errorf("explicit policy ignored: %s", got)
	}
	if ref, _ := normalizeRef("busybox"); ref != "docker.io/library/busybox:latest" {
		t.Errorf("normalizeRef(busybox) = %s", ref)
	}
}

func TestBackoffDelay(t *testing.T) {
	r := &Runtime{cfg: Config{BackoffBase: 10 * time.Second, BackoffMax: 5 * time.Minute}}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := r.backoffDelay(i + 1); got != w {
			t.Errorf("backoffDelay(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{NodeName: "n1", ContainerdAddress: "/x.sock", DataDir: "rel"}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.Namespace != "stevedore-n1" || !filepath.IsAbs(c.DataDir) || !strings.HasPrefix(c.BridgeName, "stv-") ||
		c.PodCIDR != "" || c.NetworkPlugin != NetworkBuiltin || c.ClusterDomain != DefaultClusterDomain || c.Snapshotter != DefaultSnapshotter || c.BackoffBase != DefaultBackoffBase || c.Logger == nil {
		t.Fatalf("defaults not filled: %+v", c)
	}
	if err := (&Config{}).validate(); err == nil {
		t.Fatal("empty config accepted")
	}
	for name, bad := range map[string]Config{
		"plugin":    {NetworkPlugin: "flannel"},
		"CIDR":      {PodCIDR: "10.1.2.3"},
		"IPv6":      {PodCIDR: "fd00::/64"},
		"too small": {PodCIDR: "10.1.2.0/31"},
	} {
		bad.NodeName, bad.ContainerdAddress, bad.DataDir = "n1", "/x.sock", "d"
		if err := bad.validate(); err == nil {
			t.Errorf("%s: bad config accepted", name)
		}
	}
}
