package reconcile

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// loadSecret loads a namespace that allows plaintext Secrets and a Secret
// whose kubectl last-applied annotation holds a copy of its value, as a
// manifest exported from a cluster does.
func loadSecret(t *testing.T, value, team string) *spec.Set {
	t.Helper()
	set, err := spec.Load(map[string][]byte{"s.yaml": []byte(`apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations: {stevedore.dev/allow-plaintext-secrets: "true"}
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
  annotations:
    team: ` + team + `
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"shop"},"stringData":{"password":"` + value + `"}}
stringData:
  password: ` + value + `
`)})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestSecretLastAppliedNotShown checks that a Secret's value copied into
// its last-applied annotation shows in no diff, unified or by field,
// plain or base64, whether the Secret is created, changed or deleted.
func TestSecretLastAppliedNotShown(t *testing.T) {
	a := loadSecret(t, "hunter2", "a")
	b := loadSecret(t, "new-password", "b")
	for name, c := range map[string][2]*spec.Set{"created": {nil, a}, "changed": {a, b}, "deleted": {b, nil}} {
		t.Run(name, func(t *testing.T) {
			var all string
			for _, ch := range Diff(c[0], c[1]) {
				if ch.Key.Kind != KindSecret {
					continue
				}
				all += ch.Diff
				for _, f := range ch.Fields {
					all += f.Path + " " + f.Old + " " + f.New + "\n"
				}
			}
			if !strings.Contains(all, "team") {
				t.Fatalf("no change to the Secret's metadata shown:\n%s", all)
			}
			for _, v := range []string{"hunter2", "aHVudGVyMg==", "new-password", "bmV3LXBhc3N3b3Jk", "last-applied"} {
				if strings.Contains(all, v) {
					t.Errorf("%q shown:\n%s", v, all)
				}
			}
		})
	}
}
