package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Output formats of get.
const (
	outTable = ""
	outWide  = "wide"
	outJSON  = "json"
	outYAML  = "yaml"
)

// now is the clock ages are measured against; tests pin it.
var now = time.Now

func (c *cli) emit(output string, v any, table func(io.Writer)) error {
	switch output {
	case outJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to encode json: %w", err)}
		}
		fmt.Fprintln(c.out, string(b))
	case outYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to encode yaml: %w", err)}
		}
		fmt.Fprint(c.out, string(b))
	default:
		table(c.out)
	}
	return nil
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0) }

func row(tw io.Writer, cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")) }

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// podStatus is kubectl's STATUS column: Terminating for a pod being
// stopped, else Init:… while init containers have not all succeeded
// (initStatus), else the first container's waiting or terminated reason when
// there is one, else the pod's reason or phase.
func podStatus(p api.Pod) string {
	if p.Status != nil && p.Status.DeletionTimestamp != nil {
		// As kubectl: a pod being stopped shows Terminating until its
		// node reports its containers gone.
		return "Terminating"
	}
	if s, ok := initStatus(p); ok {
		return s
	}
	if p.Status != nil {
		for _, cs := range p.Status.Containers {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return w.Reason
			}
			if t := cs.State.Terminated; t != nil && t.Reason != "" && p.Phase != agentapi.PodSucceeded {
				return t.Reason
			}
		}
	}
	if p.Phase == agentapi.PodSucceeded {
		return agentapi.ReasonCompleted
	}
	if p.Reason != "" && p.Phase != agentapi.PodRunning {
		return p.Reason
	}
	if p.Phase == "" {
		return agentapi.PodPending
	}
	return p.Phase
}

func podReady(p api.Pod) (ready, total int) {
	total = len(p.Spec.Containers)
	if p.Status == nil {
		return 0, total
	}
	if len(p.Status.Containers) > total {
		total = len(p.Status.Containers)
	}
	for _, cs := range p.Status.Containers {
		if cs.Ready {
			ready++
		}
	}
	return ready, total
}

func podRestarts(p api.Pod) int32 {
	n := initRestarts(p)
	if p.Status != nil {
		for _, cs := range p.Status.Containers {
			n += cs.RestartCount
		}
	}
	return n
}

func podCreated(p api.Pod) time.Time {
	if !p.Created.IsZero() {
		return p.Created
	}
	if p.Status != nil && p.Status.StartTime != nil {
		return *p.Status.StartTime
	}
	return time.Time{}
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// age renders the time since t as kubectl does ("45s", "3m12s", "5h", "12d").
func age(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now().Sub(t)
	if d < 0 {
		d = 0
	}
	return humanDuration(d)
}

func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < 8*time.Hour:
		h := s / 3600
		if m := (s % 3600) / 60; m > 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", s/3600)
	case d < 8*24*time.Hour:
		days, h := s/86400, (s%86400)/3600
		if h > 0 {
			return fmt.Sprintf("%dd%dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", s/86400)
	}
	return fmt.Sprintf("%dy", s/(86400*365))
}
