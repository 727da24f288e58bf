package agent

import (
	"errors"
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
