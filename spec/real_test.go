package spec

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	docSeparatorRE = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)
	serviceKindRE  = regexp.MustCompile(`(?m)^kind:[ \t]*Service[ \t]*$`)
)

// refusedServices are the Services of testdata/real that ask for what
// Stevedore does not implement, and why.
var refusedServices = map[string]string{
	"Service default/frontend-external": "LoadBalancer",
	"Service default/guestbook":         "LoadBalancer",
}

// TestRealManifests loads each repository of testdata/real (public
// projects' manifests, verbatim) and compares the outcome with its golden
// file; then loads the Services of each alone, which must all load but
// those in refusedServices, whose only error must be their type.
func TestRealManifests(t *testing.T) {
	dirs, err := filepath.Glob("testdata/real/*")
	if err != nil {
		t.Fatal(err)
	}
	services := 0
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			set, lerr := Load(files)
			checkGolden(t, dir+".golden", renderLoad(set, lerr))

			only := map[string][]byte{}
			n := 0
			for name, b := range files {
				var docs []string
				for _, d := range docSeparatorRE.Split(string(b), -1) {
					if serviceKindRE.MatchString(d) {
						docs = append(docs, d)
						n++
					}
				}
				if len(docs) > 0 {
					only[name] = []byte(strings.Join(docs, "\n---\n"))
				}
			}
			services += n
			set, err = Load(only)
			var list ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Fatal(err)
			}
			for _, e := range list {
				if why, ok := refusedServices[e.Object]; !ok || e.Field != "spec.type" || !strings.Contains(e.Message, why) {
					t.Errorf("a real Service is refused: %v", e)
				}
			}
			if err == nil && len(set.OfKind(KindService)) != n {
				t.Errorf("loaded %d Services of %d", len(set.OfKind(KindService)), n)
			}
		})
	}
	if services < 20 {
		t.Errorf("found %d Services in testdata/real, want at least 20", services)
	}
}

// checkGolden compares got with the file at name, or rewrites it.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	if *rewrite {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -run TestRealManifests -rewrite)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./spec -run TestRealManifests -rewrite and review the diff):\n%s", name, got)
	}
}
