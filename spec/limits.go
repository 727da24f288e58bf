package spec

import (
	"bytes"
	_ "crypto/sha256" // registers sha256 for image digests (go-digest)
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/distribution/reference"
)

// MaxObjectBytes is the most one object may hold: Kubernetes' limit (the
// API server refuses a request over 1.5 MiB, etcd's default request size).
// The decoder counts the bytes of every value, an aliased one each time it
// is used, so a 10 MB environment variable, or a 1 MB string referenced
// ten times, is refused where it is written instead of on the node.
const MaxObjectBytes = 3 << 19 // 1.5 MiB

// Limits bounds what one revision may hold. A zero field means no limit.
type Limits struct {
	// MaxObjects is the most documents the manifests may hold (counted
	// before decoding, so 100,000 documents are refused without decoding
	// them); zero means no limit. CheckObjectCount applies it again to a
	// loaded set, whose List items and rendered objects were not counted
	// beforehand.
	MaxObjects int
	// MaxBytes is the most bytes the manifests (*.yaml, *.yml, as Load
	// reads them) may hold together; zero means no limit.
	MaxBytes int64
}

// CheckLimits refuses files (path → contents, as Load takes them) when
// their manifests hold more documents or bytes than lim allows, without
// parsing them: a scan for document separators is all it costs. The errors
// name the files that hold the most.
func CheckLimits(files map[string][]byte, lim Limits) ErrorList {
	type count struct {
		name  string
		docs  int
		bytes int64
	}
	var counts []count
	var docs int
	var size int64
	for name, b := range files {
		if !IsManifestPath(name) {
			continue
		}
		c := count{name: name, docs: CountDocuments(b), bytes: int64(len(b))}
		counts = append(counts, c)
		docs += c.docs
		size += c.bytes
	}
	var errs ErrorList
	if lim.MaxObjects > 0 && docs > lim.MaxObjects {
		sort.Slice(counts, func(i, j int) bool {
			if counts[i].docs != counts[j].docs {
				return counts[i].docs > counts[j].docs
			}
			return counts[i].name < counts[j].name
		})
		errs = append(errs, &Error{File: counts[0].name, Message: fmt.Sprintf(
			"too many objects: the revision holds %d YAML documents (%d in this file), more than the limit of %d per revision (reconciler --max-revision-objects)",
			docs, counts[0].docs, lim.MaxObjects)})
	}
	if lim.MaxBytes > 0 && size > lim.MaxBytes {
		sort.Slice(counts, func(i, j int) bool {
			if counts[i].bytes != counts[j].bytes {
				return counts[i].bytes > counts[j].bytes
			}
			return counts[i].name < counts[j].name
		})
		errs = append(errs, &Error{File: counts[0].name, Message: fmt.Sprintf(
			"revision too large: its manifests hold %d bytes (%d in this file), more than the limit of %d bytes per revision (reconciler --max-revision-bytes)",
			size, counts[0].bytes, lim.MaxBytes)})
	}
	return errs
}

// CheckObjectCount refuses a loaded set with more objects than
// lim.MaxObjects: what CheckLimits could not count (the items of a List,
// the output of a kustomization).
func CheckObjectCount(set *Set, lim Limits) ErrorList {
	if lim.MaxObjects <= 0 || set == nil || len(set.Objects) <= lim.MaxObjects {
		return nil
	}
	perFile := map[string]int{}
	for _, src := range set.Sources {
		perFile[src.File]++
	}
	var top string
	for f, n := range perFile {
		if top == "" || n > perFile[top] || (n == perFile[top] && f < top) {
			top = f
		}
	}
	return ErrorList{{File: top, Message: fmt.Sprintf(
		"too many objects: the revision declares %d objects (%d from this file), more than the limit of %d per revision (reconciler --max-revision-objects)",
		len(set.Objects), perFile[top], lim.MaxObjects)}}
}

// CountDocuments counts the YAML documents of b as the parser will see
// them, without parsing: one per line starting with "---" followed by a
// blank or the line's end, and one for content that starts a document
// without it (at the start of the stream or after a "..." end marker).
// Such markers start or end a document wherever they are (YAML forbids
// them inside a scalar), so the count is exact but for documents holding
// only a directive or nothing, which it may count too: an upper bound.
func CountDocuments(b []byte) int {
	n := 0
	open := false // inside a document begun by content or "---"
	for len(b) > 0 {
		// YAML breaks lines at \n, \r\n and a lone \r (found by
		// fuzzing: "#\r00" is a comment and a document).
		line := b
		if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		switch {
		case isMarker(line, "---"):
			n++
			open = true
		case isMarker(line, "..."):
			open = false
		case !open && len(bytes.TrimSpace(line)) > 0 && bytes.TrimSpace(line)[0] != '#':
			n++
			open = true
		}
	}
	return n
}

// isMarker reports whether line starts with the document marker m (---
// or ...) followed by a blank or nothing.
func isMarker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r'
}

// imageRefError returns why image is not a reference a container runtime
// can pull (the distribution reference grammar: [registry/]repository
// [:tag][@digest], lowercase), or "". Kubernetes' validation leaves images
// to the node, where "../../../etc/passwd" fails only once scheduled; here
// it is refused with the field that holds it.
func imageRefError(image string) string {
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return fmt.Sprintf("invalid value %s: not an image reference ([registry/]repository[:tag][@digest], lowercase): %v", quoteShort(image), err)
	}
	return ""
}

// quoteShort quotes s for an error message, cut to 100 bytes: a refused
// value may be megabytes long.
func quoteShort(s string) string {
	if len(s) > 100 {
		return fmt.Sprintf("%q… (%d bytes)", s[:100], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// maxErrorText bounds each part of an Error (object, field, message): a
// hostile name or key of a megabyte is quoted in its error, and MaxErrors
// of them would make a status of hundreds of megabytes.
const maxErrorText = 1024

// boundError returns e with each part cut to maxErrorText bytes.
func boundError(e *Error) *Error {
	if len(e.Object) <= maxErrorText && len(e.Field) <= maxErrorText && len(e.Message) <= maxErrorText && len(e.File) <= maxErrorText {
		return e
	}
	c := *e
	c.File, c.Object, c.Field, c.Message = cutText(c.File), cutText(c.Object), cutText(c.Field), cutText(c.Message)
	return &c
}

// cutText cuts s to about maxErrorText bytes at a rune boundary, saying
// how long it was.
func cutText(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	i := maxErrorText
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s… (cut: %d bytes)", s[:i], len(s))
}
