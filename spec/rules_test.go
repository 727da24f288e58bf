package spec

import (
	"errors"
	"strings"
	"testing"
)

// loadOne loads a single file named x.yaml.
func loadOne(src string) (*Set, error) {
	files := map[string][]byte{"x.yaml": []byte(src)}
	if strings.Contains(src, "kind: Secret") && !strings.Contains(src, AllowPlaintextSecretsAnnotation) && !strings.Contains(src, "kind: Namespace") {
		// Rule tests of plaintext Secrets run in a default namespace that
		// allows them (declared in a file of its own, so that lines in
		// x.yaml stay as written); secrets_test.go tests the refusal.
		files["ns.yaml"] = []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  annotations: {" + AllowPlaintextSecretsAnnotation + ": \"true\"}\n")
	}
	return Load(files)
}

// markerLine returns the 1-based line of the first line containing "#!", the
// marker rule tests put on the line an error must name.
func markerLine(src string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "#!") {
			return i + 1
		}
	}
	return 0
}

const podHead = `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
`

const deployHead = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
`

// ruleCase expects exactly one error, at the marked line (if any), on field,
// whose message contains msg.
type ruleCase struct {
	name  string
	src   string
	field string
	msg   string
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := loadOne(tc.src)
			if err == nil {
				t.Fatalf("loaded %d objects, want error on %s containing %q", len(set.Objects), tc.field, tc.msg)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			if len(list) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(list), err)
			}
			e := list[0]
			if e.File != "x.yaml" {
				t.Errorf("file = %q, want x.yaml", e.File)
			}
			if e.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", e.Field, tc.field, e)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tc.msg)
			}
			if want := markerLine(tc.src); want != 0 && e.Line != want {
				t.Errorf("line = %d, want %d (%v)", e.Line, want, e)
			}
		})
	}
}

func TestValidationRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		// Names.
		{"pod name not subdomain", `apiVersion: v1
kind: Pod
metadata:
  name: Web_1 #!
spec:
  containers: [{name: c, image: busybox}]
`, "metadata.name", "RFC 1123 subdomain"},
		{"name required", `apiVersion: v1
kind: Pod
metadata: #!
  labels: {a: b}
spec:
  containers: [{name: c, image: busybox}]
`, "metadata.name", "required"},
		{"namespace name is a label", `apiVersion: v1
kind: Namespace
metadata:
  name: a.b #!
`, "metadata.name", "RFC 1123 label"},
		{"namespace is cluster-scoped", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  namespace: b #!
`, "metadata.namespace", "cluster-scoped"},
		{"node is cluster-scoped", `apiVersion: v1
kind: Node
metadata:
  name: n1
  namespace: default #!
`, "metadata.namespace", "cluster-scoped"},
		{"workload name too long", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + strings.Repeat("a", MaxWorkloadNameLength+1) + ` #!
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox}]
`, "metadata.name", "pod names"},
		{"container name not label", podHead + `  containers:
  - name: C1 #!
    image: busybox
`, "spec.containers[0].name", "RFC 1123 label"},
		{"container name required", podHead + `  containers:
  - image: busybox #!
`, "spec.containers[0].name", "required"},
		{"duplicate container name", podHead + `  containers:
  - name: c
    image: busybox
  - name: c #!
    image: busybox
`, "spec.containers[1].name", `duplicate value "c"`},
		{"no containers", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: #!
  restartPolicy: Never
`, "spec.containers", "at least one container"},
		// Labels and annotations.
		{"label key bad", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels:
    -bad: x #!
`, "metadata.labels[-bad]", "invalid label key"},
		{"label key bad prefix", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels:
    Example.com/x: y #!
`, "metadata.labels[Example.com/x]", "prefix part"},
		{"label key too many slashes", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels:
    a/b/c: y #!
`, "metadata.labels[a/b/c]", "qualified name"},
		{"label value too long", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels:
    k: ` + strings.Repeat("v", 64) + ` #!
`, "metadata.labels[k]", "no more than 63"},
		{"label value bad chars", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels:
    k: "a b" #!
`, "metadata.labels[k]", "valid label"},
		{"annotation key bad", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  annotations:
    "not ok": y #!
`, "metadata.annotations[not ok]", "invalid annotation key"},
		// Images, env, pull policy.
		{"image required", podHead + `  containers:
  - name: c #!
`, "spec.containers[0].image", "required"},
		{"image whitespace", podHead + `  containers:
  - name: c
    image: " busybox" #!
`, "spec.containers[0].image", "whitespace"},
		{"pull policy enum", podHead + `  containers:
  - name: c
    image: busybox
    imagePullPolicy: Sometimes #!
`, "spec.containers[0].imagePullPolicy", `unsupported value "Sometimes"`},
		{"env name", podHead + `  containers:
  - name: c
    image: busybox
    env:
    - name: 9LIVES #!
      value: x
`, "spec.containers[0].env[0].name", "environment variable name"},
		{"env name required", podHead + `  containers:
  - name: c
    image: busybox
    env:
    - value: x #!
`, "spec.containers[0].env[0].name", "required"},
		// Ports.
		{"port zero", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - name: http #!
`, "spec.containers[0].ports[0].containerPort", "between 1 and 65535"},
		{"port too big", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 65536 #!
`, "spec.containers[0].ports[0].containerPort", "between 1 and 65535"},
		{"host port too big", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      hostPort: 70000 #!
`, "spec.containers[0].ports[0].hostPort", "between 1 and 65535"},
		{"protocol enum", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      protocol: tcp #!
`, "spec.containers[0].ports[0].protocol", `unsupported value "tcp"`},
		{"host ip", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      hostIP: 1.2.3 #!
`, "spec.containers[0].ports[0].hostIP", "valid IP"},
		{"port name too long", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      name: a-very-long-port-name #!
`, "spec.containers[0].ports[0].name", "no more than 15"},
		{"port name no letter", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      name: "8080" #!
`, "spec.containers[0].ports[0].name", "at least one letter"},
		{"port name double hyphen", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      name: a--b #!
`, "spec.containers[0].ports[0].name", "consecutive hyphens"},
		{"port name uppercase", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      name: HTTP #!
`, "spec.containers[0].ports[0].name", "alpha-numeric"},
		{"port name duplicate", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - {containerPort: 80, name: http}
    - {containerPort: 81, name: http} #!
`, "spec.containers[0].ports[1].name", `duplicate value "http"`},
		{"port duplicate across containers", podHead + `  containers:
  - name: a
    image: busybox
    ports: [{containerPort: 80}]
  - name: b
    image: busybox
    ports:
    - containerPort: 80 #!
`, "spec.containers[1].ports[0].containerPort", "duplicate value 80/TCP"},
		// Resources.
		{"negative quantity", podHead + `  containers:
  - name: c
    image: busybox
    resources:
      limits:
        cpu: -1 #!
`, "spec.containers[0].resources.limits[cpu]", "greater than or equal to 0"},
		{"request above limit", podHead + `  containers:
  - name: c
    image: busybox
    resources:
      requests:
        memory: 256Mi #!
      limits:
        memory: 128Mi
`, "spec.containers[0].resources.requests[memory]", "less than or equal to memory limit of 128Mi"},
		{"bad resource name", podHead + `  containers:
  - name: c
    image: busybox
    resources:
      limits:
        "bad name": 1 #!
`, "spec.containers[0].resources.limits[bad name]", "invalid resource name"},
		{"unqualified resource name", podHead + `  containers:
  - name: c
    image: busybox
    resources:
      requests:
        memroy: 1Gi #!
`, "spec.containers[0].resources.requests[memroy]", "must be cpu, memory"},
		{"bad hugepages size", podHead + `  containers:
  - name: c
    image: busybox
    resources:
      limits:
        hugepages-big: 1Gi #!
`, "spec.containers[0].resources.limits[hugepages-big]", "page size"},
		// Pod-level enums and numbers.
		{"restart policy enum", podHead + `  restartPolicy: Sometimes #!
  containers: [{name: c, image: busybox}]
`, "spec.restartPolicy", `unsupported value "Sometimes"`},
		{"negative grace", podHead + `  terminationGracePeriodSeconds: -1 #!
  containers: [{name: c, image: busybox}]
`, "spec.terminationGracePeriodSeconds", "greater than or equal to 0"},
		{"hostname", podHead + `  hostname: a.b #!
  containers: [{name: c, image: busybox}]
`, "spec.hostname", "RFC 1123 label"},
		{"nodeName", podHead + `  nodeName: Node_1 #!
  containers: [{name: c, image: busybox}]
`, "spec.nodeName", "RFC 1123 subdomain"},
		{"nodeSelector value", podHead + `  nodeSelector:
    disk: "s s d" #!
  containers: [{name: c, image: busybox}]
`, "spec.nodeSelector[disk]", "valid label"},
		// Scheduling.
		{"toleration operator enum", podHead + `  containers: [{name: c, image: busybox}]
  tolerations:
  - key: a
    operator: Maybe #!
`, "spec.tolerations[0].operator", `unsupported value "Maybe"`},
		{"toleration exists with value", podHead + `  containers: [{name: c, image: busybox}]
  tolerations:
  - key: a
    operator: Exists
    value: x #!
`, "spec.tolerations[0].value", "must be empty"},
		{"toleration empty key needs exists", podHead + `  containers: [{name: c, image: busybox}]
  tolerations:
  - value: x #!
`, "spec.tolerations[0].operator", "operator must be Exists"},
		{"toleration effect", podHead + `  containers: [{name: c, image: busybox}]
  tolerations:
  - key: a
    effect: Never #!
`, "spec.tolerations[0].effect", `unsupported value "Never"`},
		{"toleration seconds need NoExecute", podHead + `  containers: [{name: c, image: busybox}]
  tolerations:
  - key: a
    effect: NoSchedule #!
    tolerationSeconds: 5
`, "spec.tolerations[0].effect", "NoExecute"},
		{"taint effect", `apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  taints:
  - key: a
    effect: Sometimes #!
`, "spec.taints[0].effect", `unsupported value "Sometimes"`},
		{"taint effect required", `apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  taints:
  - key: a #!
`, "spec.taints[0].effect", "required"},
		{"taint key", `apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  taints:
  - key: "a b" #!
    effect: NoSchedule
`, "spec.taints[0].key", "name part"},
		{"taint duplicate", `apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  taints:
  - {key: a, effect: NoSchedule}
  - {key: a, value: x, effect: NoSchedule} #!
`, "spec.taints[1]", "duplicate taint"},
		{"node selector operator", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: zone
            operator: Near #!
            values: [a]
`, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator", `unsupported value "Near"`},
		{"node selector Gt needs integer", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: cores
            operator: Gt
            values:
            - many #!
`, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]", "must be an integer"},
		{"node selector In needs values", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: zone #!
            operator: In
`, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values", "must be specified"},
		{"node selector terms required", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [] #!
`, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms", "at least one"},
		{"match fields key", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchFields:
          - key: metadata.labels #!
            operator: In
            values: [a]
`, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key", "metadata.name"},
		{"preferred weight too big", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 101 #!
        preference:
          matchExpressions: [{key: zone, operator: In, values: [a]}]
`, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", "1-100"},
		{"pod affinity weight zero", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - podAffinityTerm: #!
          topologyKey: kubernetes.io/hostname
          labelSelector: {matchLabels: {app: web}}
`, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", "1-100"},
		{"pod affinity topology key required", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: db}} #!
`, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", "required"},
		{"pod affinity selector operator", podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: zone
        labelSelector:
          matchExpressions:
          - key: app
            operator: Like #!
`, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator", `unsupported value "Like"`},
		{"maxSkew", podHead + `  containers: [{name: c, image: busybox}]
  topologySpreadConstraints:
  - maxSkew: 0 #!
    topologyKey: zone
    whenUnsatisfiable: DoNotSchedule
`, "spec.topologySpreadConstraints[0].maxSkew", "greater than zero"},
		{"whenUnsatisfiable", podHead + `  containers: [{name: c, image: busybox}]
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: zone
    whenUnsatisfiable: Whatever #!
`, "spec.topologySpreadConstraints[0].whenUnsatisfiable", `unsupported value "Whatever"`},
		{"minDomains needs DoNotSchedule", podHead + `  containers: [{name: c, image: busybox}]
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: zone
    whenUnsatisfiable: ScheduleAnyway
    minDomains: 2 #!
`, "spec.topologySpreadConstraints[0].minDomains", "DoNotSchedule"},
		{"spread topologyKey required", podHead + `  containers: [{name: c, image: busybox}]
  topologySpreadConstraints:
  - maxSkew: 1 #!
    whenUnsatisfiable: ScheduleAnyway
`, "spec.topologySpreadConstraints[0].topologyKey", "required"},
		// Workloads.
		{"deployment selector required", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: #!
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox}]
`, "spec.selector", "required"},
		{"deployment selector mismatch", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: api} #!
    spec:
      containers: [{name: c, image: busybox}]
`, "spec.template.metadata.labels", "selector does not match template labels"},
		{"deployment expression mismatch", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector:
    matchExpressions: [{key: tier, operator: In, values: [front]}]
  template:
    metadata:
      labels: {tier: back} #!
    spec:
      containers: [{name: c, image: busybox}]
`, "spec.template.metadata.labels", "selector does not match template labels"},
		{"deployment restart policy", deployHead + `      restartPolicy: OnFailure #!
      containers: [{name: c, image: busybox}]
`, "spec.template.spec.restartPolicy", `supported values: "Always"`},
		{"deployment negative replicas", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: -1 #!
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox}]
`, "spec.replicas", "greater than or equal to 0"},
		{"strategy type", deployHead + `      containers: [{name: c, image: busybox}]
  strategy:
    type: BlueGreen #!
`, "spec.strategy.type", `unsupported value "BlueGreen"`},
		{"recreate with rollingUpdate", deployHead + `      containers: [{name: c, image: busybox}]
  strategy:
    type: Recreate
    rollingUpdate: {maxSurge: 1} #!
`, "spec.strategy.rollingUpdate", "may not be specified"},
		{"maxUnavailable percent", deployHead + `      containers: [{name: c, image: busybox}]
  strategy:
    rollingUpdate:
      maxUnavailable: 120% #!
`, "spec.strategy.rollingUpdate.maxUnavailable", "greater than 100%"},
		{"maxSurge not percent", deployHead + `      containers: [{name: c, image: busybox}]
  strategy:
    rollingUpdate:
      maxSurge: lots #!
`, "spec.strategy.rollingUpdate.maxSurge", "percentage"},
		{"both zero", deployHead + `      containers: [{name: c, image: busybox}]
  strategy:
    rollingUpdate:
      maxSurge: 0
      maxUnavailable: 0 #!
`, "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0"},
		{"progress deadline", deployHead + `      containers: [{name: c, image: busybox}]
  minReadySeconds: 10
  progressDeadlineSeconds: 5 #!
`, "spec.progressDeadlineSeconds", "greater than minReadySeconds"},
		{"rc selector mismatch", `apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  selector: {app: a}
  template:
    metadata:
      labels: {app: b} #!
    spec:
      containers: [{name: c, image: busybox}]
`, "spec.template.metadata.labels", "selector does not match"},
		{"rc selector required", `apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec: #!
  template:
    spec:
      containers: [{name: c, image: busybox}]
`, "spec.selector", "required"},
		{"rc template required", `apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec: #!
  replicas: 2
`, "spec.template", "required"},
		{"rc restart policy", `apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  template:
    metadata: {labels: {app: a}}
    spec:
      restartPolicy: Never #!
      containers: [{name: c, image: busybox}]
`, "spec.template.spec.restartPolicy", `supported values: "Always"`},
		{"podtemplate validates its spec", `apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    containers:
    - name: c #!
`, "template.spec.containers[0].image", "required"},
		// Across objects.
		{"namespace must exist", `apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: shop #!
spec:
  containers: [{name: c, image: busybox}]
`, "metadata.namespace", `namespace "shop" does not exist`},
		{"declared twice", `apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1 #!
kind: Namespace
metadata: {name: a}
`, "", "declared twice: x.yaml:1 and x.yaml:5"},
	})
}
