// Command hello is the example HTTP server the examples repository deploys:
// it answers every request with a greeting naming the pod that served it
// and the client's address, and /healthz with "ok"; on the same port over
// UDP it answers every datagram the same way. `hello fetch URL...` is its
// client: it GETs each URL in turn, forever, printing the answers (Go's own
// resolver reads the pod's resolv.conf, where the static busybox's wget
// cannot resolve names). Standard library only, so its image is one static
// binary on top of busybox.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "fetch" {
		fetch(os.Args[2:])
		return
	}
	addr := ":" + envOr("PORT", "8080")
	greeting := envOr("GREETING", "Hello from Stevedore")
	// POD_NAME and POD_IP are optional: a pod's hostname is its name, and
	// its IP is the first non-loopback address of its network namespace.
	pod := envOr("POD_NAME", hostname())
	ip := envOr("POD_IP", firstIP())

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s! pod=%s ip=%s path=%s from=%s\n", greeting, pod, ip, r.URL.Path, r.RemoteAddr)
	})
	go serveUDP(addr, func(from net.Addr) string {
		return fmt.Sprintf("%s! pod=%s ip=%s proto=udp from=%s\n", greeting, pod, ip, from)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	// Stop on SIGTERM within the pod's grace period, as a well-behaved
	// container should.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "addr", addr, "pod", pod, "ip", ip)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("failed to serve", "err", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func firstIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "unknown"
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return "unknown"
}

// serveUDP answers every datagram on addr with answer(sender).
func serveUDP(addr string, answer func(net.Addr) string) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		slog.Error("failed to listen on UDP", "addr", addr, "err", err)
		return
	}
	buf := make([]byte, 1500)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			slog.Error("failed to read UDP", "err", err)
			return
		}
		if _, err := pc.WriteTo([]byte(answer(from)), from); err != nil {
			slog.Warn("failed to answer over UDP", "to", from, "err", err)
		}
	}
}

// fetch GETs every URL in turn, every FETCH_INTERVAL (default 2s), forever,
// printing each answer's first line or the error.
func fetch(urls []string) {
	interval, err := time.ParseDuration(envOr("FETCH_INTERVAL", "2s"))
	if err != nil {
		slog.Error("bad FETCH_INTERVAL", "err", err)
		os.Exit(2)
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		for _, u := range urls {
			resp, err := hc.Get(u)
			if err != nil {
				fmt.Printf("%s: %v\n", u, err)
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			fmt.Printf("%s", b)
		}
		time.Sleep(interval)
	}
}
