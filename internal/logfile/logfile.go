// Package logfile is a daemon's own log file, capped on disk: a writer that
// rotates the file by size and keeps a bounded number of old ones, so an
// agent or reconciler that logs in a loop cannot fill the node's disk (the
// kubelet's containerLogMaxSize and containerLogMaxFiles, applied to the
// daemons themselves). Rotation renames PATH to PATH.1, PATH.1 to PATH.2…
// and removes what passes MaxFiles, as logrotate's "rotate N" does.
package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Defaults of Config, the kubelet's for container logs.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
)

// Config says where the log goes and how much of it is kept.
type Config struct {
	// Path is the current file; required. Its directory is created.
	Path string
	// MaxSize is the size in bytes past which the file is rotated; zero
	// means DefaultMaxSize. A single write larger than MaxSize is kept
	// whole (a log line is not split).
	MaxSize int64
	// MaxFiles counts the current file and the rotated ones kept; zero
	// means DefaultMaxFiles, 1 keeps no rotated file (the file is
	// truncated on rotation).
	MaxFiles int
}

// DefaultConfig returns a Config with the defaults filled in.
func DefaultConfig(path string) Config {
	return Config{Path: path, MaxSize: DefaultMaxSize, MaxFiles: DefaultMaxFiles}
}

func (c *Config) validate() error {
	if c.Path == "" {
		return errors.New("log file path is required")
	}
	if c.MaxSize < 0 || c.MaxFiles < 0 {
		return fmt.Errorf("log file max size (%d) and max files (%d) must not be negative", c.MaxSize, c.MaxFiles)
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = DefaultMaxFiles
	}
	return nil
}

// Writer is an io.WriteCloser onto the rotated file; safe for concurrent
// use (slog handlers write each record with one Write).
type Writer struct {
	cfg  Config
	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (appending to) cfg.Path, creating it and its directory.
func Open(cfg Config) (*Writer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("failed to create log directory: %w", err)
	}
	w := &Writer{cfg: cfg}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("failed to open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("failed to stat log file: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past MaxSize.
// A failed rotation keeps writing to the current file (a log that cannot
// rotate is better than none) and reports the error once per write.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, os.ErrClosed
	}
	var rotErr error
	if w.size > 0 && w.size+int64(len(p)) > w.cfg.MaxSize {
		rotErr = w.rotate()
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	if err == nil && rotErr != nil {
		err = rotErr
	}
	return n, err
}

// rotate shifts PATH.(i) to PATH.(i+1), drops the oldest and starts an
// empty PATH. w.mu is held.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return w.reopen(fmt.Errorf("failed to close log file: %w", err))
	}
	w.f = nil
	keep := w.cfg.MaxFiles - 1
	if keep == 0 {
		return w.reopen(os.Truncate(w.cfg.Path, 0))
	}
	_ = os.Remove(w.name(keep)) // the oldest may not exist yet
	for i := keep - 1; i >= 1; i-- {
		if err := os.Rename(w.name(i), w.name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return w.reopen(fmt.Errorf("failed to rotate log file: %w", err))
		}
	}
	if err := os.Rename(w.cfg.Path, w.name(1)); err != nil {
		return w.reopen(fmt.Errorf("failed to rotate log file: %w", err))
	}
	return w.reopen(nil)
}

// reopen opens PATH again after a rotation (or a failed one) and returns
// cause, or the open's error when there is no writer to keep logging to.
func (w *Writer) reopen(cause error) error {
	if w.f != nil {
		return cause
	}
	if err := w.open(); err != nil {
		return err
	}
	return cause
}

func (w *Writer) name(i int) string { return w.cfg.Path + "." + strconv.Itoa(i) }

// Close closes the file; later writes fail with os.ErrClosed. Safe twice.
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
