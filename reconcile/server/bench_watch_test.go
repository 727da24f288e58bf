package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/spec"
)

// The cost of one publish to a watcher of 10,000 pods, when the publish
// changed none of them: what every open pods page pays on every plan.
//
//	go test ./reconcile/server -run '^$' -bench BenchmarkWatchPublish -benchmem
//
// Each iteration publishes a new view whose pods are copies of the last
// one's (as the planner splices its views: the same pointers inside, new
// addresses), and runs the watch's step on it, events written to
// io.Discard. Building the view is not timed.
//
// On 2 cores (Turin-like VM), before and after the wire pods were shared
// and carried across views (podwire.go):
//
//	pods              21.6 ms  10.7 MB  30,034 allocs  →  1.1 ms  82 KB  1 alloc
//	pods, summary     36.1 ms  14.5 MB  50,034 allocs  →  1.1 ms  82 KB  1 alloc
//	one pod (name=)    9.1 ms   8.5 MB  30,003 allocs  →  0.7 ms  82 KB  1 alloc
//	10 × summary       282 ms   145 MB 500,340 allocs  →  6.7 ms  82 KB  1 alloc
//	10 × applications  4.0 ms   2.4 MB   8,280 allocs  →  0.6 ms 237 KB  836 allocs

// benchWatchPods is the pod count of the benchmarks.
const benchWatchPods = 10000

// benchWatchServer is a server without raft or Git whose view holds n
// running pods of 100 Deployments, each with a full report from its node.
func benchWatchServer(b testing.TB, n int) *Server {
	b.Helper()
	s := &Server{store: newStore(), log: slog.New(slog.DiscardHandler), events: newEventRing(100)}
	s.metrics = newServerMetrics(s)
	now := time.Now()
	started := true
	views := make([]reconcile.PodView, 0, n)
	var workloads []reconcile.WorkloadView
	for d := range 100 {
		name := fmt.Sprintf("app-%02d", d)
		labels := map[string]string{"app": name, "tier": "front"}
		ps := spec.PodSpec{Containers: []spec.Container{{Name: "web", Image: "registry.local/" + name + ":1",
			Env:   []spec.EnvVar{{Name: "PORT", Value: "8080"}, {Name: "MODE", Value: "production"}},
			Ports: []spec.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}
		workloads = append(workloads, reconcile.WorkloadView{Kind: spec.KindDeployment, Namespace: "shop", Name: name, Replicas: int32(n / 100)})
		for i := range n / 100 {
			pod := fmt.Sprintf("%s-7d4b9c8f6d-%05d", name, i)
			uid := fmt.Sprintf("%08x-8d1a-4a57-9a7c-1f0e2d3c4b5a", d*n+i)
			node := fmt.Sprintf("node-%03d", (d*n/100+i)%100)
			st := &agentapi.PodStatus{UID: uid, Namespace: "shop", Name: pod, Node: node, Phase: agentapi.PodRunning, PodIP: "10.244.1.17",
				StartTime: &now, Owner: "Deployment/shop/" + name,
				Conditions: []agentapi.Condition{{Type: agentapi.PodReady, Status: "True", LastTransitionTime: now}},
				Containers: []agentapi.ContainerStatus{{Name: "web", Image: ps.Containers[0].Image, ImageID: "sha256:4f9c0a",
					ContainerID: "containerd://" + uid, Ready: true, Started: &started,
					State: agentapi.ContainerState{Running: &agentapi.StateRunning{StartedAt: now}}}}}
			views = append(views, reconcile.PodView{UID: uid, Namespace: "shop", Name: pod, Owner: st.Owner, Labels: labels, Node: node,
				Phase: st.Phase, PodIP: st.PodIP, Status: st, Spec: ps, Created: now})
		}
	}
	slices.SortFunc(views, func(a, b reconcile.PodView) int { return strings.Compare(a.Name, b.Name) })
	s.view.Store(&view{leader: true, views: views, workloads: workloads})
	return s
}

// republish publishes a view of s's pods that changed nothing.
func republish(s *Server) *view {
	old := s.view.Load()
	v := &view{leader: true, views: slices.Clone(old.views), workloads: old.workloads}
	s.view.Store(v)
	return v
}

// benchWatchPublish runs watchers watches of list (one publish each) per
// iteration, after their first (full) write.
func benchWatchPublish(b *testing.B, s *Server, watchers int, list func(*view) []keyed) {
	steps := make([]func(*view) error, watchers)
	for i := range steps {
		steps[i] = newWatchStep(list)
		if err := steps[i](s.view.Load()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		v := republish(s)
		b.StartTimer()
		for _, step := range steps {
			if err := step(v); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// newWatchStep is one watch stream's state and what it does at a
// publish (serveWatchOf's loop, without the HTTP).
func newWatchStep(list func(*view) []keyed) func(*view) error {
	enc := json.NewEncoder(io.Discard)
	st := newWatchState()
	return func(v *view) error { return st.write(enc, list(v)) }
}

func benchPodsFilter(b *testing.B, query string) *listFilter {
	q, err := url.ParseQuery(query)
	if err != nil {
		b.Fatal(err)
	}
	f, err := parseFilter(q, filterPods)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func BenchmarkWatchPublishPods(b *testing.B) {
	s := benchWatchServer(b, benchWatchPods)
	benchWatchPublish(b, s, 1, watchPods(&s.podWires, "", benchPodsFilter(b, "")))
}

func BenchmarkWatchPublishPodsSummary(b *testing.B) {
	s := benchWatchServer(b, benchWatchPods)
	benchWatchPublish(b, s, 1, watchPods(&s.podWires, "", benchPodsFilter(b, "view=summary")))
}

func BenchmarkWatchPublishOnePod(b *testing.B) {
	s := benchWatchServer(b, benchWatchPods)
	name := s.view.Load().views[benchWatchPods/2].Name
	benchWatchPublish(b, s, 1, watchPods(&s.podWires, "", benchPodsFilter(b, "fieldSelector=metadata.name%3D"+name)))
}

// BenchmarkWatchPublishPodsSummary10 is ten pods pages open at once.
func BenchmarkWatchPublishPodsSummary10(b *testing.B) {
	s := benchWatchServer(b, benchWatchPods)
	benchWatchPublish(b, s, 10, watchPods(&s.podWires, "", benchPodsFilter(b, "view=summary")))
}

// BenchmarkWatchPublishApplications10 is ten applications pages open at
// once: the health of the applications is computed over every pod.
func BenchmarkWatchPublishApplications10(b *testing.B) {
	s := benchWatchServer(b, benchWatchPods)
	benchWatchPublish(b, s, 10, s.watchApplications(&listFilter{}))
}
