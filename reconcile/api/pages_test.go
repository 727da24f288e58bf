package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// pagingServer serves GET PathPods from pods in pages, its continue token
// the index of the next pod; it records every query. ignoreLimit plays a
// reconciler from before paging.
type pagingServer struct {
	pods        []Pod
	ignoreLimit bool
	failAt      int // the request (1-based) answered 503; 0: none
	mu          sync.Mutex
	queries     []string
}

func (s *pagingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.RawQuery)
	n := len(s.queries)
	s.mu.Unlock()
	if n == s.failAt {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(Error{Error: "leader lost", Code: CodeUnavailable})
		return
	}
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get(QueryContinue))
	end := len(s.pods)
	if l, _ := strconv.Atoi(q.Get(QueryLimit)); l > 0 && !s.ignoreLimit {
		end = min(start+l, end)
	}
	out := PodList{Pods: s.pods[start:end]}
	if end < len(s.pods) {
		out.Continue = strconv.Itoa(end)
	}
	json.NewEncoder(w).Encode(out)
}

func pagingPods(n int) []Pod {
	out := make([]Pod, n)
	for i := range out {
		out[i].Namespace, out[i].Name = "shop", fmt.Sprintf("web-%02d", i)
	}
	return out
}

// TestEachPodsPage: the walk asks pages of the limit with the filters and
// the previous token, gives them in order, and stops at the last page, at
// fn's error or at the server's; a server that ignores limit is one page.
func TestEachPodsPage(t *testing.T) {
	ctx := context.Background()
	walk := func(s *pagingServer, limit int64, stopAfter int) ([]int, []Pod, error) {
		srv := httptest.NewServer(s)
		defer srv.Close()
		c, err := NewClient(srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		var got []Pod
		stop := errors.New("stop")
		err = c.EachPodsPage(ctx, ListFilter{Namespace: "shop", LabelSelector: "app=web"}, limit, func(l *PodList) error {
			sizes = append(sizes, len(l.Pods))
			got = append(got, l.Pods...)
			if len(sizes) == stopAfter {
				return stop
			}
			return nil
		})
		if errors.Is(err, stop) {
			err = nil
		}
		return sizes, got, err
	}
	s := &pagingServer{pods: pagingPods(10)}
	sizes, got, err := walk(s, 4, 0)
	if err != nil || !slices.Equal(sizes, []int{4, 4, 2}) || !slices.EqualFunc(got, s.pods, func(a, b Pod) bool { return a.Name == b.Name }) {
		t.Errorf("walk by 4: pages %v, %d pods, %v", sizes, len(got), err)
	}
	if want := []string{"labelSelector=app%3Dweb&limit=4&namespace=shop", "continue=4&labelSelector=app%3Dweb&limit=4&namespace=shop",
		"continue=8&labelSelector=app%3Dweb&limit=4&namespace=shop"}; !slices.Equal(s.queries, want) {
		t.Errorf("queries %q, want %q", s.queries, want)
	}
	s = &pagingServer{pods: pagingPods(10)}
	if sizes, _, err := walk(s, 4, 2); err != nil || !slices.Equal(sizes, []int{4, 4}) || len(s.queries) != 2 {
		t.Errorf("walk stopped by fn after 2 pages: pages %v, %d requests, %v", sizes, len(s.queries), err)
	}
	s = &pagingServer{pods: pagingPods(10), ignoreLimit: true}
	if sizes, _, err := walk(s, 4, 0); err != nil || !slices.Equal(sizes, []int{10}) {
		t.Errorf("walk of a server without paging: pages %v, %v", sizes, err)
	}
	s = &pagingServer{pods: pagingPods(10)}
	if sizes, _, err := walk(s, 0, 0); err != nil || !slices.Equal(sizes, []int{10}) || s.queries[0] != "labelSelector=app%3Dweb&namespace=shop" {
		t.Errorf("walk with limit 0: pages %v, queries %q, %v", sizes, s.queries, err)
	}
	s = &pagingServer{pods: pagingPods(10), failAt: 2}
	if sizes, _, err := walk(s, 4, 0); !errors.Is(err, ErrUnavailable) || !slices.Equal(sizes, []int{4}) {
		t.Errorf("walk failing at page 2: pages %v, %v; want the first page, then ErrUnavailable", sizes, err)
	}
}
