package spec

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/golden/*.golden from the current output")

// renderLoad renders what Load makes of files: the error list, or every
// object (defaulted) with its source, as JSON.
func renderLoad(set *Set, err error) string {
	if err != nil {
		return "ERRORS\n" + err.Error() + "\n"
	}
	var b strings.Builder
	for _, k := range set.Keys() {
		src := set.Sources[k]
		if src.APIVersion != "" {
			fmt.Fprintf(&b, "--- %s (%s:%d, written as %s)\n", k, src.File, src.Line, src.APIVersion)
		} else {
			fmt.Fprintf(&b, "--- %s (%s:%d)\n", k, src.File, src.Line)
		}
		out, jerr := json.MarshalIndent(set.Objects[k], "", "  ")
		if jerr != nil {
			return "marshal: " + jerr.Error()
		}
		b.Write(out)
		b.WriteString("\n")
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(&b, "WARNING %s\n", w)
	}
	return b.String()
}

// TestGolden loads each testdata/golden/*.yaml on its own and compares the
// result with the .golden file beside it. Inputs whose name starts with
// "k8s-" are real-world Kubernetes manifests and must load without error.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			set, lerr := Load(map[string][]byte{name: src})
			if strings.HasPrefix(name, "k8s-") && lerr != nil {
				t.Errorf("a Kubernetes manifest must load unchanged:\n%v", lerr)
			}
			got := renderLoad(set, lerr)
			goldenPath := strings.TrimSuffix(in, ".yaml") + ".golden"
			if *rewrite {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test ./spec -rewrite)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run go test ./spec -rewrite and review the diff):\n%s", goldenPath, got)
			}
		})
	}
}
