package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad checks that no input makes Load panic, and that its result is
// either a set or an ErrorList whose every entry names the file.
func FuzzLoad(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==}\nstringData: {b: c}\n---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i, volumeMounts: [{name: v, mountPath: /v, subPath: a}]}]\n" +
		"  volumes: [{name: v, projected: {sources: [{secret: {name: s, items: [{key: a, path: a}]}}]}}]\n"))
	f.Add([]byte("<<: {apiVersion: v1}\nkind: Namespace\n"))
	// Hostile inputs (limits_test.go), small enough to mutate.
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: *c}\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: ../../../etc/passwd}]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n...\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Load(map[string][]byte{"f.yaml": data})
		if err == nil {
			if set == nil {
				t.Fatal("nil set and nil error")
			}
			if c := CountDocuments(data); len(set.Objects) > c && !bytes.Contains(data, []byte("List")) {
				t.Fatalf("%d objects from %d documents counted", len(set.Objects), c)
			}
			for k, o := range set.Objects {
				if KeyOf(o) != k {
					t.Fatalf("object under %v has key %v", k, KeyOf(o))
				}
				if errs := Validate(o); errs != nil {
					t.Fatalf("loaded object fails Validate: %v", errs)
				}
				_ = templateHashOf(o)
			}
			checkRoundTrip(t, set)
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
		}
		for _, e := range list {
			if e.File != "f.yaml" && !strings.HasPrefix(e.Message, "too many errors") {
				t.Fatalf("error without the file: %v", e)
			}
		}
	})
}

// templateHashOf hashes the pod template of a workload, if o has one.
func templateHashOf(o Object) string {
	switch o := o.(type) {
	case *Deployment:
		return TemplateHash(&o.Spec.Template)
	case *ReplicationController:
		if o.Spec.Template != nil {
			return TemplateHash(o.Spec.Template)
		}
	case *PodTemplate:
		return TemplateHash(&o.Template)
	case *ReplicaSet:
		return TemplateHash(&o.Spec.Template)
	case *StatefulSet:
		return TemplateHash(&o.Spec.Template)
	case *DaemonSet:
		return TemplateHash(&o.Spec.Template)
	case *Job:
		return TemplateHash(&o.Spec.Template)
	case *CronJob:
		return TemplateHash(&o.Spec.JobTemplate.Spec.Template)
	}
	return ""
}

// checkRoundTrip loads the JSON of every object of set (JSON is YAML) and
// checks that it loads to the same objects: what Load accepted, written out
// as ctl -o json prints it, is accepted again and means the same.
func checkRoundTrip(t *testing.T, set *Set) {
	t.Helper()
	var docs bytes.Buffer
	for _, k := range set.Keys() {
		b, err := json.Marshal(set.Objects[k])
		if err != nil {
			t.Fatalf("failed to encode %v: %v", k, err)
		}
		docs.WriteString("---\n")
		docs.Write(b)
		docs.WriteString("\n")
	}
	set2, err := Load(map[string][]byte{"f.yaml": docs.Bytes()})
	if err != nil {
		t.Fatalf("the encoded set does not load again: %v\n%s", err, docs.Bytes())
	}
	for _, k := range set.Keys() {
		a, _ := json.Marshal(set.Objects[k])
		b, _ := json.Marshal(set2.Objects[k])
		if !bytes.Equal(a, b) {
			t.Fatalf("%v changed in a round trip:\n%s\n%s", k, a, b)
		}
	}
	if len(set2.Objects) != len(set.Objects) {
		t.Fatalf("%d objects, %d after a round trip", len(set.Objects), len(set2.Objects))
	}
}
