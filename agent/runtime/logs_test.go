package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/spec"
)

// dirSize sums the sizes of the files in dir.
func dirSize(dir string) (int64, int) {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n, len(ents)
}

// A container that writes over 100 MB as fast as it can keeps at most
// ContainerLogMaxSize × ContainerLogMaxFiles on disk (plus a line), and a
// follower sees its lines continue across the rotations.
func TestLogFloodRotation(t *testing.T) {
	const maxSize, maxFiles = 1 << 20, 3
	e := newEnvWith(t, func(c *runtime.Config) {
		c.ContainerLogMaxSize, c.ContainerLogMaxFiles = maxSize, maxFiles
	})
	// 100,000 lines of 1,007 bytes, numbered, then quiet.
	const lines = 100000
	p := newPod("flood", spec.RestartPolicyNever, sh("c",
		`awk 'BEGIN{s=sprintf("%01000d",0); for(i=0;i<`+strconv.Itoa(lines)+`;i++) print i, s}'; exec sleep 3600`))
	e.sync(p)
	e.waitPod("flood", "running", 60*time.Second, func(s api.PodStatus) bool {
		return len(s.Containers) == 1 && s.Containers[0].State.Running != nil
	})
	dir := e.rt.ContainerLogDir(p, "c")

	// The bytes on disk, sampled until the follower has seen the end.
	done := make(chan struct{})
	var maxSeen int64
	var maxFilesSeen int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			n, f := dirSize(dir)
			maxSeen, maxFilesSeen = max(maxSeen, n), max(maxFilesSeen, f)
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rc, err := e.rt.Logs(ctx, "default", "flood", api.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	seen, last, gaps := 0, -1, 0
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		num, pad, ok := strings.Cut(sc.Text(), " ")
		i, err := strconv.Atoi(num)
		if !ok || err != nil || len(pad) != 1000 {
			t.Fatalf("line %q is not one the container wrote", sc.Text())
		}
		if i <= last {
			t.Fatalf("line %d after %d", i, last)
		}
		if i != last+1 {
			gaps++ // a follower slower than the writer loses trimmed files
		}
		seen++
		last = i
		if i == lines-1 {
			break
		}
	}
	rc.Close()
	close(done)
	wg.Wait()
	if last != lines-1 {
		t.Fatalf("follower stopped at line %d (%v)", last, sc.Err())
	}
	// One file holds ~1,000 of these lines: more than three files' worth
	// means the follower went through rotations.
	if perFile := maxSize / 1043; seen < 3*perFile {
		t.Errorf("follower saw %d lines (%d gaps), want more than %d", seen, gaps, 3*perFile)
	}
	t.Logf("follower saw %d of %d lines (%d gaps); at most %d bytes in %d files on disk", seen, lines, gaps, maxSeen, maxFilesSeen)
	if limit := int64(maxSize*maxFiles + 1100); maxSeen > limit {
		t.Errorf("%d bytes on disk, want at most %d", maxSeen, limit)
	}
	if maxFilesSeen > maxFiles+1 { // + the file a rotation puts in place
		t.Errorf("%d files on disk, want at most %d", maxFilesSeen, maxFiles)
	}
	// The whole log read now is the end of what was written.
	if got := e.logsWith("flood", api.LogOptions{Tail: 2}); !strings.HasPrefix(got, strconv.Itoa(lines-2)+" ") || strings.Count(got, "\n") != 2 {
		t.Errorf("tail 2 = %.60q", got)
	}
}

// A container that fails once: --previous shows the first instance's
// output, the current log the second's, the termination message falls back
// to the log, and the pod's removal removes its logs.
func TestLogsPreviousInstance(t *testing.T) {
	e := newEnv(t)
	c := sh("c", `if [ -f /data/ran ]; then echo second; exec sleep 3600; fi; touch /data/ran; echo first; sleep 0.2; echo oops >&2; exit 3`)
	// stdout and stderr are two pipes the log driver reads at once: lines
	// written on both in the same instant may be logged in either order,
	// as the kubelet's, hence the pause between them.
	c.VolumeMounts = []spec.VolumeMount{{Name: "data", MountPath: "/data"}}
	c.TerminationMessagePolicy = spec.TerminationMessageFallbackToLogsOnError
	p := newPod("prev", spec.RestartPolicyOnFailure, c)
	p.Spec.Volumes = []spec.Volume{{Name: "data", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}}}
	e.sync(p)
	st := e.waitPod("prev", "restarted and running", 60*time.Second, func(s api.PodStatus) bool {
		return len(s.Containers) == 1 && s.Containers[0].RestartCount == 1 && s.Containers[0].State.Running != nil
	})
	if lt := st.Containers[0].LastTerminationState.Terminated; lt == nil || lt.Message != "first\noops\n" {
		t.Errorf("last termination = %+v, want the log's tail as its message", lt)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.logsWith("prev", api.LogOptions{}) != "second\n" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.logsWith("prev", api.LogOptions{}); got != "second\n" {
		t.Errorf("current log = %q, want %q", got, "second\n")
	}
	if got := e.logsWith("prev", api.LogOptions{Previous: true}); got != "first\noops\n" {
		t.Errorf("previous log = %q, want %q", got, "first\noops\n")
	}
	got := e.logsWith("prev", api.LogOptions{Previous: true, Timestamps: true, Tail: 1})
	if ts, rest, _ := strings.Cut(got, " "); rest != "oops\n" {
		t.Errorf("previous, timestamps, tail 1 = %q", got)
	} else if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || time.Since(at) > time.Minute {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	// A follower of the running instance ends when the caller goes.
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := e.rt.Logs(ctx, "default", "prev", api.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(rc).ReadString('\n')
	if line != "second\n" {
		t.Errorf("follow = %q", line)
	}
	cancel()
	readDone := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, rc); readDone <- err }()
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		t.Error("a follow did not end with its context")
	}
	rc.Close()

	podLogs := filepath.Dir(e.rt.ContainerLogDir(p, "c"))
	if _, err := os.Stat(filepath.Join(podLogs, "c", "0.log")); err != nil {
		t.Errorf("previous instance's file: %v", err)
	}
	e.sync()
	e.wait("pod removed", 30*time.Second, func(s []api.PodStatus) bool { return len(s) == 0 })
	if _, err := os.Stat(podLogs); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod's log directory after its removal: %v", err)
	}
}

// Previous without a restart is not found, as the kubelet answers.
func TestLogsNoPrevious(t *testing.T) {
	e := newEnv(t)
	e.sync(newPod("once", spec.RestartPolicyNever, sh("c", "echo hi; exec sleep 3600")))
	e.waitPod("once", "running", 60*time.Second, func(s api.PodStatus) bool {
		return len(s.Containers) == 1 && s.Containers[0].State.Running != nil
	})
	_, err := e.rt.Logs(context.Background(), "default", "once", api.LogOptions{Previous: true})
	if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "previous terminated container") {
		t.Errorf("previous of a container never restarted: %v", err)
	}
}

// The log driver is the shim's child, not the agent's: a container's
// output is kept while no runtime runs, and read after adoption with no
// line lost.
func TestLogsKeptWhileAgentDown(t *testing.T) {
	e := newEnv(t)
	p := newPod("ticker", spec.RestartPolicyNever, sh("c", `i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.02; done`))
	e.sync(p)
	e.waitPod("ticker", "running", 60*time.Second, func(s api.PodStatus) bool {
		return len(s.Containers) == 1 && s.Containers[0].State.Running != nil
	})
	current := filepath.Join(e.rt.ContainerLogDir(p, "c"), "0.log")
	e.rt.Close()
	closed := time.Now()
	// Written meanwhile: records stamped a while after the close.
	deadline := time.Now().Add(20 * time.Second)
	var whileDown string // a line the driver wrote while the runtime was closed
	for {
		b, _ := os.ReadFile(current)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if ts, rest, _ := strings.Cut(lines[len(lines)-1], " "); ts != "" {
			if at, err := time.Parse(time.RFC3339Nano, ts); err == nil && at.After(closed.Add(300*time.Millisecond)) {
				// "stdout F tick N"
				if f := strings.SplitN(rest, " ", 3); len(f) == 3 {
					whileDown = f[2]
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing logged while the runtime was closed; file ends %q", lines[len(lines)-1])
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.open()
	e.sync(p)
	log := e.logsWith("ticker", api.LogOptions{})
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if whileDown == "" || !slices.Contains(lines, whileDown) {
		t.Fatalf("log after adoption lacks %q, written while the runtime was closed: %q", whileDown, lines)
	}
	for i, l := range lines {
		if want := "tick " + strconv.Itoa(i); l != want {
			t.Fatalf("line %d = %q, want %q: a line lost or mangled across the agent's absence", i, l, want)
		}
	}
}
