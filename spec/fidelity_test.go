package spec

import (
	"errors"
	"testing"
)

// ctr is a one-container pod whose container carries extra, indented to
// the container's fields.
func ctr(extra string) string {
	return podHead + `  containers:
  - name: c
    image: busybox
` + extra
}

const rcHead = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: c, image: busybox}]
`

const affinityHead = podHead + `  containers: [{name: c, image: busybox}]
  affinity:
    nodeAffinity:
`

// TestExtendedResourceRules follows Kubernetes' ValidateResourceRequirements
// for extended resources and hugepages.
func TestExtendedResourceRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"extended request below limit", ctr(`    resources:
      requests:
        nvidia.com/gpu: 1 #!
      limits:
        nvidia.com/gpu: 2
`), "spec.containers[0].resources.requests[nvidia.com/gpu]", "must be equal to nvidia.com/gpu limit of 2"},
		{"extended request without limit", ctr(`    resources: #!
      requests:
        example.com/foo: 1
`), "spec.containers[0].resources.limits[example.com/foo]", "Limit must be set for non overcommitable resources"},
		{"extended not an integer", ctr(`    resources:
      limits:
        example.com/foo: 500m #!
`), "spec.containers[0].resources.limits[example.com/foo]", "must be an integer"},
		{"hugepages request below limit", ctr(`    resources:
      requests:
        hugepages-2Mi: 2Mi #!
        memory: 1Gi
      limits:
        hugepages-2Mi: 4Mi
`), "spec.containers[0].resources.requests[hugepages-2Mi]", "must be equal to hugepages-2Mi limit of 4Mi"},
		{"hugepages not a multiple of the page size", ctr(`    resources:
      limits:
        memory: 1Gi
        hugepages-2Mi: 3Mi #!
`), "spec.containers[0].resources.limits[hugepages-2Mi]", "not positive integer multiple of 2Mi"},
		{"hugepages need cpu or memory", ctr(`    resources: #!
      limits:
        hugepages-2Mi: 4Mi
`), "spec.containers[0].resources", "HugePages require cpu or memory"},
		{"requests. prefix is quota's", ctr(`    resources:
      limits:
        requests.example.com/foo: 1 #!
`), "spec.containers[0].resources.limits[requests.example.com/foo]", "extended resource name standard"},
	})
	// cpu and memory may still be overcommitted, and a request defaulted
	// from a limit equals it.
	mustLoad(t, ctr(`    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: "1", memory: 128Mi, nvidia.com/gpu: 1, hugepages-1Gi: 2Gi}
`))
}

// TestNodeAffinityValuesAreLabelValues follows ValidateNodeSelectorRequirement
// (Kubernetes 1.31 on): In and NotIn values must be label values.
func TestNodeAffinityValuesAreLabelValues(t *testing.T) {
	const path = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[1]"
	runRuleCases(t, []ruleCase{
		{"In", affinityHead + `      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: zone
            operator: In
            values:
            - a
            - "{{.bad-value.}}" #!
`, path, `invalid value "{{.bad-value.}}"`},
		{"NotIn", affinityHead + `      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: zone
            operator: NotIn
            values: [a, "-starts-with-dash"] #!
`, path, "must start and end with an alphanumeric character"},
		{"preferred", affinityHead + `      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions:
          - key: zone
            operator: In
            values:
            - ` + string(make64('x')) + ` #!
`, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values[0]", "must be no more than 63 characters"},
	})
	// The error names file, line and object, too.
	_, err := loadOne(affinityHead + `      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: zone, operator: In, values: ["a b"]}]
`)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Object != "Pod default/p" || list[0].File != "x.yaml" || list[0].Line != 11 {
		t.Fatalf("error = %v", err)
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}

// TestRealFieldsNotSupported: fields of Kubernetes' API that Stevedore does
// not implement say so, where a typo says "unknown field".
func TestRealFieldsNotSupported(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"pod resources", podHead + `  containers: [{name: c, image: busybox}]
  resources: {limits: {cpu: "1"}} #!
`, "spec.resources", "not supported by Stevedore"},
		{"hostnameOverride", podHead + `  containers: [{name: c, image: busybox}]
  hostnameOverride: web-0 #!
`, "spec.hostnameOverride", "not supported by Stevedore"},
		{"RC minReadySeconds", rcHead + `  minReadySeconds: 10 #!
`, "spec.minReadySeconds", "not supported by Stevedore (only Kubernetes' default, 0, is accepted)"},
		{"ipFamilyPolicy other than the default", svcHead + `  ipFamilyPolicy: PreferDualStack #!
`, "spec.ipFamilyPolicy", "only Kubernetes' default, SingleStack, is accepted"},
		{"ipFamilies other than the default", svcHead + `  ipFamilies: [IPv4, IPv6] #!
`, "spec.ipFamilies", "only Kubernetes' default, [IPv4], is accepted"},
		{"ipFamilies IPv6", svcHead + `  ipFamilies: #!
  - IPv6
`, "spec.ipFamilies", "only Kubernetes' default, [IPv4], is accepted"},
		{"externalIPs", svcHead + `  externalIPs: [192.0.2.10] #!
`, "spec.externalIPs", "not supported by Stevedore"},
		{"externalTrafficPolicy Local", svcHead + `  externalTrafficPolicy: Local #!
`, "spec.externalTrafficPolicy", "only Kubernetes' default, Cluster, is accepted"},
		{"Service status with the wrong shape", svcHead + `status: [] #!
`, "status", "expected a mapping, got a list"},
		{"securityContext seLinuxOptions", podHead + `  containers: [{name: c, image: busybox}]
  securityContext:
    runAsUser: 1000
    seLinuxOptions: {level: "s0:c123,c456"} #!
`, "spec.securityContext.seLinuxOptions", "not supported by Stevedore"},
		{"nfs volume", podHead + `  containers: [{name: c, image: busybox}]
  volumes:
  - name: data
    nfs: {server: nfs.example.com, path: /export} #!
`, "spec.volumes[0].nfs", "not supported by Stevedore"},
		{"mountPropagation other than None", podHead + `  containers:
  - name: c
    image: busybox
    volumeMounts:
    - name: data
      mountPath: /data
      mountPropagation: HostToContainer #!
  volumes: [{name: data, emptyDir: {}}]
`, "spec.containers[0].volumeMounts[0].mountPropagation", "only Kubernetes' default, None, is accepted"},
		{"serviceAccount other than default", podHead + `  containers: [{name: c, image: busybox}]
  serviceAccount: robot #!
`, "spec.serviceAccount", "only Kubernetes' default, default, is accepted"},
		{"PVC dataSource", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  dataSource: {kind: VolumeSnapshot, name: snap, apiGroup: snapshot.storage.k8s.io} #!
`, "spec.dataSource", "not supported by Stevedore"},
		{"ServiceAccount imagePullSecrets", `apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
imagePullSecrets: [{name: regcred}] #!
`, "imagePullSecrets", "not supported by Stevedore"},
		{"hostUsers false asks for user namespaces", podHead + `  containers: [{name: c, image: busybox}]
  hostUsers: false #!
`, "spec.hostUsers", "not supported by Stevedore"},
		{"node podCIDR: Stevedore allocates them", `apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  podCIDR: 10.244.1.0/24 #!
`, "spec.podCIDR", "not supported by Stevedore"},
		{"restartPolicyRules", ctr(`    restartPolicyRules: [{action: Restart}] #!
`), "spec.containers[0].restartPolicyRules", "not supported by Stevedore"},
		{"generateName", `apiVersion: v1
kind: Pod
metadata:
  generateName: web- #!
  name: p
spec:
  containers: [{name: c, image: busybox}]
`, "metadata.generateName", "not supported by Stevedore"},
		{"typo stays unknown", podHead + `  containers: [{name: c, image: busybox}]
  hostnameOveride: web-0 #!
`, "spec.hostnameOveride", "unknown field"},
		// Dropped fields must still have the shape Kubernetes gives them.
		{"uid as a mapping", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  uid: {a: b} #!
`, "metadata.uid", "expected a scalar, got a mapping"},
		{"managedFields as a string", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  managedFields: none #!
`, "metadata.managedFields", "expected a list, got a string"},
		{"status as a list", `apiVersion: v1
kind: Namespace
metadata: {name: a}
status: [] #!
`, "status", "expected a mapping, got a list"},
		{"PodTemplate has no status in Kubernetes", `apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    containers: [{name: c, image: busybox}]
status: {} #!
`, "status", "unknown field"},
		{"namespace finalizer name", `apiVersion: v1
kind: Namespace
metadata: {name: a}
spec:
  finalizers: ["not a name"] #!
`, "spec.finalizers[0]", `invalid value "not a name"`},
		{"namespace spec typo", `apiVersion: v1
kind: Namespace
metadata: {name: a}
spec:
  finalizer: [kubernetes] #!
`, "spec.finalizer", "unknown field"},
	})
}

// TestKubernetesDefaultsAccepted: an unsupported field set to nothing, or
// to what Kubernetes defaults it to, loads and is dropped.
func TestKubernetesDefaultsAccepted(t *testing.T) {
	set := mustLoad(t, podHead+`  containers:
  - name: c
    image: busybox
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
    stdin: false
    tty: False
    volumeMounts: []
    securityContext: {}
    livenessProbe: null
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  hostNetwork: false
  serviceAccountName: default
  automountServiceAccountToken: false
  securityContext: {}
  volumes: []
  initContainers: []
  tolerations:
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
`)
	if got := len(set.OfKind(KindPod)); got != 1 {
		t.Fatalf("loaded %d pods", got)
	}
	rc := mustLoad(t, rcHead+"  minReadySeconds: 0\n")
	if got := len(rc.OfKind(KindReplicationController)); got != 1 {
		t.Fatalf("loaded %d replication controllers", got)
	}
	node := mustLoad(t, `apiVersion: v1
kind: Node
metadata: {name: n1, uid: 9a4f3c1d, resourceVersion: "98", generation: 3, creationTimestamp: "2024-05-02T07:11:45Z"}
spec:
  taints:
  - {key: dedicated, value: gpu, effect: NoExecute, timeAdded: "2024-05-14T11:00:02Z"}
status: {phase: Running}
`)
	n := node.OfKind(KindNode)[0].(*Node)
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0] != (Taint{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoExecute}) {
		t.Fatalf("taints = %+v", n.Spec.Taints)
	}
}
