package runtime

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type constProbe struct {
	res probeResult
	err error
}

func (c *constProbe) probe(context.Context, time.Duration) (probeResult, string, error) {
	return c.res, "out", c.err
}

type countingObserver struct {
	mu     sync.Mutex
	probes map[string]int
	pulls  []error
}

func (o *countingObserver) ProbeResult(typ, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.probes[typ+"/"+result]++
}

func (o *countingObserver) ImagePulled(_ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pulls = append(o.pulls, err)
}

// TestObserverSeesProbesAndPulls: every probe run reaches the observer with
// the kubelet's labels (a warning is a success, an error unknown), from
// the moment it is set; pulls carry their error.
func TestObserverSeesProbesAndPulls(t *testing.T) {
	r := &Runtime{}
	h := &constProbe{res: resultSuccess}
	pw := &probeWorker{kind: probeReadiness, params: fastParams(1, 3), h: h, t: newFakeTarget(), observe: r.observeProbe}
	ctx := context.Background()
	pw.step(ctx) // no observer yet: not counted, no panic
	o := &countingObserver{probes: map[string]int{}}
	r.SetObserver(o)
	for _, s := range []constProbe{{res: resultSuccess}, {res: resultWarning}, {res: resultFailure}, {res: resultFailure, err: errors.New("boom")}} {
		*h = s
		pw.step(ctx)
	}
	pw.kind = probeStartup
	*h = constProbe{res: resultSuccess}
	pw.step(ctx)
	want := map[string]int{"Readiness/successful": 2, "Readiness/failed": 1, "Readiness/unknown": 1, "Startup/successful": 1}
	o.mu.Lock()
	for k, n := range want {
		if o.probes[k] != n {
			t.Errorf("%s = %d, want %d (all: %v)", k, o.probes[k], n, o.probes)
		}
	}
	if len(o.probes) != len(want) {
		t.Errorf("probes = %v, want %v", o.probes, want)
	}
	o.mu.Unlock()

	pullErr := errors.New("unauthorized")
	r.observePull(time.Second, nil)
	r.observePull(time.Second, pullErr)
	if len(o.pulls) != 2 || o.pulls[0] != nil || o.pulls[1] != pullErr {
		t.Errorf("pulls = %v", o.pulls)
	}
	r.SetObserver(nil)
	r.observePull(time.Second, nil)
	if len(o.pulls) != 2 {
		t.Error("a removed observer was told of a pull")
	}
}
