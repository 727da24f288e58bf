package spec

import (
	"fmt"
	"sort"
	"strings"
)

// MaxErrors caps how many errors Load reports. Past it the list ends with a
// line saying how many more were found, so a broken generated file cannot
// flood a status page.
const MaxErrors = 100

// Error is one problem found in the repository: where it is (file and
// 1-based line), which object (e.g. "Deployment shop/web", empty when the
// document is not an object yet), which field (a path such as
// "spec.template.spec.containers[0].image", empty for the whole object) and
// what is wrong.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Object  string `json:"object,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error renders the error as "file:line: Object: field: message", leaving
// out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem Load found, sorted by file then line. It is the
// error Load returns, so callers can errors.As it to show each problem.
type ErrorList []*Error

// Error renders one error per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// errorSink collects errors up to MaxErrors and counts the rest.
type errorSink struct {
	list ErrorList
	more int
}

func (s *errorSink) add(e *Error) {
	if len(s.list) >= MaxErrors {
		s.more++
		return
	}
	s.list = append(s.list, boundError(e))
}

// result sorts the collected errors and returns them, or nil when there are
// none. The "more" line goes last whatever its file, so it never hides among
// real errors.
func (s *errorSink) result() ErrorList {
	if len(s.list) == 0 {
		return nil
	}
	out := make(ErrorList, len(s.list))
	copy(out, s.list)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	if s.more > 0 {
		out = append(out, &Error{Message: fmt.Sprintf("too many errors: %d more not shown", s.more)})
	}
	return out
}

// fieldPath builds the field paths used in errors, in Kubernetes' notation:
// "spec.containers[0].resources.limits[cpu]". The decoder and the validator
// build paths with the same helpers so that a validation error finds the line
// the decoder recorded for that path.
type fieldPath string

func (p fieldPath) child(name string) fieldPath {
	if p == "" {
		return fieldPath(name)
	}
	return p + "." + fieldPath(name)
}

func (p fieldPath) index(i int) fieldPath { return fieldPath(fmt.Sprintf("%s[%d]", p, i)) }

func (p fieldPath) key(k string) fieldPath { return p + "[" + fieldPath(k) + "]" }

// parent returns the path one step up, or "" at the top.
func (p fieldPath) parent() fieldPath {
	s := string(p)
	if s == "" {
		return ""
	}
	if strings.HasSuffix(s, "]") {
		if i := strings.LastIndexByte(s, '['); i >= 0 {
			return fieldPath(s[:i])
		}
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return fieldPath(s[:i])
	}
	return ""
}
