package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	if _, err := c.Logs(ctx, "default", "p", api.LogOptions{}); !errors.Is(err, api.ErrNotFound) {
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
	rc, err := api.NewClient(srv.URL, nil).Logs(context.Background(), "ns 1", "p", api.LogOptions{Container: "c", Tail: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if got, want := string(b), "container=c&namespace=ns+1&pod=p&tail=10"; got != want {
		t.Errorf("query = %q, want %q", got, want)
	}
}

// Every option survives the query, both ways; a bad one is named.
func TestLogOptionsQuery(t *testing.T) {
	o := api.LogOptions{Container: "c", Tail: 3, Follow: true, Previous: true, Timestamps: true,
		SinceSeconds: 60, SinceTime: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), LimitBytes: 1024}
	q := o.Values()
	if got, want := q.Encode(), "container=c&follow=1&limitBytes=1024&previous=1&sinceSeconds=60&sinceTime=2026-01-02T03%3A04%3A05.0000006Z&tail=3&timestamps=1"; got != want {
		t.Errorf("query = %s, want %s", got, want)
	}
	back, err := api.ParseLogOptions(q)
	if err != nil || !back.SinceTime.Equal(o.SinceTime) {
		t.Fatalf("ParseLogOptions = %+v, %v", back, err)
	}
	back.SinceTime = o.SinceTime
	if back != o {
		t.Errorf("round trip = %+v, want %+v", back, o)
	}
	if z := (api.LogOptions{}).Values(); len(z) != 0 {
		t.Errorf("zero options encode to %v", z)
	}
	// No tail is all, tail=0 none: both survive.
	none := api.LogOptions{TailSet: true}
	if q := none.Values(); q.Encode() != "tail=0" {
		t.Errorf("TailSet encodes to %v, want tail=0", q)
	} else if back, err := api.ParseLogOptions(q); err != nil || back != none {
		t.Errorf("ParseLogOptions(tail=0) = %+v, %v, want %+v", back, err, none)
	}
	if back, _ := api.ParseLogOptions(url.Values{}); back.Tail != 0 || back.TailSet {
		t.Errorf("ParseLogOptions without tail = %+v, want all", back)
	}
	for _, bad := range []string{"tail=x", "limitBytes=-1", "follow=maybe", "sinceTime=yesterday"} {
		q, _ := url.ParseQuery(bad)
		if _, err := api.ParseLogOptions(q); err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Errorf("ParseLogOptions(%s) = %v, want an error naming it", bad, err)
		}
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
