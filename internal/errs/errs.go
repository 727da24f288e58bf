// Package errs is Stevedore's one error vocabulary for its /v1 HTTP APIs
// (the agent's and the reconciler's), built on containerd/errdefs: an error
// belongs to an errdefs category (not found, invalid argument, conflict,
// unavailable...), and this package maps a category to an HTTP status and a
// wire code and back, in one table, as containerd's errhttp.ToHTTP/ToNative
// do.
//
// A server returns errors wrapping a category (errdefs.ErrNotFound, or this
// package's sentinels, which are the same values or refine one), puts an
// error in a category without changing its message with Mark, and writes
// it with WriteHTTP. A client turns a non-2xx answer into an error with
// FromHTTP; that error matches the category both ways, errors.Is(err,
// errs.ErrStale) and errdefs.IsConflict(err), so callers never compare
// status codes or code strings.
//
// The wire body is {"error": message, "code": code} plus optional members
// attached with WithFields (the agent's 409 "stale" carries "term"), which
// the client reads with (*Error).Field.
package errs

import (
	"errors"
	"net/http"

	"github.com/containerd/errdefs"
)

// Codes on the wire (the "code" member of an error body).
const (
	CodeStale             = "stale"
	CodeInvalid           = "invalid"
	CodeNotFound          = "not_found"
	CodeConflict          = "conflict"
	CodeAlreadyExists     = "already_exists"
	CodePrecondition      = "failed_precondition"
	CodeUnauthenticated   = "unauthenticated"
	CodeForbidden         = "forbidden"
	CodeResourceExhausted = "resource_exhausted"
	CodeNotImplemented    = "not_implemented"
	CodeUnavailable       = "unavailable"
	CodeInternal          = "internal"
)

// Sentinels. All but ErrStale are errdefs' own values, so an error from
// containerd or any errdefs user is already in the vocabulary.
var (
	// ErrStale refines errdefs.ErrConflict: the request carries a fencing
	// token (a leader's term, a generation) lower than the receiver has
	// seen. Retrying the same request cannot succeed.
	ErrStale error = staleError{}

	ErrInvalid     = errdefs.ErrInvalidArgument
	ErrNotFound    = errdefs.ErrNotFound
	ErrConflict    = errdefs.ErrConflict
	ErrUnavailable = errdefs.ErrUnavailable
	ErrInternal    = errdefs.ErrInternal
)

type staleError struct{}

func (staleError) Error() string { return "stale" }

// Conflict makes errdefs.IsConflict true.
func (staleError) Conflict() {}

// Is makes errors.Is(ErrStale, errdefs.ErrConflict) true.
func (staleError) Is(target error) bool { return target == errdefs.ErrConflict }

// mapping is the one table between categories, statuses and codes. Order
// matters: the first entry whose is() matches an error gives its status
// and code (so stale wins over conflict); the first entry with a code or
// status gives the sentinel for it.
var mapping = []struct {
	is       func(error) bool
	sentinel error
	status   int
	code     string
}{
	{func(err error) bool { return errors.Is(err, ErrStale) }, ErrStale, http.StatusConflict, CodeStale},
	{errdefs.IsInvalidArgument, errdefs.ErrInvalidArgument, http.StatusBadRequest, CodeInvalid},
	{errdefs.IsNotFound, errdefs.ErrNotFound, http.StatusNotFound, CodeNotFound},
	{errdefs.IsConflict, errdefs.ErrConflict, http.StatusConflict, CodeConflict},
	{errdefs.IsAlreadyExists, errdefs.ErrAlreadyExists, http.StatusConflict, CodeAlreadyExists},
	{errdefs.IsFailedPrecondition, errdefs.ErrFailedPrecondition, http.StatusPreconditionFailed, CodePrecondition},
	{errdefs.IsUnauthorized, errdefs.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthenticated},
	{errdefs.IsPermissionDenied, errdefs.ErrPermissionDenied, http.StatusForbidden, CodeForbidden},
	{errdefs.IsResourceExhausted, errdefs.ErrResourceExhausted, http.StatusTooManyRequests, CodeResourceExhausted},
	{errdefs.IsNotImplemented, errdefs.ErrNotImplemented, http.StatusNotImplemented, CodeNotImplemented},
	{errdefs.IsUnavailable, errdefs.ErrUnavailable, http.StatusServiceUnavailable, CodeUnavailable},
	// A deadline that ran out while waiting on something else.
	{errdefs.IsDeadlineExceeded, errdefs.ErrUnavailable, http.StatusGatewayTimeout, CodeUnavailable},
	{errdefs.IsInternal, errdefs.ErrInternal, http.StatusInternalServerError, CodeInternal},
}

// ToHTTP returns the status and code err is answered with. An error of no
// known category is internal (500).
func ToHTTP(err error) (status int, code string) {
	var m *marked
	if errors.As(err, &m) {
		err = m.category
	}
	for _, m := range mapping {
		if m.is(err) {
			return m.status, m.code
		}
	}
	return http.StatusInternalServerError, CodeInternal
}

// Mark puts err in category (a sentinel of this package or of errdefs)
// without changing its message: errors.Is matches both err's own chain and
// category, and ToHTTP answers with category even when err's chain holds
// another one (a runtime's not-found inside a failed apply is still an
// internal error of the apply).
func Mark(err, category error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, category: category}
}

type marked struct {
	err, category error
}

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.category, m.err} }

// ToNative returns the sentinel for an answer's code, or, when the code is
// empty or unknown (a proxy's answer, an older peer), for its status.
// Statuses of no category give errdefs.ErrUnknown, except 502 and 504,
// which are a peer that could not be reached (ErrUnavailable).
func ToNative(status int, code string) error {
	if code != "" {
		for _, m := range mapping {
			if m.code == code {
				return m.sentinel
			}
		}
	}
	switch status {
	case http.StatusConflict:
		// The conflict row, not stale: without the code nothing says a
		// fencing token was refused.
		return errdefs.ErrConflict
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return errdefs.ErrUnavailable
	case http.StatusMethodNotAllowed:
		return errdefs.ErrInvalidArgument
	}
	for _, m := range mapping {
		if m.status == status {
			return m.sentinel
		}
	}
	return errdefs.ErrUnknown
}
