package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/reconcile"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
	"github.com/stevedore-dev/stevedore/spec/render"
)

// diffRuns is how many times each diff measurement is repeated; the median
// is reported. Each run is well under a second, so the section costs a few
// seconds of CPU.
const diffRuns = 5

// diffTarget is the end-to-end wall time `ctl diff --local` must stay
// under at 10,000 objects (issue 13).
const diffTarget = 500 * time.Millisecond

// objectsPerFile is how many YAML documents each generated file holds.
const objectsPerFile = 100

const diffPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: p-%d
  namespace: bench
  labels: {app: p-%d}
spec:
  containers:
    - name: main
      image: registry.local/app:%d
      resources: {requests: {cpu: 10m, memory: 16Mi}}
`

const diffDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d-%d
  namespace: bench
spec:
  replicas: %d
  selector:
    matchLabels: {app: d-%d}
  template:
    metadata:
      labels: {app: d-%d}
    spec:
      containers:
        - name: main
          image: registry.local/app:%d
          resources: {requests: {cpu: 10m, memory: 16Mi}}
`

// diffChanges is what the generated work tree changes against the applied
// revision.
type diffChanges struct {
	changedImage, scaled, deleted, created int
}

func (d diffChanges) total() int { return d.changedImage + d.scaled + d.deleted + d.created }

// genDiffRevisions returns an applied revision of n objects (a Namespace,
// then two Pods for every Deployment of 2 replicas, 100 documents a file)
// and the next one: 1% of the Deployments with a new image, 1% scaled to 3,
// 0.5% of the Pods deleted and as many new ones.
func genDiffRevisions(n int) (applied, next map[string][]byte, ch diffChanges) {
	applied, next = map[string][]byte{}, map[string][]byte{}
	ns := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n")
	applied["00-namespace.yaml"], next["00-namespace.yaml"] = ns, ns
	var a, b bytes.Buffer
	flush := func(file int) {
		name := fmt.Sprintf("objects-%04d.yaml", file)
		applied[name], next[name] = bytes.Clone(a.Bytes()), bytes.Clone(b.Bytes())
		a.Reset()
		b.Reset()
	}
	sep := func(w *bytes.Buffer) {
		if w.Len() > 0 {
			w.WriteString("---\n")
		}
	}
	deployments, pods := 0, 0
	for i := 0; i < n-1; i++ {
		if i%3 == 2 {
			deployments++
			sep(&a)
			fmt.Fprintf(&a, diffDeploymentYAML, i, 2, i, i, 1)
			replicas, image := 2, 1
			switch {
			case deployments%100 == 0:
				image = 2
				ch.changedImage++
			case deployments%100 == 50:
				replicas = 3
				ch.scaled++
			}
			sep(&b)
			fmt.Fprintf(&b, diffDeploymentYAML, i, replicas, i, i, image)
		} else {
			pods++
			sep(&a)
			fmt.Fprintf(&a, diffPodYAML, i, i, 1)
			if pods%200 == 0 {
				ch.deleted++
			} else {
				sep(&b)
				fmt.Fprintf(&b, diffPodYAML, i, i, 1)
			}
		}
		if (i+1)%objectsPerFile == 0 {
			flush(i / objectsPerFile)
		}
	}
	if a.Len() > 0 || b.Len() > 0 {
		flush((n - 2) / objectsPerFile)
	}
	// New pods, in a file of their own as a pull request would add them.
	var added bytes.Buffer
	for i := range ch.deleted {
		sep(&added)
		fmt.Fprintf(&added, diffPodYAML, n+i, n+i, 1)
		ch.created++
	}
	if added.Len() > 0 {
		next["new-pods.yaml"] = added.Bytes()
	}
	return applied, next, ch
}

// diffTimes are one run's measurements.
type diffTimes struct {
	// ctl is exec to exit; ctlCPU its CPU time, serverCPU this process's
	// (the reconciler's) over the same span.
	ctl, ctlCPU, serverCPU time.Duration
	// The pieces alone: the reconciler's load of the work tree reusing the
	// applied revision's documents, the same load from scratch (what ctl
	// and the reconciler each did per diff before spec.Cache), the diff.
	loadCached, loadFresh, diff time.Duration
	// floor is `diff -ru` of the two trees: a text diff, without objects.
	floor       time.Duration
	changes     int
	outputBytes int
}

// benchDiff measures `ctl diff --local` over n objects: the real ctl binary
// against a stand-in for the reconciler's GET /v1/revision, and in-process
// the pieces it is made of.
func benchDiff(ctx context.Context, binDir string, n int, out io.Writer) (string, error) {
	st := newStamp()
	dir, err := os.MkdirTemp("", "stevedore-diffbench-")
	if err != nil {
		return "", fmt.Errorf("failed to create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	applied, next, ch := genDiffRevisions(n)
	work, base := filepath.Join(dir, "work"), filepath.Join(dir, "applied")
	for tree, files := range map[string]map[string][]byte{work: next, base: applied} {
		if err := os.MkdirAll(tree, 0o755); err != nil {
			return "", fmt.Errorf("failed to create %s: %w", tree, err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(tree, name), b, 0o644); err != nil {
				return "", fmt.Errorf("failed to write %s: %w", name, err)
			}
		}
	}
	srv, err := startDiffReconciler(ctx, filepath.Join(dir, "reconciler"), applied)
	if err != nil {
		return "", err
	}
	defer srv.close()
	ctl, err := filepath.Abs(filepath.Join(binDir, "ctl"))
	if err != nil {
		return "", fmt.Errorf("failed to resolve ctl: %w", err)
	}
	var runs []diffTimes
	for i := range diffRuns {
		t, err := measureDiffOnce(ctx, ctl, srv.url, work, applied, ch.total())
		if err != nil {
			return "", err
		}
		if t.floor, err = diffFloor(ctx, base, work); err != nil {
			return "", err
		}
		if t.changes != ch.total() {
			return "", fmt.Errorf("diff found %d changed objects, want %d", t.changes, ch.total())
		}
		fmt.Fprintf(out, "diff run %d: ctl %s (CPU: ctl %s, reconciler %s; load cached %s, load fresh %s, diff %s)\n", i+1,
			t.ctl.Round(time.Millisecond), t.ctlCPU.Round(time.Millisecond), t.serverCPU.Round(time.Millisecond),
			t.loadCached.Round(time.Millisecond), t.loadFresh.Round(time.Millisecond), t.diff.Round(time.Millisecond))
		runs = append(runs, t)
	}
	return renderDiff(runs, n, len(next), ch, st), nil
}

// measureDiffOnce runs ctl diff --local once, then the same steps in this
// process one by one.
func measureDiffOnce(ctx context.Context, ctl, server, dir string, applied map[string][]byte, want int) (diffTimes, error) {
	var t diffTimes
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ctl, "--server", server, "diff", "--local", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The garbage of the previous run's in-process measurements is
	// collected now, not on the reconciler's clock.
	runtime.GC()
	cpu0 := processCPU()
	start := time.Now()
	err := cmd.Run()
	t.ctl = time.Since(start)
	t.serverCPU = processCPU() - cpu0
	// Exit status 1 means "there are changes", which is what we made.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return t, fmt.Errorf("failed to run ctl diff --local: %w: %s", err, stderr.String())
	}
	if err == nil {
		return t, errors.New("ctl diff --local found no changes")
	}
	t.ctlCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	t.outputBytes = stdout.Len()
	// What ctl printed must be the change set, not merely some output.
	if line := fmt.Sprintf("\n%d object(s) changed:", want); !strings.Contains(stdout.String(), line) {
		return t, fmt.Errorf("ctl diff --local did not report the %d changes: %.300s", want, stdout.String())
	}

	files, err := render.ReadDir(dir)
	if err != nil {
		return t, fmt.Errorf("failed to read the work tree: %w", err)
	}
	// The reconciler holds the applied revision and its documents from the
	// sync; a diff loads the work tree reusing them.
	base, cache, err := render.LoadCached(applied, nil)
	if err != nil {
		return t, fmt.Errorf("failed to load the applied revision: %w", err)
	}
	start = time.Now()
	nextSet, _, err := render.LoadCached(files, cache)
	t.loadCached = time.Since(start)
	if err != nil {
		return t, fmt.Errorf("failed to load the work tree: %w", err)
	}
	start = time.Now()
	if _, err := render.Load(files); err != nil {
		return t, fmt.Errorf("failed to load the work tree: %w", err)
	}
	t.loadFresh = time.Since(start)
	start = time.Now()
	changes := reconcile.Diff(base, nextSet)
	t.diff = time.Since(start)
	t.changes = len(changes)
	return t, nil
}

// diffReconciler is a real reconciler (reconcile/server) in this process,
// on loopback, whose applied revision is a commit of a local bare
// repository: what `ctl diff --local` talks to, without agents.
type diffReconciler struct {
	url string
	srv *server.Server
}

func startDiffReconciler(ctx context.Context, dir string, applied map[string][]byte) (*diffReconciler, error) {
	repo, err := devenv.NewGitRepo(ctx, filepath.Join(dir, "git"))
	if err != nil {
		return nil, err
	}
	if _, err := repo.Commit(ctx, "Applied revision", applied); err != nil {
		return nil, err
	}
	cfg := server.DefaultConfig()
	cfg.Source.URL, cfg.Source.Branch, cfg.DataDir = repo.Bare, repo.Branch, filepath.Join(dir, "data")
	cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.PollInterval = -1 // synced once below, on demand
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Security.Disabled = true // the diff's cost, not TLS's: plain HTTP
	srv, err := server.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to create the reconciler: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		_ = srv.Shutdown(context.Background())
		return nil, fmt.Errorf("failed to start the reconciler: %w", err)
	}
	d := &diffReconciler{url: srv.APIURL(), srv: srv}
	cl, err := rapi.NewClient(d.url, nil)
	if err != nil {
		d.close()
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := cl.Sync(sctx, true)
	if err == nil && (res.Error != nil || !res.Applied) {
		err = fmt.Errorf("the applied revision did not apply: %+v", res.Error)
	}
	if err != nil {
		d.close()
		return nil, fmt.Errorf("failed to sync the reconciler: %w", err)
	}
	// The sync returns once the revision is planned; diffs read the view
	// published after that. Until it holds the revision, a diff would
	// compare against nothing (every object created).
	for {
		res, err := cl.DiffFiles(sctx, applied)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("failed to diff the applied revision: %w", err)
		}
		if res.Applied != nil && len(res.Changes) == 0 {
			return d, nil
		}
		select {
		case <-sctx.Done():
			d.close()
			return nil, fmt.Errorf("the reconciler's view never showed the applied revision: %w", sctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (d *diffReconciler) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
}

// diffFloor times GNU diff -ru between the applied tree and the work tree:
// the same files compared as text, the floor under any diff of them.
func diffFloor(ctx context.Context, a, b string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "diff", "-ru", a, b)
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return 0, fmt.Errorf("failed to run diff -ru (the floor): %w", err)
	}
	return took, nil
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

// processCPU is this process's CPU time so far (user + system, all
// threads).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// renderDiff renders the Diff section.
func renderDiff(runs []diffTimes, n, files int, ch diffChanges, st stamp) string {
	pick := func(f func(diffTimes) time.Duration) (time.Duration, time.Duration, time.Duration) {
		var ds []time.Duration
		for _, r := range runs {
			ds = append(ds, f(r))
		}
		return median(ds), slices.Min(ds), slices.Max(ds)
	}
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secDiff))
	fmt.Fprintln(&b, "## Diff")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "`ctl diff --local DIR` over %s objects (a Namespace; Deployments of 2 replicas and Pods, 2:1, in\n", thousands(float64(n)))
	fmt.Fprintf(&b, "%d files of up to %d documents). The work tree changes %d objects: %d Deployments get a new image, %d are\n", files, objectsPerFile, ch.total(), ch.changedImage, ch.scaled)
	fmt.Fprintf(&b, "scaled from 2 to 3, %d Pods are deleted and %d added; nearly every file has a change. The real `bin/ctl`\n", ch.deleted, ch.created)
	fmt.Fprintln(&b, "runs as a process against a real reconciler (reconcile/server in the benchmark's process, on loopback,")
	fmt.Fprintln(&b, "whose applied revision is the first commit of a local bare Git repository; no agents, so pods a change")
	fmt.Fprintln(&b, "would start have no node to go to). It does everything `ctl diff --local` does: reading the work tree,")
	fmt.Fprintln(&b, "posting it to the reconciler, the reconciler's load of it (reusing the applied revision's unchanged")
	fmt.Fprintln(&b, "documents, `spec.LoadCached`, on both cores), the")
	fmt.Fprintln(&b, "field-level diff (`reconcile.Diff`: go-cmp, field paths and a unified YAML diff per changed object)")
	fmt.Fprintln(&b, "with the pods each workload would start and stop, a dry-run plan placing them, the HTTP round trip,")
	fmt.Fprintln(&b, "and rendering the report to a pipe. The clock runs from exec to exit. CPU is counted apart for ctl and")
	fmt.Fprintln(&b, "for the reconciler (the benchmark process over the same span): on a shared machine the CPU seconds")
	fmt.Fprintln(&b, "are what hold, the wall time is what the user waits. The rows under them time the pieces alone, in the")
	fmt.Fprintf(&b, "benchmark's process. Median of %d runs.\n", len(runs))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| measurement | median | min | max | target |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	row := func(label, target string, f func(diffTimes) time.Duration) {
		m, lo, hi := pick(f)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", label, secs(m), secs(lo), secs(hi), target)
	}
	row(fmt.Sprintf("`ctl diff --local`, %s objects, end to end (wall)", thousands(float64(n))), "≤ "+secs(diffTarget), func(t diffTimes) time.Duration { return t.ctl })
	row("floor: `diff -ru` of the applied tree and the work tree (text only)", "", func(t diffTimes) time.Duration { return t.floor })
	row("CPU time of ctl (user + system, all threads)", "", func(t diffTimes) time.Duration { return t.ctlCPU })
	row("CPU time of the reconciler over the same span", "", func(t diffTimes) time.Duration { return t.serverCPU })
	row("in process: the reconciler's load of it (`spec.LoadCached`, reusing the applied revision's documents)", "", func(t diffTimes) time.Duration { return t.loadCached })
	row("in process: the same load from scratch (`spec.Load`; before, ctl and the reconciler each paid it per diff)", "", func(t diffTimes) time.Duration { return t.loadFresh })
	row(fmt.Sprintf("in process: `reconcile.Diff` (%d changes)", ch.total()), "", func(t diffTimes) time.Duration { return t.diff })
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "ctl printed %s bytes per run.\n", thousands(float64(runs[0].outputBytes)))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Where the time went (pprof of ctl and of the reconciler, before issue 13's changes: 1.3–1.55 s end to")
	fmt.Fprintln(&b, "end, 0.8 s of ctl CPU): about two thirds in decoding YAML (go.yaml.in/yaml/v3's parser and spec's")
	fmt.Fprintln(&b, "reflective walker), done twice over the whole tree, once by ctl to validate it and once by the")
	fmt.Fprintln(&b, "reconciler; then the reconciler's dry-run plan of every pod (a quarter: template and spec hashes")
	fmt.Fprintln(&b, "through encoding/json, scheduling, views), the diff (under a tenth), the JSON and the HTTP round trip")
	fmt.Fprintln(&b, "(a few percent). What changed: the reconciler keeps the applied revision's documents by their text")
	fmt.Fprintln(&b, "(`spec.Cache`, filled by the sync) and decodes only the documents a change touched, which also")
	fmt.Fprintln(&b, "leaves unchanged objects the same pointers that `reconcile.Diff` skips without comparing; files")
	fmt.Fprintln(&b, "decode in parallel; ctl no longer loads the tree a second time (the reconciler's load errors are")
	fmt.Fprintln(&b, "the same `file:line` lines, and `ctl validate` checks offline); the dry-run plan runs beside the")
	fmt.Fprintln(&b, "diff. What is left is mostly the dry-run plan, which a diff of any size pays for 10,000 objects.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secDiff))
	return b.String()
}
