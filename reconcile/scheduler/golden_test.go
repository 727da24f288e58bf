package scheduler

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.golden from the scheduler's current output")

// scenario is a testdata/*.json file: a cluster and the pods to place.
type scenario struct {
	Config  *struct{ DefaultProfile string } `json:"config,omitempty"`
	Nodes   []Node                           `json:"nodes"`
	Placed  []Pod                            `json:"placed"`
	Pending []Pod                            `json:"pending"`
}

// TestGolden runs each testdata/*.json scenario and compares the
// placements with testdata/*.golden, so that a change of behaviour shows up
// in review as a diff a person can read. Run with -rewrite to accept it.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var sc scenario
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				t.Fatalf("failed to decode %s: %v", f, err)
			}
			cfg := Config{}
			if sc.Config != nil {
				cfg.DefaultProfile = sc.Config.DefaultProfile
			}
			s := newSched(t, cfg)
			var out strings.Builder
			for i, r := range s.Schedule(sc.Nodes, sc.Placed, sc.Pending) {
				p := sc.Pending[i]
				if r.Node != "" {
					fmt.Fprintf(&out, "%s/%s -> %s\n", p.Namespace, p.Name, r.Node)
				} else {
					fmt.Fprintf(&out, "%s/%s Pending: %s\n", p.Namespace, p.Name, r.Reason)
				}
			}
			golden := strings.TrimSuffix(f, ".json") + ".golden"
			if *rewrite {
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("failed to read %s (run with -rewrite): %v", golden, err)
			}
			if out.String() != string(want) {
				t.Fatalf("%s differs (run with -rewrite to accept):\n--- got\n%s--- want\n%s", golden, out.String(), want)
			}
		})
	}
}
