package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// execCmd is `kubectl exec`: ctl exec POD [-c C] [-n NS] [-i] [-t] -- CMD.
// Its exit code is the command's (kubectl's too), so scripts can test it.
func (c *cli) execCmd() *cobra.Command {
	var o agentapi.ExecOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-n NAMESPACE] [-i] [-t] -- COMMAND [ARGS...]",
		Short: "Run a command in a container (through the reconciler, on the pod's node)",
		Example: "  ctl exec web-5d9c1a2b3c-x7k2p -n shop -- date\n" +
			"  ctl exec -it web-5d9c1a2b3c-x7k2p -c app -- sh",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageErr("exec takes a pod name and a command: ctl exec POD -- COMMAND [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pod, o.Command = args[0], args[1:]
			if o.Namespace == "" {
				o.Namespace = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			return c.runExec(cmd.Context(), cl, o, quiet)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Container, "container", "c", "", "container (default: the pod's only container)")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default \"default\")")
	f.BoolVarP(&o.Stdin, "stdin", "i", false, "pass stdin to the container")
	f.BoolVarP(&o.TTY, "tty", "t", false, "stdin is a TTY (with -i): raw mode, window size followed")
	f.BoolVarP(&quiet, "quiet", "q", false, "only print output from the remote session")
	return cmd
}

// runExec opens the exec, wires the local terminal to it and returns the
// remote command's exit code as ctl's.
func (c *cli) runExec(ctx context.Context, cl *api.Client, o agentapi.ExecOptions, quiet bool) error {
	stdin := os.Stdin
	fd := int(stdin.Fd())
	// kubectl's SetupTTY: no TTY without stdin; none either, with a
	// warning, when stdin is not a terminal.
	if o.TTY && !o.Stdin {
		o.TTY = false
	}
	if o.TTY && !term.IsTerminal(fd) {
		o.TTY = false
		if !quiet {
			fmt.Fprintln(c.errOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rwc, err := cl.Exec(ctx, o)
	if err != nil {
		if errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrInvalid) {
			return &exitErr{code: exitChanges, err: err}
		}
		return &exitErr{code: exitError, err: err}
	}
	defer rwc.Close()
	// Closing the stream is how the session ends early (Ctrl-C without a
	// TTY, a signal): the agent then kills the process.
	go func() {
		<-ctx.Done()
		rwc.Close()
	}()
	fw := agentapi.NewFrameWriter(rwc)
	restore := func() {}
	if o.TTY {
		old, err := term.MakeRaw(fd)
		if err != nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to put the terminal in raw mode: %w", err)}
		}
		stop := followWindowSize(fd, fw)
		restore = func() {
			stop()
			_ = term.Restore(fd, old)
		}
	}
	if o.Stdin {
		go copyStdin(stdin, fw)
	}
	code, err := c.readExecFrames(rwc)
	restore() // before printing: a raw terminal does not return the carriage
	switch {
	case err != nil:
		return err
	case code == 0:
		return nil
	case !quiet:
		// kubectl's words.
		fmt.Fprintf(c.errOut, "command terminated with exit code %d\n", code)
	}
	return silentExit(code)
}

// followWindowSize sends the terminal's size now and on every SIGWINCH
// until stop is called.
func followWindowSize(fd int, fw *agentapi.FrameWriter) (stop func()) {
	send := func() {
		if w, h, err := term.GetSize(fd); err == nil {
			_ = fw.WriteJSON(agentapi.StreamResize, agentapi.TerminalSize{Width: uint16(w), Height: uint16(h)})
		}
	}
	send()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
	}
}

// copyStdin sends stdin as frames, then an empty frame at its end (the
// process's stdin is closed). It returns when stdin ends or the stream
// breaks; a read still blocked at exit is left to the process's end.
func copyStdin(in io.Reader, fw *agentapi.FrameWriter) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if fw.WriteFrame(agentapi.StreamStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			_ = fw.WriteFrame(agentapi.StreamStdin, nil)
			return
		}
	}
}

// readExecFrames copies output until the exit frame, whose code it returns,
// or an error frame.
func (c *cli) readExecFrames(r io.Reader) (int, error) {
	fr := agentapi.NewFrameReader(r)
	for {
		stream, p, err := fr.ReadFrame()
		if err != nil {
			return -1, &exitErr{code: exitError, err: fmt.Errorf("exec stream ended without an exit status: %w", err)}
		}
		switch stream {
		case agentapi.StreamStdout:
			_, _ = c.out.Write(p)
		case agentapi.StreamStderr:
			_, _ = c.errOut.Write(p)
		case agentapi.StreamExit:
			var e agentapi.ExecExit
			if err := json.Unmarshal(p, &e); err != nil {
				return -1, &exitErr{code: exitError, err: fmt.Errorf("failed to decode the exit status: %w", err)}
			}
			return e.Code, nil
		case agentapi.StreamError:
			var e agentapi.ExecError
			_ = json.Unmarshal(p, &e)
			return -1, &exitErr{code: exitChanges, err: errors.New(e.Message)}
		}
	}
}
