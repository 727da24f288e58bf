package containerlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord([]byte("2016-10-06T00:17:09.669794202Z stdout F log content 1"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2016, 10, 6, 0, 17, 9, 669794202, time.UTC)
	if !r.Time.Equal(want) || r.Stream != Stdout || r.Partial || string(r.Content) != "log content 1" {
		t.Errorf("ParseRecord = %+v", r)
	}
	r, err = ParseRecord([]byte("2016-10-06T00:17:10.113242941Z stderr P log content 2"))
	if err != nil || r.Stream != Stderr || !r.Partial || string(r.Content) != "log content 2" {
		t.Errorf("ParseRecord = %+v, %v", r, err)
	}
	if _, err := ParseRecord([]byte("not a record")); err == nil {
		t.Error("ParseRecord accepted a line without a time")
	}
	// An empty line written by the container.
	r, err = ParseRecord(bytes.TrimSuffix(appendRecord(nil, want, Stdout, false, nil), []byte("\n")))
	if err != nil || len(r.Content) != 0 || r.Partial {
		t.Errorf("ParseRecord(empty) = %+v, %v", r, err)
	}
}

func openTest(t *testing.T, cfg WriterConfig) *Writer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "c")
	}
	w, err := OpenWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func read(t *testing.T, dir string, n int, o ReadOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := ReadLog(context.Background(), dir, n, &b, o); err != nil {
		t.Fatalf("ReadLog: %v", err)
	}
	return b.String()
}

// The output is what the container wrote: lines longer than MaxLineBytes
// are cut into partial records and joined again, a last line without a
// newline is ended by one.
func TestWriteReadRoundTrip(t *testing.T) {
	w := openTest(t, WriterConfig{})
	long := strings.Repeat("x", 2*MaxLineBytes+10)
	in := "one\n\nthree " + long + "\nlast"
	// Written in small reads, so lines span them.
	if err := w.Copy(Stdout, &chunkReader{s: in, n: 1000}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(CurrentPath(w.cfg.Dir, 0))
	if got := strings.Count(string(b), " stdout P "); got != 2 {
		t.Errorf("%d partial records, want 2", got)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{}); got != in+"\n" {
		t.Errorf("read %d bytes, want %d", len(got), len(in)+1)
	}
	// Tail counts records: the long line is three, the last of them
	// and "last" are two.
	if got := read(t, w.cfg.Dir, 0, ReadOptions{Tail: 2}); !strings.HasSuffix(got, "x\nlast\n") || strings.Contains(got, "three") || len(got) > MaxLineBytes {
		t.Errorf("tail 2 = %.40q", got)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{Tail: 1}); got != "last\n" {
		t.Errorf("tail 1 = %q", got)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{LimitBytes: 6}); got != "one\n\nt" {
		t.Errorf("limitBytes 6 = %q", got)
	}
	got := read(t, w.cfg.Dir, 0, ReadOptions{Tail: 1, Timestamps: true})
	ts, rest, _ := strings.Cut(got, " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || rest != "last\n" {
		t.Errorf("timestamps = %q (%v)", got, err)
	}
}

type chunkReader struct {
	s string
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.s)
	c.s = c.s[n:]
	return n, nil
}

func TestSince(t *testing.T) {
	w := openTest(t, WriterConfig{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	w.now = func() time.Time { return now }
	for i := range 5 {
		now = t0.Add(time.Duration(i) * time.Second)
		if err := w.Copy(Stderr, strings.NewReader(fmt.Sprintf("line %d\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{Since: t0.Add(3 * time.Second)}); got != "line 3\nline 4\n" {
		t.Errorf("since = %q", got)
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{Since: t0.Add(2 * time.Second), Tail: 4}); got != "line 2\nline 3\nline 4\n" {
		t.Errorf("since and tail = %q", got)
	}
}

// dirBytes sums the sizes of dir's files.
func dirBytes(t *testing.T, dir string) (int64, int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			sum += fi.Size()
		}
	}
	return sum, len(ents)
}

// A flood keeps at most MaxSize × MaxFiles (plus a record) on disk, and
// what is read is the end of what was written.
func TestRotationBound(t *testing.T) {
	const size, files = 32 << 10, 3
	w := openTest(t, WriterConfig{MaxSize: size, MaxFiles: files})
	var in strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&in, "line %06d\n", i)
	}
	var maxBytes int64
	src := &chunkReader{s: in.String(), n: 4096}
	r := readerFunc(func(p []byte) (int, error) {
		n, err := src.Read(p)
		if b, nf := dirBytes(t, w.cfg.Dir); b > maxBytes || nf > files {
			maxBytes = max(maxBytes, b)
			if nf > files {
				t.Errorf("%d files on disk, want at most %d", nf, files)
			}
		}
		return n, err
	})
	if err := w.Copy(Stdout, r); err != nil {
		t.Fatal(err)
	}
	if maxBytes > size*files {
		t.Errorf("%d bytes on disk, want at most %d", maxBytes, size*files)
	}
	if maxBytes < size*(files-1) {
		t.Errorf("only %d bytes on disk at most: rotation too eager", maxBytes)
	}
	got := read(t, w.cfg.Dir, 0, ReadOptions{})
	if !strings.HasSuffix(in.String(), got) || len(got) < size/4 {
		t.Errorf("read %d bytes, not the end of what was written", len(got))
	}
	if got := read(t, w.cfg.Dir, 0, ReadOptions{Tail: 3}); got != "line 019997\nline 019998\nline 019999\n" {
		t.Errorf("tail = %q", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// A follower sees every line, in order, across rotations, and ends when
// the writer closes.
func TestFollowAcrossRotations(t *testing.T) {
	w := openTest(t, WriterConfig{MaxSize: 16 << 10, MaxFiles: 4})
	const lines = 20000
	pr, pw := io.Pipe()
	var copyErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyErr = w.Copy(Stdout, pr)
		w.Close()
	}()
	if _, err := io.WriteString(pw, "first\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return read(t, w.cfg.Dir, 0, ReadOptions{}) == "first\n" })
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- ReadLog(context.Background(), w.cfg.Dir, 0, out, ReadOptions{Follow: true, Tail: 1})
	}()
	waitFor(t, func() bool { return out.String() == "first\n" })
	var want strings.Builder
	want.WriteString("first\n")
	for i := range lines {
		s := fmt.Sprintf("line %06d\n", i)
		want.WriteString(s)
		if _, err := io.WriteString(pw, s); err != nil {
			t.Fatal(err)
		}
		if i%300 == 299 {
			// A follower loses what is trimmed before it gets there
			// (MaxFiles-1 rotated files of lag): the writer waits for
			// it now and then, as a container writing at a sane pace
			// would.
			waitFor(t, func() bool { return strings.HasSuffix(out.String(), s) })
		}
	}
	select {
	case err := <-done:
		t.Fatalf("follower ended while the writer is open: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	pw.Close()
	wg.Wait()
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follower did not end after the writer closed")
	}
	if got := out.String(); got != want.String() {
		t.Errorf("follower saw %d bytes, want %d", len(got), want.Len())
	}
	if _, nf := dirBytes(t, w.cfg.Dir); nf != 4 {
		t.Errorf("%d files, want 4 (rotated)", nf)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A new instance keeps the previous one's current file only.
func TestPrunePrevious(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	for n := range 3 {
		w := openTest(t, WriterConfig{Dir: dir, Instance: n, MaxSize: 16 << 10, MaxFiles: 2})
		if err := w.Copy(Stdout, strings.NewReader(strings.Repeat(fmt.Sprintf("run %d\n", n), 5000))); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 || names[0] != "1.log" || names[1] != "2.log" || !strings.HasPrefix(names[2], "2.log.") {
		t.Errorf("files = %v, want 1.log, 2.log and one rotated 2.log", names)
	}
	if p, ok, err := Previous(dir, 2); err != nil || !ok || p != 1 {
		t.Errorf("Previous = %d, %v, %v", p, ok, err)
	}
	if got := read(t, dir, 1, ReadOptions{Tail: 1}); got != "run 1\n" {
		t.Errorf("previous instance's tail = %q", got)
	}
	// Nothing to follow in a finished instance: it ends at once.
	if got := read(t, dir, 1, ReadOptions{Tail: 1, Follow: true}); got != "run 1\n" {
		t.Errorf("follow of a finished instance = %q", got)
	}
}
