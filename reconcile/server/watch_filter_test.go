package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// watchLines opens a watch on h and returns its events as "TYPE key"
// lines (key: namespace/name of a pod, name otherwise), read in the
// background.
func watchLines(t *testing.T, h http.HandlerFunc, target string) <-chan string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+target, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", target, resp.Status)
	}
	out := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev api.WatchEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				out <- "bad event: " + sc.Text()
				return
			}
			var obj struct{ Namespace, Name string }
			_ = json.Unmarshal(ev.Object, &obj)
			key := obj.Name
			if obj.Namespace != "" {
				key = obj.Namespace + "/" + key
			}
			out <- strings.TrimSpace(ev.Type + " " + key)
		}
	}()
	return out
}

// expectLines reads the next len(want) events and compares them.
func expectLines(t *testing.T, ch <-chan string, what string, want ...string) {
	t.Helper()
	var got []string
	for range want {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("%s: the watch ended after %q", what, got)
			}
			got = append(got, l)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: got %q, then nothing; want %q", what, got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// publishPods publishes a view of s whose pods are copies of the last
// one's (as the planner splices them), edit applied to the copies.
func publishPods(s *Server, edit func(views []reconcile.PodView)) {
	old := s.view.Load()
	v := &view{leader: true, set: old.set, views: slices.Clone(old.views), workloads: old.workloads}
	if edit != nil {
		edit(v.views)
	}
	s.view.Store(v)
	s.viewChanged.notify()
}

// TestFilteredWatchMembership: a pod that stops matching a filtered watch
// is sent as DELETED, one that starts matching as ADDED (in both the full
// and the summary view), and a publish that changed nothing sends nothing.
func TestFilteredWatchMembership(t *testing.T) {
	t.Parallel()
	for _, view := range []string{"", "&view=summary"} {
		t.Run("view="+strings.TrimPrefix(view, "&view="), func(t *testing.T) {
			t.Parallel()
			s := filterServer(t)
			ch := watchLines(t, s.handlePods, "/v1/pods?watch=1&fieldSelector=status.phase%3DRunning"+view)
			expectLines(t, ch, "the first list", "ADDED db/pg-0", "ADDED shop/web-1", "BOOKMARK")

			// web-1 stops running, web-2 starts: it leaves the list, web-2
			// enters it.
			publishPods(s, func(vs []reconcile.PodView) {
				for i := range vs {
					switch vs[i].Name {
					case "web-1":
						vs[i].Phase, vs[i].Reason = "Pending", "ContainerCreating"
					case "web-2":
						vs[i].Phase, vs[i].Node = "Running", "n1"
					}
				}
			})
			expectLines(t, ch, "after web-1 stopped and web-2 started", "ADDED shop/web-2", "DELETED shop/web-1")

			// Nothing changed: nothing is sent. The next change is the next
			// event.
			publishPods(s, nil)
			publishPods(s, func(vs []reconcile.PodView) {
				for i := range vs {
					if vs[i].Name == "pg-0" {
						vs[i].PodIP = "10.244.2.9"
					}
				}
			})
			expectLines(t, ch, "after a publish that changed nothing, then pg-0's address", "MODIFIED db/pg-0")

			// Back in: web-1 is ADDED again (as a watch that started now
			// would list it).
			publishPods(s, func(vs []reconcile.PodView) {
				for i := range vs {
					if vs[i].Name == "web-1" {
						vs[i].Phase, vs[i].Reason = "Running", ""
					}
				}
			})
			expectLines(t, ch, "after web-1 ran again", "ADDED shop/web-1")
		})
	}
}

// TestWatchPublishAllocs: a publish that changed none of 1,000 pods costs
// a watcher of them a few allocations, not some per pod (the review
// measured 3 per pod, 5 in the summary view), and the wire pods of the
// two views are the same pointers.
func TestWatchPublishAllocs(t *testing.T) {
	const pods = 1000
	s := benchWatchServer(t, pods)
	for _, query := range []string{"", "view=summary", "fieldSelector=metadata.name%3D" + s.view.Load().views[pods/2].Name, "q=app-0&labelSelector=tier%3Dfront"} {
		q, _ := urlQuery(query)
		f, err := parseFilter(q, filterPods)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		st := newWatchState()
		list := watchPods(&s.podWires, "", f)
		if err := st.write(enc, list(s.view.Load())); err != nil {
			t.Fatal(err)
		}
		const runs = 10
		views := make([]*view, runs+1)
		for i := range views {
			views[i] = republish(s)
		}
		buf.Reset()
		n := 0
		allocs := testing.AllocsPerRun(runs, func() {
			if err := st.write(enc, list(views[n])); err != nil {
				t.Fatal(err)
			}
			n++
		})
		if buf.Len() != 0 {
			t.Errorf("%s: a publish that changed nothing sent %.200s", query, buf.String())
		}
		if allocs > 5 {
			t.Errorf("%s: %.0f allocations per publish to a watcher of %d pods, want at most 5", query, allocs, pods)
		}
	}
	a, b := s.view.Load().wirePods(&s.podWires), republish(s).wirePods(&s.podWires)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("pod %d: a new wire form in a publish that changed nothing", i)
		}
	}
}

func urlQuery(s string) (url.Values, error) { return url.ParseQuery(s) }
