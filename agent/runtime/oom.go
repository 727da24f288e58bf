package runtime

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/typeurl/v2"
)

// oomWatcher remembers which containers containerd reported as OOM-killed
// (the shim's /tasks/oom event), since the exit status alone is just 137.
type oomWatcher struct {
	mu   sync.Mutex
	seen map[string]time.Time // container ID → when
	cond chan struct{}        // closed and replaced on every event
}

func newOOMWatcher() *oomWatcher {
	return &oomWatcher{seen: map[string]time.Time{}, cond: make(chan struct{})}
}

// run subscribes to OOM events until ctx ends, resubscribing after errors.
func (o *oomWatcher) run(ctx context.Context, cl *client.Client, ns string, log *slog.Logger) {
	for ctx.Err() == nil {
		sctx, cancel := context.WithCancel(ctx)
		evs, errs := cl.Subscribe(sctx, `topic=="/tasks/oom"`, `namespace==`+strconv.Quote(ns))
	loop:
		for {
			select {
			case env := <-evs:
				if env == nil || env.Event == nil {
					continue
				}
				v, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				if e, ok := v.(*apievents.TaskOOM); ok {
					o.mu.Lock()
					o.seen[e.ContainerID] = time.Now()
					close(o.cond)
					o.cond = make(chan struct{})
					o.mu.Unlock()
				}
			case err := <-errs:
				if ctx.Err() == nil {
					log.Warn("containerd event stream ended; resubscribing", "err", err)
				}
				break loop
			case <-ctx.Done():
				break loop
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// killed reports whether id was OOM-killed since since, waiting up to wait
// for an event that may trail the exit.
func (o *oomWatcher) killed(id string, since time.Time, wait time.Duration) bool {
	deadline := time.After(wait)
	for {
		o.mu.Lock()
		t, ok := o.seen[id]
		c := o.cond
		o.mu.Unlock()
		if ok && !t.Before(since) {
			return true
		}
		select {
		case <-c:
		case <-deadline:
			return false
		}
	}
}

func (o *oomWatcher) forget(id string) {
	o.mu.Lock()
	delete(o.seen, id)
	o.mu.Unlock()
}

// cgroupOOMKilled reads the cgroup v1 memory controller's oom_kill counter
// (or cgroup v2's memory.events) of a task that has exited but is not yet
// deleted.
func cgroupOOMKilled(cgroupsPath string) bool {
	if cgroupsPath == "" {
		return false
	}
	for _, f := range []struct{ file, key string }{
		{filepath.Join("/sys/fs/cgroup/memory", cgroupsPath, "memory.oom_control"), "oom_kill"},
		{filepath.Join("/sys/fs/cgroup", cgroupsPath, "memory.events"), "oom_kill"},
	} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, " ")
			if ok && k == f.key {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n > 0
			}
		}
	}
	return false
}
