package main

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/benchdata"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
)

// TestGenKustomize checks the kustomize benchmark's inputs on a small
// scale: the overlay renders n objects, equal to its plain equivalent (the
// floor must do the same work minus kustomize), and the section renders.
func TestGenKustomize(t *testing.T) {
	overlay, plain := benchdata.Kustomize(150, objectsPerFile)
	set, err := render.Load(overlay)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := spec.Load(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != 150 || len(flat.Objects) != 150 {
		t.Fatalf("overlay rendered %d objects, plain %d, want 150", len(set.Objects), len(flat.Objects))
	}
	if ch := reconcile.Diff(flat, set); len(ch) != 0 {
		t.Errorf("the overlay differs from its plain equivalent: %s\n%s", ch[0].Key, ch[0].Diff)
	}
	large := kustomizeRun{n: 150, files: len(overlay),
		renders: []kustomizeTimes{{took: 2e9, cpu: 1e9, bytes: 1e8, allocs: 1e6}},
		cached:  []kustomizeTimes{{took: 1e8, cpu: 1e8, bytes: 1e7, allocs: 1e5}},
		floors:  []kustomizeTimes{{took: 1e8, cpu: 1e8, bytes: 1e7, allocs: 1e5}}}
	small := kustomizeRun{n: 30, renders: []kustomizeTimes{{took: 3e9, cpu: 2e9, bytes: 1e8, allocs: 1e6}}}
	s := renderKustomize(large, small, newStamp())
	for _, want := range []string{beginOf(secKustomize),
		"| `render.Load`, 150-object overlay | 2.00 s | 1.00 s | 100 MB | 1,000,000 | ≤ 0.45 s CPU |",
		"| `render.Load`, 30-object overlay | 3.00 s | 2.00 s | 100 MB | 1,000,000 | ≤ 1.00 s CPU |",
		"The 150-object render misses its target of 0.45 s of CPU, the 30-object one misses its target of 1.00 s.",
		endOf(secKustomize)} {
		if !strings.Contains(s, want) {
			t.Errorf("section lacks %q:\n%s", want, s)
		}
	}
}
