package sops

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The fixtures in testdata were written by the real sops 3.13.3 (see
// testdata/README.md); the tests never run it.

const (
	ageKey  = "testdata/age-test-only.key"
	age2Key = "testdata/age2-test-only.key"
	pgpKey  = "testdata/pgp-test-only.asc"
	ageRcp  = "age1w9hprfgj2q3ewr6xcdz78glvrsdj8zhqfnavzus3txl8ymnyme7qmwvym6"
)

func keys(t testing.TB, age, pgp []string) *Keys {
	t.Helper()
	k, err := LoadKeys(age, pgp)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// docs parses a YAML stream into its documents' values.
func docs(t *testing.T, b []byte) []any {
	t.Helper()
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("%v in\n%s", err, b)
		}
		out = append(out, v)
	}
}

// plaintextOf are values of the fixtures that must appear in no error.
var plaintextOf = []string{"plaintext", "cGxhaW50ZXh0"}

func TestDecryptMatchesSops(t *testing.T) {
	for _, tc := range []struct {
		enc, plain string
		age, pgp   []string
	}{
		{"secret.enc.yaml", "secret.plain.yaml", []string{ageKey}, nil},
		{"multi.enc.yaml", "multi.plain.yaml", []string{ageKey}, nil},
		{"types.enc.yaml", "types.plain.yaml", []string{ageKey}, nil},
		{"two-recipients.enc.yaml", "secret.plain.yaml", []string{ageKey}, nil},
		{"two-recipients.enc.yaml", "secret.plain.yaml", []string{age2Key}, nil},
		{"pgp.enc.yaml", "secret.plain.yaml", nil, []string{pgpKey}},
		{"pgp.enc.yaml", "secret.plain.yaml", []string{ageKey}, []string{pgpKey}},
		{"mac-only.enc.yaml", "secret.plain.yaml", []string{ageKey}, nil},
	} {
		t.Run(tc.enc, func(t *testing.T) {
			enc := read(t, tc.enc)
			if !IsEncrypted(enc) {
				t.Fatal("IsEncrypted = false")
			}
			out, err := keys(t, tc.age, tc.pgp).DecryptDocument(enc)
			if err != nil {
				t.Fatal(err)
			}
			if IsEncrypted(out) || bytes.Contains(out, []byte("ENC[")) {
				t.Errorf("still encrypted:\n%s", out)
			}
			if got, want := docs(t, out), docs(t, read(t, tc.plain)); !reflect.DeepEqual(got, want) {
				t.Errorf("decrypted:\n%#v\nwant (sops' input):\n%#v", got, want)
			}
			// Line for line: every line that is not sops metadata keeps
			// its place and its key.
			inLines, outLines := strings.Split(string(enc), "\n"), strings.Split(string(out), "\n")
			if len(inLines) != len(outLines) {
				t.Fatalf("%d lines, want %d", len(outLines), len(inLines))
			}
			for i, in := range inLines {
				keep := in
				if j := strings.Index(in, "ENC["); j >= 0 {
					keep = in[:j]
				}
				if outLines[i] != "" && !strings.HasPrefix(outLines[i], keep) {
					t.Errorf("line %d: %q, was %q", i+1, outLines[i], in)
				}
			}
		})
	}
}

func TestPlainDocumentsUnchanged(t *testing.T) {
	plain := read(t, "secret.plain.yaml")
	if IsEncrypted(plain) {
		t.Fatal("IsEncrypted(plain) = true")
	}
	out, err := (*Keys)(nil).DecryptDocument(plain)
	if err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("got %q, %v", out, err)
	}
	// An encrypted document beside a plain one: the plain one is kept
	// byte for byte.
	mixed := append([]byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n"), read(t, "secret.enc.yaml")...)
	out, err = keys(t, []string{ageKey}, nil).DecryptDocument(mixed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, mixed[:50]) || len(docs(t, out)) != 2 {
		t.Fatalf("got\n%s", out)
	}
}

func noPlaintext(t *testing.T, err error) {
	t.Helper()
	for _, p := range plaintextOf {
		if strings.Contains(err.Error(), p) {
			t.Errorf("error holds plaintext %q: %v", p, err)
		}
	}
}

func docIndex(t *testing.T, err error) []int {
	t.Helper()
	var idx []int
	var visit func(error)
	visit = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				visit(e)
			}
			return
		}
		var de *DocumentError
		if !errors.As(e, &de) {
			t.Fatalf("not a DocumentError: %v", e)
		}
		idx = append(idx, de.DocumentIndex())
	}
	visit(err)
	return idx
}

func TestWrongOrMissingKeys(t *testing.T) {
	enc := read(t, "secret.enc.yaml")
	_, err := keys(t, []string{age2Key}, nil).DecryptDocument(enc)
	if err == nil {
		t.Fatal("decrypted with a key that is not a recipient")
	}
	want := "no age identity matches recipients " + ageRcp + " of this file; the reconciler has identities for age1f69v27jjt2m7ud867wt44qzus82neq8puze7e6ytpa9ujfweuuns2f8fyw"
	if err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%v", err, want)
	}
	noPlaintext(t, err)
	if got := docIndex(t, err); !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("documents %v, want [0]", got)
	}

	_, err = (*Keys)(nil).DecryptDocument(enc)
	if err == nil || !strings.Contains(err.Error(), "no age identities (--sops-age-key-file)") {
		t.Errorf("without keys: %v", err)
	}
	_, err = keys(t, []string{ageKey}, nil).DecryptDocument(read(t, "pgp.enc.yaml"))
	if err == nil || !strings.Contains(err.Error(), "no PGP key matches fingerprints 1E6F12DCD3BA640B34F2BE1AEEAB3402BDA82A18") {
		t.Errorf("PGP file with age keys only: %v", err)
	}
	// Both documents of a multi-document file fail, each by its index.
	_, err = (*Keys)(nil).DecryptDocument(read(t, "multi.enc.yaml"))
	if got := docIndex(t, err); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Errorf("documents %v, want [0 1]", got)
	}
}

func TestTampered(t *testing.T) {
	k := keys(t, []string{ageKey}, nil)
	enc := string(read(t, "secret.enc.yaml"))
	lines := strings.Split(enc, "\n")
	find := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return i
			}
		}
		t.Fatalf("no line %q", prefix)
		return 0
	}
	edit := func(f func(l []string)) []byte {
		l := append([]string(nil), lines...)
		f(l)
		return []byte(strings.Join(l, "\n"))
	}
	pw, user := find("password:"), find("username:")
	for name, doc := range map[string][]byte{
		// A value moved to another key fails its authentication tag: the
		// path is the additional data.
		"value moved": edit(func(l []string) {
			l[pw] = "    password:" + strings.SplitN(l[user], ":", 2)[1]
		}),
		// An unencrypted value changed fails the MAC.
		"label changed": edit(func(l []string) { l[find("app: db")] = "        app: dbx" }),
		"type changed":  edit(func(l []string) { l[find("type: Opaque")] = "type: kubernetes.io/tls" }),
		// A value dropped fails the MAC.
		"value dropped": edit(func(l []string) { l[user] = "" }),
		// A ciphertext bit flipped.
		"ciphertext flipped": edit(func(l []string) { l[pw] = strings.Replace(l[pw], "data:/", "data:+", 1) }),
	} {
		_, err := k.DecryptDocument(doc)
		if err == nil {
			t.Errorf("%s: decrypted", name)
			continue
		}
		noPlaintext(t, err)
		t.Logf("%s: %v", name, err)
	}

	// With mac_only_encrypted, an unencrypted value may change (what a
	// kustomization's namespace or labels do); an encrypted one may not.
	mo := strings.Replace(string(read(t, "mac-only.enc.yaml")), "namespace: shop", "namespace: other", 1)
	if _, err := k.DecryptDocument([]byte(mo)); err != nil {
		t.Errorf("mac_only_encrypted, namespace changed: %v", err)
	}

	// A document of a multi-document file dropped fails the MAC.
	multi := string(read(t, "multi.enc.yaml"))
	second := multi[strings.Index(multi, "\n---\n")+5:]
	if _, err := k.DecryptDocument([]byte(second)); err == nil || !strings.Contains(err.Error(), "MAC mismatch") {
		t.Errorf("one document of two: %v", err)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		age, pgp []string
		want     string
	}{
		"missing age":  {[]string{"testdata/nope.key"}, nil, "age key file: open testdata/nope.key: no such file"},
		"missing pgp":  {nil, []string{"testdata/nope.asc"}, "PGP key file: open testdata/nope.asc"},
		"age not age":  {[]string{pgpKey}, nil, "age key file " + pgpKey},
		"pgp not pgp":  {nil, []string{ageKey}, "PGP key file " + ageKey + ": not an armored OpenPGP key block"},
		"pgp pub only": {nil, []string{"testdata/pgp-public-test-only.asc"}, "holds no secret key"},
	} {
		_, err := LoadKeys(tc.age, tc.pgp)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY-1") {
			t.Errorf("%s: error quotes a key: %v", name, err)
		}
	}
	k := keys(t, []string{ageKey, age2Key}, []string{pgpKey})
	want := "age " + ageRcp + ", age1f69v27jjt2m7ud867wt44qzus82neq8puze7e6ytpa9ujfweuuns2f8fyw; PGP 1E6F12DCD3BA640B34F2BE1AEEAB3402BDA82A18"
	if k.Describe() != want {
		t.Errorf("Describe() = %q, want %q", k.Describe(), want)
	}
}

func TestUnsupportedMetadata(t *testing.T) {
	enc := string(read(t, "secret.enc.yaml"))
	k := keys(t, []string{ageKey}, nil)
	for name, tc := range map[string]struct{ from, to, want string }{
		"kms only":      {"    age:", "    kms:\n        - arn: x\n          enc: x\n    x_age:", "encrypted for AWS KMS only"},
		"two rules":     {"    encrypted_regex:", "    unencrypted_suffix: _x\n    encrypted_regex:", "more than one of"},
		"comment regex": {"    encrypted_regex: ^(data|stringData)$", "    encrypted_comment_regex: x", "encrypted_comment_regex is not supported"},
		"bad time":      {"    lastmodified: \"", "    lastmodified: \"x", "not an RFC 3339 time"},
	} {
		doc := strings.Replace(enc, tc.from, tc.to, 1)
		_, err := k.DecryptDocument([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// BenchmarkDecryptSecret decrypts one Secret of three values with one age
// identity: the cost a reconciler pays per encrypted Secret at each load.
func BenchmarkDecryptSecret(b *testing.B) {
	k := keys(b, []string{ageKey}, nil)
	enc := read(b, "secret.enc.yaml")
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := k.DecryptDocument(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptSecretPGP is the same with an RSA-3072 PGP key.
func BenchmarkDecryptSecretPGP(b *testing.B) {
	k := keys(b, nil, []string{pgpKey})
	enc := read(b, "pgp.enc.yaml")
	for b.Loop() {
		if _, err := k.DecryptDocument(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecryptRendered: a resource rewritten by a renderer (keys sorted, a
// label added) fails the file's MAC but decrypts value by value; a value
// moved to another key still fails.
func TestDecryptRendered(t *testing.T) {
	k := keys(t, []string{ageKey}, nil)
	var v yaml.Node
	if err := yaml.Unmarshal(read(t, "secret.enc.yaml"), &v); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := v.Decode(&m); err != nil {
		t.Fatal(err)
	}
	m["metadata"].(map[string]any)["labels"].(map[string]any)["tier"] = "data"
	sorted, err := yaml.Marshal(m) // maps marshal with sorted keys
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.DecryptDocument(sorted); err == nil || !strings.Contains(err.Error(), "MAC mismatch") {
		t.Errorf("DecryptDocument of a rewritten resource: %v", err)
	}
	out, err := k.DecryptRendered(sorted)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`username: "admin-plaintext-user"`)) || !bytes.Contains(out, []byte("tier: data")) {
		t.Errorf("decrypted:\n%s", out)
	}
	sd := m["stringData"].(map[string]any)
	sd["username"], sd["config.yaml"] = sd["config.yaml"], sd["username"]
	swapped, _ := yaml.Marshal(m)
	if _, err := k.DecryptRendered(swapped); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("values swapped: %v", err)
	}
}

func TestWithoutKeys(t *testing.T) {
	for _, f := range []string{"secret.enc.yaml", "multi.enc.yaml", "types.enc.yaml"} {
		out, err := WithoutKeys{}.DecryptDocument(read(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if bytes.Contains(out, []byte("ENC[")) || IsEncrypted(out) || bytes.Contains(out, []byte("plaintext")) {
			t.Errorf("%s:\n%s", f, out)
		}
		if f == "secret.enc.yaml" && !bytes.Contains(out, []byte(`    password: ""`)) {
			t.Errorf("keys not kept:\n%s", out)
		}
		if f == "types.enc.yaml" && !bytes.Contains(out, []byte("replicas: 0")) {
			t.Errorf("types not kept:\n%s", out)
		}
	}
}
