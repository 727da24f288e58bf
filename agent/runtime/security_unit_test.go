package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestCapNames(t *testing.T) {
	got := capNames([]string{"NET_ADMIN", "cap_sys_time", "all", "Chown"})
	want := []string{"CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_CHOWN"}
	if !slices.Equal(got, want) {
		t.Fatalf("capNames = %q, want %q", got, want)
	}
	if !hasAll([]string{"x", "All"}) || hasAll([]string{"CAP_ALL_X"}) {
		t.Fatal("hasAll")
	}
}

func TestEffectiveSecurity(t *testing.T) {
	u := func(v int64) *int64 { return &v }
	b := func(v bool) *bool { return &v }
	ps := &spec.PodSecurityContext{RunAsUser: u(1), RunAsGroup: u(2), RunAsNonRoot: b(true), SupplementalGroups: []int64{5}, FSGroup: u(6),
		SeccompProfile: &spec.SeccompProfile{Type: spec.SeccompProfileRuntimeDefault}}
	sc := effectiveSecurity(ps, &spec.SecurityContext{RunAsUser: u(10), RunAsNonRoot: b(false), SeccompProfile: &spec.SeccompProfile{Type: spec.SeccompProfileUnconfined}})
	if *sc.runAsUser != 10 || *sc.runAsGroup != 2 || sc.runAsNonRoot || sc.seccomp.Type != spec.SeccompProfileUnconfined || !slices.Equal(sc.groups, []int64{5, 6}) {
		t.Fatalf("container over pod: %+v", sc)
	}
	if sc := effectiveSecurity(ps, nil); *sc.runAsUser != 1 || !sc.runAsNonRoot || sc.seccomp.Type != spec.SeccompProfileRuntimeDefault {
		t.Fatalf("pod only: %+v", sc)
	}
}

func TestVerifyRunAsNonRoot(t *testing.T) {
	pod := api.Pod{UID: "u", Namespace: "ns", Name: "p"}
	nonRoot := securityContext{runAsNonRoot: true}
	uid := func(v int64) securityContext { s := nonRoot; s.runAsUser = &v; return s }
	for _, tc := range []struct {
		sc        securityContext
		imageUser string
		want      string // "" for allowed
	}{
		{securityContext{}, "", ""},
		{nonRoot, "", `container has runAsNonRoot and image will run as root (pod: "p_ns(u)", container: c)`},
		{nonRoot, "0:0", "image will run as root"},
		{nonRoot, "1000", ""},
		{nonRoot, "1000:0", ""},
		{nonRoot, "app", `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "p_ns(u)", container: c)`},
		{uid(0), "1000", `container's runAsUser breaks non-root policy (pod: "p_ns(u)", container: c)`},
		{uid(5), "app", ""},
	} {
		err := verifyRunAsNonRoot(tc.sc, tc.imageUser, pod, "c")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("image user %q: %v", tc.imageUser, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("image user %q: %v, want %q", tc.imageUser, err, tc.want)
		case err != nil && createFailureReason(&errCreate{err}) != api.ReasonCreateConfigErr:
			t.Errorf("image user %q: reason %s", tc.imageUser, createFailureReason(&errCreate{err}))
		}
	}
}

func TestSysctls(t *testing.T) {
	for name, want := range map[string]string{
		"net.ipv4.ip_forward":                 "net/ipv4/ip_forward",
		"net/ipv4/conf/eth0.100/forwarding":   "net/ipv4/conf/eth0.100/forwarding",
		"net.ipv4.ip_unprivileged_port_start": "net/ipv4/ip_unprivileged_port_start",
	} {
		if got := sysctlPath(name); got != want {
			t.Errorf("sysctlPath(%q) = %q, want %q", name, got, want)
		}
	}
	ok := &spec.PodSecurityContext{Sysctls: []spec.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}}
	if err := checkSysctls(ok); err != nil {
		t.Error(err)
	}
	for _, n := range []string{"kernel.shmmax", "fs.mqueue.msg_max", "net/../kernel/x"} {
		err := checkSysctls(&spec.PodSecurityContext{Sysctls: []spec.Sysctl{{Name: n}}})
		if err == nil || !strings.Contains(err.Error(), "only net.* sysctls") {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// TestPodPhaseInit: the kubelet's getPhase with init containers.
func TestPodPhaseInit(t *testing.T) {
	done := api.ContainerStatus{Name: "i", State: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 0}}}
	failed := api.ContainerStatus{Name: "i", State: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 1}}}
	running := api.ContainerStatus{Name: "i", State: api.ContainerState{Running: &api.StateRunning{}}}
	backoff := api.ContainerStatus{Name: "i", State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonCrashLoopBackOff}},
		LastTerminationState: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 2}}}
	waiting := api.ContainerStatus{Name: "i", State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonPodInitializing}}}
	appWaiting := []api.ContainerStatus{{Name: "a", State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonPodInitializing}}}}
	appRunning := []api.ContainerStatus{{Name: "a", State: api.ContainerState{Running: &api.StateRunning{}}}}
	for _, tc := range []struct {
		policy string
		inits  []api.ContainerStatus
		app    []api.ContainerStatus
		want   string
	}{
		{spec.RestartPolicyAlways, []api.ContainerStatus{running, waiting}, appWaiting, api.PodPending},
		{spec.RestartPolicyAlways, []api.ContainerStatus{backoff}, appWaiting, api.PodPending},
		{spec.RestartPolicyOnFailure, []api.ContainerStatus{done, backoff}, appWaiting, api.PodPending},
		{spec.RestartPolicyNever, []api.ContainerStatus{failed, waiting}, appWaiting, api.PodFailed},
		{spec.RestartPolicyAlways, []api.ContainerStatus{done, done}, appRunning, api.PodRunning},
		{spec.RestartPolicyAlways, nil, appRunning, api.PodRunning},
	} {
		if got := podPhaseInit(tc.policy, tc.inits, tc.app); got != tc.want {
			t.Errorf("%s %+v: %s, want %s", tc.policy, tc.inits, got, tc.want)
		}
	}
	c := initializedCondition(api.PodPending, []api.ContainerStatus{done, {Name: "j"}, {Name: "k"}})
	if c.Status != api.ConditionFalse || c.Reason != "ContainersNotInitialized" || c.Message != "containers with incomplete status: [j k]" {
		t.Errorf("Initialized: %+v", c)
	}
	if c := initializedCondition(api.PodRunning, []api.ContainerStatus{done}); c.Status != api.ConditionTrue {
		t.Errorf("Initialized after init: %+v", c)
	}
}

// TestCheckAddedCapabilities: adding a capability beyond Kubernetes'
// baseline (ALL included) needs the node's --allow-privileged.
func TestCheckAddedCapabilities(t *testing.T) {
	for _, tc := range []struct {
		add  []string
		want string // "" for allowed
	}{
		{nil, ""},
		{[]string{"NET_BIND_SERVICE", "cap_chown", "Kill", "CAP_SYS_CHROOT"}, ""},
		{[]string{"NET_ADMIN"}, "container c adds capability NET_ADMIN, beyond Kubernetes' baseline, and this node does not allow privileged containers (agent --allow-privileged)"},
		{[]string{"chown", "cap_sys_admin"}, "adds capability cap_sys_admin"},
		{[]string{"NET_RAW"}, "adds capability NET_RAW"},
		{[]string{"all"}, "adds capability all"},
	} {
		caps := &spec.Capabilities{Add: tc.add, Drop: []string{"ALL"}}
		err := checkAddedCapabilities("c", caps, false)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.add, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.add, err, tc.want)
		case err != nil && createFailureReason(&errCreate{err}) != api.ReasonCreateConfigErr:
			t.Errorf("%q: reason %s", tc.add, createFailureReason(&errCreate{err}))
		}
		if err := checkAddedCapabilities("c", caps, true); err != nil {
			t.Errorf("%q with --allow-privileged: %v", tc.add, err)
		}
	}
	if err := checkAddedCapabilities("c", nil, false); err != nil {
		t.Error(err)
	}
}

// TestNoNewPrivileges: no_new_privs unless escalation is explicitly
// allowed or the container is privileged.
func TestNoNewPrivileges(t *testing.T) {
	b := func(v bool) *bool { return &v }
	for _, tc := range []struct {
		escalation *bool
		privileged bool
		want       bool
	}{
		{nil, false, true},
		{b(false), false, true},
		{b(true), false, false},
		{nil, true, false},
	} {
		sc := effectiveSecurity(nil, &spec.SecurityContext{AllowPrivilegeEscalation: tc.escalation})
		if got := noNewPrivileges(sc, tc.privileged); got != tc.want {
			t.Errorf("allowPrivilegeEscalation %v, privileged %v: no_new_privs %v, want %v", tc.escalation, tc.privileged, got, tc.want)
		}
	}
}
