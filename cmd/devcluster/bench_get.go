package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// secGet is the section measuring ctl get over many pods.
const secGet = "get"

// getPods is how many running pods the get section lists.
const getPods = 10000

// benchGet runs reconcile/server's TestBenchGet (a leader in-process with
// 10,000 running pods on 100 nodes, serving the real API on loopback),
// which times the real ctl binary listing them, and renders the section.
func benchGet(ctx context.Context, goTool, binDir string, out io.Writer) (string, error) {
	st := newStamp()
	ctl, err := filepath.Abs(filepath.Join(binDir, "ctl"))
	if err != nil {
		return "", fmt.Errorf("failed to resolve ctl: %w", err)
	}
	fmt.Fprintf(out, "get: go test %s -run TestBenchGet (%s pods; a few minutes on a loaded machine)\n", controlPlanePkg, thousands(getPods))
	table, err := goTestTable(ctx, goTool, controlPlanePkg, "TestBenchGet", "-benchget", "the get benchmark",
		"-benchget-ctl", ctl, "-benchget-pods", fmt.Sprint(getPods))
	if err != nil {
		return "", err
	}
	return renderGet(table, st), nil
}

// renderGet renders the get section around the table TestBenchGet wrote.
func renderGet(table string, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secGet))
	fmt.Fprintf(&b, "## %s\n\n", sectionTitles[secGet])
	fmt.Fprintf(&b, "`go test %s -run TestBenchGet -benchget FILE -benchget-ctl bin/ctl` builds a leader in-process\n", controlPlanePkg)
	fmt.Fprintf(&b, "with 100 nodes and %s running pods (Deployments of 100 replicas; each pod reported Running with\n", thousands(getPods))
	fmt.Fprintln(&b, "its IP, start time and one container's status, as an agent reports it), serves the real API handler on")
	fmt.Fprintln(&b, "loopback, and runs the real `bin/ctl` as a process against it: the clock runs from exec to exit, and")
	fmt.Fprintln(&b, "includes the reconciler's share (encoding the list, in the same machine's CPU). The floor is the same")
	fmt.Fprintln(&b, "`GET /v1/pods` read raw, without ctl: what listing costs before ctl decodes the wire pods, turns them")
	fmt.Fprintln(&b, "into Kubernetes objects and prints them. Median of 5 runs; ctl's CPU (user + system) is the figure")
	fmt.Fprintln(&b, "that holds on a shared machine. The target, 1 s end to end for `-o json`, is for an idle machine:")
	fmt.Fprintln(&b, "on a loaded one, compare ctl's CPU with it (most of it is decoding the 16 MB wire list; building")
	fmt.Fprintln(&b, "and writing the Kubernetes objects, item by item, is about a quarter). ctl reads the list in pages of")
	fmt.Fprintln(&b, "500 (`--chunk-size`'s default, `GET /v1/pods?limit=500&continue=…`), printing a table as they arrive;")
	fmt.Fprintln(&b, "the `--chunk-size 0` row and the floor are one answer (docs/ctl-get.md).")
	fmt.Fprintln(&b)
	b.WriteString(strings.TrimRight(table, "\n"))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secGet))
	return b.String()
}
