package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 10; i++ {
		ds = append(ds, time.Duration(11-i)*time.Millisecond)
	}
	if got := percentile(ds, 50); got != 5*time.Millisecond {
		t.Errorf("p50 = %s, want 5ms", got)
	}
	if got := percentile(ds, 99); got != 10*time.Millisecond {
		t.Errorf("p99 = %s, want 10ms", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %s", got)
	}
}

func TestWriteSectionKeepsOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	s1 := renderSection([]time.Duration{time.Second}, []time.Duration{200 * time.Millisecond}, []time.Duration{500 * time.Millisecond}, 30, 3)
	if err := writeSection(path, s1); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "## Scheduler") || !strings.Contains(string(b), "| commit-to-running, 30 pods on 3 agents | 1 | 1000 ms") {
		t.Fatalf("new file:\n%s", b)
	}
	if !strings.Contains(string(b), "2.00×") || !strings.Contains(string(b), "**missed**") {
		t.Errorf("ratio or verdict missing:\n%s", b)
	}
	// Another benchmark fills its section; re-running ours keeps it.
	doc := strings.Replace(string(b), "## Scheduler\n", "## Scheduler\n\n| nodes | pods/s |\n", 1)
	os.WriteFile(path, []byte(doc), 0o644)
	s2 := renderSection([]time.Duration{400 * time.Millisecond}, nil, []time.Duration{350 * time.Millisecond}, 30, 3)
	if err := writeSection(path, s2); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if !strings.Contains(string(b), "| nodes | pods/s |") || strings.Contains(string(b), "1000 ms") || strings.Count(string(b), beginMarker) != 1 {
		t.Errorf("rewrite lost or duplicated a section:\n%s", b)
	}
}
