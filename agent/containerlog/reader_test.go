package containerlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookWriter runs hook before its first write: a reader slow at the
// start of its output.
type hookWriter struct {
	syncBuffer
	once sync.Once
	hook func()
}

func (h *hookWriter) Write(p []byte) (int, error) {
	h.once.Do(h.hook)
	return h.syncBuffer.Write(p)
}

// flushWriter says when it was first flushed: a follower caught up.
type flushWriter struct {
	syncBuffer
	once    sync.Once
	flushed chan struct{}
}

func (f *flushWriter) Flush() { f.once.Do(func() { close(f.flushed) }) }

// lines returns records from..to-1 of a test log, one line each.
func lines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %06d\n", i)
	}
	return b.String()
}

func copyString(t *testing.T, w *Writer, s string) {
	t.Helper()
	if err := w.Copy(Stdout, strings.NewReader(s)); err != nil {
		t.Error(err)
	}
}

// A writer that rotates the file a follower listed as current while the
// follower still reads the files before it: the follower goes on until
// the writer ends, with every line.
func TestFollowRotatedDuringRead(t *testing.T) {
	w := openTest(t, WriterConfig{MaxSize: 16 << 10, MaxFiles: 16})
	// More output than the reader's 32 KiB buffer, so that it writes
	// (and stalls) before it reached the end of the files.
	want := lines(0, 3000)
	copyString(t, w, want)
	out := &hookWriter{hook: func() { copyString(t, w, lines(3000, 3400)) }}
	want += lines(3000, 3400)
	done := make(chan error, 1)
	go func() { done <- ReadLog(context.Background(), w.cfg.Dir, 0, out, ReadOptions{Follow: true}) }()
	waitFor(t, func() bool { return strings.HasSuffix(out.String(), "line 003399\n") })
	select {
	case err := <-done:
		t.Fatalf("follower ended while the writer is open: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	copyString(t, w, lines(3400, 3500))
	want += lines(3400, 3500)
	waitFor(t, func() bool { return strings.HasSuffix(out.String(), "line 003499\n") })
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follower did not end after the writer closed")
	}
	if got := out.String(); got != want {
		t.Errorf("follower saw %d bytes, want %d", len(got), len(want))
	}
}

// openLogFiles counts this process's descriptors of files in dir.
func openLogFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("failed to list this process's descriptors: %v", err)
	}
	n := 0
	for _, e := range ents {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(p, dir+"/") {
			n++
		}
	}
	return n
}

// A follower keeps only the file it follows open: rotated files it read
// are closed, so that trimming them frees their space.
func TestFollowClosesReadFiles(t *testing.T) {
	w := openTest(t, WriterConfig{MaxSize: 16 << 10, MaxFiles: 8})
	copyString(t, w, lines(0, 1500)) // five files
	if _, nf := dirBytes(t, w.cfg.Dir); nf < 4 {
		t.Fatalf("%d files, want rotated ones", nf)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- ReadLog(ctx, w.cfg.Dir, 0, out, ReadOptions{Follow: true}) }()
	waitFor(t, func() bool { return strings.HasSuffix(out.String(), "line 001499\n") })
	// The writer's current file and the follower's.
	if n := openLogFiles(t, w.cfg.Dir); n > 2 {
		t.Errorf("%d log files open while following, want 2", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Tail 0 given is no lines (kubectl's --tail=0): with Follow, only the
// lines written from then on.
func TestTailZero(t *testing.T) {
	w := openTest(t, WriterConfig{MaxSize: 16 << 10})
	copyString(t, w, lines(0, 500))
	if got := read(t, w.cfg.Dir, 0, ReadOptions{TailSet: true}); got != "" {
		t.Errorf("tail 0 = %.40q…, want nothing", got)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{}); got != lines(0, 500) {
		t.Errorf("no tail = %d bytes, want all", len(got))
	}
	out := &flushWriter{flushed: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- ReadLog(context.Background(), w.cfg.Dir, 0, out, ReadOptions{TailSet: true, Follow: true})
	}()
	<-out.flushed // the follower at the end
	copyString(t, w, lines(500, 502))
	waitFor(t, func() bool { return out.String() == lines(500, 502) })
	w.Close()
	if err := <-done; err != nil || out.String() != lines(500, 502) {
		t.Errorf("tail 0 follow = %q, %v", out.String(), err)
	}
}

// A follower whose file was rotated away, its lock released, with the
// current path empty for a moment (the writer between its two renames),
// waits for the new file instead of ending; it ends only when the path
// stays empty.
func TestFollowWaitsOutAnEmptyPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "current")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out syncBuffer
	fo := &follower{f: f, path: path, lw: newLineWriter(&out, ReadOptions{})}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	next, ended, err := fo.check()
	if err != nil || ended || next != nil {
		t.Fatalf("with the path empty a moment: next=%v ended=%v err=%v, want a wait", next, ended, err)
	}
	fo.missing = time.Now().Add(-missingGrace)
	if _, ended, err := fo.check(); err != nil || !ended {
		t.Fatalf("with the path empty past the grace: ended=%v err=%v, want ended", ended, err)
	}
}
