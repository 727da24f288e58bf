package errs_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/stevedore-dev/stevedore/internal/errs"
)

// roundTrip writes err as a server does and reads it back as a client does.
func roundTrip(t *testing.T, err error) *errs.Error {
	t.Helper()
	rec := httptest.NewRecorder()
	errs.WriteHTTP(rec, err)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	return errs.FromHTTP(rec.Code, rec.Body.Bytes())
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		is     func(error) bool
	}{
		{errs.ErrStale, 409, "stale", errdefs.IsConflict},
		{errs.ErrInvalid, 400, "invalid", errdefs.IsInvalidArgument},
		{errs.ErrNotFound, 404, "not_found", errdefs.IsNotFound},
		{errs.ErrConflict, 409, "conflict", errdefs.IsConflict},
		{errdefs.ErrAlreadyExists, 409, "already_exists", errdefs.IsAlreadyExists},
		{errdefs.ErrFailedPrecondition, 412, "failed_precondition", errdefs.IsFailedPrecondition},
		{errdefs.ErrUnauthenticated, 401, "unauthenticated", errdefs.IsUnauthorized},
		{errdefs.ErrPermissionDenied, 403, "forbidden", errdefs.IsPermissionDenied},
		{errdefs.ErrResourceExhausted, 429, "resource_exhausted", errdefs.IsResourceExhausted},
		{errdefs.ErrNotImplemented, 501, "not_implemented", errdefs.IsNotImplemented},
		{errs.ErrUnavailable, 503, "unavailable", errdefs.IsUnavailable},
		{errs.ErrInternal, 500, "internal", errdefs.IsInternal},
		{errors.New("no category"), 500, "internal", errdefs.IsInternal},
	} {
		t.Run(tc.code, func(t *testing.T) {
			wrapped := fmt.Errorf("failed to do the thing: %w", tc.err)
			if s, c := errs.ToHTTP(wrapped); s != tc.status || c != tc.code {
				t.Fatalf("ToHTTP = %d %q, want %d %q", s, c, tc.status, tc.code)
			}
			got := roundTrip(t, wrapped)
			if got.StatusCode != tc.status || got.Code != tc.code || got.Message != wrapped.Error() {
				t.Fatalf("read back %+v", got)
			}
			// Wrapped again by a client, it still matches its category.
			cerr := fmt.Errorf("failed to call: %w", got)
			if !tc.is(cerr) {
				t.Errorf("%v does not match its errdefs category", cerr)
			}
			if s, c := errs.ToHTTP(cerr); s != tc.status || c != tc.code {
				t.Errorf("relayed: ToHTTP = %d %q, want %d %q", s, c, tc.status, tc.code)
			}
		})
	}
}

func TestStaleIsAConflictButNotEveryConflictIsStale(t *testing.T) {
	err := fmt.Errorf("failed to apply: %w", roundTrip(t, fmt.Errorf("%w: term 1 < 2", errs.ErrStale)))
	if !errors.Is(err, errs.ErrStale) || !errdefs.IsConflict(err) || !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("stale answer: Is(ErrStale)=%v IsConflict=%v", errors.Is(err, errs.ErrStale), errdefs.IsConflict(err))
	}
	if errors.Is(err, errs.ErrNotFound) || errdefs.IsNotFound(err) {
		t.Errorf("stale answer matches not found")
	}
	plain := errs.FromHTTP(409, []byte(`{"error":"busy","code":"conflict"}`))
	if errors.Is(plain, errs.ErrStale) || !errdefs.IsConflict(plain) {
		t.Errorf("plain conflict: Is(ErrStale)=%v", errors.Is(plain, errs.ErrStale))
	}
	nocode := errs.FromHTTP(409, []byte(`conflict`))
	if errors.Is(nocode, errs.ErrStale) || !errdefs.IsConflict(nocode) {
		t.Errorf("409 without a code: Is(ErrStale)=%v", errors.Is(nocode, errs.ErrStale))
	}
}

func TestFields(t *testing.T) {
	inner := errs.WithFields(fmt.Errorf("%w: term 3 is lower than term 7", errs.ErrStale), map[string]any{"term": uint64(7)})
	got := roundTrip(t, fmt.Errorf("refused: %w", inner))
	var term uint64
	if !got.Field("term", &term) || term != 7 {
		t.Fatalf("term = %d (%v), fields %s", term, got.Field("term", &term), got.Fields)
	}
	if got.Code != "stale" || !strings.HasPrefix(got.Message, "refused: stale: term 3") {
		t.Errorf("read back %+v", got)
	}
	var s string
	if got.Field("missing", &s) || got.Field("term", &s) {
		t.Error("Field reported a missing or mistyped member")
	}
	// Reserved members cannot be overridden.
	got = roundTrip(t, errs.WithFields(errs.ErrNotFound, map[string]any{"code": "stale", "error": "x"}))
	if got.Code != "not_found" || got.Message != "not found" || len(got.Fields) != 0 {
		t.Errorf("reserved members overridden: %+v", got)
	}
	if errs.WithFields(nil, map[string]any{"a": 1}) != nil {
		t.Error("WithFields(nil) != nil")
	}
}

func TestWriteHTTPStatus(t *testing.T) {
	rec := httptest.NewRecorder()
	errs.WriteHTTPStatus(rec, http.StatusMethodNotAllowed, fmt.Errorf("%w: POST is not allowed", errs.ErrInvalid))
	got := errs.FromHTTP(rec.Code, rec.Body.Bytes())
	if got.StatusCode != 405 || got.Code != "invalid" || !errdefs.IsInvalidArgument(got) {
		t.Errorf("read back %+v", got)
	}
}

// Answers that are not error bodies (a proxy's page, an older peer) are
// categorised by status.
func TestForeignAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		is     func(error) bool
	}{
		{502, "<html>bad gateway</html>", errdefs.IsUnavailable},
		{504, "", errdefs.IsUnavailable},
		{404, "404 page not found\n", errdefs.IsNotFound},
		{400, `{"message":"not ours"}`, errdefs.IsInvalidArgument},
		{503, `{"error":"draining","code":"from_the_future"}`, errdefs.IsUnavailable},
		{418, "teapot", errdefs.IsUnknown},
	} {
		got := errs.FromHTTP(tc.status, []byte(tc.body))
		if !tc.is(got) {
			t.Errorf("%d %q: %v not in its category", tc.status, tc.body, got)
		}
	}
	long := errs.FromHTTP(502, []byte(strings.Repeat("x", 5000)))
	if len(long.Message) > 200 || long.Code != "" {
		t.Errorf("a long foreign body gives %d bytes of message, code %q", len(long.Message), long.Code)
	}
	if got := errs.FromHTTP(502, []byte("<html>proxy error</html>")).Error(); got != "502 Bad Gateway: <html>proxy error</html>" {
		t.Errorf("Error() = %q", got)
	}
}

func TestMark(t *testing.T) {
	inner := fmt.Errorf("failed to pull image: %w", errs.ErrNotFound)
	err := fmt.Errorf("failed to sync pods: %w", errs.Mark(inner, errs.ErrInternal))
	if s, c := errs.ToHTTP(err); s != 500 || c != "internal" {
		t.Errorf("ToHTTP = %d %q, want the mark's 500 internal", s, c)
	}
	if !errors.Is(err, errs.ErrNotFound) || !errdefs.IsInternal(err) || err.Error() != "failed to sync pods: failed to pull image: not found" {
		t.Errorf("marked error: %v", err)
	}
	got := roundTrip(t, errs.Mark(errs.WithFields(errors.New("bad"), map[string]any{"field": "x"}), errs.ErrInvalid))
	var f string
	if got.StatusCode != 400 || got.Message != "bad" || !got.Field("field", &f) || f != "x" {
		t.Errorf("read back %+v", got)
	}
	if errs.Mark(nil, errs.ErrInvalid) != nil {
		t.Error("Mark(nil) != nil")
	}
}
