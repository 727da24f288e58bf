package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

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
	_, err = c.Diff(ctx)
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadGateway || se.Message != "upstream down" || errors.Is(err, ErrNotFound) {
		t.Errorf("Diff error = %#v", err)
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
