package agent

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// copyFlushing copies a log to w, flushing what each read gave: a follower
// sees a line as soon as the runtime read it.
func copyFlushing(w http.ResponseWriter, r io.Reader) error {
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Defaults of Config's container log rotation: the kubelet's.
const (
	DefaultContainerLogMaxSize  = 10 << 20
	DefaultContainerLogMaxFiles = 5
	// minContainerLogMaxSize is the log driver's smallest file.
	minContainerLogMaxSize = 16 << 10
)

// validateLogs fills the container log fields' zero values and refuses
// what the kubelet refuses (fewer than 2 files).
func (c *Config) validateLogs() error {
	if c.ContainerLogMaxSize == 0 {
		c.ContainerLogMaxSize = DefaultContainerLogMaxSize
	}
	if c.ContainerLogMaxSize < minContainerLogMaxSize {
		return fmt.Errorf("invalid container log max size %d: want at least %d bytes", c.ContainerLogMaxSize, minContainerLogMaxSize)
	}
	if c.ContainerLogMaxFiles == 0 {
		c.ContainerLogMaxFiles = DefaultContainerLogMaxFiles
	}
	if c.ContainerLogMaxFiles < 2 {
		return fmt.Errorf("invalid container log max files %d: want at least 2", c.ContainerLogMaxFiles)
	}
	return nil
}
