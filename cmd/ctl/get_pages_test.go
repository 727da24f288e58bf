package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// chunkPods are n running pods in two namespaces, their cells of equal
// widths (a table's columns then do not depend on which rows it holds).
func chunkPods(n int) []api.Pod {
	out := make([]api.Pod, n)
	for i := range out {
		out[i] = running(fmt.Sprintf("web-%02d", i), fmt.Sprintf("node-%d", i%3), fmt.Sprintf("10.88.0.%d", 10+i), int32(i%2))
		if i >= n/2 {
			out[i].Namespace = "tail"
		}
		out[i].Labels = map[string]string{"app": "web", "odd": fmt.Sprint(i%2 == 1)}
	}
	return out
}

// podRequests returns the queries of GET /v1/pods the fake received.
func podRequests(f *fakeReconciler) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.paths {
		if p == api.PathPods || strings.HasPrefix(p, api.PathPods+"?") {
			out = append(out, p)
		}
	}
	return out
}

// TestGetPodsChunked: ctl get pods reads pages of --chunk-size and prints
// what it prints from one answer (--chunk-size 0): the table (header once),
// -o wide, -o json and -o yaml (one List), --sort-by, and a client-side
// filter that empties some pages.
func TestGetPodsChunked(t *testing.T) {
	f := &fakeReconciler{pods: [][]api.Pod{chunkPods(12)}}
	url := startFake(t, f)
	for _, args := range [][]string{
		{"get", "pods", "-A"},
		{"get", "pods", "-n", "tail", "-o", "wide"},
		{"get", "pods", "-A", "-o", "json"},
		{"get", "pods", "-A", "-o", "yaml"},
		{"get", "pods", "-A", "--sort-by", ".spec.nodeName"},
		{"get", "pods", "-A", "-o", "name"},
		{"get", "pods", "-A", "--field-selector", "status.podIP=10.88.0.13"},
		{"get", "pods", "-A", "--field-selector", "status.podIP=10.99.0.1"},
	} {
		code, whole, errOut := ctl(t, url, append(args, "--chunk-size", "0")...)
		if code != 0 {
			t.Fatalf("%v --chunk-size 0: %d %s", args, code, errOut)
		}
		if reqs := podRequests(f); strings.Contains(reqs[len(reqs)-1], "limit") {
			t.Errorf("%v --chunk-size 0 asked %q", args, reqs[len(reqs)-1])
		}
		for _, chunk := range []string{"1", "5", "12", "500"} {
			before := len(podRequests(f))
			code, got, errOut := ctl(t, url, append(args, "--chunk-size", chunk)...)
			if code != 0 || got != whole {
				t.Errorf("%v --chunk-size %s: %d %s\n%s\nwant\n%s", args, chunk, code, errOut, got, whole)
			}
			reqs := podRequests(f)[before:]
			var n int
			fmt.Sscan(chunk, &n)
			pods := 12
			if strings.Contains(strings.Join(args, " "), "tail") {
				pods = 6
			}
			if want := max(1, (pods+n-1)/n); len(reqs) != want || !strings.Contains(reqs[0], "limit="+chunk) {
				t.Errorf("%v --chunk-size %s: requests %q, want %d pages of %s", args, chunk, reqs, want, chunk)
			}
		}
	}
	// The table of the first page holds the header, printed once.
	_, out, _ := ctl(t, url, "get", "pods", "-A", "--chunk-size", "5")
	if strings.Count(out, "NAMESPACE") != 1 || strings.Count(out, "\n") != 13 {
		t.Errorf("chunked table:\n%s", out)
	}
	if code, _, errOut := ctl(t, url, "get", "pods", "--chunk-size", "-1"); code == 0 || !strings.Contains(errOut, "--chunk-size") {
		t.Errorf("--chunk-size -1: %d %q", code, errOut)
	}
}

// TestGetPodsChunkedWidths: over several pages the columns are as wide as
// the first page needs; a wider cell later widens its column from its row
// on (kubectl's chunked tables do the same).
func TestGetPodsChunkedWidths(t *testing.T) {
	pods := chunkPods(4)
	pods[3].Name = "web-with-a-long-name"
	f := &fakeReconciler{pods: [][]api.Pod{pods}}
	url := startFake(t, f)
	_, out, _ := ctl(t, url, "get", "pods", "-n", "shop", "--chunk-size", "1")
	want := "NAME     READY   STATUS    RESTARTS   NODE     IP           AGE\n" +
		"web-00   1/1     Running   0          node-0   10.88.0.10   90s\n" +
		"web-01   1/1     Running   1          node-1   10.88.0.11   90s\n"
	if out != want {
		t.Errorf("chunked table:\n%s\nwant\n%s", out, want)
	}
	f.pods = [][]api.Pod{{pods[0], pods[1], pods[3]}}
	for i := range f.pods[0] {
		f.pods[0][i].Namespace = "shop"
	}
	_, out, _ = ctl(t, url, "get", "pods", "-n", "shop", "--chunk-size", "2")
	want = "NAME     READY   STATUS    RESTARTS   NODE     IP           AGE\n" +
		"web-00   1/1     Running   0          node-0   10.88.0.10   90s\n" +
		"web-01   1/1     Running   1          node-1   10.88.0.11   90s\n" +
		"web-with-a-long-name   1/1     Running   1          node-0   10.88.0.13   90s\n"
	if out != want {
		t.Errorf("chunked table, a wider name on page 2:\n%s\nwant\n%s", out, want)
	}
}
