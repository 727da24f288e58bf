package spec_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// The encrypted fixtures are spec/sops's (written by sops 3.13.3 for the
// test-only age key) and testdata/sops.

func sopsFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sopsKeys(t *testing.T, age ...string) *sops.Keys {
	t.Helper()
	k, err := sops.LoadKeys(age, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const shopNS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"

func secretValue(t *testing.T, set *spec.Set, ns, name, key string) string {
	t.Helper()
	o, ok := set.Objects[spec.ObjectKey{Kind: spec.KindSecret, Namespace: ns, Name: name}]
	if !ok {
		t.Fatalf("no Secret %s/%s", ns, name)
	}
	s := o.(*spec.Secret)
	if v, ok := s.StringData[key]; ok {
		return v
	}
	return string(s.Data[key])
}

// requireSecrets fails a test when package spec cannot decode and
// validate a v1 Secret (a precondition of the tests that use it).
func requireSecrets(t *testing.T) {
	t.Helper()
	ns := shopNS + "  annotations:\n    stevedore.dev/allow-plaintext-secrets: \"true\"\n"
	_, err := spec.Load(map[string][]byte{"ns.yaml": []byte(ns), "s.yaml": []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: shop\ndata:\n  k: dg==\n")})
	if err != nil {
		t.Fatalf("package spec does not load a plaintext Secret: %v", err)
	}
}

func TestLoadEncryptedSecret(t *testing.T) {
	requireSecrets(t)
	keys := sopsKeys(t, "sops/testdata/age-test-only.key")
	files := map[string][]byte{
		"ns.yaml":            []byte(shopNS),
		"secrets/db.yaml":    sopsFile(t, "sops/testdata/secret.enc.yaml"),
		"secrets/multi.yaml": sopsFile(t, "sops/testdata/multi.enc.yaml"),
	}
	set, err := spec.Loader{Decrypt: keys}.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, key, want string }{
		{"db", "password", "plaintext-password-1"},
		{"db", "username", "admin-plaintext-user"},
		{"db", "config.yaml", "host: db.internal\ntoken: plaintext-multiline-token\n"},
		{"first", "key", "plaintext-first-value"},
		{"second", "key", "plaintext-second-value"},
	} {
		if got := secretValue(t, set, "shop", c.name, c.key); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.name, c.key, got, c.want)
		}
	}
	// Lines are the encrypted file's: the Secret starts on line 2 (below
	// a comment), the second document of multi on its own line.
	if src := set.Sources[spec.ObjectKey{Kind: spec.KindSecret, Namespace: "shop", Name: "db"}]; src.Line != 2 {
		t.Errorf("db at %+v, want line 2", src)
	}
	if src := set.Sources[spec.ObjectKey{Kind: spec.KindSecret, Namespace: "shop", Name: "second"}]; src.Line != 24 {
		t.Errorf("second at %+v, want line 24", src)
	}

	// Cached loads decrypt every time and never keep an encrypted
	// document: without keys the next load fails although no text changed.
	set, cache, err := spec.Loader{Decrypt: keys}.LoadCached(files, nil)
	if err != nil || set == nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 {
		t.Errorf("cache holds %d documents, want 1 (the Namespace)", cache.Len())
	}
	if _, _, err := (spec.Loader{}).LoadCached(files, cache); err == nil {
		t.Error("loaded encrypted Secrets without keys from a cache")
	}
}

func loadErrors(t *testing.T, l spec.Loader, files map[string][]byte) spec.ErrorList {
	t.Helper()
	_, err := l.Load(files)
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	for _, e := range list {
		for _, p := range []string{"plaintext-password", "admin-plaintext-user", "plaintext-multiline", "plaintext-first", "plaintext-second", "plaintext-committed", "plaintext-config", "cGxhaW50ZXh0"} {
			if strings.Contains(e.Error(), p) {
				t.Errorf("error holds plaintext: %v", e)
			}
		}
	}
	return list
}

func TestLoadEncryptedFailures(t *testing.T) {
	files := map[string][]byte{
		"ns.yaml":            []byte(shopNS),
		"secrets/db.yaml":    sopsFile(t, "sops/testdata/secret.enc.yaml"),
		"secrets/multi.yaml": sopsFile(t, "sops/testdata/multi.enc.yaml"),
	}
	list := loadErrors(t, spec.Loader{}, files)
	want := []string{
		"secrets/db.yaml:2: Secret shop/db: failed to decrypt: the document is encrypted with SOPS and no decryption keys are configured",
		"secrets/multi.yaml:1: Secret shop/first: failed to decrypt: the document is encrypted with SOPS and no decryption keys are configured",
		"secrets/multi.yaml:24: Secret shop/second: failed to decrypt: the document is encrypted with SOPS and no decryption keys are configured",
	}
	if len(list) != len(want) {
		t.Fatalf("errors:\n%v", list)
	}
	for i := range want {
		if !strings.HasPrefix(list[i].Error(), want[i]) {
			t.Errorf("error %d:\n%v\nwant prefix\n%v", i, list[i], want[i])
		}
	}

	list = loadErrors(t, spec.Loader{Decrypt: sopsKeys(t, "sops/testdata/age2-test-only.key")}, files)
	if len(list) != 3 || !strings.HasPrefix(list[0].Error(), "secrets/db.yaml:2: Secret shop/db: failed to decrypt: no age identity matches recipients age1w9hprfgj2q3ewr6xcdz78glvrsdj8zhqfnavzus3txl8ymnyme7qmwvym6 of this file; the reconciler has identities for age1f69v27") {
		t.Errorf("wrong key:\n%v", list)
	}

	// A tampered file names its document.
	tampered := strings.Replace(string(files["secrets/db.yaml"]), "app: db", "app: dbx", 1)
	list = loadErrors(t, spec.Loader{Decrypt: sopsKeys(t, "sops/testdata/age-test-only.key")}, map[string][]byte{"ns.yaml": []byte(shopNS), "db.yaml": []byte(tampered)})
	if len(list) != 1 || !strings.HasPrefix(list[0].Error(), "db.yaml:2: Secret shop/db: failed to decrypt: MAC mismatch") {
		t.Errorf("tampered:\n%v", list)
	}

	// An error inside a decrypted document is on its line of the
	// encrypted file, with the object's decrypted name.
	list = loadErrors(t, spec.Loader{Decrypt: sopsKeys(t, "sops/testdata/age-test-only.key")}, map[string][]byte{
		"ns.yaml": []byte(shopNS), "cm.yaml": sopsFile(t, "testdata/sops/bad-configmap.enc.yaml")})
	if len(list) != 1 || !strings.HasPrefix(list[0].Error(), "cm.yaml:6: ConfigMap shop/settings: dataa: unknown field") {
		t.Errorf("error in an encrypted document:\n%v", list)
	}
}

const plainSecret = `apiVersion: v1
kind: Secret
metadata:
  name: x
  namespace: %s
stringData:
  k: plaintext-committed
`

func TestPlaintextSecrets(t *testing.T) {
	requireSecrets(t)
	secret := func(ns string) []byte { return []byte(strings.Replace(plainSecret, "%s", ns, 1)) }
	list := loadErrors(t, spec.Loader{}, map[string][]byte{"ns.yaml": []byte(shopNS), "s.yaml": secret("shop")})
	want := `s.yaml:1: Secret shop/x: is not encrypted with SOPS: encrypt it (sops --encrypt --encrypted-regex '^(data|stringData)$') or annotate namespace shop with stevedore.dev/allow-plaintext-secrets: "true"`
	if len(list) != 1 || list[0].Error() != want {
		t.Errorf("got\n%v\nwant\n%v", list, want)
	}
	allow := "  annotations:\n    stevedore.dev/allow-plaintext-secrets: \"true\"\n"
	if _, err := (spec.Loader{}).Load(map[string][]byte{"ns.yaml": []byte(shopNS + allow), "s.yaml": secret("shop")}); err != nil {
		t.Errorf("annotated namespace: %v", err)
	}
	// The default namespace: refused until declared with the annotation.
	list = loadErrors(t, spec.Loader{}, map[string][]byte{"s.yaml": secret("default")})
	if len(list) != 1 || !strings.Contains(list[0].Error(), "annotate namespace default with") {
		t.Errorf("default: %v", list)
	}
	def := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n" + allow
	if _, err := (spec.Loader{}).Load(map[string][]byte{"ns.yaml": []byte(def), "s.yaml": secret("default")}); err != nil {
		t.Errorf("default declared and annotated: %v", err)
	}
	// "false" does not allow.
	off := strings.Replace(shopNS+allow, `"true"`, `"false"`, 1)
	if _, err := (spec.Loader{}).Load(map[string][]byte{"ns.yaml": []byte(off), "s.yaml": secret("shop")}); err == nil {
		t.Error("annotation \"false\" allowed a plaintext Secret")
	}
}
