package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// logsFlags are kubectl logs' flags.
type logsFlags struct {
	o              api.LogsOptions
	since          time.Duration
	sinceTime      string
	selector       string
	allContainers  bool
	prefix         bool
	maxLogRequests int
}

// defaultSelectorTail is kubectl's --tail when -l is given without it.
const defaultSelectorTail = 10

func (c *cli) logsCmd() *cobra.Command {
	var fl logsFlags
	cmd := &cobra.Command{
		Use:   "logs [POD | -l SELECTOR] [-c CONTAINER | --all-containers] [-n NAMESPACE] [-f] [-p] [--since D | --since-time T] [--timestamps] [--tail N] [--limit-bytes N] [--prefix]",
		Short: "Print a container's log (through the reconciler, from the pod's agent)",
		Example: `  ctl logs web-5d9c1a2b3c-x7k2p -n shop --tail 20
  ctl logs web-5d9c1a2b3c-x7k2p -n shop -f --since 10m
  ctl logs web-5d9c1a2b3c-x7k2p -c sidecar --previous
  ctl logs -l app=web -n shop -f --prefix
  ctl logs web-5d9c1a2b3c-x7k2p --all-containers --timestamps`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tailSet := cmd.Flags().Changed("tail")
			streams, err := c.logStreams(cmd.Context(), &fl, args, tailSet)
			if err != nil {
				return err
			}
			return c.runLogs(cmd.Context(), fl, streams)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&fl.o.Container, "container", "c", "", "container (default: the pod's only container)")
	f.StringVarP(&fl.o.Namespace, "namespace", "n", "", "namespace (default \"default\")")
	f.BoolVarP(&fl.o.Follow, "follow", "f", false, "stream the log until the container's log ends")
	f.BoolVarP(&fl.o.Previous, "previous", "p", false, "the log of the previous instance of a restarted container")
	f.DurationVar(&fl.since, "since", 0, "only lines newer than a relative duration, e.g. 5s, 2m or 3h")
	f.StringVar(&fl.sinceTime, "since-time", "", "only lines at or after an RFC 3339 time")
	f.BoolVar(&fl.o.Timestamps, "timestamps", false, "start each line with its RFC 3339 time")
	f.IntVar(&fl.o.Tail, "tail", -1, "lines of the most recent log to show; -1 shows all (10 with --selector)")
	f.Int64Var(&fl.o.LimitBytes, "limit-bytes", 0, "maximum bytes of log to return (default: no limit)")
	f.StringVarP(&fl.selector, "selector", "l", "", "label selector of the pods whose logs to show, kubectl's syntax")
	f.BoolVar(&fl.allContainers, "all-containers", false, "every container of the pods (init containers first)")
	f.BoolVar(&fl.prefix, "prefix", false, "start each line with its source, [pod/NAME/CONTAINER]")
	f.IntVar(&fl.maxLogRequests, "max-log-requests", 5, "how many logs -l or --all-containers may follow at once")
	return cmd
}

// logStream is one container's log to print.
type logStream struct {
	pod, container string
	o              api.LogsOptions
}

// logStreams checks the flags as kubectl does and lists the logs to print.
func (c *cli) logStreams(ctx context.Context, fl *logsFlags, args []string, tailSet bool) ([]logStream, error) {
	o := &fl.o
	switch {
	case len(args) == 0 && fl.selector == "":
		return nil, usageErr("a pod name or a selector (-l) must be given")
	case len(args) > 0 && fl.selector != "":
		return nil, usageErr("only a selector (-l) or a pod name is allowed")
	case fl.since != 0 && fl.sinceTime != "":
		return nil, usageErr("at most one of --since and --since-time may be given")
	case fl.allContainers && o.Container != "":
		return nil, usageErr("--all-containers=true should not be given with container name %s", o.Container)
	case o.LimitBytes < 0:
		return nil, usageErr("--limit-bytes must be greater than 0")
	case fl.since < 0:
		return nil, usageErr("--since must be greater than 0")
	case o.Tail < -1:
		return nil, usageErr("--tail must be greater than or equal to -1")
	}
	if fl.since > 0 {
		// kubectl rounds up to whole seconds.
		o.SinceSeconds = int64(math.Ceil(fl.since.Seconds()))
	}
	if fl.sinceTime != "" {
		t, err := time.Parse(time.RFC3339Nano, fl.sinceTime)
		if err != nil {
			return nil, usageErr("--since-time %q: want an RFC 3339 time: %v", fl.sinceTime, err)
		}
		o.SinceTime = t
	}
	if fl.selector != "" && !tailSet {
		o.Tail = defaultSelectorTail
	}
	// -1 is all (the API's zero), 0 none.
	o.TailSet = o.Tail == 0
	o.Tail = max(o.Tail, 0)
	if o.Namespace == "" {
		o.Namespace = spec.DefaultNamespace
	}
	// One pod: asked for as named, the agent picking its only container,
	// unless the prefix needs the container's name.
	if len(args) == 1 && !fl.allContainers && (o.Container != "" || !fl.prefix) {
		s := logStream{pod: args[0], container: o.Container, o: *o}
		s.o.Pod = args[0]
		return []logStream{s}, nil
	}
	pods, err := c.logPods(ctx, fl, args)
	if err != nil {
		return nil, err
	}
	var out []logStream
	for _, p := range pods {
		var names []string
		switch {
		case fl.allContainers:
			for _, cs := range p.Spec.InitContainers {
				names = append(names, cs.Name)
			}
			for _, cs := range p.Spec.Containers {
				names = append(names, cs.Name)
			}
		case o.Container != "":
			names = []string{o.Container}
		case len(p.Spec.Containers) > 0:
			// kubectl's default container: the first.
			names = []string{p.Spec.Containers[0].Name}
			if len(p.Spec.Containers) > 1 {
				fmt.Fprintf(c.errOut, "Defaulted container %q out of: %s\n", names[0], strings.Join(containerNames(p.Spec.Containers), ", "))
			}
		}
		for _, n := range names {
			s := logStream{pod: p.Name, container: n, o: *o}
			s.o.Pod, s.o.Container = p.Name, n
			out = append(out, s)
		}
	}
	if o.Follow && len(out) > fl.maxLogRequests {
		return nil, usageErr("you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit", len(out), fl.maxLogRequests)
	}
	return out, nil
}

func containerNames(cs []spec.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// logPods are the pods named by args or matching the selector, by name.
func (c *cli) logPods(ctx context.Context, fl *logsFlags, args []string) ([]api.Pod, error) {
	var sel labels.Selector
	if fl.selector != "" {
		s, err := labels.Parse(fl.selector)
		if err != nil {
			return nil, usageErr("failed to parse label selector %q: %v", fl.selector, err)
		}
		sel = s
	}
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	pods, err := cl.Pods(ctx, fl.o.Namespace)
	if err != nil {
		return nil, &exitErr{code: exitError, err: err}
	}
	var out []api.Pod
	for _, p := range pods {
		if len(args) == 1 && p.Name == args[0] || sel != nil && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	if len(args) == 1 && len(out) == 0 {
		return nil, &exitErr{code: exitChanges, err: fmt.Errorf("pod %s/%s not found", fl.o.Namespace, args[0])}
	}
	if len(out) == 0 {
		fmt.Fprintf(c.errOut, "No resources found in %s namespace.\n", fl.o.Namespace)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// runLogs prints the streams: one after the other, or all at once when
// following (each line whole, behind its prefix).
func (c *cli) runLogs(ctx context.Context, fl logsFlags, streams []logStream) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	out := &lockedWriter{w: c.out}
	print := func(s logStream) error {
		rc, err := cl.Logs(ctx, s.o)
		if err != nil {
			if errors.Is(err, api.ErrNotFound) {
				return &exitErr{code: exitChanges, err: err}
			}
			return &exitErr{code: exitError, err: err}
		}
		defer rc.Close()
		prefix := ""
		if fl.prefix {
			prefix = "[pod/" + s.pod + "/" + s.container + "] "
		}
		if err := copyLines(out, rc, prefix); err != nil && ctx.Err() == nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to read logs: %w", err)}
		}
		return nil
	}
	if !fl.o.Follow || len(streams) == 1 {
		for _, s := range streams {
			if err := print(s); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(streams))
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = print(s)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// copyLines copies r to w a line at a time, each behind prefix; without a
// prefix, as it comes.
func copyLines(w *lockedWriter, r io.Reader, prefix string) error {
	if prefix == "" {
		_, err := io.Copy(w, r)
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var line bytes.Buffer
	for {
		chunk, err := br.ReadSlice('\n')
		line.Write(chunk)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if line.Len() > 0 {
			if _, werr := w.writeAll(prefix, line.Bytes()); werr != nil {
				return werr
			}
			line.Reset()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lockedWriter keeps the lines of concurrent streams whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) writeAll(prefix string, line []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := io.WriteString(l.w, prefix); err != nil {
		return 0, err
	}
	return l.w.Write(line)
}
