package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// secretValue is a Secret's plaintext that must appear in no log line.
const secretValue = "s3cret-Pl41ntext"

func configMap(name, version string, data map[string]string) api.ConfigObject {
	o := api.ConfigObject{Kind: spec.KindConfigMap, Namespace: "default", Name: name, Version: version, Data: map[string][]byte{}}
	for k, v := range data {
		o.Data[k] = []byte(v)
	}
	return o
}

func secret(name, version string, data map[string]string) api.ConfigObject {
	o := configMap(name, version, data)
	o.Kind = spec.KindSecret
	return o
}

func (e *env) setConfig(objs ...api.ConfigObject) {
	e.t.Helper()
	if err := e.rt.SetConfig(objs, nil); err != nil {
		e.t.Fatalf("SetConfig: %v", err)
	}
}

// syncBuffer is a log sink the runtime writes from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	t  testing.TB
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Log(strings.TrimRight(string(p), "\n"))
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLoggedEnv is newEnv with every log line (debug included) kept.
func newLoggedEnv(t *testing.T, mod func(*runtime.Config)) (*env, *syncBuffer) {
	buf := &syncBuffer{t: t}
	e := newEnvWith(t, func(c *runtime.Config) {
		c.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Events = func(ev api.Event) {
			fmt.Fprintf(buf, "event %s %s %s\n", ev.Reason, ev.Container, ev.Message)
		}
		if mod != nil {
			mod(c)
		}
	})
	return e, buf
}

func waiting(container, reason, msg string) func(api.PodStatus) bool {
	return func(p api.PodStatus) bool {
		for _, c := range p.Containers {
			if c.Name == container && c.State.Waiting != nil && c.State.Waiting.Reason == reason && strings.Contains(c.State.Waiting.Message, msg) {
				return true
			}
		}
		return false
	}
}

// TestVolumesAndEnv: configMap, secret, downwardAPI, projected and emptyDir
// (disk and Memory) volumes and env from every source reach the container
// with Kubernetes' contents, modes and mounts (secrets on tmpfs, read-only
// where they must be); a new Version of the ConfigMap changes the mounted
// file of the running container within seconds, without a restart; no
// log line or event has the Secret's plaintext.
func TestVolumesAndEnv(t *testing.T) {
	t.Parallel()
	e, logs := newLoggedEnv(t, nil)
	e.setConfig(
		configMap("cfg", "v1", map[string]string{"color": "blue", "app.conf": "a=1"}),
		secret("sec", "s1", map[string]string{"password": secretValue}),
	)
	mode := func(m int32) *int32 { return &m }
	div := resource.MustParse("1Mi")
	milli := resource.MustParse("1m")
	size := resource.MustParse("16Mi")
	script := `
show() { echo "$1=$(cat $2) mode=$(stat -L -c %a $2)"; }
show cm.color /etc/cm/color
show cm.conf /etc/cm/app.conf
show sec.password /etc/sec/password | sed "s/=.* mode/=<redacted> mode/"
[ "$(cat /etc/sec/password)" = "$PW" ] && echo SECRET-FILE-MATCHES-ENV
show dapi.labels /etc/dapi/labels
show dapi.name /etc/dapi/name
show dapi.mem /etc/dapi/mem
show proj.color /etc/proj/cm/color
[ "$(cat /etc/proj/s/pw)" = "$PW" ] && echo PROJ-SECRET-MATCHES mode=$(stat -L -c %a /etc/proj/s/pw)
show proj.name /etc/proj/podname
echo "links: $(readlink /etc/cm/color) $(readlink /etc/cm/..data | cut -c1-4)"
for m in /etc/sec /etc/proj /mem /etc/cm /scratch; do echo "mount $m $(awk -v m=$m '$2==m {print $3, substr($4,1,2)}' /proc/mounts)"; done
echo "memsize $(df -k /mem | awk 'NR==2 {print $2}')"
echo "env COLOR=$COLOR POD=$POD MEMMI=$MEMMI CPUM=$CPUM NS=$NS CFG_color=$CFG_color EXP=$EXP"
[ "$S_password" = "$PW" ] && echo ENVFROM-SECRET-MATCHES
touch /ro/x 2>/dev/null && echo RO-WRITABLE || echo RO-REFUSED
touch /etc/cm/x 2>/dev/null && echo CM-WRITABLE || echo CM-REFUSED
echo hello > /scratch/f && cat /ro/f
echo READY
last=
while :; do c=$(cat /etc/cm/color); if [ "$c" != "$last" ]; then echo "COLOR-NOW $c SUB $(cat /sub-color)"; last=$c; fi; sleep 0.1; done
`
	c := sh("c", script)
	c.Resources = spec.Resources{Limits: spec.ResourceList{spec.ResourceMemory: resource.MustParse("64Mi"), spec.ResourceCPU: resource.MustParse("250m")}}
	c.Env = []spec.EnvVar{
		{Name: "COLOR", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "cfg", Key: "color"}}},
		{Name: "PW", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "sec", Key: "password"}}},
		{Name: "POD", ValueFrom: &spec.EnvVarSource{FieldRef: &spec.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "NS", ValueFrom: &spec.EnvVarSource{FieldRef: &spec.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "MEMMI", ValueFrom: &spec.EnvVarSource{ResourceFieldRef: &spec.ResourceFieldSelector{Resource: "limits.memory", Divisor: &div}}},
		{Name: "CPUM", ValueFrom: &spec.EnvVarSource{ResourceFieldRef: &spec.ResourceFieldSelector{Resource: "limits.cpu", Divisor: &milli}}},
		{Name: "EXP", Value: "$(POD).$(NS)"},
	}
	c.EnvFrom = []spec.EnvFromSource{
		{Prefix: "CFG_", ConfigMapRef: &spec.ConfigMapEnvSource{Name: "cfg"}},
		{Prefix: "S_", SecretRef: &spec.SecretEnvSource{Name: "sec"}},
	}
	c.VolumeMounts = []spec.VolumeMount{
		{Name: "cm", MountPath: "/etc/cm"},
		{Name: "cm", MountPath: "/sub-color", SubPath: "color"},
		{Name: "sec", MountPath: "/etc/sec"},
		{Name: "dapi", MountPath: "/etc/dapi"},
		{Name: "proj", MountPath: "/etc/proj"},
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "scratch", MountPath: "/ro", ReadOnly: true},
		{Name: "mem", MountPath: "/mem"},
	}
	p := newPod("vols", "", c)
	p.Labels = map[string]string{"app": "vols", "tier": "web"}
	p.Spec.Volumes = []spec.Volume{
		{Name: "cm", VolumeSource: spec.VolumeSource{ConfigMap: &spec.ConfigMapVolumeSource{Name: "cfg"}}},
		{Name: "sec", VolumeSource: spec.VolumeSource{Secret: &spec.SecretVolumeSource{SecretName: "sec", DefaultMode: mode(0o400)}}},
		{Name: "dapi", VolumeSource: spec.VolumeSource{DownwardAPI: &spec.DownwardAPIVolumeSource{Items: []spec.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &spec.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &spec.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: mode(0o600)},
			{Path: "mem", ResourceFieldRef: &spec.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: &div}},
		}}}},
		{Name: "proj", VolumeSource: spec.VolumeSource{Projected: &spec.ProjectedVolumeSource{Sources: []spec.VolumeProjection{
			{ConfigMap: &spec.ConfigMapProjection{Name: "cfg", Items: []spec.KeyToPath{{Key: "color", Path: "cm/color"}}}},
			{Secret: &spec.SecretProjection{Name: "sec", Items: []spec.KeyToPath{{Key: "password", Path: "s/pw", Mode: mode(0o400)}}}},
			{DownwardAPI: &spec.DownwardAPIProjection{Items: []spec.DownwardAPIVolumeFile{{Path: "podname", FieldRef: &spec.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
		}}}},
		{Name: "scratch", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{Medium: spec.StorageMediumMemory, SizeLimit: &size}}},
	}
	e.sync(p)
	log := e.waitLog("vols", "c", "COLOR-NOW blue SUB blue\n", 60*time.Second)
	for _, want := range []string{
		"cm.color=blue mode=644\n",
		"cm.conf=a=1 mode=644\n",
		"sec.password=<redacted> mode=400\n",
		"SECRET-FILE-MATCHES-ENV\n",
		"dapi.labels=app=\"vols\"\ntier=\"web\" mode=644\n",
		"dapi.name=vols mode=600\n",
		"dapi.mem=64 mode=644\n",
		"proj.color=blue mode=644\n",
		"PROJ-SECRET-MATCHES mode=400\n",
		"proj.name=vols mode=644\n",
		"links: ..data/color ..20\n",
		"mount /etc/sec tmpfs ro\n",
		"mount /etc/proj tmpfs ro\n",
		"mount /mem tmpfs rw\n",
		"memsize 16384\n",
		"env COLOR=blue POD=vols MEMMI=64 CPUM=250 NS=default CFG_color=blue EXP=vols.default\n",
		"ENVFROM-SECRET-MATCHES\n",
		"RO-REFUSED\n",
		"CM-REFUSED\n",
		"hello\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, m := range []string{"mount /etc/cm ", "mount /scratch "} {
		if i := strings.Index(log, m); i < 0 || strings.HasPrefix(log[i+len(m):], "tmpfs") {
			t.Errorf("%s: want a disk directory, not a tmpfs:\n%s", m, log)
		}
	}

	// A new Version of the ConfigMap: the file changes in the running
	// container; env does not (it is read at start).
	start := time.Now()
	e.setConfig(
		configMap("cfg", "v2", map[string]string{"color": "green", "app.conf": "a=1"}),
		secret("sec", "s1", map[string]string{"password": secretValue}),
	)
	// A subPath mount holds the file as it was (as in Kubernetes).
	e.waitLog("vols", "c", "COLOR-NOW green SUB blue\n", 10*time.Second)
	t.Logf("ConfigMap update visible in the container after %s", time.Since(start))
	if st := e.waitPod("vols", "running", 5*time.Second, running); st.Containers[0].RestartCount != 0 {
		t.Errorf("container restarted for a ConfigMap update: %d", st.Containers[0].RestartCount)
	}
	if strings.Contains(logs.String(), secretValue) {
		t.Errorf("a Secret's plaintext is in the runtime's log:\n%s", logs.String())
	}
}

// TestConfigErrors: a missing key holds the container in
// CreateContainerConfigError, naming the key, until a set supplies it; a
// missing ConfigMap of a volume likewise; hostPath is refused without
// AllowHostPaths.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	e, logs := newLoggedEnv(t, nil)
	e.setConfig(configMap("cfg", "v1", map[string]string{"other": "x"}), secret("sec", "s1", map[string]string{"password": secretValue}))
	envC := sh("c", "echo GOT=$KEY; exec sleep 3600")
	envC.Env = []spec.EnvVar{
		{Name: "KEY", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "cfg", Key: "key"}}},
		{Name: "PW", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "sec", Key: "password"}}},
	}
	envPod := newPod("envkey", "", envC)
	volC := sh("c", "cat /m/k; echo; exec sleep 3600")
	volC.VolumeMounts = []spec.VolumeMount{{Name: "m", MountPath: "/m"}}
	volPod := newPod("volmap", "", volC)
	volPod.Spec.Volumes = []spec.Volume{{Name: "m", VolumeSource: spec.VolumeSource{ConfigMap: &spec.ConfigMapVolumeSource{Name: "later"}}}}
	hostC := sh("c", "exec sleep 3600")
	hostC.VolumeMounts = []spec.VolumeMount{{Name: "h", MountPath: "/h"}}
	hostPod := newPod("host", "", hostC)
	hostPod.Spec.Volumes = []spec.Volume{{Name: "h", VolumeSource: spec.VolumeSource{HostPath: &spec.HostPathVolumeSource{Path: t.TempDir()}}}}
	e.sync(envPod, volPod, hostPod)

	e.waitPod("envkey", "config error", 30*time.Second, waiting("c", api.ReasonCreateConfigErr, "couldn't find key key in ConfigMap default/cfg"))
	e.waitPod("volmap", "config error", 30*time.Second, waiting("c", api.ReasonCreateConfigErr, `configmap "later" not found`))
	e.waitPod("host", "config error", 30*time.Second, waiting("c", api.ReasonCreateConfigErr, "hostPath volumes are not allowed"))
	if st := e.waitPod("envkey", "pending", time.Second, func(p api.PodStatus) bool { return true }); st.Phase != api.PodPending {
		t.Errorf("phase %s, want Pending", st.Phase)
	}

	e.setConfig(
		configMap("cfg", "v2", map[string]string{"other": "x", "key": "value"}),
		configMap("later", "l1", map[string]string{"k": "it-came"}),
		secret("sec", "s1", map[string]string{"password": secretValue}),
	)
	e.waitPod("envkey", "running", 10*time.Second, running)
	e.waitLog("envkey", "c", "GOT=value\n", 10*time.Second)
	e.waitLog("volmap", "c", "it-came\n", 10*time.Second)
	if strings.Contains(logs.String(), secretValue) {
		t.Errorf("a Secret's plaintext is in the runtime's log")
	}
}

// TestHostPathTypes: with AllowHostPaths, DirectoryOrCreate and
// FileOrCreate create; Directory of a file waits with the kubelet's
// message.
func TestHostPathTypes(t *testing.T) {
	t.Parallel()
	e, _ := newLoggedEnv(t, func(c *runtime.Config) { c.AllowHostPaths = true })
	dir := t.TempDir()
	typ := func(s string) *string { return &s }
	c := sh("c", "echo hi > /d/x && ls /f && echo HOSTPATH-OK; exec sleep 3600")
	c.VolumeMounts = []spec.VolumeMount{{Name: "d", MountPath: "/d"}, {Name: "f", MountPath: "/f"}}
	p := newPod("hp", "", c)
	p.Spec.Volumes = []spec.Volume{
		{Name: "d", VolumeSource: spec.VolumeSource{HostPath: &spec.HostPathVolumeSource{Path: filepath.Join(dir, "made/dir"), Type: typ(spec.HostPathDirectoryOrCreate)}}},
		{Name: "f", VolumeSource: spec.VolumeSource{HostPath: &spec.HostPathVolumeSource{Path: filepath.Join(dir, "made/file"), Type: typ(spec.HostPathFileOrCreate)}}},
	}
	bad := sh("c", "exec sleep 3600")
	bad.VolumeMounts = []spec.VolumeMount{{Name: "d", MountPath: "/d"}}
	badPod := newPod("hpbad", "", bad)
	badPod.Spec.Volumes = []spec.Volume{{Name: "d", VolumeSource: spec.VolumeSource{HostPath: &spec.HostPathVolumeSource{
		Path: filepath.Join(dir, "made/file"), Type: typ(spec.HostPathDirectory)}}}}
	e.sync(p, badPod)
	e.waitLog("hp", "c", "HOSTPATH-OK\n", 30*time.Second)
	if b, err := os.ReadFile(filepath.Join(dir, "made/dir/x")); err != nil || string(b) != "hi\n" {
		t.Errorf("host file: %q, %v", b, err)
	}
	e.waitPod("hpbad", "waiting", 30*time.Second, waiting("c", api.ReasonContainerCreating, "is not a directory"))
}

// TestSubPath: a subPath is created if missing and mounted; one that
// leaves the volume through a symlink planted by another container fails
// with CreateContainerConfigError naming the mount, and the container
// starts once a new set points it somewhere safe; subPathExpr expands
// from the container's env, and its refusal names the expression, not
// the value.
func TestSubPath(t *testing.T) {
	t.Parallel()
	e, _ := newLoggedEnv(t, nil)
	planter := sh("planter", "mkdir -p /data/ok && echo inside > /data/ok/f && ln -s / /data/escape && ln -s ../../../../../../.. /data/up && echo PLANTED; exec sleep 3600")
	planter.VolumeMounts = []spec.VolumeMount{{Name: "data", MountPath: "/data"}}
	reader := sh("reader", "until [ -f /sub/f ]; do sleep 0.1; done; echo READ $(cat /sub/f); ls -d /data/new/deep && echo CREATED; exec sleep 3600")
	reader.VolumeMounts = []spec.VolumeMount{{Name: "data", MountPath: "/sub", SubPath: "ok"}, {Name: "data", MountPath: "/data/new/deep", SubPath: "new/deep"}}
	// One victim per bad value, so that each refusal is known to be of
	// its own value (the messages do not show it).
	bads := []string{"escape", "escape/etc", "up", "ok/../../x"}
	containers := []spec.Container{planter, reader}
	for i := range bads {
		victim := sh(fmt.Sprintf("victim%d", i), "ls /v; echo VICTIM-STARTED; exec sleep 3600")
		victim.Env = []spec.EnvVar{{Name: "SUB", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "paths", Key: fmt.Sprintf("sub%d", i)}}}}
		victim.VolumeMounts = []spec.VolumeMount{{Name: "data", MountPath: "/v", SubPathExpr: "$(SUB)"}}
		containers = append(containers, victim)
	}
	p := newPod("subpath", "", containers...)
	p.Spec.Volumes = []spec.Volume{{Name: "data", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}}}
	e.sync(p)
	e.waitLog("subpath", "planter", "PLANTED\n", 30*time.Second)
	e.waitLog("subpath", "reader", "READ inside\n", 30*time.Second)
	e.waitLog("subpath", "reader", "CREATED\n", 10*time.Second)

	data := map[string]string{}
	for i, bad := range bads {
		data[fmt.Sprintf("sub%d", i)] = bad
	}
	e.setConfig(configMap("paths", "bad", data))
	for i, bad := range bads {
		name := fmt.Sprintf("victim%d", i)
		st := e.waitPod("subpath", name+" refused "+bad, 20*time.Second, waiting(name, api.ReasonCreateConfigErr, `volumeMount "data" of container "`+name+`": subPathExpr "$(SUB)"`))
		// The expanded value may be a Secret's: never in the status.
		for _, c := range st.Containers {
			if w := c.State.Waiting; c.Name == name && strings.Contains(w.Message, strconv.Quote(bad)) {
				t.Errorf("%s: the message shows the expanded subPathExpr %q: %s", name, bad, w.Message)
			}
		}
		if l := e.logs("subpath", name, 0); l != "" {
			t.Fatalf("%s ran with subPath %q: %q", name, bad, l)
		}
	}
	for k := range data {
		data[k] = "ok"
	}
	e.setConfig(configMap("paths", "good", data))
	for i := range bads {
		name := fmt.Sprintf("victim%d", i)
		e.waitLog("subpath", name, "VICTIM-STARTED\n", 20*time.Second)
		if l := e.logs("subpath", name, 0); !strings.HasPrefix(l, "f\n") {
			t.Errorf("%s saw %q, want the ok directory", name, l)
		}
	}
}

// TestEmptyDirSurvivesRestart: an emptyDir (disk and Memory) keeps what a
// container wrote across its restart.
func TestEmptyDirSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := sh("c", `if [ -f /d/mark ] && [ -f /m/mark ]; then echo SURVIVED; exec sleep 3600; fi; touch /d/mark /m/mark; exit 1`)
	c.VolumeMounts = []spec.VolumeMount{{Name: "d", MountPath: "/d"}, {Name: "m", MountPath: "/m"}}
	p := newPod("survive", spec.RestartPolicyOnFailure, c)
	p.Spec.Volumes = []spec.Volume{
		{Name: "d", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}},
		{Name: "m", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{Medium: spec.StorageMediumMemory}}},
	}
	e.sync(p)
	e.waitLog("survive", "c", "SURVIVED\n", 60*time.Second)
	if st := e.waitPod("survive", "running", 10*time.Second, running); st.Containers[0].RestartCount != 1 {
		t.Errorf("restarts %d, want 1", st.Containers[0].RestartCount)
	}
}

// TestVolumesAcrossAgentRestart: a restarted runtime, before any new
// SetConfig, still has the Secret (kept in its tmpfs): a container that
// restarts gets it again in env and files; volumes are adopted, not
// remounted or wiped; removing the pod unmounts and removes them.
func TestVolumesAcrossAgentRestart(t *testing.T) {
	t.Parallel()
	e, logs := newLoggedEnv(t, nil)
	e.setConfig(secret("sec", "s1", map[string]string{"password": secretValue}))
	c := sh("c", `[ "$PW" = "$(cat /s/password)" ] && echo START-OK; echo x >> /d/starts; echo starts=$(wc -l < /d/starts); exec sleep 3600`)
	c.Env = []spec.EnvVar{{Name: "PW", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "sec", Key: "password"}}}}
	c.VolumeMounts = []spec.VolumeMount{{Name: "s", MountPath: "/s"}, {Name: "d", MountPath: "/d"}}
	p := newPod("restart", "", c)
	p.Spec.Volumes = []spec.Volume{
		{Name: "s", VolumeSource: spec.VolumeSource{Secret: &spec.SecretVolumeSource{SecretName: "sec"}}},
		{Name: "d", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}},
	}
	e.sync(p)
	e.waitLog("restart", "c", "starts=1\n", 60*time.Second)
	podDir := filepath.Join(e.cfg.DataDir, "pods", runtime.PodID(p.UID))
	mountsBefore := countMounts(t, podDir)
	configMounts := countMounts(t, filepath.Join(e.cfg.DataDir, "config"))
	if mountsBefore != 1 || configMounts != 1 {
		t.Fatalf("mounts under the pod dir %d (want 1: the secret's tmpfs), config tmpfs %d (want 1)", mountsBefore, configMounts)
	}
	for _, f := range mustGlob(t, filepath.Join(e.cfg.DataDir, "config", "*")) {
		if b, _ := os.ReadFile(f); !bytes.Contains(b, []byte("sec")) {
			t.Errorf("config tmpfs file %s lacks the object", f)
		}
	}

	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	e.open() // no SetConfig: what the tmpfs kept
	e.waitPod("restart", "adopted", 30*time.Second, running)
	// The container restarts: it needs the Secret again.
	if err := syscall.Kill(int(e.taskPID(p, "c")), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitLog("restart", "c", "starts=2\n", 30*time.Second)
	// Each instance has its own log: the one before the kill and this one.
	prev := e.logsWith("restart", api.LogOptions{Container: "c", Previous: true})
	if l := e.logs("restart", "c", 0); strings.Count(l, "START-OK") != 1 || strings.Count(prev, "START-OK") != 1 {
		t.Errorf("log %q, previous %q: want START-OK once in each", l, prev)
	}
	if n := countMounts(t, podDir); n != mountsBefore {
		t.Errorf("mounts under the pod dir after restart: %d, want %d (adopted, not remounted)", n, mountsBefore)
	}
	e.sync()
	e.wait("pod removed", 30*time.Second, gone("restart"))
	if n := countMounts(t, podDir); n != 0 {
		t.Errorf("%d mounts left under the removed pod's dir", n)
	}
	if _, err := os.Stat(podDir); !os.IsNotExist(err) {
		t.Errorf("pod dir left: %v", err)
	}
	if strings.Contains(logs.String(), secretValue) {
		t.Errorf("a Secret's plaintext is in the runtime's log")
	}
}

// TestEmptyDirSizeLimitEvicts: a pod whose disk emptyDir exceeds its
// sizeLimit is evicted: Failed, reason Evicted, its container not
// restarted.
func TestEmptyDirSizeLimitEvicts(t *testing.T) {
	t.Parallel()
	e, _ := newLoggedEnv(t, nil)
	limit := resource.MustParse("1Mi")
	c := sh("c", "dd if=/dev/zero of=/d/big bs=1024 count=3072 2>/dev/null; echo WROTE; exec sleep 3600")
	c.VolumeMounts = []spec.VolumeMount{{Name: "d", MountPath: "/d"}}
	p := newPod("evict", "", c)
	p.Spec.Volumes = []spec.Volume{{Name: "d", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{SizeLimit: &limit}}}}
	e.sync(p)
	st := e.waitPod("evict", "evicted", 40*time.Second, func(p api.PodStatus) bool { return p.Phase == api.PodFailed })
	if st.Reason != "Evicted" || !strings.Contains(st.Message, `Usage of EmptyDir volume "d" exceeds the limit "1Mi"`) {
		t.Errorf("reason %q message %q", st.Reason, st.Message)
	}
	if st.Containers[0].State.Terminated == nil || st.Containers[0].RestartCount != 0 {
		t.Errorf("container %s restarts %d: want terminated, not restarted", stateString(st.Containers[0].State), st.Containers[0].RestartCount)
	}
}

// TestFSGroup: with fsGroup, an emptyDir's root and the files of a secret
// volume are group-owned by it (root setgid, secret files group-readable).
func TestFSGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setConfig(secret("sec", "s1", map[string]string{"k": "v"}))
	c := sh("c", "echo d=$(stat -c '%a %g' /d) s=$(stat -L -c '%a %g' /s/k) sd=$(stat -c '%g' /s/..data/); exec sleep 3600")
	c.VolumeMounts = []spec.VolumeMount{{Name: "d", MountPath: "/d"}, {Name: "s", MountPath: "/s"}}
	p := newPod("fsgroup", "", c)
	gid, mode := int64(4321), int32(0o400)
	p.Spec.SecurityContext = &spec.PodSecurityContext{FSGroup: &gid}
	p.Spec.Volumes = []spec.Volume{
		{Name: "d", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}},
		{Name: "s", VolumeSource: spec.VolumeSource{Secret: &spec.SecretVolumeSource{SecretName: "sec", DefaultMode: &mode}}},
	}
	e.sync(p)
	e.waitLog("fsgroup", "c", "d=2777 4321 s=440 4321 sd=4321\n", 30*time.Second)
}

func countMounts(t *testing.T, dir string) int {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == real || strings.HasPrefix(f[4], real+"/")) {
			n++
		}
	}
	return n
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("glob %s: %v %v", pattern, m, err)
	}
	return m
}

// fakePVs publishes every volume as a directory of its own.
type fakePVs struct {
	root string
	mu   sync.Mutex
	log  []string
}

func (f *fakePVs) Publish(ctx context.Context, podUID string, pv api.PersistentVolume, readOnly bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("publish %s ro=%v", pv.Name, readOnly))
	dir := filepath.Join(f.root, pv.Handle)
	return dir, os.MkdirAll(dir, 0o755)
}

func (f *fakePVs) Unpublish(ctx context.Context, podUID, pvName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "unpublish "+pvName)
	return nil
}

func (f *fakePVs) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// TestPersistentVolumeClaim: a pod waits in ContainerCreating until the
// set has its claim's volume, then mounts the path Publish returns;
// removing the pod unpublishes it.
func TestPersistentVolumeClaim(t *testing.T) {
	t.Parallel()
	pvs := &fakePVs{root: t.TempDir()}
	e := newEnvWith(t, func(c *runtime.Config) { c.PersistentVolumes = pvs })
	c := sh("c", "echo persisted > /data/f && echo WROTE; exec sleep 3600")
	c.VolumeMounts = []spec.VolumeMount{{Name: "data", MountPath: "/data"}}
	p := newPod("claim", "", c)
	p.Spec.Volumes = []spec.Volume{{Name: "data", VolumeSource: spec.VolumeSource{PersistentVolumeClaim: &spec.PersistentVolumeClaimVolumeSource{ClaimName: "db"}}}}
	e.sync(p)
	e.waitPod("claim", "waiting for its volume", 30*time.Second, waiting("c", api.ReasonContainerCreating, "waiting for the volume of claim default/db"))
	if err := e.rt.SetConfig(nil, []api.PersistentVolume{{Name: "pvc-1", Claim: "default/db", Driver: "fake", Handle: "h1"}}); err != nil {
		t.Fatal(err)
	}
	e.waitLog("claim", "c", "WROTE\n", 20*time.Second)
	if b, err := os.ReadFile(filepath.Join(pvs.root, "h1", "f")); err != nil || string(b) != "persisted\n" {
		t.Errorf("volume file: %q, %v", b, err)
	}
	e.sync()
	e.wait("pod removed", 30*time.Second, gone("claim"))
	got := pvs.calls()
	if len(got) < 2 || got[0] != "publish pvc-1 ro=false" || got[len(got)-1] != "unpublish pvc-1" {
		t.Errorf("driver calls %q", got)
	}
}
