// Command shard is the sharded pattern's program
// (examples-repo/patterns/sharded.yaml), in two roles.
//
// "shard" (the default) is one shard of a key-value store, run by a
// StatefulSet: its shard number is its ordinal, the number after the last
// "-" of its host name (the pod's name, shard-2 → 2), out of $SHARDS. It
// keeps each key as a file in $DATA_DIR (default /data) and refuses, with
// 421 Misdirected Request, a key that is not its own, so a wrong routing
// rule shows at once instead of splitting a key's values.
//
//	PUT /kv/KEY  (body = value)  204; GET /kv/KEY  the value, 404 if absent
//	GET /whoami                  {"shard": N, "shards": M, "keys": K}
//	GET /healthz                 "ok"
//
// "shard route" is the router, run by a Deployment: it sends key k to
// shard hash(k) mod $SHARDS (hash: FNV-1a, 32 bits), at
// http://$SHARD_SERVICE-N.$SHARD_SERVICE:8080 (the StatefulSet pod's stable
// DNS name through its headless Service, in the router's namespace through
// its search path), with the same paths, adding the header X-Shard: N to
// the answer. `shard which KEY` prints the shard of KEY, the rule a client
// may apply itself instead.
//
// Standard library only: its image is one static binary on busybox.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	shards, err := strconv.Atoi(envOr("SHARDS", "3"))
	if err != nil || shards < 1 {
		slog.Error("SHARDS must be a positive integer", "value", os.Getenv("SHARDS"))
		os.Exit(2)
	}
	var h http.Handler
	switch role := append(os.Args[1:], "serve")[0]; role {
	case "serve":
		host, _ := os.Hostname()
		h, err = serveShard(shards, host, envOr("DATA_DIR", "/data"))
	case "route":
		h = route(shards, envOr("SHARD_SERVICE", "shard"), &http.Client{Timeout: 5 * time.Second})
	case "which":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: shard which KEY")
			os.Exit(2)
		}
		fmt.Println(shardOf(os.Args[2], shards))
		return
	default:
		err = fmt.Errorf("unknown role %q: want serve, route or which", role)
	}
	if err != nil {
		slog.Error("failed to start", "err", err)
		os.Exit(2)
	}
	addr := ":" + envOr("PORT", "8080")
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "addr", addr, "shards", shards)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("failed to serve", "err", err)
		os.Exit(1)
	}
}

// shardOf is the routing rule: FNV-1a of the key, mod the shard count.
func shardOf(key string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// ordinal is the StatefulSet ordinal at the end of a pod's name.
func ordinal(host string) (int, error) {
	i := strings.LastIndexByte(host, '-')
	n, err := strconv.Atoi(host[i+1:])
	if i < 0 || err != nil || n < 0 {
		return 0, fmt.Errorf("host name %q does not end in -ORDINAL: run shards as a StatefulSet", host)
	}
	return n, nil
}

// validKey keeps keys to one path element of safe characters.
func validKey(k string) bool {
	if k == "" || len(k) > 200 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') || k == "." || k == ".." {
			return false
		}
	}
	return true
}

func serveShard(shards int, host, dir string) (http.Handler, error) {
	me, err := ordinal(host)
	if err != nil {
		return nil, err
	}
	if me >= shards {
		return nil, fmt.Errorf("this is shard %d of %d: scale the StatefulSet and SHARDS together", me, shards)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		entries, _ := os.ReadDir(dir)
		keys := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "kv-") {
				keys++
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"shard": me, "shards": shards, "keys": keys, "pod": host})
	})
	mux.HandleFunc("/kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !validKey(key) {
			http.Error(w, "bad key", http.StatusBadRequest)
			return
		}
		if s := shardOf(key, shards); s != me {
			http.Error(w, fmt.Sprintf("key %q belongs to shard %d, this is shard %d", key, s, me), http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-Shard", strconv.Itoa(me))
		p := filepath.Join(dir, "kv-"+key)
		switch r.Method {
		case http.MethodGet:
			b, err := os.ReadFile(p)
			if errors.Is(err, os.ErrNotExist) {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write(b)
		case http.MethodPut:
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				err = writeFile(p, b)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
		}
	})
	return mux, nil
}

// writeFile writes b to p through a synced temporary file.
func writeFile(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
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
	return os.Rename(tmp, p)
}

// route forwards /kv/KEY to the key's shard.
func route(shards int, service string, hc *http.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !validKey(key) {
			http.Error(w, "bad key", http.StatusBadRequest)
			return
		}
		n := shardOf(key, shards)
		u := fmt.Sprintf("http://%s-%d.%s:8080/kv/%s", service, n, service, key)
		req, err := http.NewRequestWithContext(r.Context(), r.Method, u, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := hc.Do(req)
		if err != nil {
			http.Error(w, fmt.Sprintf("shard %d: %v", n, err), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("X-Shard", strconv.Itoa(n))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	return mux
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
