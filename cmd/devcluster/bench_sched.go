package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// schedulerPkg is the package whose TestBenchTable writes the scheduler's
// table (see reconcile/scheduler/bench_test.go).
const schedulerPkg = "./reconcile/scheduler"

// Reference figures the scheduler is held against (issue 3).
const (
	nomadTopNoSpread = 6300 // Nomad's BenchmarkServiceScheduler on these machines, upper end
	nomadTopSpread   = 42
	targetRequests   = 20000 // pods/s at 5,000 nodes, requests only
	targetFloor      = 2000  // no case below
)

// schedRow is one row of the scheduler's table.
type schedRow struct {
	name                  string
	nodes, pods           int
	placed, pending       int
	wallSec               float64
	perSecWall, perSecCPU float64
	bytesPerPod           float64
}

// benchScheduler runs the scheduler's table through go test (one Schedule
// call per case, in its own process) and renders the Scheduler section.
func benchScheduler(ctx context.Context, goTool string, out io.Writer) (string, error) {
	st := newStamp()
	fmt.Fprintf(out, "scheduler: go test %s -run TestBenchTable (every case once; about a minute)\n", schedulerPkg)
	table, err := goTestTable(ctx, goTool, schedulerPkg, "TestBenchTable", "-benchtable", "the scheduler's table")
	if err != nil {
		return "", err
	}
	return renderScheduler(table, st)
}

// goTestTable runs test of pkg (a measurement that writes a Markdown table
// to the file its flag names; extra are its other flags) in its own
// process, and returns the table.
func goTestTable(ctx context.Context, goTool, pkg, test, flag, what string, extra ...string) (string, error) {
	f, err := os.CreateTemp("", "stevedore-table-*.md")
	if err != nil {
		return "", fmt.Errorf("failed to create the table file: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	args := append([]string{"test", pkg, "-run", "^" + test + "$", "-count=1", "-timeout", "20m", flag, f.Name()}, extra...)
	cmd := exec.CommandContext(ctx, goTool, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("failed to run %s: %w\n%s", what, err, logs.String())
	}
	table, err := os.ReadFile(f.Name())
	if err != nil {
		return "", fmt.Errorf("failed to read %s: %w", what, err)
	}
	return string(table), nil
}

// parseSchedTable reads the rows of the scheduler's Markdown table, finding
// columns by their header so a column added later does not break it. It
// returns the rows and the table's own lines (header to last row).
func parseSchedTable(s string) ([]schedRow, string, error) {
	lines := strings.Split(s, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "| case |") {
			start = i
			break
		}
	}
	if start < 0 || start+1 >= len(lines) {
		return nil, "", errors.New("failed to find the scheduler's table header")
	}
	col := map[string]int{}
	for i, h := range splitRow(lines[start]) {
		col[h] = i
	}
	for _, h := range []string{"case", "nodes", "pods", "placed", "pending", "wall s", "pods/s (wall)", "pods/s (CPU)", "bytes/pod"} {
		if _, ok := col[h]; !ok {
			return nil, "", fmt.Errorf("failed to find column %q in the scheduler's table", h)
		}
	}
	var rows []schedRow
	end := start + 2
	for ; end < len(lines) && strings.HasPrefix(lines[end], "|"); end++ {
		cells := splitRow(lines[end])
		if len(cells) < len(col) {
			return nil, "", fmt.Errorf("failed to parse scheduler table row %q: %d cells", lines[end], len(cells))
		}
		var r schedRow
		var errs []error
		num := func(h string) float64 {
			v, err := strconv.ParseFloat(cells[col[h]], 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("column %q: %w", h, err))
			}
			return v
		}
		r.name = cells[col["case"]]
		r.nodes, r.pods = int(num("nodes")), int(num("pods"))
		r.placed, r.pending = int(num("placed")), int(num("pending"))
		r.wallSec, r.perSecWall, r.perSecCPU = num("wall s"), num("pods/s (wall)"), num("pods/s (CPU)")
		r.bytesPerPod = num("bytes/pod")
		if err := errors.Join(errs...); err != nil {
			return nil, "", fmt.Errorf("failed to parse scheduler table row %q: %w", lines[end], err)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, "", errors.New("the scheduler's table has no rows")
	}
	return rows, strings.Join(lines[start:end], "\n"), nil
}

func splitRow(l string) []string {
	cells := strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// renderScheduler renders the Scheduler section: the scheduler's own table,
// then the cases the issue sets targets for beside the reference figures.
func renderScheduler(table string, st stamp) (string, error) {
	rows, tbl, err := parseSchedTable(table)
	if err != nil {
		return "", err
	}
	byName := map[string]schedRow{}
	slowest := rows[0]
	for _, r := range rows {
		byName[r.name] = r
		if r.perSecWall < slowest.perSecWall {
			slowest = r
		}
	}
	slowestCPU := rows[0]
	for _, r := range rows {
		if r.perSecCPU < slowestCPU.perSecCPU {
			slowestCPU = r
		}
	}
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secScheduler))
	fmt.Fprintln(&b, "## Scheduler")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "`go test %s -run TestBenchTable -benchtable FILE`: each case places all its pods from\n", schedulerPkg)
	fmt.Fprintln(&b, "scratch in one `Schedule` call (the pure function, no API server, no I/O). Nodes have Kubernetes'")
	fmt.Fprintln(&b, "scheduler_perf size (8 cpu, 64 GiB, 110 pods, 10 zones); pods request 100m/500Mi in workloads of 100")
	fmt.Fprintln(&b, "replicas. The Nomad-shaped case mirrors Nomad's `BenchmarkServiceScheduler`: 5,000 nodes in 25 racks,")
	fmt.Fprintln(&b, "a required node affinity admitting 13 racks, two 1500m pods per node, one Deployment of 1,200")
	fmt.Fprintln(&b, "replicas, with and without a spread on rack. See [scheduler.md](scheduler.md). **pods/s (CPU)**")
	fmt.Fprintln(&b, "divides by the process's CPU time: on a shared machine it is the fairer figure for one core.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, tbl)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Beside the reference figures and the targets:")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| case | pods/s (wall) | pods/s (CPU) | reference | target | wall | CPU |")
	fmt.Fprintln(&b, "|---|---:|---:|---|---|---|---|")
	line := func(label, name, ref string, target float64, targetText string) {
		r, ok := byName[name]
		if !ok {
			fmt.Fprintf(&b, "| %s | not in the table | | %s | %s | | |\n", label, ref, targetText)
			return
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", label, thousands(r.perSecWall), thousands(r.perSecCPU),
			ref, targetText, verdict(r.perSecWall >= target), verdict(r.perSecCPU >= target))
	}
	line("5,000 nodes, 150,000 pods, requests only", "requests/5000Nodes_150000Pods",
		"Kubernetes: 100–300 pods/s on real clusters, 680–810 in scheduler_perf", targetRequests, "≥ 20,000")
	line("Nomad-shaped, no spread", "nomad/5000Nodes_1200Pods",
		"Nomad: ~4,400–6,300 pods/s on these machines", 4*nomadTopNoSpread, "≥ 4× Nomad (25,200)")
	line("Nomad-shaped, spread on rack", "nomadSpread/5000Nodes_1200Pods",
		"Nomad: 34–42 pods/s on these machines", 4*nomadTopSpread, "≥ 4× Nomad (168)")
	fmt.Fprintf(&b, "| slowest case (wall: %s; CPU: %s) | %s | %s | | ≥ 2,000 in every case | %s | %s |\n",
		slowest.name, slowestCPU.name, thousands(slowest.perSecWall), thousands(slowestCPU.perSecCPU),
		verdict(slowest.perSecWall >= targetFloor), verdict(slowestCPU.perSecCPU >= targetFloor))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "4× Nomad is taken against the top of Nomad's range. The Kubernetes and Nomad figures are theirs, not")
	fmt.Fprintln(&b, "re-measured here, except Nomad's, which were run on machines like this one.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secScheduler))
	return b.String(), nil
}
