package spec

import (
	"reflect"
	"testing"
)

func TestStorageDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: Secret
metadata: {name: s}
data: {a: YQ==, b: Yg==}
stringData: {b: B, c: C}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: v}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  csi: {driver: stevedore.dev/local-dir, volumeHandle: h}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: stevedore.dev/local-dir
`)
	s := set.OfKind(KindSecret)[0].(*Secret)
	if s.Type != SecretTypeOpaque || s.StringData != nil ||
		!reflect.DeepEqual(s.Data, map[string][]byte{"a": []byte("a"), "b": []byte("B"), "c": []byte("C")}) {
		t.Errorf("secret = type %q, data %q, stringData %v", s.Type, s.Data, s.StringData)
	}
	c := set.OfKind(KindPersistentVolumeClaim)[0].(*PersistentVolumeClaim)
	if c.Spec.VolumeMode == nil || *c.Spec.VolumeMode != VolumeModeFilesystem {
		t.Errorf("claim volumeMode = %v", c.Spec.VolumeMode)
	}
	v := set.OfKind(KindPersistentVolume)[0].(*PersistentVolume)
	if v.Spec.PersistentVolumeReclaimPolicy != ReclaimRetain || *v.Spec.VolumeMode != VolumeModeFilesystem {
		t.Errorf("volume reclaim %q, mode %v", v.Spec.PersistentVolumeReclaimPolicy, v.Spec.VolumeMode)
	}
	sc := set.OfKind(KindStorageClass)[0].(*StorageClass)
	if *sc.ReclaimPolicy != ReclaimDelete || *sc.VolumeBindingMode != VolumeBindingImmediate {
		t.Errorf("class reclaim %q, binding %q", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
}

// TestWrittenDefaultsKeepTheHash: a template that writes Kubernetes'
// defaults (as `kubectl get -o yaml` prints them) hashes as one that
// leaves them out.
func TestWrittenDefaultsKeepTheHash(t *testing.T) {
	bare := deployHead + `      containers:
      - name: c
        image: busybox
        env: [{name: N, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        volumeMounts: [{name: conf, mountPath: /etc/app}]
      volumes:
      - {name: conf, configMap: {name: app}}
      - {name: info, downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}
      - {name: host, hostPath: {path: /srv}}
`
	written := deployHead + `      serviceAccountName: default
      securityContext: {}
      containers:
      - name: c
        image: busybox
        securityContext: {}
        env: [{name: N, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}}]
        volumeMounts: [{name: conf, mountPath: /etc/app, mountPropagation: None}]
      volumes:
      - {name: conf, configMap: {name: app, defaultMode: 420}}
      - {name: info, downwardAPI: {defaultMode: 0644, items: [{path: name, fieldRef: {apiVersion: v1, fieldPath: metadata.name}}]}}
      - {name: host, hostPath: {path: /srv, type: ""}}
`
	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  annotations: {stevedore.dev/allow-host-paths: \"true\"}\n---\n"
	hash := func(src string) string {
		d := mustLoad(t, ns+src).OfKind(KindDeployment)[0].(*Deployment)
		return TemplateHash(&d.Spec.Template)
	}
	if a, b := hash(bare), hash(written); a != b {
		t.Errorf("hash with defaults written %s, without %s", b, a)
	}
}
