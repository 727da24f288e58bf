package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// controlPlanePkg is the package whose TestBenchControlPlane writes the
// control plane's table (see reconcile/server/bench_test.go).
const controlPlanePkg = "./reconcile/server"

// Targets of the control plane at 5,000 nodes.
const (
	targetIdleCPU = 10 * time.Millisecond // CPU per 2 s tick with nothing changed
	targetCommit  = 50 * time.Millisecond // one changed 100-replica Deployment planned and committed
)

// cpRow is one row of the control plane's table. wall and cpu are zero
// when the cells are no durations (the heap row), text keeps the wall cell.
type cpRow struct {
	step      string
	wall, cpu time.Duration
	text      string
}

// benchControlPlane runs the control plane's table through go test (a leader
// in-process on a real raft store, 5,000 nodes, 150,000 pods) and renders
// the controlplane section.
func benchControlPlane(ctx context.Context, goTool string, out io.Writer) (string, error) {
	st := newStamp()
	fmt.Fprintf(out, "controlplane: go test %s -run TestBenchControlPlane (5,000 nodes, 150,000 pods; about a minute)\n", controlPlanePkg)
	table, err := goTestTable(ctx, goTool, controlPlanePkg, "TestBenchControlPlane", "-benchcp", "the control plane's table")
	if err != nil {
		return "", err
	}
	return renderControlPlane(table, st)
}

// parseCPTable reads the rows of the control plane's Markdown table
// (| step | wall | CPU | target |) and returns them with the table's own
// lines.
func parseCPTable(s string) ([]cpRow, string, error) {
	lines := strings.Split(s, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "| step |") {
			start = i
			break
		}
	}
	if start < 0 || start+1 >= len(lines) {
		return nil, "", errors.New("failed to find the control plane's table header")
	}
	col := map[string]int{}
	for i, h := range splitRow(lines[start]) {
		col[h] = i
	}
	for _, h := range []string{"step", "wall", "CPU"} {
		if _, ok := col[h]; !ok {
			return nil, "", fmt.Errorf("failed to find column %q in the control plane's table", h)
		}
	}
	var rows []cpRow
	end := start + 2
	for ; end < len(lines) && strings.HasPrefix(lines[end], "|"); end++ {
		cells := splitRow(lines[end])
		if len(cells) < len(col) {
			return nil, "", fmt.Errorf("failed to parse control plane table row %q: %d cells", lines[end], len(cells))
		}
		r := cpRow{step: cells[col["step"]], text: cells[col["wall"]]}
		wall, werr := time.ParseDuration(cells[col["wall"]])
		cpu, cerr := time.ParseDuration(cells[col["CPU"]])
		if werr == nil && cerr == nil {
			r.wall, r.cpu = wall, cpu
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, "", errors.New("the control plane's table has no rows")
	}
	return rows, strings.Join(lines[start:end], "\n"), nil
}

var (
	raftEntryBytes = regexp.MustCompile(`(\d+) B raft entry`)
	// worstOf is how the warm commit row names its worst of several.
	worstOf = regexp.MustCompile(`worst of \d+: [0-9.]+[µnm]?s`)
)

// entryBytes returns the raft entry size a step's text names, or -1.
func entryBytes(step string) int {
	m := raftEntryBytes.FindStringSubmatch(step)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return n
}

// findCPRow returns the first row whose step starts with prefix and
// contains every one of also.
func findCPRow(rows []cpRow, prefix string, also ...string) (cpRow, bool) {
	for _, r := range rows {
		if !strings.HasPrefix(r.step, prefix) {
			continue
		}
		ok := true
		for _, a := range also {
			ok = ok && strings.Contains(r.step, a)
		}
		if ok && (r.wall > 0 || r.cpu > 0) {
			return r, true
		}
	}
	return cpRow{}, false
}

// msf formats a duration in milliseconds with one decimal.
func msf(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// renderControlPlane renders the controlplane section: the table as the
// test wrote it, then the rows that have targets beside them.
func renderControlPlane(table string, st stamp) (string, error) {
	rows, tbl, err := parseCPTable(table)
	if err != nil {
		return "", err
	}
	idle, okIdle := findCPRow(rows, "2 s with nothing changed")
	warm, okWarm := findCPRow(rows, "plan + commit of one changed", "warm")
	if !okIdle || !okWarm {
		return "", fmt.Errorf("the control plane's table lacks the idle row (%v) or the warm commit row (%v)", okIdle, okWarm)
	}
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secControlPlane))
	fmt.Fprintln(&b, "## "+sectionTitles[secControlPlane])
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "`go test %s -run TestBenchControlPlane -benchcp FILE` builds a leader in-process on a real\n", controlPlanePkg)
	fmt.Fprintln(&b, "raft store (hashicorp/raft, bolt log in a temporary directory, one voter), 5,000 nodes and 150,000")
	fmt.Fprintln(&b, "Running pods in Deployments of 100 replicas, and times the leader's own steps; no agents, pushes or")
	fmt.Fprintln(&b, "HTTP. **wall** and **CPU** are the step's wall-clock time and the whole process's CPU time over it.")
	fmt.Fprintln(&b, "The rows: the first plan places every pod and commits the inventory to raft; then the plan loop runs")
	fmt.Fprintln(&b, "untouched for one 2 s tick (nothing changed: no plan should run, so its CPU is the idle cost of a")
	fmt.Fprintln(&b, "leader); every agent's heartbeat arrives once with nothing new; a commit changes one Deployment's")
	fmt.Fprintln(&b, "image (sync: fetch, load and commit the revision; then plan and commit the changed pods to raft, the")
	fmt.Fprintln(&b, "first time after the start and then warm); one pod's status changes; finally the heap in use.")
	fmt.Fprintln(&b, "The **B raft entry** of the commit rows is what that commit writes to the raft log.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, tbl)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| target | measured | |")
	fmt.Fprintln(&b, "|---|---|---|")
	fmt.Fprintf(&b, "| CPU per 2 s tick with nothing changed ≤ %s | %s | %s |\n", msf(targetIdleCPU), msf(idle.cpu), verdict(idle.cpu <= targetIdleCPU))
	worst := ""
	if m := worstOf.FindStringSubmatch(warm.step); m != nil {
		worst = "; " + m[0]
	}
	fmt.Fprintf(&b, "| a commit changing one 100-replica Deployment planned and persisted (warm, wall) ≤ %s | %s (CPU %s%s) | %s |\n",
		msf(targetCommit), msf(warm.wall), msf(warm.cpu), worst, verdict(warm.wall <= targetCommit))
	if n := entryBytes(warm.step); n >= 0 {
		fmt.Fprintf(&b, "| bytes written to the raft log per such commit | %s B (%.0f B per changed pod) | no target |\n", thousands(float64(n)), float64(n)/100)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The CPU figures are the process's, so a garbage collection or the runtime returning freed heap to")
	fmt.Fprintln(&b, "the kernel counts against the step it falls in; on a loaded machine the wall times stretch too.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secControlPlane))
	return b.String(), nil
}
