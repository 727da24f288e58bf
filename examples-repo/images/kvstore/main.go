// Command kvstore is the examples repository's stateful app: a small
// key-value store over HTTP that keeps every key as a file in $DATA_DIR
// (default /data), written to a temporary file, fsynced and renamed, so a
// value it acknowledged survives the container, the pod and the node.
//
//	PUT /kv/KEY   (body = value)  stores it; 204
//	GET /kv/KEY                   the value; 404 when absent
//	POST /fill?bytes=N            writes N bytes to $DATA_DIR/fill and says
//	                              how many were written and the error (ENOSPC
//	                              on a full volume)
//	GET /files/PATH               a file under one of $FILE_ROOTS (colon
//	                              separated; none by default): how the
//	                              examples show mounted ConfigMaps and Secrets
//	GET /env/NAME                 an environment variable, if NAME is listed
//	                              in $EXPOSE_ENV (comma separated)
//	GET /healthz                  "ok"
//
// Standard library only: its image is one static binary on busybox.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	dataDir := envOr("DATA_DIR", "/data")
	var roots []string
	for _, r := range strings.Split(os.Getenv("FILE_ROOTS"), ":") {
		if r != "" {
			roots = append(roots, filepath.Clean(r))
		}
	}
	exposed := strings.Split(os.Getenv("EXPOSE_ENV"), ",")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("PUT /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !validKey(key) {
			http.Error(w, "invalid key", http.StatusBadRequest)
			return
		}
		val, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = writeDurably(filepath.Join(dataDir, key), val)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInsufficientStorage)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !validKey(key) {
			http.Error(w, "invalid key", http.StatusBadRequest)
			return
		}
		b, err := os.ReadFile(filepath.Join(dataDir, key))
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /fill", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "bytes: want a positive integer", http.StatusBadRequest)
			return
		}
		wrote, err := fill(filepath.Join(dataDir, "fill"), n)
		msg := "ok"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(w, "wrote=%d err=%s\n", wrote, msg)
	})
	mux.HandleFunc("GET /files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		p := filepath.Clean("/" + r.PathValue("path"))
		if !slices.ContainsFunc(roots, func(root string) bool { return p == root || strings.HasPrefix(p, root+"/") }) {
			http.Error(w, "not under FILE_ROOTS", http.StatusForbidden)
			return
		}
		b, err := os.ReadFile(p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /env/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		v, ok := os.LookupEnv(name)
		if !slices.Contains(exposed, name) || !ok {
			http.Error(w, "not exposed", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, v)
	})

	srv := &http.Server{Addr: ":" + envOr("PORT", "8080"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "addr", srv.Addr, "data", dataDir)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// validKey keeps keys to plain file names.
func validKey(k string) bool {
	if k == "" || k == "." || k == ".." || len(k) > 200 {
		return false
	}
	return !strings.ContainsAny(k, "/\\\x00")
}

// writeDurably writes b to path so that a crash leaves the old value or the
// new one, never a torn one: temporary file, fsync, rename, fsync of the
// directory.
func writeDurably(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fill writes n bytes to path and fsyncs, returning how many were written.
func fill(path string, n int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var wrote int64
	for wrote < n {
		k := int64(len(buf))
		if n-wrote < k {
			k = n - wrote
		}
		m, err := f.Write(buf[:k])
		wrote += int64(m)
		if err != nil {
			return wrote, err
		}
	}
	return wrote, f.Sync()
}
