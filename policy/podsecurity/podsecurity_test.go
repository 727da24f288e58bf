package podsecurity

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

func load(t *testing.T, doc string) spec.Object {
	t.Helper()
	// The namespace allows what Stevedore's own annotations gate, so that
	// only the pod security level decides.
	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  annotations: {stevedore.dev/allow-privileged: \"true\", stevedore.dev/allow-host-paths: \"true\"}\n"
	set, err := spec.Load(map[string][]byte{"x.yaml": []byte(doc), "ns.yaml": []byte(ns)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys() {
		if k.Kind != spec.KindNamespace {
			return set.Objects[k]
		}
	}
	t.Fatal("no object")
	return nil
}

const restrictedPod = `apiVersion: v1
kind: Pod
metadata: {name: ok}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
`

func TestRestrictedPodPassesEveryLevel(t *testing.T) {
	o := load(t, restrictedPod)
	for _, l := range []Level{LevelPrivileged, LevelBaseline, LevelRestricted} {
		if vs := CheckObject(l, o); len(vs) != 0 {
			t.Errorf("%s: %v", l, vs)
		}
	}
}

// The cases of Kubernetes' Pod Security Standards, each as a Deployment's
// template, with the message Kubernetes gives.
func TestPodSecurityStandardsCases(t *testing.T) {
	cases := []struct {
		name, template string
		level          Level
		want           string
	}{
		{"bare pod at restricted", `
      containers: [{name: app, image: nginx}]`, LevelRestricted,
			`violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`},
		{"bare pod at baseline", `
      containers: [{name: app, image: nginx}]`, LevelBaseline, ``},
		{"privileged", `
      containers:
      - {name: app, image: nginx, securityContext: {privileged: true}}
      - {name: side, image: nginx, securityContext: {privileged: true}}`, LevelBaseline,
			`violates PodSecurity "baseline:latest": privileged (containers "app", "side" must not set securityContext.privileged=true)`},
		{"capabilities", `
      containers:
      - {name: app, image: nginx, securityContext: {capabilities: {add: [NET_ADMIN, CHOWN, SYS_TIME]}}}`, LevelBaseline,
			`violates PodSecurity "baseline:latest": non-default capabilities (container "app" must not include "NET_ADMIN", "SYS_TIME" in securityContext.capabilities.add)`},
		{"hostPath and hostPort", `
      volumes: [{name: root, hostPath: {path: /}}]
      containers:
      - {name: app, image: nginx, ports: [{containerPort: 80, hostPort: 8080}]}`, LevelBaseline,
			`violates PodSecurity "baseline:latest": hostPath volumes (volume "root"), hostPort (container "app" uses hostPort 8080)`},
		{"hostNetwork", `
      hostNetwork: true
      containers:
      - {name: app, image: nginx, ports: [{containerPort: 7070}]}`, LevelBaseline,
			`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPort (container "app" uses hostPort 7070)`},
		{"hostNetwork at privileged", `
      hostNetwork: true
      containers: [{name: app, image: nginx}]`, LevelPrivileged, ``},
		{"seccomp unconfined and sysctls", `
      securityContext:
        seccompProfile: {type: Unconfined}
        sysctls: [{name: net.ipv4.tcp_syncookies, value: "1"}, {name: kernel.msgmax, value: "65536"}]
      containers: [{name: app, image: nginx}]`, LevelBaseline,
			`violates PodSecurity "baseline:latest": seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined"), forbidden sysctls (kernel.msgmax)`},
		{"root at restricted", `
      securityContext: {runAsUser: 0, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      volumes: [{name: logs, hostPath: {path: /var/log}}]
      containers:
      - name: app
        image: nginx
        securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: false, capabilities: {drop: [ALL], add: [SYS_TIME]}}`, LevelRestricted,
			`violates PodSecurity "restricted:latest": unrestricted capabilities (container "app" must not include "SYS_TIME" in securityContext.capabilities.add), restricted volume types (volume "logs" uses restricted volume type "hostPath"), runAsNonRoot != true (container "app" must not set securityContext.runAsNonRoot=false), runAsUser=0 (pod must not set runAsUser=0)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:` + c.template + "\n"
			o := load(t, doc)
			got := Message(Policy{Level: c.level, Version: VersionLatest}, CheckObject(c.level, o))
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestAppArmorAnnotation(t *testing.T) {
	o := load(t, `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {container.apparmor.security.beta.kubernetes.io/app: unconfined}
spec:
  containers: [{name: app, image: nginx}]
`)
	got := Message(Policy{Level: LevelBaseline, Version: "v1.30"}, CheckObject(LevelBaseline, o))
	want := `violates PodSecurity "baseline:v1.30": forbidden AppArmor profile (container.apparmor.security.beta.kubernetes.io/app="unconfined")`
	if got != want {
		t.Errorf("got %s", got)
	}
}

func TestPoliciesOf(t *testing.T) {
	ns := &spec.Namespace{ObjectMeta: spec.ObjectMeta{Name: "shop", Labels: map[string]string{
		EnforceLabel: "restricted", EnforceVersionLabel: "v1.30", WarnLabel: "baseline"}}}
	ps, err := PoliciesOf(ns)
	if err != nil || ps.Enforce.String() != "restricted:v1.30" || ps.Warn.String() != "baseline:latest" || ps.Audit.Level != LevelPrivileged {
		t.Fatalf("%+v %v", ps, err)
	}
	if ps, err := PoliciesOf(nil); err != nil || ps.Enforce.Level != LevelPrivileged {
		t.Fatalf("undeclared namespace: %+v %v", ps, err)
	}
	ns.Labels[EnforceLabel] = "strict"
	if _, err := PoliciesOf(ns); err == nil || !strings.Contains(err.Error(), `invalid value "strict": must be one of "privileged", "baseline", "restricted"`) {
		t.Fatalf("bad level: %v", err)
	}
	ns.Labels[EnforceLabel] = "baseline"
	ns.Labels[EnforceVersionLabel] = "1.30"
	if _, err := PoliciesOf(ns); err == nil {
		t.Fatal("bad version accepted")
	}
}

// Init containers, a CronJob's template and a container overriding its
// pod's seccomp profile are checked as Kubernetes checks them.
func TestPodSecurityCornerCases(t *testing.T) {
	o := load(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
          initContainers:
          - name: setup
            image: busybox
            securityContext: {privileged: true}
          containers:
          - name: app
            image: busybox
            securityContext:
              capabilities: {drop: [all], add: [ALL]}
              seccompProfile: {type: Unconfined}
`)
	got := Message(Policy{Level: LevelBaseline, Version: VersionLatest}, CheckObject(LevelBaseline, o))
	want := `violates PodSecurity "baseline:latest": non-default capabilities (container "app" must not include "ALL" in securityContext.capabilities.add), privileged (container "setup" must not set securityContext.privileged=true), seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined")`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = Message(Policy{Level: LevelRestricted, Version: VersionLatest}, CheckObject(LevelRestricted, o))
	for _, part := range []string{
		`allowPrivilegeEscalation != false (containers "setup", "app" must set securityContext.allowPrivilegeEscalation=false)`,
		`unrestricted capabilities (container "setup" must set securityContext.capabilities.drop=["ALL"]; container "app" must not include "ALL" in securityContext.capabilities.add)`,
		`seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined")`,
	} {
		if !strings.Contains(got, part) {
			t.Errorf("missing %s in\n%s", part, got)
		}
	}
	if strings.Contains(got, "non-default capabilities") {
		t.Errorf("restricted repeats the baseline capabilities check:\n%s", got)
	}
}

func BenchmarkCheckObjectRestricted(b *testing.B) {
	set, err := spec.Load(map[string][]byte{"x.yaml": []byte(restrictedPod)})
	if err != nil {
		b.Fatal(err)
	}
	o := set.OfKind(spec.KindPod)[0]
	b.ResetTimer()
	for b.Loop() {
		if vs := CheckObject(LevelRestricted, o); len(vs) != 0 {
			b.Fatal(vs)
		}
	}
}
