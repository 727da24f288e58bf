package runtime_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
)

// BenchmarkSync30Pods measures Sync of 30 single-container pods (image
// present) until all are Running, then their removal. Run it with
// -benchtime=1x or a few x; it is not part of `go test`. Sub-benchmarks
// per network plugin.
func BenchmarkSync30Pods(b *testing.B) {
	for _, plugin := range []string{runtime.NetworkBuiltin, runtime.NetworkCNI} {
		b.Run(plugin, func(b *testing.B) { benchSync30(b, plugin) })
	}
}

func benchSync30(b *testing.B, plugin string) {
	e := newEnvWith(b, func(c *runtime.Config) { c.NetworkPlugin = plugin })
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

// BenchmarkFloor30Containers is the floor for BenchmarkSync30Pods: the same
// 30 containers created and started straight through the containerd
// client, in parallel, with no network namespace, CNI or supervision.
func BenchmarkFloor30Containers(b *testing.B) {
	e := newEnv(b)
	ctx := e.ctx
	img, err := e.cl.Pull(ctx, busybox, client.WithPullUnpack)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 30)
		for j := 0; j < 30; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("floor-%d-%d", i, j)
				c, err := e.cl.NewContainer(ctx, id, client.WithNewSnapshot(id, img),
					client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "3600")))
				if err != nil {
					errs <- err
					return
				}
				task, err := c.NewTask(ctx, cio.NullIO)
				if err != nil {
					errs <- err
					return
				}
				errs <- task.Start(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-running")
		b.StopTimer()
		cs, _ := e.cl.Containers(ctx)
		for _, c := range cs {
			if t, err := c.Task(ctx, nil); err == nil {
				_, _ = t.Delete(ctx, client.WithProcessKill)
			}
			_ = c.Delete(ctx, client.WithSnapshotCleanup)
		}
		b.StartTimer()
	}
}

// BenchmarkPodNetwork measures one pod's network set-up (netns, veth or
// CNI ADD, IP) with no containers, through each plugin; the teardown is
// left out of the timing. Run it with -benchtime=100x or so.
func BenchmarkPodNetwork(b *testing.B) {
	for _, plugin := range []string{runtime.NetworkBuiltin, runtime.NetworkCNI} {
		b.Run(plugin, func(b *testing.B) {
			e := newEnvWith(b, func(c *runtime.Config) { c.NetworkPlugin = plugin })
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				uid := fmt.Sprintf("bench-%d-%s", i, randomID())
				if _, err := e.rt.AttachForTest(uid); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := e.rt.DetachForTest(uid); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkPodNetwork30 is BenchmarkPodNetwork for 30 pods attached at
// once, as a Sync of 30 pods does: ms-per-30 is the time until all have
// their IP.
func BenchmarkPodNetwork30(b *testing.B) {
	for _, plugin := range []string{runtime.NetworkBuiltin, runtime.NetworkCNI} {
		b.Run(plugin, func(b *testing.B) {
			e := newEnvWith(b, func(c *runtime.Config) { c.NetworkPlugin = plugin })
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var uids []string
				for j := 0; j < 30; j++ {
					uids = append(uids, fmt.Sprintf("bench-%d-%d-%s", i, j, randomID()))
				}
				start := time.Now()
				each := func(f func(string) error) {
					var wg sync.WaitGroup
					errs := make(chan error, len(uids))
					for _, uid := range uids {
						wg.Add(1)
						go func() {
							defer wg.Done()
							errs <- f(uid)
						}()
					}
					wg.Wait()
					close(errs)
					for err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				each(func(uid string) error { _, err := e.rt.AttachForTest(uid); return err })
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms-per-30")
				b.StopTimer()
				each(e.rt.DetachForTest)
				b.StartTimer()
			}
		})
	}
}
