package spec

import "testing"

func TestDecodeErrors(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"unknown field", podHead + `  containers:
  - name: c
    image: busybox
    imagePullSecret: x #!
`, "spec.containers[0].imagePullSecret", "unknown field"},
		{"did you mean", podHead + `  containers:
  - name: c
    imge: busybox #!
`, "spec.containers[0].imge", `did you mean "image"?`},
		{"unsupported k8s field", podHead + `  containers:
  - name: c
    image: busybox
    volumeDevices: [{name: data, devicePath: /dev/xvda}] #!
`, "spec.containers[0].volumeDevices", "not supported by Stevedore"},
		{"unknown top-level field", podHead + `  containers: [{name: c, image: busybox}]
extra: 1 #!
`, "extra", "unknown field"},
		{"status with content", podHead + `  containers: [{name: c, image: busybox}]
status: Running #!
`, "status", "expected a mapping, got a string"},
		{"string for int", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: "80" #!
`, "spec.containers[0].ports[0].containerPort", "expected an integer, got a string"},
		{"int for string", podHead + `  containers:
  - name: c
    image: busybox
    env:
    - name: PORT
      value: 8080 #!
`, "spec.containers[0].env[0].value", `quote it: "8080"`},
		{"int32 overflow", podHead + `  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 99999999999 #!
`, "spec.containers[0].ports[0].containerPort", "out of range"},
		{"float for int", podHead + `  terminationGracePeriodSeconds: 1.5 #!
  containers: [{name: c, image: busybox}]
`, "spec.terminationGracePeriodSeconds", "expected an integer, got a number"},
		{"list for string", podHead + `  containers:
  - name: c
    image: [busybox] #!
`, "spec.containers[0].image", "expected a string, got a list"},
		{"mapping for list", podHead + `  containers: #!
    name: c
`, "spec.containers", "expected a list, got a mapping"},
		{"scalar for struct", podHead + `  containers:
  - busybox #!
`, "spec.containers[0]", "expected a mapping, got a string"},
		{"bad bool", `apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  unschedulable: maybe #!
`, "spec.unschedulable", "expected a boolean"},
		{"bad quantity", podHead + `  containers:
  - name: c
    image: busybox
    resources:
      limits:
        memory: 12 parsecs #!
`, "spec.containers[0].resources.limits[memory]", "invalid quantity"},
		{"bad intorstring", deployHead + `      containers: [{name: c, image: busybox}]
  strategy:
    rollingUpdate:
      maxSurge: [1] #!
`, "spec.strategy.rollingUpdate.maxSurge", "expected an integer or a string"},
		{"duplicate field", podHead + `  containers: [{name: c, image: busybox}]
  restartPolicy: Always
  restartPolicy: Never #!
`, "spec.restartPolicy", "duplicate field: already set on line"},
		{"duplicate label key", `apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels:
    x: "1"
    x: "2" #!
`, "metadata.labels[x]", "duplicate field"},
		{"unsupported kind", `apiVersion: apps/v1
kind: ControllerRevision #!
metadata: {name: db}
`, "", `unsupported apiVersion/kind "apps/v1 ControllerRevision"; supported: v1 Namespace, v1 Pod, v1 PodTemplate, v1 ReplicationController, v1 Service, v1 Node, v1 ConfigMap, v1 Secret, v1 ServiceAccount, v1 PersistentVolumeClaim, v1 ResourceQuota, v1 LimitRange, v1 PersistentVolume, storage.k8s.io/v1 StorageClass, apps/v1 Deployment, apps/v1 ReplicaSet, apps/v1 StatefulSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding, stevedore.dev/v1alpha1 Application`},
		{"wrong apiVersion", `apiVersion: apps/v1beta1 #!
kind: DaemonSet
metadata: {name: web}
`, "", `unsupported apiVersion/kind "apps/v1beta1 DaemonSet" (DaemonSet is apps/v1)`},
		{"kind spelling", `apiVersion: v1
kind: namespace #!
metadata: {name: a}
`, "", `unsupported apiVersion/kind "v1 namespace" (did you mean "Namespace"?)`},
		{"missing kind", `apiVersion: v1 #!
metadata: {name: x}
`, "kind", "required"},
		{"missing apiVersion", `kind: Pod #!
metadata: {name: x}
`, "apiVersion", "required"},
		{"not a mapping", `- a #!
- b
`, "", "expected an object"},
		{"yaml syntax", podHead + `  containers:
  - name: c
    image: "busybox #!
`, "", "invalid YAML"},
		{"yaml syntax misindented key", `apiVersion: v1
kind: Namespace
metadata: {name: ok}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
 spec: #!
  containers: []
`, "", "invalid YAML: did not find expected key"},
		{"yaml syntax unclosed flow", podHead + `  containers: [{name: c, image: busybox}
  restartPolicy: Never #!
`, "", "invalid YAML: did not find expected ',' or ']'"},
		{"yaml syntax sequence in mapping", podHead + `  restartPolicy: Never
  - name: c #!
`, "", "invalid YAML: did not find expected key"},
		{"yaml syntax tab", podHead + "  containers:\n\t- name: c #!\n", "", "invalid YAML"},
		{"List with bad apiVersion", `apiVersion: v2 #!
kind: List
items: []
`, "apiVersion", "a List must have apiVersion v1"},
		{"List unknown field", `apiVersion: v1
kind: List
itemz: [] #!
`, "itemz", "unknown field"},
		{"List item error", `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: a}
- apiVersion: v1
  kind: Namespace
  metadata: {name: b}
  spek: {} #!
`, "spek", "unknown field"},
		{"bad merge", podHead + `  <<: 3 #!
  containers: [{name: c, image: busybox}]
`, "spec", "merge key"},
		{"custom tag", podHead + `  containers:
  - name: c
    image: !secret foo #!
`, "spec.containers[0].image", "expected a string, got a value tagged !secret"},
	})
}
