package containerlog

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"sync"

	"golang.org/x/sys/unix"
)

// DriverArg is the first argument that makes a binary the log driver
// (RunDriverIfRequested); the second is the WriterConfig as JSON. The shim
// passes a binary log URI's query as arguments in map order, so the URI
// has this one key (DriverArgs).
const DriverArg = "log-driver"

// DriverArgs are the binary log URI's query (cio.BinaryIO's args) that
// start a driver writing cfg.
func DriverArgs(cfg WriterConfig) (map[string]string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to encode log driver config: %w", err)
	}
	return map[string]string{DriverArg: string(b)}, nil
}

// RunDriverIfRequested turns the process into a log driver when its
// arguments ask for one, and then exits; otherwise it returns at once.
// Every main whose process the shim may start as a driver (cmd/agent's,
// and TestMain of the tests that create containers with Runtime's default
// driver, os.Executable) calls it first.
func RunDriverIfRequested() {
	if len(os.Args) < 3 || os.Args[1] != DriverArg {
		return
	}
	if err := runDriver(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "log driver:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runDriver is containerd's binary logging protocol (core/runtime/v2/
// logging): the container's stdout and stderr are fds 3 and 4, closing
// fd 5 says the driver is ready. The shim closes its ends of the pipes
// and then sends SIGTERM, waiting up to 12 s before a SIGKILL: SIGTERM is
// ignored so that what is still in the pipes gets written; the driver
// exits when both streams ended.
func runDriver(arg string) error {
	// One of these per container: small.
	goruntime.GOMAXPROCS(1)
	debug.SetGCPercent(50)
	signal.Ignore(unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGPIPE)
	var cfg WriterConfig
	if err := json.Unmarshal([]byte(arg), &cfg); err != nil {
		return fmt.Errorf("failed to parse config: %w", err)
	}
	stdout, stderr, ready := os.NewFile(3, "stdout"), os.NewFile(4, "stderr"), os.NewFile(5, "ready")
	w, err := OpenWriter(cfg)
	ready.Close()
	if err != nil {
		// The container must not die of a closed pipe (or block on a
		// full one) because its log cannot be written: its output is
		// dropped.
		var wg sync.WaitGroup
		for _, f := range []*os.File{stdout, stderr} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, f)
			}()
		}
		wg.Wait()
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []struct {
		name string
		f    *os.File
	}{{Stdout, stdout}, {Stderr, stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.Copy(s.name, s.f)
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
