package spec

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/randfill"
)

// loadRealSets loads every directory of testdata/real that loads, with the
// fixes of realWorkloadFixes applied.
func loadRealSets(t *testing.T) map[string]*Set {
	t.Helper()
	dirs, err := filepath.Glob("testdata/real/*")
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*Set{}
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		files, err := ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		fix := realWorkloadFixes[filepath.Base(dir)]
		for name, e := range fix.edits {
			files[name] = e.re.ReplaceAll(files[name], []byte(e.repl))
		}
		for name, text := range fix.extra {
			files[name] = []byte(text)
		}
		if set, err := Load(files); err == nil {
			sets[filepath.Base(dir)] = set
		}
	}
	return sets
}

// TestRoundTripFromAppsV1 writes every loaded workload of testdata/real
// (apps/v1, defaulted) in each older apiVersion that has its kind, loads
// that, and wants the very same objects back: an explicit field means the
// same in every version, only what is left out differs.
func TestRoundTripFromAppsV1(t *testing.T) {
	sets := loadRealSets(t)
	workloads := 0
	for _, version := range []string{ExtensionsV1beta1, AppsV1beta1, AppsV1beta2} {
		for dir, set := range sets {
			var docs []string
			converted := 0
			want := map[ObjectKey]Object{}
			for _, k := range set.Keys() {
				o := set.Objects[k]
				want[k] = o
				if lookupLegacyKind(version, k.Kind) != nil {
					// The one field left out that means something else
					// there: extensions/v1beta1 and apps/v1beta1 give an
					// object without labels its template's.
					want[k] = deepCopy(t, o)
					if version != AppsV1beta2 {
						selectorFromTemplate(want[k])
					}
					old, err := fromAppsV1(o, version)
					if err != nil {
						t.Fatal(err)
					}
					o = old
					converted++
				}
				docs = append(docs, marshalDoc(t, o))
			}
			if converted == 0 {
				continue
			}
			workloads += converted
			back, err := Load(map[string][]byte{"all.yaml": []byte(strings.Join(docs, "\n---\n"))})
			if err != nil {
				t.Errorf("%s as %s does not load:\n%v", dir, version, err)
				continue
			}
			if diff := cmp.Diff(want, back.Objects, quantityEqual, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s through %s (-apps/v1 +round trip):\n%s", dir, version, diff)
			}
		}
	}
	if workloads < 20 {
		t.Errorf("%d workloads went through an older version, want at least 20", workloads)
	}
}

// decodeLegacyDocs decodes the documents of data written in an older
// apiVersion into that version's Go type, as written: no defaults, no
// conversion.
func decodeLegacyDocs(t *testing.T, file string, data []byte) []Object {
	t.Helper()
	var out []Object
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			break
		}
		if len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		av, _, _ := scalarField(root, "apiVersion")
		kind, _, _ := scalarField(root, "kind")
		lk := lookupLegacyKind(av, kind)
		if lk == nil {
			continue
		}
		d := &decoder{file: file, errs: &errorSink{}}
		doc := &document{file: file, obj: lk.newObject(), lines: map[fieldPath]int{}}
		w := &walker{d: d, doc: doc, budget: nodeBudget}
		w.decode(root, reflect.ValueOf(doc.obj).Elem(), "")
		if w.failed {
			t.Fatalf("%s: %v", file, d.errs.result())
		}
		out = append(out, doc.obj)
	}
	return out
}

// unwritten clears in got every field that want leaves out (zero or
// empty), so that
// comparing them checks only what want has: the defaults a conversion
// fills are not compared.
func unwritten(want, got any) {
	var mask func(w, g reflect.Value)
	mask = func(w, g reflect.Value) {
		if w.IsZero() || ((w.Kind() == reflect.Map || w.Kind() == reflect.Slice) && w.Len() == 0) {
			if g.CanSet() {
				g.Set(reflect.Zero(g.Type()))
			}
			return
		}
		switch w.Kind() {
		case reflect.Pointer:
			if !g.IsNil() {
				mask(w.Elem(), g.Elem())
			}
		case reflect.Struct:
			if w.Type() == reflect.TypeOf(resource.Quantity{}) {
				return
			}
			for i := range w.NumField() {
				if w.Type().Field(i).IsExported() {
					mask(w.Field(i), g.Field(i))
				}
			}
		case reflect.Slice:
			if g.Len() == w.Len() {
				for i := range w.Len() {
					mask(w.Index(i), g.Index(i))
				}
			}
		case reflect.Map:
			for _, k := range w.MapKeys() {
				if gv := g.MapIndex(k); gv.IsValid() {
					c := reflect.New(gv.Type()).Elem()
					c.Set(gv)
					mask(w.MapIndex(k), c)
					g.SetMapIndex(k, c)
				}
			}
		}
	}
	mask(reflect.ValueOf(want).Elem(), reflect.ValueOf(got).Elem())
}

// quantityEqual compares quantities by value, as Kubernetes does.
var quantityEqual = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// TestRoundTripFromLegacy loads the real manifests of older apiVersions in
// testdata/real, converts each loaded object back to the version it was
// written in, and wants every field the author wrote unchanged: only the
// defaults, now explicit, are added.
func TestRoundTripFromLegacy(t *testing.T) {
	sets := loadRealSets(t)
	objects := 0
	for dir, set := range sets {
		files, err := ReadDir(filepath.Join("testdata/real", dir))
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			for _, written := range decodeLegacyDocs(t, name, data) {
				objects++
				key := KeyOf(written)
				if key.Namespace == "" {
					key.Namespace = DefaultNamespace
				}
				src := set.Sources[key]
				if src.APIVersion != written.GetTypeMeta().APIVersion {
					t.Errorf("%s: %v source = %+v, want apiVersion %s", dir, key, src, written.GetTypeMeta().APIVersion)
				}
				back, err := fromAppsV1(set.Objects[key], src.APIVersion)
				if err != nil {
					t.Fatal(err)
				}
				unwritten(written, back)
				if diff := cmp.Diff(written, back, quantityEqual, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: %v (-written +round trip):\n%s", dir, key, diff)
				}
			}
		}
	}
	if objects < 8 {
		t.Errorf("%d real objects of older versions, want at least 8", objects)
	}
}

// fuzzer fills API objects at random: every pointer, list and map set or
// not, quantities and int-or-strings of valid shapes.
func fuzzer(seed uint64) *randfill.Filler {
	return randfill.NewWithSeed(int64(seed)).NilChance(0.3).NumElements(0, 2).Funcs(
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(c.Int63n(1e6), resource.DecimalSI)
		},
		func(v *IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = FromString(fmt.Sprintf("%d%%", c.Intn(100)))
			} else {
				*v = FromInt(c.Int31n(10))
			}
		},
	)
}

// TestRoundTripRandom converts random objects of every older version to
// apps/v1 and back, and random apps/v1 objects to every older version and
// back: what the start had comes back unchanged (defaults aside), and the
// fields only older versions have are the ones that do not.
func TestRoundTripRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	for i := range uint64(20) {
		for _, lk := range legacyKinds {
			// Two fillers of one seed make two equal objects: one to
			// convert, one to compare with.
			fill := func(o Object, nilChance float64) Object {
				fuzzer(seed + i).NilChance(nilChance).Fill(o)
				return o
			}
			written, old := fill(lk.newObject(), 0.3), fill(lk.newObject(), 0.3)
			for _, o := range []Object{written, old} {
				*o.GetTypeMeta() = TypeMeta{APIVersion: lk.apiVersion, Kind: lk.kind}
			}
			v1 := toAppsV1(lk.apiVersion, old)
			if tm := *v1.GetTypeMeta(); tm != (TypeMeta{APIVersion: AppsV1, Kind: lk.kind}) {
				t.Fatalf("converted type %+v", tm)
			}
			back, err := fromAppsV1(v1, lk.apiVersion)
			if err != nil {
				t.Fatal(err)
			}
			// What apps/v1 cannot hold is lost, as in Kubernetes.
			switch w := written.(type) {
			case *legacyDeployment:
				w.Spec.RollbackTo = nil
			case *legacyDaemonSet:
				w.Spec.TemplateGeneration = 0
				// A rollingUpdate without a type: OnDelete, which
				// ignores it, as Kubernetes 1.15 did.
				if lk.apiVersion == ExtensionsV1beta1 && w.Spec.UpdateStrategy.Type == "" {
					w.Spec.UpdateStrategy.RollingUpdate = nil
				}
			}
			unwritten(written, back)
			if diff := cmp.Diff(written, back, quantityEqual, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%s %s (seed %d) (-written +round trip):\n%s", lk.apiVersion, lk.kind, seed+i, diff)
			}

			// apps/v1 → older → apps/v1, from an apps/v1 object with
			// every field set, as a loaded one has.
			newV1 := lookupKind(AppsV1, lk.kind).newObject
			before, v1 := fill(newV1(), 0), fill(newV1(), 0)
			for _, o := range []Object{before, v1} {
				*o.GetTypeMeta() = TypeMeta{APIVersion: AppsV1, Kind: lk.kind}
				// Labels left out mean the template's in the older
				// versions (TestLegacyDefaults).
				if len(o.GetObjectMeta().Labels) == 0 {
					o.GetObjectMeta().Labels = map[string]string{"app": "web"}
				}
				SetDefaults(o)
			}
			old, err = fromAppsV1(v1, lk.apiVersion)
			if err != nil {
				t.Fatal(err)
			}
			if old.GetTypeMeta().APIVersion != lk.apiVersion {
				t.Fatalf("converted to %s", old.GetTypeMeta().APIVersion)
			}
			if diff := cmp.Diff(before, toAppsV1(lk.apiVersion, old), quantityEqual); diff != "" {
				t.Fatalf("%s %s (seed %d) (-apps/v1 +round trip):\n%s", lk.apiVersion, lk.kind, seed+i, diff)
			}
		}
	}
}

// deepCopy copies o through JSON.
func deepCopy(t *testing.T, o Object) Object {
	t.Helper()
	c := reflect.New(reflect.TypeOf(o).Elem()).Interface().(Object)
	if err := json.Unmarshal([]byte(marshalDoc(t, o)), c); err != nil {
		t.Fatal(err)
	}
	return c
}
