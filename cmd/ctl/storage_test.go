package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// storageAnswers are what the fake reconciler answers on the
// configuration and storage paths.
type storageAnswers struct {
	configMaps []api.ConfigMap
	secrets    []api.Secret
	claims     []api.Claim
	volumes    []api.Volume
	classes    []api.StorageClass
}

// serveStorage answers the fake's configuration and storage paths (called
// with f.mu held); false for any other path.
func (f *fakeReconciler) serveStorage(w http.ResponseWriter, r *http.Request) bool {
	ns := r.URL.Query().Get("namespace")
	in := func(n string) bool { return ns == "" || n == ns }
	st := &f.storage
	if rest, ok := strings.CutPrefix(r.URL.Path, api.PathClaims+"/"); ok {
		for _, c := range st.claims {
			if c.Namespace+"/"+c.Name == rest {
				json.NewEncoder(w).Encode(c)
				return true
			}
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(api.Error{Error: "persistentvolumeclaim " + rest + " not found", Code: api.CodeNotFound})
		return true
	}
	switch r.URL.Path {
	case api.PathConfigMaps:
		l := api.ConfigMapList{ConfigMaps: []api.ConfigMap{}}
		for _, c := range st.configMaps {
			if in(c.Namespace) {
				l.ConfigMaps = append(l.ConfigMaps, c)
			}
		}
		json.NewEncoder(w).Encode(l)
	case api.PathSecrets:
		l := api.SecretList{Secrets: []api.Secret{}}
		for _, s := range st.secrets {
			if in(s.Namespace) {
				l.Secrets = append(l.Secrets, s)
			}
		}
		json.NewEncoder(w).Encode(l)
	case api.PathClaims:
		l := api.ClaimList{Claims: []api.Claim{}}
		for _, c := range st.claims {
			if in(c.Namespace) {
				l.Claims = append(l.Claims, c)
			}
		}
		json.NewEncoder(w).Encode(l)
	case api.PathVolumes:
		json.NewEncoder(w).Encode(api.VolumeList{Volumes: append([]api.Volume{}, st.volumes...)})
	case api.PathStorageClasses:
		json.NewEncoder(w).Encode(api.StorageClassList{StorageClasses: append([]api.StorageClass{}, st.classes...)})
	default:
		return false
	}
	return true
}

// goldenStorage is a ConfigMap with binaryData, two Secrets, a Bound and a
// Pending claim, a provisioned and a declared volume, and two classes (one
// the default).
func goldenStorage() storageAnswers {
	created := t0.Add(-3 * time.Hour)
	src := func(f string, l int) *spec.Source { return &spec.Source{File: f, Line: l} }
	oneGi := resource.MustParse("1Gi")
	fiveGi := resource.MustParse("5Gi")
	shared := "shared"
	return storageAnswers{
		configMaps: []api.ConfigMap{
			{Namespace: "shop", Name: "web-config", Labels: map[string]string{"app": "web"},
				Data: map[string]string{"LOG_LEVEL": "debug", "nginx.conf": "worker_processes 1;\n"}, BinaryData: map[string]int{"logo.png": 8},
				Source: src("config/web.yaml", 1)},
		},
		secrets: []api.Secret{
			{Namespace: "shop", Name: "db-password", Type: "Opaque", Keys: []api.SecretKey{{Name: "password", Size: 7}, {Name: "user", Size: 5}},
				Annotations: map[string]string{"team": "data"}, Source: src("secrets/db.sops.yaml", 1)},
			{Namespace: "shop", Name: "tls", Type: "kubernetes.io/tls", Keys: []api.SecretKey{{Name: "tls.crt", Size: 1200}, {Name: "tls.key", Size: 1700}},
				Source: src("secrets/tls.sops.yaml", 1)},
		},
		claims: []api.Claim{
			{Namespace: "shop", Name: "data-db-0", Labels: map[string]string{"app": "db"}, Phase: "Bound", Volume: "pvc-1a2b", Requested: 1 << 30, Capacity: 1 << 30,
				AccessModes: []string{"ReadWriteOnce"}, StorageClass: "local", Node: "node-a", UsedBy: []string{"shop/db-0"}, Created: created,
				Spec: &spec.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"},
					Resources: spec.VolumeResourceRequirements{Requests: spec.ResourceList{"storage": oneGi}}},
				Source: src("db/claims.yaml", 1)},
			{Namespace: "shop", Name: "uploads", Phase: "Pending", Reason: "ProvisioningFailed", Message: "no node reaches storage.internal",
				Requested: 5 << 30, AccessModes: []string{"ReadWriteMany"}, StorageClass: "shared", Created: created,
				Spec: &spec.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteMany"}, StorageClassName: &shared,
					Resources: spec.VolumeResourceRequirements{Requests: spec.ResourceList{"storage": fiveGi}}},
				Source: src("web/uploads.yaml", 1)},
		},
		volumes: []api.Volume{
			{Name: "archive", Phase: "Available", Capacity: 10 << 30, AccessModes: []string{"ReadOnlyMany"}, ReclaimPolicy: "Retain", Node: "node-a", Created: created,
				Spec: &spec.PersistentVolumeSpec{Capacity: spec.ResourceList{"storage": resource.MustParse("10Gi")}, AccessModes: []string{"ReadOnlyMany"},
					PersistentVolumeSource: spec.PersistentVolumeSource{Local: &spec.LocalVolumeSource{Path: "/srv/archive"}}},
				Source: src("volumes.yaml", 1)},
			{Name: "pvc-1a2b", Phase: "Bound", Capacity: 1 << 30, AccessModes: []string{"ReadWriteOnce"}, ReclaimPolicy: "Delete", StorageClass: "local",
				Claim: "shop/data-db-0", Driver: "stevedore.dev/local-dir", Handle: "pvc-1a2b", Node: "node-a", Dynamic: true, Created: created},
		},
		classes: []api.StorageClass{
			{Name: "local", Provisioner: "stevedore.dev/local-dir", ReclaimPolicy: "Delete", VolumeBindingMode: "WaitForFirstConsumer", Default: true,
				Annotations: map[string]string{spec.DefaultStorageClassAnnotation: "true"}, Source: src("storage.yaml", 1)},
			{Name: "shared", Provisioner: "stevedore.dev/sshfs", ReclaimPolicy: "Retain", VolumeBindingMode: "Immediate", AllowVolumeExpansion: true,
				Parameters: map[string]string{"host": "storage.internal"}, Source: src("storage.yaml", 12)},
		},
	}
}

// TestStorageGolden prints every kind in every format, and describe pvc
// for a Bound and a Pending claim with events.
func TestStorageGolden(t *testing.T) {
	f := goldenFake()
	f.storage = goldenStorage()
	f.events = []api.Event{
		{Time: t0.Add(-2 * time.Minute), Object: "PersistentVolumeClaim/shop/uploads", Reason: "ProvisioningFailed", Type: "Warning",
			Message: "no node reaches storage.internal", Count: 3, FirstTime: t0.Add(-10 * time.Minute)},
		{Time: t0.Add(-3 * time.Hour), Object: "PersistentVolumeClaim/shop/data-db-0", Reason: "ProvisioningSucceeded",
			Message: "provisioned volume pvc-1a2b on node-a"},
	}
	url := startFake(t, f)
	type run struct {
		name string
		args []string
	}
	var runs []run
	for _, k := range []string{"configmaps", "secrets", "pvc", "pv", "storageclasses"} {
		for _, fm := range []string{"", "wide", "yaml", "json", "name"} {
			args := []string{"get", k, "-n", "shop"}
			name := k + "-table"
			if fm != "" {
				args, name = append(args, "-o", fm), k+"-"+fm
			}
			runs = append(runs, run{name, args})
		}
	}
	runs = append(runs,
		run{"cm-all-namespaces", []string{"get", "cm", "-A"}},
		run{"pv-all-namespaces", []string{"get", "pv", "-A"}},
		run{"secret-single-yaml", []string{"get", "secret", "tls", "-n", "shop", "-o", "yaml"}},
		run{"pvc-single-yaml", []string{"get", "pvc", "data-db-0", "-n", "shop", "-o", "yaml"}},
		run{"secrets-by-type", []string{"get", "secrets", "-n", "shop", "--field-selector", "type=kubernetes.io/tls"}},
		run{"describe-pvc-bound", []string{"describe", "pvc", "data-db-0", "-n", "shop"}},
		run{"describe-pvc-pending", []string{"describe", "persistentvolumeclaim", "uploads", "-n", "shop"}},
		run{"cm-empty", []string{"get", "configmaps", "-n", "default"}},
	)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			code, out, errOut := ctl(t, url, r.args...)
			if code != 0 {
				t.Fatalf("ctl %s = %d %q", strings.Join(r.args, " "), code, errOut)
			}
			golden(t, filepath.Join("testdata", "storage", r.name+".golden"), out)
		})
	}
}

// TestSecretOutputRedacted: a Secret's -o json|yaml has every key, each
// with an empty value, and the redaction annotation; `get all` lists none
// of these kinds, as kubectl's does not.
func TestSecretOutputRedacted(t *testing.T) {
	f := goldenFake()
	f.storage = goldenStorage()
	url := startFake(t, f)
	code, out, errOut := ctl(t, url, "get", "secrets", "-n", "shop", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct {
		Items []struct {
			Kind     string
			Type     string
			Data     map[string]string
			Metadata struct{ Annotations map[string]string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("items = %+v", list.Items)
	}
	for _, it := range list.Items {
		if it.Kind != "Secret" || len(it.Data) != 2 || it.Metadata.Annotations[RedactedAnnotation] != "true" {
			t.Errorf("secret = %+v", it)
		}
		for k, v := range it.Data {
			if v != "" {
				t.Errorf("data[%s] = %q, want empty", k, v)
			}
		}
	}
	if code, out, _ := ctl(t, url, "get", "all", "-n", "shop"); code != 0 || strings.Contains(out, "secret") || strings.Contains(out, "persistentvolumeclaim") || strings.Contains(out, "configmap") {
		t.Errorf("get all = %d\n%s", code, out)
	}
}

func TestStorageErrors(t *testing.T) {
	f := goldenFake()
	f.storage = goldenStorage()
	url := startFake(t, f)
	if code, _, errOut := ctl(t, url, "describe", "pvc", "nope", "-n", "shop"); code != exitChanges || !strings.Contains(errOut, "persistentvolumeclaim shop/nope not found") {
		t.Errorf("unknown claim: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "get", "pvc", "-w"); code == 0 || !strings.Contains(errOut, "--watch takes one resource type") {
		t.Errorf("watch claims: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "get", "pvc", "-n", "shop", "--field-selector", "status.phase=Bound"); code == 0 || !strings.Contains(errOut, "field label not supported") {
		t.Errorf("unsupported field: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url, "get", "secret", "nope", "-n", "shop"); code != exitChanges || !strings.Contains(errOut, `secrets "nope" not found`) {
		t.Errorf("unknown secret: exit %d, %q", code, errOut)
	}
}
