package agent

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// FuzzPodSet feeds PUT /v1/podset's decoder and checks (decodePodSet, then
// checkPodSet as handleApply runs them). It must never panic; a set it
// decodes must encode and decode to the same set with the same hash (the
// agent's idempotence rests on it), and checking it twice must agree.
func FuzzPodSet(f *testing.F) {
	for _, ps := range fuzzSeedSets(f) {
		b, err := json.Marshal(ps)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"term":1,"generation":1,"pods":[{"uid":"u","namespace":"default","name":"a","spec":{"containers":[{"name":"../x","image":"busybox"}]}}]}`))
	f.Add([]byte(`{"term":1} {}`))
	f.Add([]byte(`{"term":18446744073709551615,"generation":1,"pods":null,"network":{}}`))
	a := &Agent{cfg: Config{NodeName: "n1"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		ps, err := decodePodSet(bytes.NewReader(body))
		if err != nil {
			return
		}
		err1 := a.checkPodSet(ps)
		err2 := a.checkPodSet(ps)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("checkPodSet is not deterministic: %v, then %v", err1, err2)
		}
		b, err := json.Marshal(ps)
		if err != nil {
			return // a value JSON cannot encode (an infinite quantity, say) is not sent by a reconciler
		}
		ps2, err := decodePodSet(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("a decoded set does not decode once encoded: %v\n%s", err, b)
		}
		b2, err := json.Marshal(ps2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("encode→decode→encode changed the set:\n%s\n%s", b, b2)
		}
		if err1 == nil && hashSet(ps) != hashSet(ps2) {
			t.Fatalf("the same set hashes differently after a round trip")
		}
	})
}

// fuzzSeedSets makes real pod sets from the pods and pod templates of the
// spec package's golden manifests.
func fuzzSeedSets(f *testing.F) []api.PodSet {
	files, _ := filepath.Glob("../spec/testdata/golden/*.yaml")
	var sets []api.PodSet
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		set, err := spec.Load(map[string][]byte{filepath.Base(file): b})
		if err != nil {
			continue
		}
		ps := api.PodSet{Node: "n1", Term: 3, Generation: 7, Cluster: "c1", Pods: []api.Pod{}}
		for _, k := range set.Keys() {
			var s *spec.PodSpec
			switch o := set.Objects[k].(type) {
			case *spec.Pod:
				s = &o.Spec
			case *spec.Deployment:
				s = &o.Spec.Template.Spec
			case *spec.StatefulSet:
				s = &o.Spec.Template.Spec
			case *spec.DaemonSet:
				s = &o.Spec.Template.Spec
			case *spec.Job:
				s = &o.Spec.Template.Spec
			}
			if s != nil {
				ps.Pods = append(ps.Pods, api.Pod{UID: "uid-" + k.Name, Namespace: "default", Name: k.Name, Spec: *s})
			}
		}
		sets = append(sets, ps)
	}
	sets = append(sets, podSet(1, 1, "a", "b"))
	return sets
}
