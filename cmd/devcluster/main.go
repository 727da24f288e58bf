// Command devcluster runs a whole Stevedore on one machine for `make run`
// and measures it for `make bench`: its own containerd and registry, the
// example images, a bare config repository seeded from examples-repo/, one
// reconciler and three agents, each in a network namespace of its own as if
// it were a host (--netns=false puts them all on loopback; --reconcilers N
// makes a raft group; see docs/operations.md). It cleans up everything it
// started when it stops.
//
//	devcluster --bin bin --examples examples-repo
//	devcluster --bin bin --examples examples-repo --reconcilers 3
//	devcluster bench --bin bin --examples examples-repo --out docs/benchmarks.md
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "run":
		err = run(ctx, args, os.Stdout)
	case "hollow":
		err = runHollow(ctx, args, os.Stdout)
	case "bench":
		err = bench(ctx, args, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q (want run, bench or hollow)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		os.Exit(1)
	}
}

// options are the flags run and bench share.
type options struct {
	bin      string
	examples string
	registry string
	agents   int
	// reconcilers and netns map onto devenv.ClusterConfig's fields.
	reconcilers int
	netns       bool
	verbose     bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.bin, "bin", "bin", "directory holding the reconciler, agent and ctl binaries")
	fs.StringVar(&o.examples, "examples", "examples-repo", "directory seeded into the config repository")
	fs.StringVar(&o.registry, "registry", devenv.ExampleRegistry, "address of the local registry; when taken, a free port is used and image references are rewritten")
	fs.IntVar(&o.agents, "agents", 3, "number of agents")
	fs.IntVar(&o.reconcilers, "reconcilers", 1, "number of reconcilers (more than 1: a raft group)")
	fs.BoolVar(&o.netns, "netns", o.netns, "run every reconciler and agent in its own network namespace on one bridge, as if each were a host (see docs/operations.md)")
	fs.BoolVar(&o.verbose, "v", false, "log every step")
}

// start starts the cluster the options describe.
// defaultServerAddr is where ctl looks for the reconciler when neither
// --server nor STEVEDORE_SERVER says otherwise (cmd/ctl's DefaultServer).
const defaultServerAddr = "127.0.0.1:7070"

func (o *options) start(ctx context.Context, prefix string, seed bool) (*devenv.Cluster, error) {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	reg := o.registry
	if reg != "" && o.netns {
		// The agents pull from inside their namespaces: the registry goes
		// on the bridge's address.
		reg = ""
	} else if reg != "" {
		// Fall back to a free port rather than fail when another registry
		// (or another devcluster) already holds the usual one.
		if l, err := net.Listen("tcp", reg); err != nil {
			fmt.Fprintf(os.Stderr, "devcluster: %s is taken, using a free port for the registry\n", reg)
			reg = ""
		} else {
			l.Close()
		}
	}
	// The reconciler listens where ctl looks by default when that is free,
	// so `bin/ctl get pods` works without STEVEDORE_SERVER.
	apiAddr := ""
	if seed && !o.netns {
		if l, err := net.Listen("tcp", defaultServerAddr); err == nil {
			l.Close()
			apiAddr = defaultServerAddr
		}
	}
	return devenv.StartCluster(ctx, devenv.ClusterConfig{
		APIAddr:      apiAddr,
		BinDir:       o.bin,
		Examples:     o.examples,
		Agents:       o.agents,
		Reconcilers:  o.reconcilers,
		Netns:        o.netns,
		RegistryAddr: reg,
		NodePrefix:   prefix,
		SkipSeed:     !seed,
		// make run's cluster has a storage host, so that the network
		// volume class can be tried (its parameters are printed).
		StorageHost: seed,
		Logger:      logger,
	})
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devcluster", flag.ContinueOnError)
	// make run gives every process a host of its own (a network
	// namespace), so pods on different nodes really cross a network.
	o := options{netns: true}
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out, "Starting containerd, a registry, the example images, the config repository, %d reconciler(s) and %d agents…\n", max(o.reconcilers, 1), o.agents)
	c, err := o.start(ctx, "node", true)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "\nStopping and cleaning up (containers, network namespaces, bridges, processes)…")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "devcluster: cleanup:", err)
		} else {
			fmt.Fprintln(out, "Clean.")
		}
	}()

	fmt.Fprintln(out, "Waiting for every example pod to run…")
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	_, err = waitSettled(wctx, c.Client, out, allSettled)
	cancel()
	if err != nil {
		if listing, lerr := c.Ctl(context.Background(), "get", "pods", "-A", "-o", "wide"); lerr == nil {
			fmt.Fprintln(out, listing)
		}
		return fmt.Errorf("failed to get every example pod running: %w (logs in %s)", err, filepath.Join(c.Dir, "logs"))
	}
	listing, err := c.Ctl(ctx, "get", "pods", "-A", "-o", "wide")
	if err != nil {
		return fmt.Errorf("%w: %s", err, listing)
	}
	fmt.Fprintln(out)
	fmt.Fprint(out, listing)
	ctl, _ := filepath.Abs(filepath.Join(o.bin, "ctl"))
	showServiceCall(ctx, c, out)
	nodePort := "<a host's address>:30080"
	if len(c.Agents) > 0 {
		host, _, _ := net.SplitHostPort(c.Agents[0].APIAddr)
		nodePort = net.JoinHostPort(host, "30080")
	}
	fmt.Fprintf(out, `
Stevedore is running. In another terminal:

  export %s   # ctl's credentials: the admin's client certificate
  git clone %s stevedore-config && cd stevedore-config
  # edit apps/hello.yaml: for example replicas: 3 -> 5
  git commit -am "Scale hello to 5" && git push
  %s get pods -n demo -o wide       # the post-receive hook syncs within about a second
  %s status                         # the applied commit, or why a commit was refused
  %s diff                           # what a sync would change
  %s get services -n demo           # the hello Service: its virtual IP and node port
  curl http://%s/         # the hello Service's NodePort, on a host's address
  %s get pvc -n demo                # kvstore's claim, provisioned on the node its pod runs on
%s
Logs of every process: %s
Press Ctrl-C to stop and clean up.
`, c.CtlEnv(), c.Repo.Bare, ctl, ctl, ctl, ctl, nodePort, ctl, storageHostHint(c), filepath.Join(c.Dir, "logs"))
	if link, err := c.UILink(ctx); err == nil { // docs/ui.md
		ca := "the cluster's CA"
		if c.Creds != nil {
			ca = c.Creds.CAFile
		}
		fmt.Fprintf(out, "UI: %s\n    (signed in as the admin for 24 h; the browser does not know the cluster's CA, %s: accept its warning or trust that file)\n", link, ca)
	} else {
		fmt.Fprintln(out, "UI: no link:", err)
	}
	if path, err := writeScrapeConfig(c); err == nil { // docs/metrics.md
		fmt.Fprintf(out, "Prometheus: prometheus --config.file=%s scrapes every /metrics\n", path)
	}
	<-ctx.Done()
	return nil
}

// storageHostHint is how to use the cluster's storage host: a StorageClass
// of the network volume driver (docs/volume-drivers.md).
func storageHostHint(c *devenv.Cluster) string {
	st := c.Storage
	if st == nil {
		return ""
	}
	return fmt.Sprintf(`
A storage host for network volumes runs at %s:%d (sshd; volumes in %s, the agents' --volume-ssh-base-path). A class for it:
  apiVersion: storage.k8s.io/v1
  kind: StorageClass
  metadata: {name: network}
  provisioner: stevedore.dev/sshfs
  parameters: {host: %q, port: "%d", user: %s, path: %s}
`, st.Host, st.Port, st.Root, st.Host, st.Port, st.User, st.Root)
}

// showServiceCall waits (briefly) for the example sidecar's log to show an
// answer that came through the hello Service's name, and prints it: the
// proof that DNS and the Service's virtual IP work across the hosts.
func showServiceCall(ctx context.Context, c *devenv.Cluster, out io.Writer) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		log, err := c.Ctl(ctx, "logs", "-n", "demo", "web-with-sidecar", "-c", "poller", "--tail", "20")
		if err == nil {
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "path=/from-sidecar") && strings.Contains(line, "pod=hello-") {
					fmt.Fprintf(out, "\nThe sidecar of web-with-sidecar called http://hello/ (the hello Service, by name) and got:\n  %s\n", strings.TrimSpace(line))
					return
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Fprintln(out, "\nThe sidecar of web-with-sidecar has not reached the hello Service by name yet: see `ctl logs -n demo web-with-sidecar -c poller`.")
}

// allSettled reports whether there are pods and each is Running, or has
// completed successfully under a restart policy that lets it stay done.
func allSettled(pods []rapi.Pod) bool {
	if len(pods) == 0 {
		return false
	}
	for _, p := range pods {
		switch p.Phase {
		case api.PodRunning:
		case api.PodSucceeded:
			if p.Spec.RestartPolicy == "Always" {
				return false
			}
		default:
			return false
		}
	}
	return true
}
