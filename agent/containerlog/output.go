package containerlog

import (
	"bufio"
	"io"
	"time"
)

// lineWriter turns records into the lines ReadLog writes.
type lineWriter struct {
	bw       *bufio.Writer
	dst      io.Writer
	since    time.Time
	ts       bool
	atStart  bool // the next record starts a line
	skipping bool // the line being written is before since
	stamp    []byte
}

func newLineWriter(w io.Writer, o ReadOptions) *lineWriter {
	dst := w
	if o.LimitBytes > 0 {
		dst = &limitWriter{w: w, left: o.LimitBytes}
	}
	return &lineWriter{bw: bufio.NewWriterSize(dst, 32<<10), dst: w, since: o.Since, ts: o.Timestamps, atStart: true}
}

// record writes one record (a line of a file without its newline); a
// record that does not parse is written as it is, a line of its own.
func (lw *lineWriter) record(line []byte) error {
	r, err := ParseRecord(line)
	if err != nil {
		if lw.skipping {
			return nil
		}
		r = Record{Content: line}
	}
	if lw.atStart {
		lw.skipping = !lw.since.IsZero() && !r.Time.IsZero() && r.Time.Before(lw.since)
		if !lw.skipping && lw.ts {
			lw.stamp = r.Time.UTC().AppendFormat(lw.stamp[:0], time.RFC3339Nano)
			lw.stamp = append(lw.stamp, ' ')
			if _, err := lw.bw.Write(lw.stamp); err != nil {
				return err
			}
		}
	}
	lw.atStart = !r.Partial
	if lw.skipping {
		return nil
	}
	if _, err := lw.bw.Write(r.Content); err != nil {
		return err
	}
	if !r.Partial {
		return lw.bw.WriteByte('\n')
	}
	return nil
}

// flush writes what is buffered, and flushes the destination when it can.
func (lw *lineWriter) flush() error {
	if err := lw.bw.Flush(); err != nil {
		return err
	}
	if f, ok := lw.dst.(interface{ Flush() }); ok {
		f.Flush()
	}
	return nil
}

// limitWriter writes at most left bytes, then fails with errLimit.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimit
	}
	cut := false
	if int64(len(p)) > l.left {
		p, cut = p[:l.left], true
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	if err == nil && cut {
		err = errLimit
	}
	return n, err
}
