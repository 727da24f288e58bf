package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestErrorEntryString(t *testing.T) {
	for _, c := range []struct {
		e    ErrorEntry
		want string
	}{
		{ErrorEntry{File: "a.yaml", Line: 3, Object: "Pod default/p", Field: "spec.x", Message: "bad"}, "a.yaml:3: Pod default/p: spec.x: bad"},
		{ErrorEntry{File: "a.yaml", Message: "bad"}, "a.yaml: bad"},
		{ErrorEntry{Message: "bad"}, "bad"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.e, got, c.want)
		}
	}
}

func TestEntriesFromError(t *testing.T) {
	_, err := spec.Load(map[string][]byte{"p.yaml": []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containerz: []\n")})
	if err == nil {
		t.Fatal("Load accepted an unknown field")
	}
	got := EntriesFromError(err)
	if len(got) == 0 || got[0].File != "p.yaml" || got[0].Line != 6 || got[0].Object == "" {
		t.Errorf("entries = %+v", got)
	}
	if got := EntriesFromError(errors.New("boom")); len(got) != 1 || got[0].Message != "boom" {
		t.Errorf("plain error entries = %+v", got)
	}
}

func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathStatus:
			json.NewEncoder(w).Encode(Status{Branch: "main", Term: 3})
		case PathLogs:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(Error{Error: "pod default/x not found", Code: CodeNotFound})
		default:
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("upstream down"))
		}
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.Term != 3 || st.Branch != "main" {
		t.Errorf("Status = %+v, %v", st, err)
	}
	_, err = c.Logs(ctx, LogsOptions{Pod: "x"})
	var se *StatusError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &se) || se.Code != CodeNotFound || se.Message != "pod default/x not found" {
		t.Errorf("Logs error = %#v", err)
	}
	// The one error vocabulary: the category matches both ways, and the
	// answer as internal/errs read it is there too.
	var fe *errs.Error
	if !errdefs.IsNotFound(err) || !errors.Is(err, errs.ErrNotFound) || !errors.As(err, &fe) || fe.Code != errs.CodeNotFound {
		t.Errorf("Logs error is not in the not-found category: %#v", err)
	}
	if want := "reconciler answered 404: pod default/x not found"; err.Error() != want {
		t.Errorf("Logs error = %q, want %q", err, want)
	}
	_, err = c.Diff(ctx)
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadGateway || se.Message != "upstream down" || errors.Is(err, ErrNotFound) {
		t.Errorf("Diff error = %#v", err)
	}
	// A 502 without a code is a peer that could not be reached.
	if !errors.Is(err, ErrUnavailable) || !errdefs.IsUnavailable(err) {
		t.Errorf("Diff error is not in the unavailable category: %#v", err)
	}
	// A StatusError built by hand still has its category.
	if hand := (&StatusError{StatusCode: http.StatusBadRequest, Code: CodeInvalid}); !errors.Is(hand, ErrInvalid) {
		t.Errorf("hand-made StatusError does not match ErrInvalid")
	}
	if _, err := NewClient("127.0.0.1:7070", nil); err == nil {
		t.Error("NewClient accepted a URL without a scheme")
	}
}

func TestClientDiffFilesAndDescribe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathDiff, func(w http.ResponseWriter, r *http.Request) {
		var req DiffRequest
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(DiffResult{Placements: []PodPlacement{{Pod: "shop/web-0", Node: string(req.Files["a.yaml"])}}})
	})
	mux.HandleFunc("GET "+PathPod, func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "web 0" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(Error{Error: "pod not found", Code: CodeNotFound})
			return
		}
		var d PodDescription
		d.Pod.Namespace, d.Pod.Name = r.PathValue("namespace"), r.PathValue("name")
		json.NewEncoder(w).Encode(d)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := NewClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := c.DiffFiles(ctx, map[string][]byte{"a.yaml": []byte("node-1")})
	if err != nil || len(res.Placements) != 1 || res.Placements[0].Node != "node-1" {
		t.Errorf("DiffFiles = %+v, %v", res, err)
	}
	if got := PodPath("shop", "web 0"); got != "/v1/pods/shop/web%200" {
		t.Errorf("PodPath = %q", got)
	}
	d, err := c.DescribePod(ctx, "shop", "web 0")
	if err != nil || d.Pod.Namespace != "shop" || d.Pod.Name != "web 0" {
		t.Errorf("DescribePod = %+v, %v", d, err)
	}
	if _, err := c.DescribePod(ctx, "shop", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DescribePod of an unknown pod = %v, want ErrNotFound", err)
	}
}

// deadURL returns a URL nothing listens on: a server's, closed.
func deadURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

func TestClientFailover(t *testing.T) {
	var hits [3]atomic.Int32
	serve := func(i int, h http.HandlerFunc) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			h(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	unavailable := serve(0, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(Error{Error: "shutting down", Code: CodeUnavailable})
	})
	live := serve(1, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathStatus:
			json.NewEncoder(w).Encode(Status{Name: "r2", Leader: "r1"})
		case PathDiff:
			// The body is sent again to the reconciler that answers.
			var req DiffRequest
			json.NewDecoder(r.Body).Decode(&req)
			json.NewEncoder(w).Encode(DiffResult{Placements: []PodPlacement{{Pod: string(req.Files["a"])}}})
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(Error{Error: "no such thing", Code: CodeNotFound})
		}
	})
	dead := deadURL(t)
	c, err := NewClient(dead+", "+unavailable+","+live+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.BaseURLs(); len(got) != 3 || got[2] != live {
		t.Errorf("BaseURLs = %q", got)
	}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.Name != "r2" {
		t.Fatalf("Status through a dead and an unavailable reconciler = %+v, %v", st, err)
	}
	if c.BaseURL() != live || hits[0].Load() != 1 {
		t.Errorf("answered by %s after %d tries of the unavailable one", c.BaseURL(), hits[0].Load())
	}
	// The one that answered is asked first next time.
	res, err := c.DiffFiles(ctx, map[string][]byte{"a": []byte("x")})
	if err != nil || len(res.Placements) != 1 || res.Placements[0].Pod != "x" || hits[0].Load() != 1 {
		t.Errorf("DiffFiles = %+v, %v (unavailable one asked %d times)", res, err, hits[0].Load())
	}
	// An HTTP answer is the answer, even from the first URL.
	c2, _ := NewClient(live+","+unavailable, nil)
	_, err = c2.Revision(ctx)
	if !errors.Is(err, ErrNotFound) || hits[0].Load() != 1 {
		t.Errorf("404 from the first reconciler = %v, unavailable one asked %d times", err, hits[0].Load())
	}

	// None answers: every failure is said, and a StatusError is found.
	c3, _ := NewClient(dead+","+unavailable, nil)
	_, err = c3.Status(ctx)
	var se *StatusError
	if err == nil || !strings.Contains(err.Error(), dead+": failed to GET /v1/status") ||
		!strings.Contains(err.Error(), unavailable+": reconciler answered 503: shutting down") ||
		!errors.As(err, &se) || se.Code != CodeUnavailable {
		t.Errorf("all failed = %v", err)
	}
	// A single URL keeps the single answer, 503 included.
	c4, _ := NewClient(unavailable, nil)
	if _, err := c4.Status(ctx); !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || strings.Contains(err.Error(), "no reconciler") {
		t.Errorf("single unavailable = %v", err)
	}
	// The caller's deadline ends the round: no next URL is tried.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	before := hits[1].Load()
	if _, err := c.Status(cctx); !errors.Is(err, context.Canceled) || hits[1].Load() != before {
		t.Errorf("cancelled = %v", err)
	}

	for _, bad := range []string{"", "http://a,", "http://a,ftp://b", "127.0.0.1:7070"} {
		if _, err := NewClient(bad, nil); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
}

func TestClientNodeActions(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range []string{PathNodeCordon, PathNodeUncordon, PathNodeDrain} {
		mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if name != "node a" {
				w.WriteHeader(http.StatusNotFound)
				json.NewEncoder(w).Encode(Error{Error: "node " + name + " not found", Code: CodeNotFound})
				return
			}
			n := Node{Name: name, Status: NodeSchedulingDisabled, Cordoned: true}
			switch {
			case strings.HasSuffix(r.URL.Path, "/uncordon"):
				n.Status, n.Cordoned = NodeReady, false
			case strings.HasSuffix(r.URL.Path, "/drain"):
				n.Drained = true
			}
			json.NewEncoder(w).Encode(n)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := NewClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := c.Cordon(ctx, "node a"); err != nil || !n.Cordoned || n.Status != NodeSchedulingDisabled {
		t.Errorf("Cordon = %+v, %v", n, err)
	}
	if n, err := c.Uncordon(ctx, "node a"); err != nil || n.Cordoned || n.Status != NodeReady {
		t.Errorf("Uncordon = %+v, %v", n, err)
	}
	if n, err := c.Drain(ctx, "node a"); err != nil || !n.Drained {
		t.Errorf("Drain = %+v, %v", n, err)
	}
	var se *StatusError
	if n, err := c.Drain(ctx, "nope"); n != nil || !errors.Is(err, ErrNotFound) || !errors.As(err, &se) || se.Message != "node nope not found" {
		t.Errorf("Drain of an unknown node = %+v, %v", n, err)
	}
	if got := NodePath(PathNodeDrain, "a/b"); got != "/v1/nodes/a%2Fb/drain" {
		t.Errorf("NodePath = %q", got)
	}
}
