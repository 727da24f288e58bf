package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of WriterConfig: the kubelet's containerLogMaxSize and
// containerLogMaxFiles.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
	// MinMaxSize keeps a rotation from happening for every record.
	MinMaxSize = 16 << 10
)

// WriterConfig is one container instance's log.
type WriterConfig struct {
	// Dir is the container's log directory; created if missing.
	Dir string `json:"dir"`
	// Instance is the container's restart count: the file is <n>.log.
	Instance int `json:"instance"`
	// MaxSize is the size at which the current file is rotated; zero
	// means DefaultMaxSize; below MinMaxSize means MinMaxSize.
	MaxSize int64 `json:"maxSize,omitempty"`
	// MaxFiles counts the current file and the rotated ones kept; zero
	// means DefaultMaxFiles; 1 means the current file is truncated
	// instead of rotated (the kubelet requires at least 2).
	MaxFiles int `json:"maxFiles,omitempty"`
}

func (c *WriterConfig) validate() error {
	if c.Dir == "" {
		return errors.New("invalid log writer config: Dir is required")
	}
	if c.Instance < 0 {
		return fmt.Errorf("invalid log writer config: Instance %d is negative", c.Instance)
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	c.MaxSize = max(c.MaxSize, MinMaxSize)
	if c.MaxFiles <= 0 {
		c.MaxFiles = DefaultMaxFiles
	}
	return nil
}

// errLogInterval is how often a Writer logs that it drops output.
const errLogInterval = time.Minute

// Writer appends records to an instance's current file, rotating it when
// the next record would take it over MaxSize, so that the instance's files
// never hold more than MaxSize × MaxFiles (a record longer than MaxSize
// alone excepted). It holds an exclusive flock on its current file for
// as long as it writes there: a follower that can take the lock of the
// file it reads knows the writer is gone. Safe for concurrent use.
//
// A batch of records that cannot be written (a full disk) is dropped,
// and the next batch tried again: output resumes once there is room.
type Writer struct {
	cfg WriterConfig
	now func() time.Time
	// openFile and writeFile are openLocked and (*os.File).Write; tests
	// make them fail.
	openFile  func(path string, trunc bool) (*os.File, error)
	writeFile func(f *os.File, b []byte) (int, error)
	log       *slog.Logger

	mu   sync.Mutex
	f    *os.File // nil once closed
	size int64
	// broken says the last write stopped within a record: the next one
	// starts with a newline, so that later records start lines.
	broken bool
	// last is the newest rotated file's stamp: the next is later even
	// when the clock stepped back, so that names sort in rotation order.
	last time.Time
	// dropped counts the batches dropped since the last log of it, at
	// loggedAt.
	dropped  int
	loggedAt time.Time
}

// OpenWriter prunes the directory for cfg.Instance (prune) and opens, or
// continues, its current file.
func OpenWriter(cfg WriterConfig) (*Writer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create log directory: %w", err)
	}
	if err := prune(cfg.Dir, cfg.Instance); err != nil {
		return nil, fmt.Errorf("failed to prune log directory: %w", err)
	}
	w := &Writer{cfg: cfg, now: time.Now, openFile: openLocked, writeFile: (*os.File).Write, log: slog.Default()}
	f, err := openLocked(CurrentPath(cfg.Dir, cfg.Instance), false)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to stat log file: %w", err)
	}
	w.f, w.size = f, st.Size()
	// A file that does not end a record (a failed write before a
	// restart of the driver) is ended first.
	w.broken = st.Size() > 0 && !endsLine(f.Name(), st.Size())
	if w.last, err = lastStamp(cfg.Dir, cfg.Instance); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.trim(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// openLocked opens path for appending (truncated if trunc) and takes its
// exclusive lock, waiting for a writer that still holds it.
func openLocked(path string, trunc bool) (*os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if trunc {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		return nil, fmt.Errorf("failed to open log file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to lock log file: %w", err)
	}
	return f, nil
}

// write appends buf, whose records end at the offsets in ends (ascending,
// the last one len(buf)), rotating between records as needed. A batch
// that fails is dropped (what was written of it stays), the failure
// logged now and then; the next one is tried again.
func (w *Writer) write(buf []byte, ends []int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	err := w.writeBatch(buf, ends)
	if err != nil {
		w.dropped++
		w.report("container log output dropped", err)
	}
	return err
}

func (w *Writer) writeBatch(buf []byte, ends []int) error {
	if w.broken {
		if err := w.append([]byte{'\n'}); err != nil {
			return err
		}
	}
	start := 0
	for start < len(buf) {
		// The longest run of whole records that fits.
		room := w.cfg.MaxSize - w.size
		end := start
		for _, e := range ends {
			if e <= end {
				continue
			}
			if int64(e-start) > room {
				break
			}
			end = e
		}
		if end == start {
			if w.size > 0 {
				if err := w.rotate(); err != nil {
					return err
				}
				continue
			}
			// A record longer than MaxSize alone in its file.
			for _, e := range ends {
				if e > start {
					end = e
					break
				}
			}
		}
		if err := w.append(buf[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// append writes b, whole records or a newline, to the current file.
func (w *Writer) append(b []byte) error {
	n, err := w.writeFile(w.f, b)
	w.size += int64(n)
	if err != nil {
		w.broken = n > 0 && b[n-1] != '\n' || w.broken && n == 0
		return fmt.Errorf("failed to write log: %w", err)
	}
	w.broken = false
	return nil
}

// report logs err, at most once per errLogInterval, with the count of
// batches dropped since the last log.
func (w *Writer) report(msg string, err error) {
	now := time.Now()
	if !w.loggedAt.IsZero() && now.Sub(w.loggedAt) < errLogInterval {
		return
	}
	w.log.Error(msg, "dir", w.cfg.Dir, "instance", w.cfg.Instance, "batches", w.dropped, "err", err)
	w.loggedAt, w.dropped = now, 0
}

// rotate puts a new, locked, empty file in place of the current one, keeps
// the current one as a rotated file, and removes the rotated files over
// MaxFiles. The new file is locked before it is visible, and the old one
// released only after it was moved away: a file at the current path is
// locked while its writer lives. A rotation that fails leaves the current
// file in place, to be rotated by the next write.
func (w *Writer) rotate() error {
	cur := CurrentPath(w.cfg.Dir, w.cfg.Instance)
	if w.cfg.MaxFiles == 1 {
		if err := w.f.Truncate(0); err != nil {
			return fmt.Errorf("failed to truncate log file: %w", err)
		}
		w.size = 0
		return nil
	}
	tmp := cur + tmpSuffix
	nf, err := w.openFile(tmp, true)
	if err != nil {
		return err
	}
	undo := func() {
		nf.Close()
		_ = os.Remove(tmp)
	}
	stamp := w.stamp()
	rotated := filepath.Join(w.cfg.Dir, rotatedName(w.cfg.Instance, stamp))
	if err := os.Rename(cur, rotated); err != nil {
		undo()
		return fmt.Errorf("failed to rotate log file: %w", err)
	}
	if err := os.Rename(tmp, cur); err != nil {
		_ = os.Rename(rotated, cur)
		undo()
		return fmt.Errorf("failed to rotate log file: %w", err)
	}
	old := w.f
	w.f, w.size, w.broken, w.last = nf, 0, false, stamp
	old.Close()
	// The rotation is done: a file left over is removed by the next.
	if err := w.trim(); err != nil {
		w.report("failed to trim container log", err)
	}
	return nil
}

// stamp is the time the current file is rotated at, for its name: now, or
// just after the last rotation when the clock stepped back.
func (w *Writer) stamp() time.Time {
	t := w.now().UTC()
	if !t.After(w.last) {
		t = w.last.Add(time.Nanosecond)
	}
	return t
}

// trim removes the oldest rotated files of the instance beyond MaxFiles-1.
func (w *Writer) trim() error {
	files, err := instanceFiles(w.cfg.Dir, w.cfg.Instance)
	if err != nil {
		return err
	}
	rotated := files
	if len(rotated) > 0 && rotated[len(rotated)-1] == CurrentPath(w.cfg.Dir, w.cfg.Instance) {
		rotated = rotated[:len(rotated)-1]
	}
	for len(rotated) > w.cfg.MaxFiles-1 {
		if err := os.Remove(rotated[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("failed to remove rotated log file: %w", err)
		}
		rotated = rotated[1:]
	}
	return nil
}

// Close closes the current file (releasing its lock: followers end).
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// readBufSize is how much of a stream is read at once.
const readBufSize = 64 << 10

// Copy writes what r yields as records of stream until r ends (EOF or an
// error), each line its record, a line longer than MaxLineBytes cut into
// partial ones, and a last line without a newline a full record. The
// records of one read are written at once. It returns the last batch's
// write error: output dropped earlier was logged.
func (w *Writer) Copy(stream string, r io.Reader) error {
	buf := make([]byte, readBufSize)
	var (
		pending []byte // the start of a line not ended yet
		out     []byte
		ends    []int
		werr    error
	)
	for {
		n, rerr := r.Read(buf)
		now := w.now()
		out, ends = out[:0], ends[:0]
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending = append(pending, data...)
				break
			}
			line := data[:i]
			data = data[i+1:]
			if len(pending) > 0 {
				pending = append(pending, line...)
				line = pending
			}
			out, ends = appendLine(out, ends, now, stream, line)
			pending = pending[:0]
		}
		// A line longer than MaxLineBytes: its full pieces go now.
		for len(pending) >= MaxLineBytes {
			out = appendRecord(out, now, stream, true, pending[:MaxLineBytes])
			ends = append(ends, len(out))
			pending = append(pending[:0], pending[MaxLineBytes:]...)
		}
		if rerr != nil && len(pending) > 0 {
			out = appendRecord(out, now, stream, false, pending)
			ends = append(ends, len(out))
			pending = pending[:0]
		}
		// The stream is read whatever the writes do: a container must
		// not block on a full pipe because its log cannot be written.
		// A batch that failed is dropped; the next is tried.
		if len(out) > 0 {
			werr = w.write(out, ends)
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, os.ErrClosed) {
				return werr
			}
			return errors.Join(werr, fmt.Errorf("failed to read %s: %w", stream, rerr))
		}
	}
}

// appendLine appends line's records: partial ones of MaxLineBytes, then a
// full one.
func appendLine(out []byte, ends []int, now time.Time, stream string, line []byte) ([]byte, []int) {
	for len(line) > MaxLineBytes {
		out = appendRecord(out, now, stream, true, line[:MaxLineBytes])
		ends = append(ends, len(out))
		line = line[MaxLineBytes:]
	}
	out = appendRecord(out, now, stream, false, line)
	return out, append(ends, len(out))
}
