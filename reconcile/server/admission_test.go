package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func admissionNS(level string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    pod-security.kubernetes.io/enforce: %s
`, level)
}

const admissionQuota = `apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
  namespace: shop
spec:
  hard:
    pods: "3"
    requests.cpu: "1"
`

// restrictedDeployment passes the restricted level.
func restrictedDeployment(replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: img:1
        resources: {requests: {cpu: 100m}}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
`, replicas)
}

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: shop
spec:
  containers:
  - name: app
    image: img:1
    resources: {requests: {cpu: 100m}}
    securityContext: {privileged: true}
`

// A commit that takes a namespace past its ResourceQuota, and a privileged
// pod in a restricted namespace, are refused at sync with Kubernetes'
// words, file and object, and the last good revision keeps running; the
// same pod in a privileged namespace is applied.
func TestAdmissionRefusesQuotaOverflowAndPodSecurity(t *testing.T) {
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	good := repo.commit("two replicas", map[string]string{"ns.yaml": admissionNS("restricted"), "quota.yaml": admissionQuota, "web.yaml": restrictedDeployment(2)})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())
	waitFor(t, 10*time.Second, "two pods on node-a", func() bool { return len(a.last().Pods) == 2 })
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()

	// The namespace view: the quota's hard and what the desired state uses.
	nss, err := cl.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nss {
		if n.Name != "shop" {
			continue
		}
		if len(n.Quotas) != 1 || n.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Fatalf("namespace shop = %+v", n)
		}
		pods, cpu := n.Quotas[0].Used["pods"], n.Quotas[0].Used["requests.cpu"]
		if pods.String() != "2" || cpu.String() != "200m" {
			t.Errorf("quota used = %v", n.Quotas[0].Used)
		}
	}

	refused := func(what string, wantEntry api.ErrorEntry, wantMsgs ...string) {
		t.Helper()
		res, err := cl.Sync(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if res.Error == nil || res.Error.Stage != api.StagePolicy {
			t.Fatalf("%s: sync = %+v, want a policy refusal", what, res)
		}
		for _, want := range wantMsgs {
			if !strings.Contains(res.Error.Message, want) {
				t.Errorf("%s: message %q, want %q in it", what, res.Error.Message, want)
			}
		}
		found := false
		for _, e := range res.Error.Entries {
			found = found || e.File == wantEntry.File && e.Line == wantEntry.Line && e.Object == wantEntry.Object && e.Field == wantEntry.Field
		}
		if !found {
			t.Errorf("%s: entries %+v, want one at %+v", what, res.Error.Entries, wantEntry)
		}
		st, err := cl.Status(ctx)
		if err != nil || st.Applied == nil || st.Applied.Hash != good || st.LastError == nil || st.LastError.Stage != api.StagePolicy {
			t.Errorf("%s: status %+v %v, want %s applied and the refusal", what, st, err, good)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(a.last().Pods); n != 2 {
			t.Errorf("%s: node runs %d pods, want the last good revision's 2", what, n)
		}
	}

	repo.commit("five replicas", map[string]string{"web.yaml": restrictedDeployment(5)})
	refused("quota overflow", api.ErrorEntry{File: "web.yaml", Line: 1, Object: "Deployment shop/web"},
		"web.yaml:1: Deployment shop/web: exceeded quota: compute, requested: pods=3, used: pods=2, limited: pods=3")

	repo.commit("debug pod", map[string]string{"web.yaml": restrictedDeployment(2), "debug.yaml": privilegedPod})
	refused("privileged pod", api.ErrorEntry{File: "debug.yaml", Line: 1, Object: "Pod shop/debug", Field: "spec"},
		`debug.yaml:1: Pod shop/debug: spec: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), `,
		`privileged (container "app" must not set securityContext.privileged=true)`)

	repo.commit("shop is privileged", map[string]string{"ns.yaml": admissionNS("privileged")})
	res, err := cl.Sync(ctx, true)
	if err != nil || res.Error != nil || !res.Applied {
		t.Fatalf("privileged namespace: sync = %+v %v", res, err)
	}
	waitFor(t, 10*time.Second, "three pods on node-a", func() bool { return len(a.last().Pods) == 3 })
}

func mustLoad(t *testing.T, files map[string]string) *spec.Set {
	t.Helper()
	in := map[string][]byte{}
	for k, v := range files {
		in[k] = []byte(v)
	}
	set, err := spec.Load(in)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// union merges sets as the store's union does (the first declares a
// shared Namespace).
func union(sets ...*spec.Set) *spec.Set {
	out := spec.NewSet()
	for _, s := range sets {
		for k, o := range s.Objects {
			if _, ok := out.Objects[k]; !ok {
				out.Objects[k], out.Sources[k] = o, s.Sources[k]
			}
		}
	}
	return out
}

// A quota counts every application's objects in its namespace: team B's
// revision is refused for what team A already runs there, placed at B's
// object; the warn level only warns.
func TestAdmitCountsOtherApplications(t *testing.T) {
	ns := strings.Replace(admissionNS("privileged"), "labels:\n", "labels:\n    pod-security.kubernetes.io/warn: restricted\n", 1)
	a := mustLoad(t, map[string]string{"ns.yaml": ns, "quota.yaml": admissionQuota, "web.yaml": restrictedDeployment(2)})
	b := mustLoad(t, map[string]string{"ns.yaml": ns, "debug.yaml": privilegedPod, "extra.yaml": strings.ReplaceAll(privilegedPod, "debug", "debug2")})
	list, warnings := admit(a, union(a, b), b, 1)
	if len(list) != 1 || list[0].File != "debug.yaml" && list[0].File != "extra.yaml" ||
		!strings.HasSuffix(list[0].Error(), "exceeded quota: compute, requested: pods=2, used: pods=2, limited: pods=3") {
		t.Fatalf("refusals %v", list)
	}
	if len(warnings) != 2 || warnings[0].object != "Pod/shop/debug" || !strings.HasPrefix(warnings[0].message, `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`) {
		t.Errorf("warnings %+v", warnings)
	}
	// One pod fits.
	b1 := mustLoad(t, map[string]string{"ns.yaml": ns, "debug.yaml": privilegedPod})
	if list, _ := admit(a, union(a, b1), b1, 1); len(list) != 0 {
		t.Errorf("one more pod refused: %v", list)
	}
}

// Hostile: team B declares its own copy of a Namespace that team A's
// (in force) declares, loosened (an annotation, or a level label that
// would skip the loader's annotation check): the Namespace in force
// decides at sync, so B's privileged pod and host path are refused.
func TestAdmitUsesTheNamespaceInForce(t *testing.T) {
	platform := mustLoad(t, map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"})
	for name, ns := range map[string]string{
		"annotated":  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {stevedore.dev/allow-privileged: \"true\", stevedore.dev/allow-host-paths: \"true\"}\n",
		"labelled":   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {pod-security.kubernetes.io/enforce: baseline}\n",
		"privileged": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n",
	} {
		t.Run(name, func(t *testing.T) {
			pod := strings.Replace(privilegedPod, "  containers:\n", "  volumes: [{name: root, hostPath: {path: /}}]\n  containers:\n", 1)
			teamB := mustLoad(t, map[string]string{"ns.yaml": ns, "debug.yaml": pod})
			list, _ := admit(platform, union(platform, teamB), teamB, 1)
			msg := list.Error()
			if len(list) != 2 || !strings.Contains(msg, `debug.yaml:1: Pod shop/debug: spec: forbidden: hostPath volume "root" is not allowed in namespace "shop"`) ||
				!strings.Contains(msg, `forbidden: container "app" is privileged, not allowed in namespace "shop": its Namespace is not annotated stevedore.dev/allow-privileged: "true"`) {
				t.Errorf("got %d refusals:\n%s", len(list), msg)
			}
		})
	}
	// The platform's own Namespace allowing it: applied.
	open := mustLoad(t, map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n"})
	teamB := mustLoad(t, map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n", "debug.yaml": privilegedPod})
	if list, _ := admit(open, union(open, teamB), teamB, 1); len(list) != 0 {
		t.Errorf("refused in a privileged namespace: %v", list)
	}
}

// Hostile: huge replica counts and quantities neither overflow nor pass.
func TestAdmitHugeQuantities(t *testing.T) {
	ns := admissionNS("privileged")
	q := strings.Replace(admissionQuota, `pods: "3"`, `pods: "1000000"`, 1) + "    limits.memory: 1Ei\n"
	d := strings.Replace(restrictedDeployment(2147483647), "requests: {cpu: 100m}", "requests: {cpu: 100m}, limits: {memory: 1Ei}", 1)
	after := mustLoad(t, map[string]string{"ns.yaml": ns, "quota.yaml": q, "web.yaml": d})
	list, _ := admit(nil, after, after, 0)
	if len(list) != 1 || !strings.Contains(list[0].Message, "requested: limits.memory=2147483647Ei,pods=2147483647,requests.cpu=214748364700m") {
		t.Fatalf("got %v", list)
	}
}

// BenchmarkAdmit1000Deployments: the policy step of a sync of 1,000
// Deployments in a restricted namespace with a quota (report in the
// closing note).
func BenchmarkAdmit1000Deployments(b *testing.B) {
	files := map[string][]byte{"ns.yaml": []byte(admissionNS("restricted")),
		"quota.yaml": []byte(strings.Replace(admissionQuota, `pods: "3"`, `pods: "100000"`, 1) + "    requests.cpu: \"1000\"\n")}
	files["quota.yaml"] = []byte(strings.Replace(string(files["quota.yaml"]), "    requests.cpu: \"1\"\n", "", 1))
	for i := range 1000 {
		files[fmt.Sprintf("web-%d.yaml", i)] = []byte(strings.ReplaceAll(restrictedDeployment(3), "web", fmt.Sprintf("web-%d", i)))
	}
	set, err := spec.Load(files)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if list, _ := admit(set, set, set, 10); len(list) != 0 {
			b.Fatal(list)
		}
	}
}

// The revision's own Namespace is checked when it will be the one in force:
// the bootstrap's, or an application's named before the present owner's.
func TestNamespacesInForce(t *testing.T) {
	nsKey := spec.ObjectKey{Kind: spec.KindNamespace, Name: "shop"}
	loose := mustLoad(t, map[string]string{"ns.yaml": admissionNS("privileged")})
	strict := mustLoad(t, map[string]string{"ns.yaml": admissionNS("restricted")})
	for _, c := range []struct {
		app, owner string
		want       *spec.Set
	}{
		{"", "team-b", strict},       // the bootstrap's wins
		{"team-a", "team-b", strict}, // named first
		{"team-c", "team-b", loose},  // named after: the owner's stays
		{"team-b", "team-b", loose},  // its own: replaceApp put it there already
	} {
		s := &Server{store: &store{owner: map[spec.ObjectKey]string{nsKey: c.owner}}}
		after := union(loose)
		s.namespacesInForce(c.app, strict, after)
		if after.Objects[nsKey] != c.want.Objects[nsKey] {
			t.Errorf("app %q, owner %q: the wrong Namespace is in force", c.app, c.owner)
		}
	}
}
