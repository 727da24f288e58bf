package spec

import (
	"strings"
	"testing"
)

// TestStatefulSetServiceCached: a StatefulSet reused from the previous
// revision's cache is checked against the Services of the new one, and the
// error names the serviceName line as a fresh load does.
func TestStatefulSetServiceCached(t *testing.T) {
	sts := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  replicas: 2\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n" + stsTemplate +
		"  volumeClaimTemplates:\n  - metadata: {name: www}\n    spec:\n      accessModes: [ReadWriteOnce]\n      storageClassName: fast\n      resources: {requests: {storage: 2Gi}}\n"
	class := func(max string) []byte {
		return []byte("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: stevedore.dev/local-dir\nparameters: {stevedore.dev/max-size: " + max + "}\n")
	}
	files := map[string][]byte{"sts.yaml": []byte(sts), "svc.yaml": []byte(headlessWeb), "sc.yaml": class("5Gi")}
	_, c, err := loadBothWays(t, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	files["svc.yaml"] = []byte("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n")
	files["sc.yaml"] = class("1Gi")
	_, _, err = loadBothWays(t, files, c)
	list, _ := err.(ErrorList)
	if len(list) != 2 || list[0].Line != 6 || list[0].Field != "spec.serviceName" || list[1].Field != "spec.volumeClaimTemplates[0].spec.resources.requests[storage]" || list[1].Line != 17 {
		t.Errorf("errors = %v, want spec.serviceName on line 6 and the claim template's size on line 17", err)
	}
}

// TestStorageRulesCached: the claim and policy checks name the same lines
// for a document reused from the cache as for one decoded afresh.
func TestStorageRulesCached(t *testing.T) {
	ns := func(annotations string) []byte {
		return []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {" + annotations + "}\n")
	}
	files := map[string][]byte{
		"ns.yaml": ns(`stevedore.dev/allow-host-paths: "true"`),
		"pvc.yaml": []byte("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop}\nspec:\n  accessModes: [ReadWriteOnce]\n" +
			"  storageClassName: fast\n  resources:\n    requests:\n      storage: 2Gi\n"),
		"sc.yaml": []byte("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: stevedore.dev/local-dir\nparameters: {stevedore.dev/max-size: 5Gi}\n"),
		"ds.yaml": []byte(strings.Replace(dsHead, "metadata: {name: agent}", "metadata: {name: agent, namespace: shop}", 1) +
			"      volumes:\n      - name: logs\n        hostPath: {path: /var/log}\n"),
	}
	_, c, err := loadBothWays(t, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	files["ns.yaml"] = ns("")
	files["sc.yaml"] = []byte(strings.Replace(string(files["sc.yaml"]), "5Gi", "1Gi", 1))
	if _, _, err := loadBothWays(t, files, c); err == nil {
		t.Fatal("loaded without the namespace's consent to host paths and beyond the class's size")
	}
}
