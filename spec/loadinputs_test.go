package spec

import (
	"errors"
	"testing"
)

// TestLoadInputsRendered checks what package render relies on: documents a
// renderer produced are reported at the file that was rendered with no line
// (their lines point into output nobody sees), with the object and field;
// extra errors are sorted in with the inputs' own; plain inputs keep their
// lines.
func TestLoadInputsRendered(t *testing.T) {
	rendered := []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  containers: [{name: c, image: x}]\n---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: [{name: c, image: x, imagez: y}]\n")
	plain := []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  containers: [{name: c, image: x}]\n")
	_, err := LoadInputs([]Input{
		{File: "plain.yaml", Data: plain},
		{File: "app/kustomization.yaml", Data: rendered, Rendered: true},
	}, ErrorList{{File: "b/kustomization.yaml", Line: 3, Message: "resource not found"}})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	want := []string{
		`app/kustomization.yaml: Pod default/bad: spec.containers[0].imagez: unknown field (did you mean "image"?)`,
		`app/kustomization.yaml: Pod default/ok: declared twice: plain.yaml:1 and app/kustomization.yaml`,
		`b/kustomization.yaml:3: resource not found`,
	}
	if len(list) != len(want) {
		t.Fatalf("errors:\n%v\nwant %d", list, len(want))
	}
	for i, w := range want {
		if list[i].Error() != w {
			t.Errorf("error %d = %s\nwant      %s", i, list[i].Error(), w)
		}
	}

	set, err := LoadInputs([]Input{{File: "k.yaml", Data: plain, Rendered: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src := set.Sources[ObjectKey{Kind: KindPod, Namespace: DefaultNamespace, Name: "ok"}]; src != (Source{File: "k.yaml"}) {
		t.Errorf("source of a rendered object = %+v, want the rendered file with no line", src)
	}
}
