package runtime

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchProbe runs h b.N times and reports the CPU time per probe (agent
// and the in-process server together: an upper bound of the agent's
// share). The target of probes is ≤ 2% of a core at 100 probes/s, i.e.
// ≤ 200µs of CPU per probe.
func benchProbe(b *testing.B, h probeHandler) {
	ctx := context.Background()
	if res, out, err := h.probe(ctx, time.Second); res != resultSuccess {
		b.Fatalf("probe: %v %q %v", res, out, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for range b.N {
		if res, out, err := h.probe(ctx, time.Second); res != resultSuccess {
			b.Fatalf("probe: %v %q %v", res, out, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkHTTPProbe: one httpGet probe (a new connection each time, as
// in production) against a local server.
func BenchmarkHTTPProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	port := int32(srv.Listener.Addr().(*net.TCPAddr).Port)
	benchProbe(b, newHTTPProbe(&spec.HTTPGetAction{Path: "/healthz", Port: spec.FromInt(port)}, "127.0.0.1", nil, &spec.Container{}))
}

// BenchmarkTCPProbe: one tcpSocket probe against a local listener.
func BenchmarkTCPProbe(b *testing.B) {
	port := acceptAndClose(b)
	benchProbe(b, newTCPProbe(&spec.TCPSocketAction{Port: spec.FromInt(port)}, "127.0.0.1", nil, &spec.Container{}))
}

// nopHandler succeeds at once: the worker's own cost.
type nopHandler struct{}

func (nopHandler) probe(context.Context, time.Duration) (probeResult, string, error) {
	return resultSuccess, "", nil
}

// BenchmarkProbeWorkerStep: the state machine around a probe (threshold
// counting, no status change): it must not allocate.
func BenchmarkProbeWorkerStep(b *testing.B) {
	ft := newFakeTarget()
	pw := &probeWorker{kind: probeReadiness, params: fastParams(1, 3), h: nopHandler{}, t: ft}
	ctx := context.Background()
	pw.step(ctx) // ready once
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pw.step(ctx)
	}
}
