package agent

import (
	"context"
	mathrand "math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// freePort returns a loopback port free for both TCP and UDP right now,
// below the kernel's ephemeral range (32768 and up), so that the listeners
// other tests open on port 0 meanwhile cannot take it before the test
// binds it (TestMembership binds it 600 ms later, on purpose).
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		port := 20000 + mathrand.IntN(12000)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free TCP+UDP port")
	return 0
}

// plainMember is a serf member that is not an agent, as the reconciler is.
func plainMember(t *testing.T, port int) (*serf.Serf, chan serf.Event) {
	t.Helper()
	conf := api.SerfConfig("reconciler", "127.0.0.1", port, testLogger())
	conf.Tags = map[string]string{api.TagRole: api.RoleReconciler}
	events := make(chan serf.Event, 1024)
	conf.EventCh = events
	s, err := serf.Create(conf)
	if err != nil {
		t.Fatalf("serf.Create: %v", err)
	}
	t.Cleanup(func() { s.Shutdown() })
	return s, events
}

func member(s *serf.Serf, name string) (serf.Member, bool) {
	for _, m := range s.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return serf.Member{}, false
}

func TestMembership(t *testing.T) {
	// Agent n2 starts before the member it joins exists: it must retry.
	port := freePort(t)
	joinAddr := "127.0.0.1:" + strconv.Itoa(port)

	cfg2 := testConfig(t, "n2")
	cfg2.Join = []string{joinAddr}
	cfg2.Labels = map[string]string{"zone": "b"}
	n2 := startAgent(t, cfg2, newFakeRuntime())
	time.Sleep(600 * time.Millisecond) // at least two failed join attempts

	rec, _ := plainMember(t, port)
	cfg1 := testConfig(t, "n1")
	cfg1.Join = []string{joinAddr}
	cfg1.Labels = map[string]string{"zone": "a", "disk": "ssd"}
	cfg1.Taints = []spec.Taint{{Key: "dedicated", Value: "db", Effect: spec.TaintEffectNoExecute}, {Key: "gpu", Effect: spec.TaintEffectNoSchedule}}
	cfg1.PodCIDR = "10.77.0.0/24"
	cfg1.AllocatableMilliCPU = 3000
	n1 := startAgent(t, cfg1, newFakeRuntime())

	waitFor(t, 10*time.Second, "3 alive members at the plain member", func() bool {
		alive := 0
		for _, m := range rec.Members() {
			if m.Status == serf.StatusAlive {
				alive++
			}
		}
		return alive == 3
	})
	for _, a := range []*Agent{n1, n2} {
		m, _ := member(rec, a.cfg.NodeName)
		got, err := api.DecodeTags(m.Name, m.Tags)
		if err != nil {
			t.Fatalf("DecodeTags(%s): %v", m.Name, err)
		}
		if diff := cmp.Diff(a.Info(), got); diff != "" {
			t.Errorf("%s: decoded tags differ from Info (-info +tags):\n%s", m.Name, diff)
		}
	}
	// The agents see each other and the plain member too.
	waitFor(t, 10*time.Second, "n2 to see n1 and the reconciler", func() bool {
		m1, ok1 := member(n2.serf, "n1")
		r, ok2 := member(n2.serf, "reconciler")
		return ok1 && ok2 && m1.Status == serf.StatusAlive && r.Status == serf.StatusAlive &&
			r.Tags[api.TagRole] == api.RoleReconciler
	})

	// Kill n1 (no leave, as with kill -9): the others declare it failed.
	killed := time.Now()
	if err := n1.shutdown(context.Background(), false); err != nil {
		t.Fatalf("kill: %v", err)
	}
	waitFor(t, 15*time.Second, "n1 failed at the plain member", func() bool {
		m, _ := member(rec, "n1")
		return m.Status == serf.StatusFailed
	})
	detect := time.Since(killed)
	t.Logf("killed agent declared failed after %s", detect.Round(10*time.Millisecond))
	if detect > 8*time.Second {
		t.Errorf("failure detection took %s; the tuned timings promise about 5s", detect)
	}
	waitFor(t, 10*time.Second, "n1 failed at n2", func() bool {
		m, _ := member(n2.serf, "n1")
		return m.Status == serf.StatusFailed
	})

	// A graceful shutdown is seen as a leave, not a failure.
	if err := n2.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	waitFor(t, 10*time.Second, "n2 left at the plain member", func() bool {
		m, _ := member(rec, "n2")
		return m.Status == serf.StatusLeft
	})
}

func TestTagsTooLargeFailsStart(t *testing.T) {
	cfg := testConfig(t, "n1")
	cfg.Labels = map[string]string{}
	for i := range 40 {
		cfg.Labels["label-number-"+strconv.Itoa(i)] = "some-fairly-long-value"
	}
	a, err := New(cfg, newFakeRuntime())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err == nil {
		a.Shutdown(context.Background())
		t.Fatal("Start accepted tags over serf's limit")
	}
	// A failed Start leaves nothing to shut down.
	if err := a.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after failed Start: %v", err)
	}
}
