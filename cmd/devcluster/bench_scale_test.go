package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The scale benchmark end to end at a small size: the real reconciler,
// hollow nodes in two processes (one of them killed), a commit, a change
// and the section's lines.
func TestBenchScaleSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler and hollow processes")
	}
	bin := buildBinaries(t)
	if out, err := exec.Command("go", "build", "-o", bin+"/", ".").CombinedOutput(); err != nil {
		t.Fatalf("go build devcluster: %v\n%s", err, out)
	}
	so := scaleOptions{nodes: 20, pods: 400, deployments: 4, killPercent: 10, maxPods: 50,
		hollowBin: bin + "/devcluster", reconcilerArgs: []string{"--node-loss-grace", "2s"}, idle: 2 * time.Second, apps: 10, logsDir: t.TempDir() + "/logs"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log strings.Builder
	s, err := benchScale(ctx, options{bin: bin}, so, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, want := range []string{beginOf(secScale), endOf(secScale), "20 hollow\nnodes in 10 processes",
		"| commit to all Running: ", "| reconciler peak RSS: ", "| 2 of 20 nodes killed: their ~40 pods Running elsewhere |",
		"one Deployment's image changed", "| 10 applications declared in one commit", "load average"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
}
