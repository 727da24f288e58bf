package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/stevedore-dev/stevedore/internal/errs"
)

// Body limits of the reconciler's routes that read a body. Each is read
// through http.MaxBytesReader, so a larger body is answered 413 before it
// is held in memory; routes that read no body ignore one (net/http drains
// at most 256 KiB of it).
const (
	// maxJobBody bounds POST /v1/jobs (a CronJob's name and a job name).
	// POST /v1/diff has maxDiffBody (64 MiB, http.go), a lease
	// maxLeaseBody (4 KiB), a webhook webhook.Config.MaxBodyBytes
	// (25 MiB, GitHub's own cap).
	maxJobBody = 64 << 10
)

// decodeBody decodes r's JSON body, at most limit bytes, into v; strict
// refuses unknown fields. On failure it answers 413 (over limit) or 400,
// naming what, and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, what string, v any, strict bool) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		errs.WriteHTTPStatus(w, http.StatusRequestEntityTooLarge, errInvalid(fmt.Sprintf("%s larger than %d bytes: refused unread", what, limit)))
		return false
	}
	errs.WriteHTTP(w, errInvalid(fmt.Sprintf("failed to decode %s: %v", what, err)))
	return false
}
