package containerlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ReadOptions select what ReadLog writes; the zero value is the whole
// instance, without timestamps.
type ReadOptions struct {
	// Tail > 0 starts at the last Tail records (a line longer than
	// MaxLineBytes is several); zero means all unless TailSet.
	Tail int
	// TailSet makes a zero Tail mean no records (kubectl's --tail=0):
	// nothing, or with Follow only what is written from now on.
	TailSet bool
	// Since drops lines written before it.
	Since time.Time
	// Timestamps starts each line with its time (RFC 3339, nanoseconds)
	// and a space.
	Timestamps bool
	// LimitBytes > 0 stops after that many bytes of output.
	LimitBytes int64
	// Follow waits for more at the end of the current file, across
	// rotations, until the instance's writer is gone or ctx ends.
	Follow bool
	// PollInterval bounds a follower's wait between looks at the files
	// (changes are noticed at once through inotify); zero means 250ms.
	PollInterval time.Duration
}

// errLimit stops reading once LimitBytes were written.
var errLimit = errors.New("log byte limit reached")

// ReadLog writes instance n's log in dir to w: without Timestamps exactly
// what the container wrote (both streams, in the order written), records
// joined into lines. An instance with no file yet is an empty log.
// When w has a Flush method (an http.ResponseWriter), it is called
// whenever a follower catches up.
func ReadLog(ctx context.Context, dir string, n int, w io.Writer, o ReadOptions) error {
	paths, err := instanceFiles(dir, n)
	if err != nil || len(paths) == 0 {
		return err
	}
	// Every file is opened first: a rotation meanwhile renames or
	// removes them, and what is open stays readable. Each is closed
	// once read (files[i] = nil), so that a follower keeps only the
	// file it follows allocated.
	files, err := openFiles(paths)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	if err != nil || len(files) == 0 {
		return err
	}
	first, off, err := startAt(files, o)
	if err != nil {
		return err
	}
	for i := range files[:first] {
		files[i].Close()
		files[i] = nil
	}
	lw := newLineWriter(w, o)
	err = readAll(ctx, files[first:], off, lw, o, CurrentPath(dir, n), n)
	if errors.Is(err, errLimit) {
		err = nil
	}
	if ferr := lw.flush(); err == nil && !errors.Is(ferr, errLimit) {
		err = ferr
	}
	return err
}

// openFiles opens paths, skipping those gone since they were listed.
func openFiles(paths []string) ([]*os.File, error) {
	files := make([]*os.File, 0, len(paths))
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return files, fmt.Errorf("failed to open log: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

// startAt is where o's tail starts: the index of the file and the offset
// in it.
func startAt(files []*os.File, o ReadOptions) (int, int64, error) {
	switch {
	case o.Tail > 0:
		return tailStart(files, o.Tail)
	case o.TailSet:
		last := len(files) - 1
		st, err := files[last].Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("failed to stat log: %w", err)
		}
		return last, st.Size(), nil
	}
	return 0, 0, nil
}

// readAll reads files in order (the first from off), closing each once
// read (files[i] = nil), then follows the last one if asked to.
func readAll(ctx context.Context, files []*os.File, off int64, lw *lineWriter, o ReadOptions, current string, n int) error {
	var carry []byte
	last := len(files) - 1
	for i, f := range files {
		if i == 0 && off > 0 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return fmt.Errorf("failed to seek log: %w", err)
			}
		}
		var err error
		if carry, err = drain(f, carry[:0], lw); err != nil {
			return err
		}
		if i < last || !o.Follow {
			f.Close()
			files[i] = nil
		}
	}
	if !o.Follow {
		return nil
	}
	// The last file was the current one when the files were listed (or
	// the newest rotated one, mid-rotation): whether the writer rotated
	// it away since, or is gone, is the follower's to find out (it walks
	// forward through the rotated files), not a reason to stop here.
	fo := follower{f: files[last], path: current, n: n, lw: lw, carry: carry, poll: o.PollInterval}
	files[last] = nil
	defer func() { fo.f.Close() }()
	return fo.run(ctx)
}

// drain writes f's records from its offset to its end; carry is the start
// of a record its writer had not finished, returned to be completed by
// the next drain of the same file.
func drain(f *os.File, carry []byte, lw *lineWriter) ([]byte, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				carry = append(carry, data...)
				break
			}
			line := data[:i]
			if len(carry) > 0 {
				carry = append(carry, line...)
				line = carry
			}
			if werr := lw.record(line); werr != nil {
				return nil, werr
			}
			carry = carry[:0]
			data = data[i+1:]
		}
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			return carry, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read log: %w", err)
		}
	}
}

// follower waits at the end of the current file for more.
type follower struct {
	f     *os.File
	path  string
	n     int // the instance
	lw    *lineWriter
	carry []byte
	poll  time.Duration
	w     *watcher
	// missing is when the current path was first found empty with the
	// read file's writer gone: the middle of a rotation, unless it lasts.
	missing time.Time
}

// missingGrace is how long a current path may stay empty, its old file's
// lock released, before the follower takes the writer for gone: a writer
// rotating faster than the follower checks leaves the path empty between
// its two renames (found under load: a follow that ended at line 74,084
// of 100,000).
const missingGrace = 2 * time.Second

func (fo *follower) run(ctx context.Context) error {
	if fo.poll <= 0 {
		fo.poll = 250 * time.Millisecond
	}
	fo.w = newWatcher(fo.path)
	defer fo.w.close()
	for {
		var err error
		if fo.carry, err = drain(fo.f, fo.carry, fo.lw); err != nil {
			return err
		}
		if err := fo.lw.flush(); err != nil {
			return err
		}
		next, ended, err := fo.check()
		if err != nil || ended {
			return err
		}
		if next != nil {
			// Rotated: what was written to the old file before it
			// moved, then the new one.
			if fo.carry, err = drain(fo.f, fo.carry, fo.lw); err != nil {
				next.Close()
				return err
			}
			fo.f.Close()
			fo.f, fo.carry = next, fo.carry[:0]
			continue
		}
		if err := fo.w.wait(ctx, fo.poll); err != nil {
			return nil // the caller went
		}
	}
}

// check says whether the current path holds another file (next, opened),
// or the writer of this one is gone (ended, after a last drain).
func (fo *follower) check() (next *os.File, ended bool, err error) {
	if next, err := fo.rotated(); next != nil || err != nil {
		return next, false, err
	}
	// The writer locks a file before it is visible at the path and
	// releases it only once it moved away or the writer exited.
	err = unix.Flock(int(fo.f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("failed to check log writer: %w", err)
	}
	_ = unix.Flock(int(fo.f.Fd()), unix.LOCK_UN)
	if next, err := fo.rotated(); next != nil || err != nil {
		return next, false, err
	}
	if _, err := os.Stat(fo.path); errors.Is(err, fs.ErrNotExist) {
		if fo.missing.IsZero() {
			fo.missing = time.Now()
		}
		if time.Since(fo.missing) < missingGrace {
			return nil, false, nil
		}
	} else {
		fo.missing = time.Time{}
	}
	fo.carry, err = drain(fo.f, fo.carry, fo.lw)
	return nil, true, err
}

// rotated opens the file at the current path if it is not the one read,
// or rather the first of those written after the one read: a follower
// slower than the writer goes through every rotated file still there.
func (fo *follower) rotated() (*os.File, error) {
	st, err := os.Stat(fo.path)
	if err != nil {
		return nil, nil // mid-rotation, or removed
	}
	cur, err := fo.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("failed to stat log: %w", err)
	}
	if os.SameFile(st, cur) {
		return nil, nil
	}
	next := fo.path
	if paths, err := instanceFiles(filepath.Dir(fo.path), fo.n); err == nil {
		for i, p := range paths {
			if pst, err := os.Stat(p); err == nil && os.SameFile(pst, cur) && i+1 < len(paths) {
				next = paths[i+1]
				break
			}
		}
	}
	f, err := os.Open(next)
	if errors.Is(err, os.ErrNotExist) {
		// Trimmed or rotated meanwhile: the current one.
		f, err = os.Open(fo.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open log: %w", err)
	}
	return f, nil
}

// tailStart finds where the last n records of files start: the index of
// the file and the offset in it.
func tailStart(files []*os.File, n int) (int, int64, error) {
	buf := make([]byte, 64<<10)
	for i := len(files) - 1; i >= 0; i-- {
		st, err := files[i].Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("failed to stat log: %w", err)
		}
		end := st.Size()
		// The newline that ends the file ends its last record, not
		// one before it.
		first := true
		for end > 0 {
			start := max(end-int64(len(buf)), 0)
			chunk := buf[:end-start]
			if _, err := files[i].ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
				return 0, 0, fmt.Errorf("failed to read log: %w", err)
			}
			for j := len(chunk) - 1; j >= 0; j-- {
				if chunk[j] != '\n' {
					continue
				}
				if first && start+int64(j) == st.Size()-1 {
					first = false
					continue
				}
				first = false
				n--
				if n == 0 {
					return i, start + int64(j) + 1, nil
				}
			}
			end = start
		}
		// The file's first record.
		if st.Size() > 0 {
			n--
			if n == 0 {
				return i, 0, nil
			}
		}
	}
	return 0, 0, nil
}
