package spec

import (
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
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Load(map[string][]byte{"f.yaml": data})
		if err == nil {
			if set == nil {
				t.Fatal("nil set and nil error")
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
