package containerlog

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// failingWrites makes w's writes fail with ENOSPC while *mode is not 0:
// 1 writes nothing, 2 writes half of what it is given.
func failingWrites(w *Writer) *atomic.Int32 {
	var mode atomic.Int32
	w.writeFile = func(f *os.File, b []byte) (int, error) {
		switch mode.Load() {
		case 1:
			return 0, unix.ENOSPC
		case 2:
			n, _ := f.Write(b[:len(b)/2])
			return n, unix.ENOSPC
		}
		return f.Write(b)
	}
	return &mode
}

func quiet(w *Writer) { w.log = slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A failed write drops its batch only: later ones are written, and a
// record cut by the failure does not swallow the next one's start.
func TestWriteErrorNotSticky(t *testing.T) {
	w := openTest(t, WriterConfig{})
	quiet(w)
	mode := failingWrites(w)
	copyString(t, w, "a\n")
	mode.Store(1)
	if err := w.Copy(Stdout, strings.NewReader("dropped\n")); err == nil {
		t.Error("Copy hid a failed write")
	}
	mode.Store(2)
	if err := w.Copy(Stdout, strings.NewReader("cut in the middle of its record\n")); err == nil {
		t.Error("Copy hid a short write")
	}
	mode.Store(0)
	copyString(t, w, "b\n")
	got := read(t, w.cfg.Dir, 0, ReadOptions{})
	// The half record is a line of its own (it does not parse).
	if !strings.HasPrefix(got, "a\n") || !strings.HasSuffix(got, "\nb\n") || strings.Count(got, "\n") != 3 || strings.Contains(got, "dropped") {
		t.Errorf("log = %q, want a, the cut record's start, b", got)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{Tail: 1}); got != "b\n" {
		t.Errorf("tail 1 = %q", got)
	}
}

// A rotation that cannot create the new file drops the batch, and the
// next batch rotates.
func TestRotationErrorNotSticky(t *testing.T) {
	w := openTest(t, WriterConfig{MaxSize: 16 << 10, MaxFiles: 3})
	quiet(w)
	var fail atomic.Bool
	w.openFile = func(path string, trunc bool) (*os.File, error) {
		if fail.Load() {
			return nil, fmt.Errorf("failed to open log file: %w", unix.ENOSPC)
		}
		return openLocked(path, trunc)
	}
	copyString(t, w, lines(0, 300)) // just under 16 KiB
	fail.Store(true)
	if err := w.Copy(Stdout, strings.NewReader(lines(300, 400))); err == nil {
		t.Error("Copy hid a failed rotation")
	}
	fail.Store(false)
	copyString(t, w, lines(400, 500))
	// What fitted before the rotation was written, the rest dropped.
	if got := read(t, w.cfg.Dir, 0, ReadOptions{}); !strings.HasPrefix(got, lines(0, 300)) || !strings.HasSuffix(got, lines(399, 500)[12:]) || strings.Contains(got, "line 000399") {
		t.Errorf("log = %d bytes, want lines 0-299, some more, then 400-499", len(got))
	}
	if _, nf := dirBytes(t, w.cfg.Dir); nf != 2 {
		t.Errorf("%d files, want the current one and one rotated", nf)
	}
}

// Rotated files are named in rotation order when the clock steps back, so
// that trimming removes the oldest.
func TestRotationClockBack(t *testing.T) {
	w := openTest(t, WriterConfig{MaxSize: 16 << 10, MaxFiles: 3})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time {
		now = now.Add(-time.Second)
		return now
	}
	in := lines(0, 2000)
	if err := w.Copy(Stdout, &chunkReader{s: in, n: 4096}); err != nil {
		t.Fatal(err)
	}
	got := read(t, w.cfg.Dir, 0, ReadOptions{})
	if !strings.HasSuffix(in, got) || len(got) < 16<<10/52*12 {
		t.Errorf("read %d bytes, not the end of what was written", len(got))
	}
	// A new writer of the instance goes on after the newest name.
	w.Close()
	w2 := openTest(t, WriterConfig{Dir: w.cfg.Dir, MaxSize: 16 << 10, MaxFiles: 3})
	w2.now = w.now
	more := lines(2000, 2700)
	if err := w2.Copy(Stdout, &chunkReader{s: more, n: 4096}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{}); !strings.HasSuffix(in+more, got) {
		t.Errorf("after reopening, read %d bytes, not the end of what was written", len(got))
	}
}
