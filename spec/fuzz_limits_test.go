package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzCountDocuments checks that the pre-scan that bounds a revision's
// documents (CheckLimits) is never fooled: it counts at least as many
// documents as the YAML parser finds, whatever the text.
func FuzzCountDocuments(f *testing.F) {
	for _, s := range []string{"", "a: 1\n", "---\n---\n", "a: 1\n...\nb: 2\n", "--- |\n  x\n---\n", "%YAML 1.2\n---\na\n...\n", "a: '\n--- x'\n",
		"- a\n---\n- b\n... # end\n--- c\n", "\ufeffa: 1\n---\nb\n"} {
		f.Add([]byte(s))
	}
	inputs, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, in := range inputs {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		parsed := 0
		for {
			var n yaml.Node
			err := safeDecode(dec, &n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // the parser refuses it: Load reports that
			}
			parsed++
		}
		if c := CountDocuments(data); c < parsed {
			t.Fatalf("CountDocuments = %d, the parser found %d documents in %q", c, parsed, data)
		}
	})
}

// FuzzValidate decodes any JSON into each supported kind (leniently, as a
// hand-made object would be, not through the strict decoder) and checks
// that defaulting and validation never panic, that defaulting twice
// changes nothing more, and that validation is deterministic.
func FuzzValidate(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		set, err := Load(map[string][]byte{"f.yaml": b})
		if err != nil {
			continue
		}
		for _, o := range set.Objects {
			j, err := json.Marshal(o)
			if err != nil {
				f.Fatal(err)
			}
			for i, k := range kinds {
				if k.kind == o.GetTypeMeta().Kind {
					f.Add(uint8(i), j)
				}
			}
		}
	}
	f.Add(uint8(1), []byte(`{"spec":{"containers":[{"name":"c","image":"../../../etc/passwd","env":[{"name":"A","value":"x"}]}]}}`))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := kinds[int(kind)%len(kinds)]
		obj := k.newObject()
		if json.Unmarshal(data, obj) != nil {
			return
		}
		SetDefaults(obj)
		once, err := json.Marshal(obj)
		if err != nil {
			return
		}
		SetDefaults(obj)
		twice, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("defaulting twice changed the %s:\n%s\n%s", k.kind, once, twice)
		}
		e1, e2 := Validate(obj), Validate(obj)
		if (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
			t.Fatalf("Validate is not deterministic:\n%v\n%v", e1, e2)
		}
	})
}
