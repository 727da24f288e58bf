// Command ctl is Stevedore's command-line client: it reads the reconciler's
// /v1 API (get, describe, status, logs), previews and triggers syncs (diff,
// sync), cordons and drains nodes (cordon, uncordon, drain), rolls a
// Deployment back with a commit in the config repository (rollout undo) and
// validates a config repository offline (validate). docs/ctl.md describes
// every command, flag and exit code.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// DefaultServer is the reconciler ctl talks to without --server or
// STEVEDORE_SERVER: the reconciler's default --api address. Either may be a
// comma-separated list: requests go to the first reconciler that answers.
const DefaultServer = "http://127.0.0.1:7070"

// EnvServer names the environment variable that sets --server's default.
const EnvServer = "STEVEDORE_SERVER"

// EnvConfig names the environment variable that sets --config's default:
// a kubeconfig-like credentials file (reconcile/api.ClientConfig), such as
// the admin.conf a reconciler writes on first start.
const EnvConfig = "STEVEDORE_CONFIG"

// Exit codes, as kubectl diff uses them.
const (
	exitOK      = 0
	exitChanges = 1 // diff: changes found; validate/sync: the input or the pods failed
	exitError   = 2 // ctl itself failed: bad flags, server unreachable, timeout
)

// exitError carries a command's exit code through cobra.
type exitErr struct {
	code int
	err  error // nil: the command already printed why
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// silentExit returns an error that only sets the exit code.
func silentExit(code int) error { return &exitErr{code: code} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes ctl with args and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRoot(stdout, stderr, getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "error:", ee.err)
			credentialsHint(stderr, ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", err)
	credentialsHint(stderr, err)
	return exitError
}

// credentialsHint explains a failure that comes from calling a secured
// reconciler without its credentials file.
func credentialsHint(w io.Writer, err error) {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) || strings.Contains(err.Error(), "certificate signed by unknown authority") {
		fmt.Fprintln(w, "hint: the reconciler serves HTTPS with its cluster's CA: give ctl the cluster's credentials file with --config or $"+EnvConfig+" (a reconciler writes one, <data-dir>/admin.conf)")
	}
}

// cli holds the global flags and the output streams.
type cli struct {
	server string
	config string
	// serverSet is whether --server was given: it then overrides the
	// config file's server.
	serverSet func() bool
	timeout   time.Duration
	out       io.Writer
	errOut    io.Writer
	getenv    func(string) string
}

func (c *cli) client() (*api.Client, error) {
	cl, err := c.newClient()
	if err != nil {
		return nil, &exitErr{code: exitError, err: err}
	}
	return cl, nil
}

// newClient is the API client --server and --config describe: without a
// config file, a plain client of --server; with one, its credentials and
// its server unless --server was given.
func (c *cli) newClient() (*api.Client, error) {
	cl, err := c.newPlainClient()
	if err != nil {
		return nil, err
	}
	// As kubectl: "ctl/v0.16.0 (linux/amd64)" (docs/versions.md).
	cl.SetUserAgent("ctl", version.Get().ReleaseVersion())
	return cl, nil
}

func (c *cli) newPlainClient() (*api.Client, error) {
	if c.config == "" {
		return api.NewClient(c.server, nil)
	}
	conf, err := api.LoadClientConfig(c.config)
	if err != nil {
		return nil, err
	}
	server := ""
	if c.serverSet != nil && c.serverSet() {
		server = c.server
	}
	return api.NewClientFromConfig(conf, server)
}

// requestCtx bounds one API call with --request-timeout.
func (c *cli) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	c := &cli{out: stdout, errOut: stderr, getenv: getenv}
	def := DefaultServer
	if v := getenv(EnvServer); v != "" {
		def = v
	}
	root := &cobra.Command{
		Use:           "ctl",
		Short:         "Talk to a Stevedore reconciler",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&c.server, "server", def, "reconciler API URL, or a comma-separated list of a highly available control plane's (default from $"+EnvServer+"; with --config, the file's)")
	root.PersistentFlags().StringVar(&c.config, "config", getenv(EnvConfig), "credentials file, kubeconfig-like: the server, the cluster CA and a client certificate or token, such as a reconciler's <data-dir>/admin.conf (default from $"+EnvConfig+")")
	c.serverSet = func() bool { return root.PersistentFlags().Changed("server") }
	root.PersistentFlags().DurationVar(&c.timeout, "request-timeout", 30*time.Second, "bound on each API request; 0 means none")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitErr{code: exitError, err: err} })
	root.AddCommand(c.getCmd(), c.describeCmd(), c.diffCmd(), c.syncCmd(), c.validateCmd(), c.statusCmd(), c.logsCmd(),
		c.cordonCmd(), c.uncordonCmd(), c.drainCmd(), c.rolloutCmd(), c.deleteCmd())
	root.AddCommand(c.explainCmd(), c.versionCmd())
	root.AddCommand(c.createCmd())
	root.AddCommand(c.topCmd())
	root.AddCommand(c.execCmd())            // exec.go
	root.AddCommand(c.authCmd(), c.uiCmd()) // auth.go
	root.AddCommand(c.reconcilerCmd())      // reconcilers.go
	// Last, so that it sees every command.
	c.addCompletions(root)
	return root
}

// usageErr wraps an argument error with exit code 2.
func usageErr(format string, a ...any) error {
	return &exitErr{code: exitError, err: fmt.Errorf(format, a...)}
}

// askAPI calls f with the reconciler's client and a request context (the
// --request-timeout); an error of f's is an API error and exits with
// exitError.
func askAPI[T any](ctx context.Context, c *cli, f func(context.Context, *api.Client) (T, error)) (T, error) {
	var zero T
	cl, err := c.client()
	if err != nil {
		return zero, err
	}
	ctx, cancel := c.requestCtx(ctx)
	defer cancel()
	v, err := f(ctx, cl)
	if err != nil {
		return zero, &exitErr{code: exitError, err: err}
	}
	return v, nil
}
