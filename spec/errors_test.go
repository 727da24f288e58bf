package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorsAcrossFiles(t *testing.T) {
	_, err := Load(map[string][]byte{
		"b.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"),
		"a/one.yaml": []byte(`apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers: [{name: c, image: busybox, bogus: 1}]
`),
		"c.yml":      []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"),
		"d.yaml":     []byte("kind: [\n"),
		"README.md":  []byte("kind: [\n"),
		".ci/x.yaml": []byte("kind: [\n"),
	})
	want := `a/one.yaml:5: Pod shop/p: spec.containers[0].bogus: unknown field
c.yml:1: Namespace shop: declared twice: b.yaml:1 and c.yml:1
d.yaml:2: invalid YAML: did not find expected node content`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) && !errors.As(err.(ErrorList)[0], &e) {
		t.Fatal("errors.As *Error failed")
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxErrors+20; i++ {
		b.WriteString("---\napiVersion: v1\nkind: Gizmo\n")
	}
	_, err := loadOne(b.String())
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v", err)
	}
	if len(list) != MaxErrors+1 {
		t.Fatalf("got %d errors, want %d", len(list), MaxErrors+1)
	}
	if last := list[len(list)-1].Error(); last != "too many errors: 20 more not shown" {
		t.Fatalf("last = %q", last)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Object: "Pod default/p", Field: "spec", Message: "m"}, "a.yaml:3: Pod default/p: spec: m"},
		{Error{File: "a.yaml", Message: "m"}, "a.yaml: m"},
		{Error{Object: "Pod default/p", Message: "m"}, "Pod default/p: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
