package render

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// sopsFiles is a revision whose kustomization lists SOPS-encrypted Secrets
// (fixtures of spec/sops, written by sops 3.13.3) among its resources,
// with a transformer that changes what is not encrypted.
func sopsFiles(t *testing.T, secret string, kustomization string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile("../sops/testdata/" + secret)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"namespace.yaml":              []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"),
		"app/kustomization.yaml":      []byte(kustomization),
		"app/secret.enc.yaml":         b,
		"app/config/settings.env.txt": []byte("unused"),
	}
}

func sopsKeys(t *testing.T) *sops.Keys {
	t.Helper()
	k, err := sops.LoadKeys([]string{"../sops/testdata/age-test-only.key"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func renderErrors(t *testing.T, ld Loader, files map[string][]byte) spec.ErrorList {
	t.Helper()
	_, err := ld.Load(files)
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	for _, e := range list {
		if strings.Contains(e.Error(), "plaintext-password") || strings.Contains(e.Error(), "cGxhaW50ZXh0") {
			t.Errorf("error holds plaintext: %v", e)
		}
	}
	return list
}

// TestKustomizeSOPS: an encrypted resource passes through kustomize with its
// sops mapping and is decrypted after rendering. The file is checked whole,
// MAC included, as it is in the repository (errors at its own lines); the
// rendered resource, which kustomize rewrote (sorted keys, labels), is
// decrypted value by value.
func TestKustomizeSOPS(t *testing.T) {
	const withLabels = "resources:\n- secret.enc.yaml\ncommonLabels:\n  tier: data\n"

	// Without keys: refused at the encrypted file's line, naming the
	// Secret.
	list := renderErrors(t, Loader{}, sopsFiles(t, "secret.enc.yaml", withLabels))
	if len(list) != 1 || !strings.HasPrefix(list[0].Error(), "app/secret.enc.yaml:2: Secret shop/db: failed to decrypt: the document is encrypted with SOPS and no decryption keys are configured") {
		t.Errorf("without keys:\n%v", list)
	}
	// A file changed after encryption: refused at its line.
	files := sopsFiles(t, "secret.enc.yaml", withLabels)
	files["app/secret.enc.yaml"] = []byte(strings.Replace(string(files["app/secret.enc.yaml"]), "app: db", "app: dbx", 1))
	list = renderErrors(t, Loader{Decrypt: sopsKeys(t)}, files)
	if len(list) != 1 || !strings.HasPrefix(list[0].Error(), "app/secret.enc.yaml:2: Secret shop/db: failed to decrypt: MAC mismatch") {
		t.Errorf("tampered file:\n%v", list)
	}

	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    stevedore.dev/allow-plaintext-secrets: \"true\"\n"
	probe := map[string][]byte{"ns.yaml": []byte(ns), "s.yaml": []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: shop\ndata:\n  k: dg==\n")}
	if _, err := spec.Load(probe); err != nil {
		t.Fatalf("package spec does not load a plaintext Secret: %v", err)
	}
	for _, file := range []string{"secret.enc.yaml", "mac-only.enc.yaml"} {
		set, err := Loader{Decrypt: sopsKeys(t)}.Load(sopsFiles(t, file, withLabels))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		s := set.Objects[spec.ObjectKey{Kind: spec.KindSecret, Namespace: "shop", Name: "db"}].(*spec.Secret)
		if pw := string(s.Data["password"]); pw != "plaintext-password-1" {
			t.Errorf("%s: password %q", file, pw)
		}
		if s.Labels["tier"] != "data" {
			t.Errorf("%s: labels %v", file, s.Labels)
		}
	}
}
