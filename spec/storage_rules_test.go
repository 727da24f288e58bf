package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const pvcHead = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
`

const pvHead = `apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
`

// pvHostHead is pvHead with the annotation that allows host directories.
const pvHostHead = `apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv1
  annotations: {stevedore.dev/allow-host-paths: "true"}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
`

const scHead = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
`

func TestConfigObjectRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"configmap key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  'a b': x #!\n", "data[a b]", "valid config key"},
		{"configmap key ..", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  ..x: y #!\n", "data[..x]", "must not start with '..'"},
		{"configmap key in both", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: x}\nbinaryData:\n  k: eA== #!\n", "binaryData[k]", "duplicate of key present in data"},
		{"configmap too big", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: " + strings.Repeat("x", MaxConfigSize) + "\n", "", "must have at most 1048576 bytes"},
		{"configmap name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: C_1} #!\n", "metadata.name", "RFC 1123 subdomain"},
		{"binaryData not base64", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbinaryData:\n  k: '%%%' #!\n", "binaryData[k]", "invalid base64"},
		{"secret key", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  'a/b': x #!\n", "data[a/b]", "valid config key"},
		{"tls secret needs key", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n", "data[tls.key]", "needs key \"tls.key\""},
		{"basic-auth needs one", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\n", "data", "needs key \"username\" or \"password\""},
		{"dockerconfigjson not json", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: 'hunter2'}\n", "data[.dockerconfigjson]", "must be valid JSON"},
		{"service account secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/service-account-token\n", "metadata.annotations[kubernetes.io/service-account.name]", "names its service account"},
		{"service account name", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: Robot} #!\n", "metadata.name", "RFC 1123 subdomain"},
	})
}

// TestSecretValuesNotPrinted: no message about a Secret quotes its values.
func TestSecretValuesNotPrinted(t *testing.T) {
	for name, src := range map[string]string{
		"int in stringData":   "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: 31415926\n",
		"bad base64":          "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  password: '31415926!'\n",
		"docker config":       "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{31415926'}\n",
		"bool in stringData":  "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {flag: yes31415926}\ndata: {x: 31415926}\n",
		"list for data value": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {x: [31415926]}\n",
	} {
		_, err := loadOne(src)
		if err == nil && name != "bool in stringData" {
			t.Errorf("%s: loaded", name)
			continue
		}
		if err != nil && strings.Contains(err.Error(), "31415926") {
			t.Errorf("%s: the error shows the secret value: %v", name, err)
		}
	}
}

func TestStorageObjectRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"pvc access modes required", pvcHead + "  resources: {requests: {storage: 1Gi}}\n", "spec.accessModes", "at least 1 access mode"},
		{"pvc access mode", pvcHead + "  accessModes: [ReadWriteSometimes] #!\n  resources: {requests: {storage: 1Gi}}\n", "spec.accessModes[0]", `unsupported value "ReadWriteSometimes"`},
		{"pvc RWOP with others", pvcHead + "  accessModes: [ReadWriteOncePod, ReadOnlyMany] #!\n  resources: {requests: {storage: 1Gi}}\n", "spec.accessModes", "ReadWriteOncePod with other access modes"},
		{"pvc storage required", pvcHead + "  accessModes: [ReadWriteOnce]\n", "spec.resources.requests[storage]", "required"},
		{"pvc storage zero", pvcHead + "  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 0 #!\n", "spec.resources.requests[storage]", "must be greater than zero"},
		{"pvc limit below request", pvcHead + "  accessModes: [ReadWriteOnce]\n  resources:\n    requests: {storage: 2Gi}\n    limits:\n      storage: 1Gi #!\n", "spec.resources.limits[storage]", "greater than or equal to requests.storage"},
		{"pvc other resource", pvcHead + "  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n      cpu: 1 #!\n", "spec.resources.requests[cpu]", `unsupported resource "cpu"`},
		{"pvc block", pvcHead + "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n  volumeMode: Block #!\n", "spec.volumeMode", "raw block volumes are not supported by Stevedore"},
		{"pvc selector", pvcHead + "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n  selector:\n    matchExpressions: [{key: tier, operator: Maybe}] #!\n", "spec.selector.matchExpressions[0].operator", `unsupported value "Maybe"`},
		{"pvc class name", pvcHead + "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n  storageClassName: Fast #!\n", "spec.storageClassName", "RFC 1123 subdomain"},
		{"pv capacity required", "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\nspec:\n  accessModes: [ReadWriteOnce]\n  csi: {driver: stevedore.dev/local-dir, volumeHandle: h}\n", "spec.capacity[storage]", "required"},
		{"pv no source", pvHead, "spec", "must specify a volume type"},
		{"csi handle of a provisioned volume", pvHead + "  csi:\n    driver: stevedore.dev/sshfs\n    volumeHandle: pvc-0a1b2c3d-0000-4000-8000-000000000001 #!\n", "spec.csi.volumeHandle", `handles starting with "pvc-" are reserved for provisioned volumes`},
		{"csi driver hostPath", pvHead + "  csi:\n    driver: hostPath #!\n    volumeHandle: h\n    volumeAttributes: {path: /etc}\n", "spec.csi.driver", `invalid value "hostPath": the driver names "hostPath" and "local" are reserved`},
		{"csi driver local", pvHead + "  csi:\n    driver: Local #!\n    volumeHandle: h\n", "spec.csi.driver", `invalid value "Local": the driver names "hostPath" and "local" are reserved`},
		{"provisioner hostPath", scHead + "provisioner: hostPath #!\nparameters: {path: /etc}\n", "provisioner", `invalid value "hostPath": the driver names "hostPath" and "local" are reserved`},
		{"provisioner local", scHead + "provisioner: local #!\n", "provisioner", `invalid value "local": the driver names "hostPath" and "local" are reserved`},
		{"pv two sources", pvHostHead + "  local: {path: /mnt/a}\n  csi: {driver: d.example.com, volumeHandle: h} #!\n  nodeAffinity: {required: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}]}}\n", "spec.csi", "may not specify more than 1 volume type (local is set)"},
		{"pv local without affinity", pvHostHead + "  local: {path: /mnt/a}\n", "spec.nodeAffinity", "a local volume needs nodeAffinity.required"},
		{"pv local relative", pvHostHead + "  local: {path: mnt/a} #!\n  nodeAffinity: {required: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}]}}\n", "spec.local.path", "must be an absolute path"},
		{"pv recycle", pvHead + "  csi: {driver: d.example.com, volumeHandle: h}\n  persistentVolumeReclaimPolicy: Recycle #!\n", "spec.persistentVolumeReclaimPolicy", "not supported by Stevedore"},
		{"pv csi handle", pvHead + "  csi: {driver: d.example.com} #!\n", "spec.csi.volumeHandle", "required"},
		{"pv capacity other", "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\nspec:\n  accessModes: [ReadWriteOnce]\n  csi: {driver: d.example.com, volumeHandle: h}\n  capacity:\n    storage: 1Gi\n    memory: 1Gi #!\n", "spec.capacity[memory]", `unsupported resource "memory"`},
		{"pv nfs", pvHead + "  nfs: {server: s, path: /x} #!\n", "spec.nfs", "not supported by Stevedore"},
		{"pv mount options on local", pvHostHead + "  local: {path: /mnt/a}\n  mountOptions: [ro] #!\n  nodeAffinity: {required: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}]}}\n", "spec.mountOptions", "may not specify mount options"},
		{"pv namespaced", "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1, namespace: a} #!\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  csi: {driver: d.example.com, volumeHandle: h}\n", "metadata.namespace", "cluster-scoped"},
		{"sc provisioner required", scHead + "parameters: {a: b}\n", "provisioner", "required"},
		{"sc provisioner name", scHead + "provisioner: 'not a name' #!\n", "provisioner", "invalid value"},
		{"sc reclaim policy", scHead + "provisioner: stevedore.dev/local-dir\nreclaimPolicy: Recycle #!\n", "reclaimPolicy", "not supported by Stevedore"},
		{"sc binding mode", scHead + "provisioner: stevedore.dev/local-dir\nvolumeBindingMode: Later #!\n", "volumeBindingMode", `unsupported value "Later"`},
		{"sc max size", scHead + "provisioner: stevedore.dev/local-dir\nparameters:\n  stevedore.dev/max-size: lots #!\n", "parameters[stevedore.dev/max-size]", "positive quantity"},
		{"sc topology values", scHead + "provisioner: stevedore.dev/local-dir\nallowedTopologies:\n- matchLabelExpressions:\n  - {key: zone, values: []} #!\n", "allowedTopologies[0].matchLabelExpressions[0].values", "at least one value"},
	})
}

func TestStorageCrossRules(t *testing.T) {
	claim := func(extra string) string {
		return pvcHead + "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 5Gi}}\n" + extra
	}
	podWith := func(volumes string) string {
		return "---\n" + podHead + "  containers: [{name: c, image: busybox}]\n  volumes:\n" + volumes
	}
	runRuleCases(t, []ruleCase{
		{"claim not declared", podWith("  - name: d\n    persistentVolumeClaim: {claimName: db} #!\n"), "spec.volumes[0].persistentVolumeClaim.claimName", `persistentVolumeClaim "db" is not declared in namespace "default"`},
		{"claim in another namespace", claim("") + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers: [{name: c, image: busybox}]\n  volumes:\n  - name: d\n    persistentVolumeClaim: {claimName: data} #!\n", "spec.volumes[0].persistentVolumeClaim.claimName", `is not declared in namespace "shop"`},
		{"class not declared", claim("  storageClassName: fast #!\n"), "spec.storageClassName", `StorageClass "fast" is not declared in the repository (the built-in class is "local")`},
		{"builtin hidden by a default class", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\n  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}\nprovisioner: stevedore.dev/local-dir\n---\n" + claim("  storageClassName: local #!\n"), "spec.storageClassName", `StorageClass "local" is not declared in the repository`},
		{"claim larger than its class", scHead + "provisioner: stevedore.dev/local-dir\nparameters: {stevedore.dev/max-size: 1Gi}\n---\n" + pvcHead + "  accessModes: [ReadWriteOnce]\n  storageClassName: fast\n  resources:\n    requests:\n      storage: 5Gi #!\n", "spec.resources.requests[storage]", `invalid value "5Gi": more than StorageClass "fast" allows (stevedore.dev/max-size: 1Gi)`},
		{"default class larger", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: small\n  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}\nprovisioner: stevedore.dev/local-dir\nparameters: {stevedore.dev/max-size: 1Gi}\n---\n" + pvcHead + "  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 5Gi #!\n", "spec.resources.requests[storage]", `more than StorageClass "small" allows`},
		{"two default classes", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: b\n  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}\nprovisioner: stevedore.dev/local-dir\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: a\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\" #!\nprovisioner: stevedore.dev/local-dir\n", "metadata.annotations[storageclass.kubernetes.io/is-default-class]", "two default StorageClasses: a and b"},
		{"no default class", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\nprovisioner: stevedore.dev/local-dir\n---\n" + claim(""), "spec.storageClassName", "declares no default StorageClass"},
		{"volumeName not declared", claim("  volumeName: pv9 #!\n"), "spec.volumeName", `PersistentVolume "pv9" is not declared`},
		{"hostPath without policy", podWith("  - name: d\n    hostPath: {path: /var/log} #!\n"), "spec.volumes[0].hostPath", `hostPath volumes are not allowed in namespace "default": annotate its Namespace with stevedore.dev/allow-host-paths: "true"`},
		{"hostPath PV without annotation", pvHead + "  hostPath: {path: /srv/pv1} #!\n", "spec.hostPath", "annotate the PersistentVolume with stevedore.dev/allow-host-paths"},
		{"duplicate csi handle", "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv0}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  csi: {driver: nfs.example.com, volumeHandle: share/a}\n---\n" + pvHead + "  csi:\n    driver: nfs.example.com\n    volumeHandle: share/a #!\n", "spec.csi.volumeHandle", `duplicate value "share/a": PersistentVolume "pv0" has the same driver (nfs.example.com) and volumeHandle`},
		{"local PV without annotation", pvHead + "  local: {path: /srv/pv1} #!\n  nodeAffinity: {required: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}]}}\n", "spec.local", "annotate the PersistentVolume with stevedore.dev/allow-host-paths"},
		{"privileged without policy", ctr("    securityContext:\n      privileged: true #!\n"), "spec.containers[0].securityContext.privileged", `privileged containers are not allowed in namespace "default"`},
		{"capability beyond baseline", ctr("    securityContext:\n      capabilities:\n        add: [CHOWN, CAP_NET_ADMIN] #!\n"), "spec.containers[0].securityContext.capabilities.add[1]", "adding NET_ADMIN is not allowed"},
		{"init container privileged", podHead + "  containers: [{name: c, image: busybox}]\n  initContainers:\n  - name: i\n    image: busybox\n    securityContext: {privileged: true} #!\n", "spec.initContainers[0].securityContext.privileged", "privileged containers are not allowed"},
		{"deployment claim", deployHead + "      containers: [{name: c, image: busybox}]\n      volumes: [{name: d, persistentVolumeClaim: {claimName: x}}] #!\n", "spec.template.spec.volumes[0].persistentVolumeClaim.claimName", `persistentVolumeClaim "x" is not declared`},
	})
}

// TestStoragePolicyAllowed: what the policy annotations allow loads.
func TestStoragePolicyAllowed(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: Namespace
metadata:
  name: ops
  annotations: {stevedore.dev/allow-host-paths: "true", stevedore.dev/allow-privileged: "true"}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv1
  annotations: {stevedore.dev/allow-host-paths: "true"}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /srv/pv1, type: DirectoryOrCreate}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv2
  annotations: {stevedore.dev/allow-host-paths: "true"}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  local: {path: /srv/pv2}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ops}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: pv1
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: ops}
spec:
  containers:
  - name: c
    image: busybox
    securityContext:
      privileged: true
      capabilities: {add: [SYS_ADMIN, net_admin]}
    volumeMounts:
    - {name: logs, mountPath: /var/log/host, readOnly: true}
    - {name: data, mountPath: /data}
  volumes:
  - {name: logs, hostPath: {path: /var/log}}
  - {name: data, persistentVolumeClaim: {claimName: data}}
`)
	if len(set.Objects) != 5 {
		t.Fatalf("loaded %d objects", len(set.Objects))
	}
	if c := set.ClaimStorageClass(set.Objects[ObjectKey{Kind: KindPersistentVolumeClaim, Namespace: "ops", Name: "data"}].(*PersistentVolumeClaim)); c != nil {
		t.Errorf("class of a claim with storageClassName \"\" = %v, want none", c.Name)
	}
	// Baseline capabilities need no annotation.
	mustLoad(t, ctr("    securityContext:\n      capabilities: {add: [CHOWN, CAP_NET_BIND_SERVICE], drop: [ALL]}\n"))
}

// TestBuiltinStorageClass: a repository without a default class gets the
// built-in one; declaring a default replaces it.
func TestBuiltinStorageClass(t *testing.T) {
	b := BuiltinStorageClass()
	if b.Name != BuiltinStorageClassName || b.Provisioner != LocalDirProvisioner || !IsDefaultStorageClass(b) ||
		*b.ReclaimPolicy != ReclaimDelete || *b.VolumeBindingMode != VolumeBindingWaitForFirstConsumer || len(Validate(b)) != 0 {
		t.Fatalf("built-in class = %+v, %v", b, Validate(b))
	}
	set := mustLoad(t, pvcHead+"  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n")
	claim := set.OfKind(KindPersistentVolumeClaim)[0].(*PersistentVolumeClaim)
	if c := set.ClaimStorageClass(claim); c == nil || c.Name != BuiltinStorageClassName {
		t.Errorf("class of a claim naming none = %v, want the built-in one", c)
	}
	set = mustLoad(t, "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: net\n  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}\nprovisioner: stevedore.dev/sshfs\n---\n"+
		pvcHead+"  accessModes: [ReadWriteMany]\n  resources: {requests: {storage: 1Gi}}\n")
	claim = set.OfKind(KindPersistentVolumeClaim)[0].(*PersistentVolumeClaim)
	if c := set.ClaimStorageClass(claim); c == nil || c.Name != "net" {
		t.Errorf("class of a claim naming none = %v, want net", c)
	}
	if _, ok := set.StorageClasses()[BuiltinStorageClassName]; ok {
		t.Error("the built-in class is there beside a declared default class")
	}
}

func TestConfigRefs(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {mode: prod}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: x}
---
`+podHead+`  initContainers:
  - name: init
    image: busybox
    envFrom: [{secretRef: {name: init-creds}}]
  containers:
  - name: c
    image: busybox
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: app, key: mode}}}
    - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    envFrom: [{configMapRef: {name: app}, prefix: APP_}]
  volumes:
  - {name: conf, configMap: {name: app}}
  - {name: tls, secret: {secretName: tls, optional: true}}
  - name: all
    projected:
      sources:
      - configMap: {name: extra}
      - secret: {name: db}
      - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
`)
	pod := set.OfKind(KindPod)[0].(*Pod)
	got := ConfigRefs(pod.Namespace, &pod.Spec)
	want := []ObjectKey{
		{Kind: KindConfigMap, Namespace: "default", Name: "app"},
		{Kind: KindConfigMap, Namespace: "default", Name: "extra"},
		{Kind: KindSecret, Namespace: "default", Name: "db"},
		{Kind: KindSecret, Namespace: "default", Name: "init-creds"},
		{Kind: KindSecret, Namespace: "default", Name: "tls"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ConfigRefs = %v, want %v", got, want)
	}
	found, missing := set.ConfigObjects(pod.Namespace, &pod.Spec)
	if len(found) != 2 || KeyOf(found[0]).Name != "app" || KeyOf(found[1]).Name != "db" {
		t.Errorf("found = %v", found)
	}
	if len(missing) != 3 || missing[0].Name != "extra" {
		t.Errorf("missing = %v", missing)
	}
	if n := ClaimNames(&pod.Spec); len(n) != 0 {
		t.Errorf("ClaimNames = %v", n)
	}
}

// TestMissingConfigIsNoLoadError: a pod may refer to a ConfigMap or Secret
// the revision does not declare; the agent holds it in
// CreateContainerConfigError.
func TestMissingConfigIsNoLoadError(t *testing.T) {
	_, err := loadOne(ctr("    envFrom: [{configMapRef: {name: later}}]\n"))
	var list ErrorList
	if err != nil && errors.As(err, &list) {
		t.Fatalf("a missing ConfigMap is a load error: %v", err)
	}
}

// TestCSIHandlesDistinct: the same handle on two drivers, or two handles on
// one driver, load.
func TestCSIHandlesDistinct(t *testing.T) {
	pv := func(name, driver, handle string) string {
		return "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: " + name + "}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  csi: {driver: " + driver + ", volumeHandle: " + handle + "}\n"
	}
	set := mustLoad(t, pv("a", "nfs.example.com", "h1")+"---\n"+pv("b", "nfs.example.com", "h2")+"---\n"+pv("c", "ceph.example.com", "h1")+"---\n"+pv("d", "ceph.example.com", "my-pvc-1"))
	if n := len(set.OfKind(KindPersistentVolume)); n != 4 {
		t.Fatalf("loaded %d volumes", n)
	}
}
