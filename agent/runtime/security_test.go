package runtime_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

var userImages struct {
	mu   sync.Mutex
	refs map[string]string
}

// imageWithUser is the test image with its config's USER set to user,
// pushed once per user to the test registry.
func imageWithUser(t *testing.T, user string) string {
	t.Helper()
	userImages.mu.Lock()
	defer userImages.mu.Unlock()
	if ref, ok := userImages.refs[user]; ok {
		return ref
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := name.ParseReference(busybox, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("failed to read %s: %v", busybox, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.User = user
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("%s/test/busybox-user:%s", registry, strings.NewReplacer(":", "-").Replace(user))
	dst, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("failed to push %s: %v", ref, err)
	}
	if userImages.refs == nil {
		userImages.refs = map[string]string{}
	}
	userImages.refs[user] = ref
	return ref
}

func ptr[T any](v T) *T { return &v }

// statusField is the value of a "Name:\tvalue" line of /proc/self/status
// as printed into a log.
func statusField(log, field string) string {
	for _, l := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

const showStatus = `id; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; `

// TestSecurityContext: users and groups, capabilities, no_new_privs,
// seccomp, a read-only root and a net.* sysctl reach the containers as the
// kubelet would set them.
func TestSecurityContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := func(name, extra string, sc *spec.SecurityContext) spec.Container {
		ct := sh(name, showStatus+extra)
		ct.SecurityContext = sc
		return ct
	}
	p := newPod("secure", spec.RestartPolicyNever,
		c("plain", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start", nil),
		c("ids", "", &spec.SecurityContext{RunAsUser: ptr[int64](1000), RunAsGroup: ptr[int64](3000)}),
		c("nocaps", "", &spec.SecurityContext{Capabilities: &spec.Capabilities{Drop: []string{"ALL"}}}),
		c("baseline", "", &spec.SecurityContext{Capabilities: &spec.Capabilities{Drop: []string{"all"}, Add: []string{"NET_BIND_SERVICE", "cap_kill"}}}),
		c("nnp", "", &spec.SecurityContext{AllowPrivilegeEscalation: ptr(false)}),
		c("escalate", "", &spec.SecurityContext{AllowPrivilegeEscalation: ptr(true)}),
		c("seccomp", "", &spec.SecurityContext{SeccompProfile: &spec.SeccompProfile{Type: spec.SeccompProfileRuntimeDefault}}),
		c("rofs", "touch /probe && echo root-writable || echo root-read-only; touch /tmp/x 2>/dev/null || echo tmp-read-only", &spec.SecurityContext{ReadOnlyRootFilesystem: ptr(true)}),
	)
	p.Spec.SecurityContext = &spec.PodSecurityContext{
		SupplementalGroups: []int64{4000},
		FSGroup:            ptr[int64](2000),
		Sysctls:            []spec.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "80"}},
	}
	e.sync(p)
	st := e.waitPod("secure", "done", 30*time.Second, func(p api.PodStatus) bool {
		for _, c := range p.Containers {
			if c.State.Terminated == nil {
				return false
			}
		}
		return true
	})
	for _, c := range st.Containers {
		if c.State.Terminated.ExitCode != 0 {
			t.Errorf("%s: %s; log %q", c.Name, stateString(c.State), e.logs("secure", c.Name, 0))
		}
	}
	logs := map[string]string{}
	for _, c := range p.Spec.Containers {
		logs[c.Name] = e.logs("secure", c.Name, 0)
	}
	capEff := func(name string) uint64 {
		v, err := strconv.ParseUint(statusField(logs[name], "CapEff"), 16, 64)
		if err != nil {
			t.Fatalf("%s: no CapEff in %q", name, logs[name])
		}
		return v
	}
	const capNetAdmin, capNetRaw, capChown, capKill, capNetBindService, capSysAdmin = 12, 13, 0, 5, 10, 21

	// Defaults: the image's user (root) with the pod's groups, containerd's
	// default capabilities, no_new_privs (containerd's default, kept), the
	// RuntimeDefault seccomp filter.
	if l := logs["plain"]; !strings.Contains(l, "uid=0(root) gid=0(root) groups=0(root),2000,4000") {
		t.Errorf("plain id: %q", l)
	}
	if v := capEff("plain"); v&(1<<capChown) == 0 || v&(1<<capNetAdmin) != 0 {
		t.Errorf("plain CapEff %x: want the default set (CHOWN, not NET_ADMIN)", v)
	}
	if statusField(logs["plain"], "NoNewPrivs") != "1" || statusField(logs["plain"], "Seccomp") != "2" {
		t.Errorf("plain: %q, want NoNewPrivs 1 and Seccomp 2 (RuntimeDefault unless asked otherwise)", logs["plain"])
	}
	// Kubernetes' default set: NET_RAW in, SYS_ADMIN out.
	if v := capEff("plain"); v&(1<<capNetRaw) == 0 || v&(1<<capSysAdmin) != 0 {
		t.Errorf("plain CapEff %x: want NET_RAW and not SYS_ADMIN", v)
	}
	if !strings.Contains(logs["plain"], "\n80\n") {
		t.Errorf("sysctl net.ipv4.ip_unprivileged_port_start not 80 in the pod: %q", logs["plain"])
	}
	if l := logs["ids"]; !strings.Contains(l, "uid=1000 gid=3000 groups=2000,3000,4000") {
		t.Errorf("ids id: %q", l)
	}
	if v := capEff("nocaps"); v != 0 {
		t.Errorf("drop ALL: CapEff %x", v)
	}
	if v := capEff("baseline"); v != 1<<capNetBindService|1<<capKill {
		t.Errorf("drop all, add NET_BIND_SERVICE and cap_kill: CapEff %x", v)
	}
	if statusField(logs["nnp"], "NoNewPrivs") != "1" {
		t.Errorf("allowPrivilegeEscalation false: %q", logs["nnp"])
	}
	if statusField(logs["escalate"], "NoNewPrivs") != "0" {
		t.Errorf("allowPrivilegeEscalation true: %q", logs["escalate"])
	}
	if statusField(logs["seccomp"], "Seccomp") != "2" {
		t.Errorf("seccomp RuntimeDefault: %q", logs["seccomp"])
	}
	if l := logs["rofs"]; !strings.Contains(l, "root-read-only") || !strings.Contains(l, "tmp-read-only") {
		t.Errorf("readOnlyRootFilesystem: %q", l)
	}
}

// TestSecurityContextRefusals: runAsNonRoot with a root or named image
// user, and privileged on a node that does not allow it, hold the
// container in CreateContainerConfigError with the kubelet's messages; an
// image's user name is resolved through its /etc/passwd; a sysctl outside
// net.* keeps the sandbox from being made; a host-network pod on a node
// that does not allow privileged pods is refused the same way.
func TestSecurityContextRefusals(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) { c.HostIP = "127.0.0.1" })
	named := imageWithUser(t, "nobody")
	nonRoot := &spec.SecurityContext{RunAsNonRoot: ptr(true)}
	rootImage := sh("root", "exec sleep 3600")
	rootImage.SecurityContext = nonRoot
	namedImage := sh("named", "exec sleep 3600")
	namedImage.SecurityContext, namedImage.Image = nonRoot, named
	rootUser := sh("rootuser", "exec sleep 3600")
	rootUser.SecurityContext = &spec.SecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr[int64](0)}
	priv := sh("priv", "exec sleep 3600")
	priv.SecurityContext = &spec.SecurityContext{Privileged: ptr(true)}
	netAdmin := sh("netadmin", "exec sleep 3600")
	netAdmin.SecurityContext = &spec.SecurityContext{Capabilities: &spec.Capabilities{Add: []string{"NET_ADMIN"}}}
	refused := newPod("refused", "", rootImage, namedImage, rootUser, priv, netAdmin)
	// A named image user without runAsNonRoot runs as that user.
	nobody := sh("nobody", "id; exec sleep 3600")
	nobody.Image = named
	resolved := newPod("resolved", "", nobody)
	sysctl := newPod("sysctl", "", sh("app", "exec sleep 3600"))
	sysctl.Spec.SecurityContext = &spec.PodSecurityContext{Sysctls: []spec.Sysctl{{Name: "kernel.shmmax", Value: "1000000"}}}
	hostNet := newPod("hostnet", "", sh("app", "exec sleep 3600"))
	hostNet.Spec.HostNetwork = true
	e.sync(refused, resolved, sysctl, hostNet)

	podRef := fmt.Sprintf("%q", "refused_default("+refused.UID+")")
	want := map[string]string{
		"root":     "container has runAsNonRoot and image will run as root (pod: " + podRef + ", container: root)",
		"named":    "container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root (pod: " + podRef + ", container: named)",
		"rootuser": "container's runAsUser breaks non-root policy (pod: " + podRef + ", container: rootuser)",
		"priv":     "container priv is privileged, and this node does not allow privileged containers (agent --allow-privileged)",
		"netadmin": "container netadmin adds capability NET_ADMIN, beyond Kubernetes' baseline, and this node does not allow privileged containers (agent --allow-privileged)",
	}
	st := e.waitPod("refused", "config errors", 30*time.Second, func(p api.PodStatus) bool {
		for _, c := range p.Containers {
			if w := c.State.Waiting; w == nil || w.Reason != api.ReasonCreateConfigErr {
				return false
			}
		}
		return true
	})
	for _, c := range st.Containers {
		if c.State.Waiting.Message != want[c.Name] {
			t.Errorf("%s: message %q, want %q", c.Name, c.State.Waiting.Message, want[c.Name])
		}
	}
	st = e.waitPod("hostnet", "config error", 30*time.Second, func(p api.PodStatus) bool {
		return len(p.Containers) == 1 && p.Containers[0].State.Waiting != nil && p.Containers[0].State.Waiting.Reason == api.ReasonCreateConfigErr
	})
	if msg, want := st.Containers[0].State.Waiting.Message, "container app is in a pod that uses the host's network (hostNetwork), and this node does not allow host-network pods (agent --allow-privileged)"; msg != want || st.Phase != api.PodPending {
		t.Errorf("host-network pod without --allow-privileged: phase %s, message %q, want %q", st.Phase, msg, want)
	}
	e.waitPod("resolved", "running", 30*time.Second, running)
	if l := e.waitLog("resolved", "nobody", "uid=", 10*time.Second); !strings.Contains(l, "uid=65534(nobody) gid=65534(nobody)") {
		t.Errorf("image user nobody: %q", l)
	}
	st = e.waitPod("sysctl", "sandbox refused", 30*time.Second, func(p api.PodStatus) bool {
		return p.Reason == "FailedCreatePodSandBox"
	})
	if !strings.Contains(st.Message, `sysctl "kernel.shmmax" is not supported: only net.* sysctls`) || st.Phase != api.PodPending {
		t.Errorf("kernel.shmmax: phase %s, %s", st.Phase, st.Message)
	}
}

// TestPrivileged: with Config.AllowPrivileged a privileged container gets
// every capability, no seccomp filter and the host's devices, and a
// container may add capabilities beyond the baseline.
func TestPrivileged(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *runtime.Config) { c.AllowPrivileged = true })
	priv := sh("priv", showStatus+"ls /dev | wc -l; exec sleep 3600")
	priv.SecurityContext = &spec.SecurityContext{Privileged: ptr(true), SeccompProfile: &spec.SeccompProfile{Type: spec.SeccompProfileRuntimeDefault}}
	netAdmin := sh("netadmin", showStatus+"exec sleep 3600")
	netAdmin.SecurityContext = &spec.SecurityContext{Capabilities: &spec.Capabilities{Drop: []string{"all"}, Add: []string{"NET_ADMIN", "cap_net_raw"}}}
	e.sync(newPod("priv", "", priv, netAdmin))
	e.waitPod("priv", "running", 30*time.Second, running)
	if l := e.waitLog("priv", "netadmin", "CapEff", 10*time.Second); statusField(l, "CapEff") != fmt.Sprintf("%016x", 1<<12|1<<13) {
		t.Errorf("drop all, add NET_ADMIN and cap_net_raw: %q", l)
	}
	l := e.waitLog("priv", "priv", "Seccomp", 10*time.Second)
	v, err := strconv.ParseUint(statusField(l, "CapEff"), 16, 64)
	if err != nil || v&(1<<21) == 0 { // CAP_SYS_ADMIN
		t.Errorf("privileged CapEff: %q", l)
	}
	if statusField(l, "Seccomp") != "0" {
		t.Errorf("privileged container has a seccomp filter: %q", l)
	}
}
