package runtime

import (
	"sync/atomic"
	"time"
)

// Observer is told of what the runtime does that the agent counts for its
// /metrics: probe results and image pulls. Its methods are called from the
// runtime's goroutines, concurrently; they must not block.
type Observer interface {
	// ProbeResult is one probe run: probeType is Liveness, Readiness or
	// Startup, result successful, failed or unknown (the kubelet's
	// prober_probe_total labels).
	ProbeResult(probeType, result string)
	// ImagePulled is one pull from a registry (not a lookup of an image
	// already present), with its error if it failed.
	ImagePulled(took time.Duration, err error)
}

// observerBox holds the runtime's Observer (nil: none). It is set after
// New: pods adopted during New run their probes before the agent exists,
// and are counted from then on.
type observerBox struct{ p atomic.Pointer[Observer] }

// SetObserver makes o the runtime's observer (nil: none).
func (r *Runtime) SetObserver(o Observer) {
	if o == nil {
		r.observer.p.Store(nil)
		return
	}
	r.observer.p.Store(&o)
}

func (r *Runtime) observeProbe(kind probeKind, res probeResult, err error) {
	o := r.observer.p.Load()
	if o == nil {
		return
	}
	result := "unknown"
	switch {
	case err != nil:
	case res == resultSuccess || res == resultWarning:
		result = "successful"
	case res == resultFailure:
		result = "failed"
	}
	(*o).ProbeResult(kind.String(), result)
}

func (r *Runtime) observePull(took time.Duration, err error) {
	if o := r.observer.p.Load(); o != nil {
		(*o).ImagePulled(took, err)
	}
}
