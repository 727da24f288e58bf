package errs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error is a non-2xx answer of a /v1 API, as FromHTTP reads it. It unwraps
// to the sentinel of its code (or, without a known code, of its status), so
// errors.Is(err, ErrStale), errors.Is(err, ErrNotFound) and errdefs.IsX
// work on it and on any error wrapping it.
type Error struct {
	StatusCode int
	// Code and Message are the body's "code" and "error". Without an error
	// body, Code is empty and Message is the start of the body's text.
	Code    string
	Message string
	// Fields holds the body's other members, undecoded; read them with
	// Field.
	Fields map[string]json.RawMessage
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = http.StatusText(e.StatusCode)
	}
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.StatusCode, code)
	}
	return fmt.Sprintf("%d %s: %s", e.StatusCode, code, e.Message)
}

// Unwrap returns the category sentinel (ToNative).
func (e *Error) Unwrap() error { return ToNative(e.StatusCode, e.Code) }

// Field decodes the body member name into v. It reports false when the
// member is absent or does not decode into v.
func (e *Error) Field(name string, v any) bool {
	raw, ok := e.Fields[name]
	return ok && json.Unmarshal(raw, v) == nil
}

// maxMessage bounds the Message taken from a body that is not an error
// body (a proxy's HTML page, say).
const maxMessage = 200

// FromHTTP reads a non-2xx answer: its status and body (the caller bounds
// how much it reads). It never returns nil.
func FromHTTP(status int, body []byte) *Error {
	e := &Error{StatusCode: status}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		var msg, code string
		if json.Unmarshal(m["error"], &msg) == nil && msg != "" {
			_ = json.Unmarshal(m["code"], &code)
			delete(m, "error")
			delete(m, "code")
			e.Message, e.Code = msg, code
			if len(m) > 0 {
				e.Fields = m
			}
			return e
		}
	}
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(body, nil)))
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "")
	}
	e.Message = msg
	return e
}

// collectFields adds the members attached to err's tree with WithFields
// to body; outer ones win.
func collectFields(err error, body map[string]any) {
	switch e := err.(type) {
	case nil:
		return
	case *fieldsError:
		for k, v := range e.fields {
			if _, ok := body[k]; !ok {
				body[k] = v
			}
		}
		collectFields(e.err, body)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			collectFields(inner, body)
		}
	case interface{ Unwrap() error }:
		collectFields(e.Unwrap(), body)
	}
}

// WithFields returns err with members to add to its error body (WriteHTTP);
// errors.Is, errors.As and the category of err are unchanged. The members
// "error" and "code" are reserved.
func WithFields(err error, fields map[string]any) error {
	if err == nil {
		return nil
	}
	return &fieldsError{err: err, fields: fields}
}

type fieldsError struct {
	err    error
	fields map[string]any
}

func (e *fieldsError) Error() string { return e.err.Error() }
func (e *fieldsError) Unwrap() error { return e.err }

// WriteHTTP answers err as a JSON error body: status and code from ToHTTP,
// err.Error() as the message, and the members attached with WithFields.
func WriteHTTP(w http.ResponseWriter, err error) {
	status, _ := ToHTTP(err)
	WriteHTTPStatus(w, status, err)
}

// WriteHTTPStatus is WriteHTTP with a status of the caller's choosing, for
// answers about the HTTP exchange rather than a category (405 Method Not
// Allowed); the code is still err's.
func WriteHTTPStatus(w http.ResponseWriter, status int, err error) {
	_, code := ToHTTP(err)
	body := map[string]any{}
	collectFields(err, body)
	body["error"] = err.Error()
	body["code"] = code
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
