package quota

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
	"k8s.io/apimachinery/pkg/api/resource"
)

func load(t *testing.T, files map[string]string) *spec.Set {
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

const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"

const compute = `apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: shop}
spec:
  hard: {pods: "10", requests.cpu: "2", limits.memory: 2Gi, services.nodeports: "1", persistentvolumeclaims: "3", requests.storage: 10Gi, count/deployments.apps: "2", configmaps: "1"}
`

func web(replicas int, cpu string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: ` + itoa(replicas) + `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx
        resources:
          requests: {cpu: ` + cpu + `}
          limits: {cpu: ` + cpu + `, memory: 128Mi}
`
}

func itoa(i int) string { return resource.NewQuantity(int64(i), resource.DecimalSI).String() }

func TestUsageCountsEveryKind(t *testing.T) {
	set := load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "web.yaml": web(3, "250m"), "db.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      initContainers:
      - {name: init, image: busybox, resources: {requests: {cpu: "1"}}}
      containers:
      - {name: db, image: postgres, resources: {requests: {cpu: 100m, memory: 1Gi}}}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: NodePort, selector: {app: web}, ports: [{name: http, port: 80}, {name: https, port: 443}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  parallelism: 5
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox, resources: {requests: {cpu: 100m}}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox, resources: {requests: {cpu: 10m}}}]
`})
	u := NamespaceUsage(set, Options{Nodes: 4})["shop"]
	for name, want := range map[string]string{
		// web 3 + db 2 + migrate min(5,2) + agent 4 nodes
		"pods": "11",
		// web 3×250m + db 2×max(100m, init 1) + migrate 2×100m + agent 4×10m
		"requests.cpu": "2990m", "cpu": "2990m",
		"requests.memory":        "2432Mi", // db 2×1Gi + web 3×128Mi (a request defaults to its limit)
		"limits.memory":          "384Mi",
		"persistentvolumeclaims": "2", "requests.storage": "4Gi",
		"services": "2", "services.nodeports": "2",
		"count/deployments.apps": "1", "count/statefulsets.apps": "1", "count/jobs.batch": "1",
		"resourcequotas": "1",
	} {
		got := u[name]
		if got.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("%s = %s, want %s", name, got.String(), want)
		}
	}
}

func TestCheckRefusesWhatARevisionAdds(t *testing.T) {
	before := load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "web.yaml": web(4, "250m")})
	after := load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "web.yaml": web(12, "250m")})
	ex, un := Check(before, after, after, Options{})
	if len(un) != 0 || len(ex) != 1 {
		t.Fatalf("exceeded %v, unspecified %v", ex, un)
	}
	want := "exceeded quota: compute, requested: pods=8,requests.cpu=2, used: pods=4,requests.cpu=1, limited: pods=10,requests.cpu=2"
	if got := ex[0].Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if ex[0].Object.Name != "web" {
		t.Errorf("placed at %v", ex[0].Object)
	}
	// Scaling down from past the quota is not refused, though the
	// namespace is still past it (a quota lowered below what runs).
	ex, _ = Check(after, load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "web.yaml": web(11, "250m")}), nil, Options{})
	if len(ex) != 0 {
		t.Errorf("shrinking refused: %v", ex[0])
	}
}

func TestCheckCountsTheRollingUpdateSurge(t *testing.T) {
	before := load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "web.yaml": web(8, "200m")})
	after := load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "web.yaml": web(8, "210m")})
	key := spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "shop", Name: "web"}
	// 8 pods + 25% surge = 10 pods: within; 8×210m + 2×210m = 2100m > 2.
	ex, _ := Check(before, after, after, Options{Rolling: map[spec.ObjectKey]bool{key: true}})
	if len(ex) != 1 || !strings.Contains(ex[0].Error(), "requested: requests.cpu=500m, used: requests.cpu=1600m, limited: requests.cpu=2") {
		t.Fatalf("got %v", ex)
	}
	if ex, _ := Check(before, after, after, Options{}); len(ex) != 0 {
		t.Fatalf("steady state refused: %v", ex[0])
	}
}

func TestCheckRefusesContainersWithoutRequests(t *testing.T) {
	after := load(t, map[string]string{"ns.yaml": ns, "q.yaml": compute, "p.yaml": `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - {name: app, image: nginx}
  - {name: side, image: nginx, resources: {requests: {cpu: 10m}}}
`})
	_, un := Check(nil, after, after, Options{})
	if len(un) != 1 {
		t.Fatalf("got %v", un)
	}
	if got, want := un[0].Error(), "failed quota: compute: must specify limits.memory for: app,side; requests.cpu for: app"; got != want {
		t.Errorf("got %s", got)
	}
}

// kubernetes/website's quota examples (spec/testdata/k8s-website): three
// nginx replicas without requests in mem-cpu-demo's namespace are refused.
func TestKubernetesWebsiteQuotaExample(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"quota-mem-cpu.yaml", "quota-pod-deployment.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../spec/testdata/k8s-website", n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = string(b)
	}
	after := load(t, files)
	_, un := Check(nil, after, after, Options{})
	if len(un) != 1 || un[0].Error() != "failed quota: mem-cpu-demo: must specify limits.cpu for: pod-quota-demo; limits.memory for: pod-quota-demo; requests.cpu for: pod-quota-demo; requests.memory for: pod-quota-demo" {
		t.Fatalf("got %v", un)
	}
}
