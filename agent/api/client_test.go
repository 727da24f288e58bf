package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// The client against the real agent handler is tested in package agent;
// these cover how it reads responses the agent should not send, and the
// watch stream's failure modes.

func TestStatusErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case api.PathPodSet:
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"term 1 is lower than term 2 already seen","code":"stale"}`)
		case api.PathInfo:
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>proxy error</html>")
		case api.PathLogs:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"no such pod","code":"not_found"}`)
		case api.PathPods:
			fmt.Fprint(w, `{"node":`)
		}
	}))
	defer srv.Close()
	c := api.NewClient(srv.URL+"/", nil)
	ctx := context.Background()

	_, err := c.Apply(ctx, api.PodSet{Term: 1})
	var se *api.StatusError
	if !errors.Is(err, api.ErrStale) || !errors.As(err, &se) || se.StatusCode != 409 ||
		se.Message != "term 1 is lower than term 2 already seen" {
		t.Errorf("Apply: err = %v", err)
	}
	if errors.Is(err, api.ErrNotFound) {
		t.Errorf("a stale error matches ErrNotFound")
	}
	_, err = c.Info(ctx)
	if !errors.As(err, &se) || se.StatusCode != 502 || !strings.Contains(se.Message, "proxy error") ||
		errors.Is(err, api.ErrStale) {
		t.Errorf("Info: err = %v", err)
	}
	if _, err := c.Logs(ctx, "default", "p", "", 0); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Logs: err = %v, want ErrNotFound", err)
	}
	if _, err := c.Pods(ctx); err == nil || !strings.Contains(err.Error(), "failed to decode") {
		t.Errorf("Pods with a truncated body: err = %v", err)
	}
}

// StaleTerm reads the term only from a stale refusal that carries one (an
// older agent's 409 has none; a 409 without the stale code is no refusal).
func TestStaleTerm(t *testing.T) {
	for _, tc := range []struct {
		body string
		term uint64
		ok   bool
	}{
		{`{"error":"stale pod set","code":"stale","term":42}`, 42, true},
		{`{"error":"stale pod set","code":"stale"}`, 0, false},
		{`{"error":"busy","code":"conflict","term":42}`, 0, false},
		{`{"error":"stale pod set","code":"stale","term":"x"}`, 0, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, tc.body)
		}))
		_, err := api.NewClient(srv.URL, nil).Apply(context.Background(), api.PodSet{Term: 1})
		srv.Close()
		if term, ok := api.StaleTerm(err); term != tc.term || ok != tc.ok {
			t.Errorf("%s: StaleTerm = %d, %v; want %d, %v", tc.body, term, ok, tc.term, tc.ok)
		}
	}
}

func TestLogsQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.URL.RawQuery)
	}))
	defer srv.Close()
	rc, err := api.NewClient(srv.URL, nil).Logs(context.Background(), "ns 1", "p", "c", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if got, want := string(b), "container=c&namespace=ns+1&pod=p&tail=10"; got != want {
		t.Errorf("query = %q, want %q", got, want)
	}
}

func TestWatchStreamEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"node":"n1","term":1,"generation":2,"pods":[]}`)
		fmt.Fprintln(w, `{"node":"n1","term":1,"generation":3,"pods":[]}`)
	}))
	defer srv.Close()
	var gens []uint64
	err := api.NewClient(srv.URL, nil).Watch(context.Background(), func(l api.PodStatusList) {
		gens = append(gens, l.Generation)
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Watch on a closed stream: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if fmt.Sprint(gens) != "[2 3]" {
		t.Errorf("generations seen = %v", gens)
	}
}

func TestWatchIdleTimeout(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"node":"n1","pods":[]}`)
		w.(http.Flusher).Flush()
		select { // then silence, as a partitioned agent
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	c := api.NewClient(srv.URL, nil)
	c.WatchIdleTimeout = 200 * time.Millisecond
	n := 0
	start := time.Now()
	err := c.Watch(context.Background(), func(api.PodStatusList) { n++ })
	if err == nil || !strings.Contains(err.Error(), "no update for 200ms") || n != 1 {
		t.Errorf("Watch = %v after %d lists", err, n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle timeout took %s", d)
	}
}

func TestWatchHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	err := api.NewClient(srv.URL, nil).Watch(context.Background(), func(api.PodStatusList) {})
	if !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Watch on 404: err = %v", err)
	}
}
