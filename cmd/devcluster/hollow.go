package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // --pprof
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
	"github.com/stevedore-dev/stevedore/internal/hollow"
)

// hollowStats is what a hollow host writes to <dir>/stats.json every
// second, for the scale benchmark.
type hollowStats struct {
	Nodes   int   `json:"nodes"`
	Joined  int   `json:"joined"`
	Pods    int   `json:"pods"`
	Running int   `json:"running"`
	Read    int64 `json:"read"`
	Written int64 `json:"written"`
}

// runHollow is `devcluster hollow`: N hollow agents in this process
// (internal/hollow), until SIGTERM. It prints "ready" once every node has
// started.
func runHollow(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devcluster hollow", flag.ContinueOnError)
	var cfg hollow.Config
	var join, servers, tokenFile, logFile, level string
	fs.IntVar(&cfg.Nodes, "nodes", 1000, "hollow agents in this process")
	fs.StringVar(&cfg.NamePrefix, "prefix", "hollow-", "node names are PREFIX<i>")
	fs.IntVar(&cfg.Subnet, "subnet", 100, "node i listens on 127.SUBNET.<i/250>.<i%250+1>")
	fs.StringVar(&join, "join", "", "reconcilers' gossip addresses, comma-separated")
	fs.StringVar(&servers, "server", "", "reconcilers' API URLs, comma-separated")
	fs.StringVar(&tokenFile, "token-file", "", "bootstrap token file")
	fs.StringVar(&cfg.DataDir, "dir", "", "data directory (a tmpfs is best)")
	fs.DurationVar(&cfg.Runtime.StartDelay, "start-delay", 0, "how long a pod stays Pending")
	fs.Float64Var(&cfg.Runtime.FailureRate, "failure-rate", 0, "fraction of pods that crash-loop")
	fs.Int64Var(&cfg.MaxPods, "max-pods", 0, "pods per node (0: the agent's default)")
	fs.Int64Var(&cfg.MilliCPU, "milli-cpu", 0, "allocatable millicores per node (0: 8000)")
	fs.Float64Var(&cfg.StartRate, "start-rate", 0, "nodes started per second (0: 20)")
	fs.StringVar(&cfg.GossipProfile, "gossip-profile", "large", "the agents' gossip timings (local or large)")
	fs.StringVar(&logFile, "log", "", "log file (default: stderr)")
	fs.StringVar(&level, "log-level", "warn", "log level")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (loopback), to profile the host")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return err
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	cfg.Join = splitList(join)
	cfg.Servers = splitList(servers)
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return err
	}
	w := io.Writer(os.Stderr)
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	cfg.Memory = 256 << 30
	cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))

	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			ln.Close()
			return fmt.Errorf("--pprof %s: want a loopback address (the profiles are not authenticated)", *pprofAddr)
		}
		go func() { _ = http.Serve(ln, nil) }()
	}
	h, err := hollow.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "ready", h.Nodes())
	statsPath := filepath.Join(cfg.DataDir, "stats.json")
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		st := hollowStats{Nodes: h.Nodes(), Joined: h.Joined()}
		st.Pods, st.Running = h.Pods()
		st.Read, st.Written = h.APIBytes()
		b, _ := json.Marshal(st)
		if err := atomicfile.WriteFile(statsPath, b, 0o644); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return h.Shutdown(sctx)
		case <-t.C:
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
