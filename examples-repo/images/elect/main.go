// Command elect is the master-elected pattern's program
// (examples-repo/patterns/master-elected.yaml): every replica campaigns for
// one lease through its node's agent, and exactly one of them leads at a
// time. It serves
//
//	GET /leader    {"identity": this pod, "leader": the holder, "isLeader": bool,
//	               "leaderSince": when this pod last became leader}
//	GET /healthz   "ok"
//
// on $PORT (default 8080), and logs "became leader" and "stopped leading".
//
// The lease endpoint is the agent's, on the address of the pod's DNS
// server (the nameserver of /etc/resolv.conf), port 7702
// (docs/leases.md): http://NAMESERVER:7702/lease/$LEASE_NAME. The agent
// names the caller by its pod IP, so the program sends no identity and
// needs no credentials. $LEASE_URL overrides the endpoint's base URL.
//
// The rules are client-go's leader election: campaign every
// $RETRY_PERIOD (default 2s) for a lease of $LEASE_DURATION seconds
// (default 10); a leader that could not renew for $RENEW_DEADLINE
// (default 2/3 of the duration) stops acting as leader before the lease
// can lapse and another pod take it, so two pods never both believe they
// lead (clocks of the nodes running at the same rate).
//
// Standard library only: its image is one static binary on busybox.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// podLease is the agent's answer (agent/api.PodLease).
type podLease struct {
	Holding  bool   `json:"holding"`
	Holder   string `json:"holder"`
	Identity string `json:"identity"`
}

type state struct {
	mu          sync.Mutex
	identity    string
	leader      string
	leading     bool
	leaderSince time.Time
	lastRenew   time.Time // start of the last campaign that won
	lastErr     string
}

func main() {
	addr := ":" + envOr("PORT", "8080")
	name := envOr("LEASE_NAME", "elect")
	duration := envInt("LEASE_DURATION", 10)
	retry := envDuration("RETRY_PERIOD", 2*time.Second)
	deadline := envDuration("RENEW_DEADLINE", time.Duration(duration)*time.Second*2/3)
	base := os.Getenv("LEASE_URL")
	if base == "" {
		ns, err := nameserver("/etc/resolv.conf")
		if err != nil {
			slog.Error("failed to find the lease endpoint: set LEASE_URL", "err", err)
			os.Exit(2)
		}
		base = "http://" + net.JoinHostPort(ns, "7702")
	}
	url := fmt.Sprintf("%s/lease/%s?duration=%d", base, name, duration)
	host, _ := os.Hostname()
	st := &state{identity: host}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hc := &http.Client{Timeout: retry, Transport: &http.Transport{DisableKeepAlives: true}}
	go campaign(ctx, hc, url, retry, deadline, st)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/leader", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		out := map[string]any{"identity": st.identity, "leader": st.leader, "isLeader": st.leading, "error": st.lastErr}
		if st.leading {
			out["leaderSince"] = st.leaderSince
		}
		st.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		// Step down at once, so that another replica need not wait for
		// the lease to lapse.
		release(hc, url, st)
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "addr", addr, "lease", url, "identity", host)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("failed to serve", "err", err)
		os.Exit(1)
	}
}

// campaign asks for the lease every retry period, and stops leading when
// it could not renew within deadline.
func campaign(ctx context.Context, hc *http.Client, url string, retry, deadline time.Duration, st *state) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		start := time.Now()
		pl, err := ask(ctx, hc, http.MethodPut, url)
		st.mu.Lock()
		switch {
		case err != nil:
			st.lastErr = err.Error()
			if st.leading && time.Since(st.lastRenew) > deadline {
				st.leading = false
				slog.Warn("stopped leading: could not renew the lease in time", "err", err)
			}
		case pl.Holding:
			st.lastErr = ""
			st.lastRenew, st.leader = start, pl.Holder
			if !st.leading {
				st.leading, st.leaderSince = true, time.Now()
				slog.Info("became leader", "identity", st.identity)
			}
		default:
			st.lastErr = ""
			st.leader = pl.Holder
			if st.leading {
				st.leading = false
				slog.Warn("stopped leading", "leader", pl.Holder)
			}
		}
		st.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// release gives the lease up if this pod leads.
func release(hc *http.Client, url string, st *state) {
	st.mu.Lock()
	leading := st.leading
	st.leading = false
	st.mu.Unlock()
	if !leading {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := ask(ctx, hc, http.MethodDelete, url); err != nil {
		slog.Warn("failed to release the lease", "err", err)
		return
	}
	slog.Info("released the lease")
}

// ask sends one request to the lease endpoint: 200 and 409 both carry
// the lease's state.
func ask(ctx context.Context, hc *http.Client, method, url string) (podLease, error) {
	var pl podLease
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return pl, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return pl, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return pl, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, &pl); err != nil {
		return pl, fmt.Errorf("failed to decode %q: %w", b, err)
	}
	return pl, nil
}

// nameserver returns the first nameserver of a resolv.conf.
func nameserver(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "nameserver" {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("no nameserver in %s", path)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v := os.Getenv(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			slog.Error("bad "+key, "value", v)
			os.Exit(2)
		}
		return n
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			slog.Error("bad "+key, "value", v)
			os.Exit(2)
		}
		return d
	}
	return def
}
