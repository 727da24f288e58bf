package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// lgNS is the logs step's namespace.
const lgNS = "lg"

// testLogs is TestHA's logs step: `ctl logs -f` through the reconciler
// streams a container's output until the container ends, and --previous
// shows the instance before a restart.
func (h *haCluster) testLogs(t *testing.T) {
	const ticks = 50
	pod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ticker
  namespace: %s
spec:
  restartPolicy: Always
  containers:
    - name: c
      image: %s
      command: ["sh", "-c", "i=0; while [ $i -lt %d ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; exit 1"]
`, lgNS, h.c.Image(devenv.BusyboxRepo), ticks)
	if _, err := h.c.Repo.Commit(h.ctx, "logs: ticker", map[string][]byte{
		"namespaces/lg.yaml": []byte(namespaceYAML(lgNS)),
		"apps/ticker.yaml":   []byte(pod),
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := h.c.Repo.Commit(h.ctx, "logs: done", map[string][]byte{"namespaces/lg.yaml": nil, "apps/ticker.yaml": nil}); err != nil {
			t.Error(err)
		}
		waitPodsOf(t, h.ctx, h.c, "the ticker removed", lgNS, time.Minute, func(ps []rapi.Pod) bool { return len(ps) == 0 })
	}()
	waitPodsOf(t, h.ctx, h.c, "the ticker running", lgNS, time.Minute, func(ps []rapi.Pod) bool {
		return len(ps) == 1 && ps[0].Status != nil && len(ps[0].Status.Containers) == 1 && ps[0].Status.Containers[0].State.Running != nil
	})
	var want strings.Builder
	for i := range ticks {
		fmt.Fprintf(&want, "tick %d\n", i)
	}
	// A follow ends with its instance: the whole output, then exit 0.
	start := time.Now()
	out, err := h.c.Ctl(h.ctx, "logs", "-f", "-n", lgNS, "ticker")
	if err != nil || out != want.String() {
		t.Errorf("ctl logs -f: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("ctl logs -f took %s: it did not end with the container", d)
	}
	waitPodsOf(t, h.ctx, h.c, "the ticker restarted", lgNS, time.Minute, func(ps []rapi.Pod) bool {
		return len(ps) == 1 && ps[0].Status != nil && len(ps[0].Status.Containers) == 1 && ps[0].Status.Containers[0].RestartCount >= 1
	})
	out, err = h.c.Ctl(h.ctx, "logs", "--previous", "-n", lgNS, "ticker", "--tail", "2", "--prefix")
	if wantTail := fmt.Sprintf("[pod/ticker/c] tick %d\n[pod/ticker/c] tick %d\n", ticks-2, ticks-1); err != nil || out != wantTail {
		t.Errorf("ctl logs --previous --tail 2 --prefix: %v\n%q, want %q", err, out, wantTail)
	}
}
