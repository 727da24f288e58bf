// Package containerlog keeps containers' logs as the kubelet does: files in
// the CRI log format ("2016-10-06T00:17:09.669794202Z stdout F line"), one
// directory per container, one file per instance (<restartCount>.log),
// rotated by size and count as they are written.
//
// The writer runs in the log driver (driver.go), a process containerd's
// shim starts per container (binary logging): it outlives the agent, so a
// container's output is kept while no agent runs. The reader serves the
// agent's /v1/logs: since, tail, timestamps, a byte limit, and follow
// across rotations until the instance's driver exits.
package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Stream names and tags of the CRI format.
const (
	Stdout = "stdout"
	Stderr = "stderr"
	// TagFull ends a line; TagPartial is a piece of a longer one (the
	// writer cuts lines at MaxLineBytes), joined with what follows.
	TagFull    = 'F'
	TagPartial = 'P'
)

// MaxLineBytes is where a line is cut into partial records: containerd's
// CRI plugin's and the kubelet's 16 KiB.
const MaxLineBytes = 16 << 10

// timeFormat is containerd CRI's: RFC 3339 with a fixed nine-digit fraction,
// so that records of one file sort as text too.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Record is one record of a log file.
type Record struct {
	Time   time.Time
	Stream string
	// Partial is true for a P record: Content continues in the next.
	Partial bool
	// Content excludes the newline that ends the record in the file.
	Content []byte
}

// appendRecord appends r's encoding (with its final newline) to b.
func appendRecord(b []byte, t time.Time, stream string, partial bool, content []byte) []byte {
	b = t.UTC().AppendFormat(b, timeFormat)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ')
	if partial {
		b = append(b, TagPartial)
	} else {
		b = append(b, TagFull)
	}
	b = append(b, ' ')
	b = append(b, content...)
	return append(b, '\n')
}

var errBadRecord = errors.New("not a CRI log record")

// ParseRecord parses one line of a log file (without its newline). Content
// aliases line.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return r, fmt.Errorf("failed to parse log record %.40q: %w", line, errBadRecord)
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return r, fmt.Errorf("failed to parse log record time: %w", err)
	}
	r.Time = t
	rest := line[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return r, fmt.Errorf("failed to parse log record %.40q: %w", line, errBadRecord)
	}
	switch s := rest[:j]; string(s) {
	case Stdout:
		r.Stream = Stdout
	case Stderr:
		r.Stream = Stderr
	default:
		r.Stream = string(s)
	}
	rest = rest[j+1:]
	// The tag; records of old writers without one are full lines.
	if len(rest) >= 1 && (rest[0] == TagFull || rest[0] == TagPartial) && (len(rest) == 1 || rest[1] == ' ') {
		r.Partial = rest[0] == TagPartial
		rest = rest[1:]
		if len(rest) > 0 {
			rest = rest[1:]
		}
	}
	r.Content = rest
	return r, nil
}
