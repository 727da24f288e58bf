package runtime_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// BenchmarkSync30Pods measures Sync of 30 single-container pods (image
// present) until all are Running, then their removal. Run it with
// -benchtime=1x or a few x; it is not part of `go test`.
func BenchmarkSync30Pods(b *testing.B) {
	e := newEnv(b)
	// Warm the image once.
	warm := newPod("warm", "", sh("c", "exec sleep 3600"))
	e.sync(warm)
	e.waitPod("warm", "running", 60*time.Second, running)
	e.sync()
	e.wait("warm gone", 60*time.Second, gone("warm"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var pods []api.Pod
		for j := 0; j < 30; j++ {
			pods = append(pods, newPod(fmt.Sprintf("p%d", j), "", sh("c", "exec sleep 3600")))
		}
		start := time.Now()
		e.sync(pods...)
		e.wait("30 running", 120*time.Second, func(st []api.PodStatus) bool {
			n := 0
			for _, p := range st {
				if running(p) {
					n++
				}
			}
			return n == 30
		})
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-running")
		b.StopTimer()
		stop := time.Now()
		e.sync()
		e.wait("all gone", 120*time.Second, func(st []api.PodStatus) bool { return len(st) == 0 })
		b.ReportMetric(float64(time.Since(stop).Milliseconds()), "ms-to-removed")
		b.StartTimer()
	}
}
