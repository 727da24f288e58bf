package reconcile

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"

	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// The scripts in testdata/*.txt drive a harness (membership, a desired set,
// agents' reports, the core's memory and a clock) one command at a time;
// each command's output follows "----" and ends at a blank line:
//
//	node add NAME [cpu=Q] [mem=Q] [pods=N] [label=k=v] [taint=k[=v]:Effect] | node kill|revive|forget|mute|unmute|grace NAME
//	node relabel NAME [label=k=v] [taint=k[=v]:Effect]   the agent's labels (beside kubernetes.io/hostname) and taints, replaced
//	                 mute: its agent has not reported yet (no Observed entry), as after a reconciler restart
//	apply            objects in the short form of addObject, one a line, added to the desired set
//	apply-yaml       a YAML body through spec.Load, replacing the desired set
//	delete KEY...    Kind/ns/name or Kind/name
//	observe [pod=GLOB] [node=N] [rev=latest|old] [phase=P] [reason=R] [podreason=R] [crash] [notready] [cond] [gone]
//	linger on|off    agents keep reporting the pods dropped from their sets (Terminating) until observed gone
//	override KIND/ns/name [reason=R...] | override KIND/ns/name off   run the previous template (Input.Overrides)
//	tick DURATION|wake   wake: to the last plan's Output.Wake
//	restart          the memory goes through JSON, as across a reconciler restart
//	lose             the memory is lost; the next plan adopts the alive agents' last sets
//	plan [events] [brief] [unloaded] [absent-lost] [delta] [rollout]
//
// A plan prints its events (then the workload events WorkloadEvents derives
// from the last two plans' views), Changed and Deleted (with delta), its
// Wake when there is one, then (without events) pods and pod sets (not
// with brief) and workloads (with rollout: their strategy and conditions
// too).
//
// Agents report the pods of their sets with the pods' owner and hash, as
// the agent does; after a plan, a pod dropped from its node's set stops at
// once (its report goes), unless linger is on.
//
// apply, apply-yaml and delete print Diff against the set of the last plan.

// rewrite regenerates the expected output of testdata/*.txt, as etcd raft's
// datadriven tests do: `go test ./reconcile -rewrite`, then review the diff.
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata/*.txt")

// scriptCase is one command of a script: a command line, an optional body
// and the expected output after "----", ended by a blank line.
type scriptCase struct {
	comments []string // lines (comments, blanks) before the command
	cmd      string
	body     []string
	want     string
	line     int
}

func parseScript(t *testing.T, file string) (cases []scriptCase, trailer []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("failed to read script: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var pending []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pending = append(pending, l)
			continue
		}
		c := scriptCase{comments: pending, cmd: l, line: i + 1}
		pending = nil
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			c.body = append(c.body, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: command without ----", file, c.line)
		}
		var want []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		c.want = strings.Join(want, "\n")
		cases = append(cases, c)
	}
	return cases, pending
}

func TestScripts(t *testing.T) { testScripts(t, false) }

// testScripts runs the scripts; with planners, every plan is also made by
// a Planner and compared.
func testScripts(t *testing.T, planners bool) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			cases, trailer := parseScript(t, file)
			h := newHarness()
			if planners {
				h.pc = newPlannerCheck(t)
			}
			var sb strings.Builder
			for _, c := range cases {
				got, err := h.run(c.cmd, c.body)
				if err != nil {
					got = "error: " + err.Error()
				}
				got = strings.TrimRight(got, "\n")
				if got == "" {
					got = "ok"
				}
				if !*rewrite && got != c.want {
					t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, c.line, c.cmd, got, c.want)
				}
				for _, l := range c.comments {
					sb.WriteString(l + "\n")
				}
				sb.WriteString(c.cmd + "\n")
				for _, l := range c.body {
					sb.WriteString(l + "\n")
				}
				sb.WriteString("----\n" + got + "\n\n")
			}
			for _, l := range trailer {
				sb.WriteString(l + "\n")
			}
			out := strings.TrimRight(sb.String(), "\n") + "\n"

			if *rewrite {
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// harness is the world a script drives: membership, a desired set, agents'
// reports and the core's memory, carried from one plan to the next as the
// daemon would.
type harness struct {
	nodes    map[string]*NodeState
	desired  *spec.Set
	applied  *spec.Set                // the set of the last plan, for diff
	observed map[string]api.PodStatus // by UID
	memory   Memory
	now      time.Time
	uids     int
	last     Output
	// agents holds each node's last applied set, what GET /v1/podset
	// reports: a node that gets no set (dead) keeps its old one.
	agents map[string][]api.Pod
	// adopt passes the alive agents' sets as Input.Adopt to the next plan.
	adopt bool
	// pc, when set, checks every plan against a Planner (planner_test.go).
	pc *plannerCheck
	// muted nodes have not reported yet.
	muted map[string]bool
	// linger keeps the reports of pods dropped from their sets, with a
	// DeletionTimestamp, as an agent does while it stops them.
	linger bool
	// overrides are Input.Overrides; templates the templates each
	// workload had, in the order applied (for override).
	overrides map[string]TemplateOverride
	templates map[string][]spec.PodTemplateSpec
	// deletes are Input.DeletePods (delete-pod).
	deletes map[string]string
	// volStatus is what agents report of their volumes, by node and name.
	volStatus map[string]map[string]api.VolumeStatus
}

func newHarness() *harness {
	return &harness{
		nodes:     map[string]*NodeState{},
		desired:   spec.NewSet(),
		observed:  map[string]api.PodStatus{},
		agents:    map[string][]api.Pod{},
		overrides: map[string]TemplateOverride{},
		templates: map[string][]spec.PodTemplateSpec{},
		volStatus: map[string]map[string]api.VolumeStatus{},
		muted:     map[string]bool{},
		now:       time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func (h *harness) input(desired *spec.Set) Input {
	in := Input{
		Desired:    desired,
		Observed:   map[string][]api.PodStatus{},
		Memory:     h.memory,
		Now:        h.now,
		Overrides:  h.overrides,
		DeletePods: h.deletes,
		NewUID: func() string {
			h.uids++
			return "u" + strconv.Itoa(h.uids)
		},
	}
	for _, name := range sortedKeys(h.nodes) {
		in.Nodes = append(in.Nodes, *h.nodes[name])
	}
	if h.adopt {
		in.Adopt = map[string][]api.Pod{}
		for name, n := range h.nodes {
			if n.Alive && len(h.agents[name]) > 0 {
				in.Adopt[name] = h.agents[name]
			}
		}
	}
	for _, node := range sortedKeys(h.volStatus) {
		if n := h.nodes[node]; n == nil || !n.Alive {
			continue
		}
		if in.VolumeStatus == nil {
			in.VolumeStatus = map[string][]api.VolumeStatus{}
		}
		for _, name := range sortedKeys(h.volStatus[node]) {
			in.VolumeStatus[node] = append(in.VolumeStatus[node], h.volStatus[node][name])
		}
	}
	// A connected agent reports, if only an empty list.
	for name, n := range h.nodes {
		if n.Alive && !h.muted[name] {
			in.Observed[name] = []api.PodStatus{}
		}
	}
	for _, uid := range sortedKeys(h.observed) {
		if st := h.observed[uid]; !h.muted[st.Node] {
			in.Observed[st.Node] = append(in.Observed[st.Node], st)
		}
	}
	return in
}

// stopDropped is the agents after a plan: a pod no longer in its node's
// set stops (its report goes), or is stopping while linger is on.
func (h *harness) stopDropped(out Output) {
	inSet := map[string]bool{}
	for _, pods := range out.PodSets {
		for _, p := range pods {
			inSet[p.UID] = true
		}
	}
	for uid, st := range h.observed {
		if inSet[uid] {
			continue
		}
		if _, ok := out.PodSets[st.Node]; !ok {
			continue // a node that got no set keeps running what it ran
		}
		if !h.linger {
			delete(h.observed, uid)
		} else if st.DeletionTimestamp == nil {
			now := h.now
			st.DeletionTimestamp = &now
			h.observed[uid] = st
		}
	}
}

// recordTemplates notes the template of every workload of set, for
// override.
func (h *harness) recordTemplates(set *spec.Set) {
	for k, o := range set.Objects {
		w, ok := workloadOf(k, o)
		if !ok || w.template == nil {
			continue
		}
		ts := h.templates[k.String()]
		if n := len(ts); n == 0 || spec.TemplateHash(&ts[n-1]) != w.hash {
			h.templates[k.String()] = append(ts, *w.template)
		}
	}
}

// args splits "k=v" words; a bare word maps to "".
func args(words []string) map[string]string {
	m := map[string]string{}
	for _, w := range words {
		k, v, _ := strings.Cut(w, "=")
		if old, ok := m[k]; ok && (k == "label" || k == "taint") {
			v = old + "," + v
		}
		m[k] = v
	}
	return m
}

func (h *harness) run(cmd string, body []string) (string, error) {
	f := strings.Fields(cmd)
	switch f[0] {
	case "node":
		return h.node(f[1:])
	case "apply":
		next := copySet(h.desired)
		for _, l := range body {
			if err := addObject(next, strings.Fields(l)); err != nil {
				return "", err
			}
		}
		return h.setDesired(next), nil
	case "apply-yaml":
		set, err := spec.Load(map[string][]byte{"objects.yaml": []byte(strings.Join(body, "\n") + "\n")})
		if err != nil {
			return "", err
		}
		return h.setDesired(set), nil
	case "delete":
		next := copySet(h.desired)
		for _, k := range f[1:] {
			key, err := parseKey(k)
			if err != nil {
				return "", err
			}
			delete(next.Objects, key)
			delete(next.Sources, key)
		}
		return h.setDesired(next), nil
	case "tick":
		if f[1] == "wake" {
			if h.last.Wake.IsZero() {
				return "", fmt.Errorf("the last plan has no wake")
			}
			h.now = h.last.Wake
			return "now " + h.now.Format(time.RFC3339Nano), nil
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return "", err
		}
		h.now = h.now.Add(d)
		return "now " + h.now.Format(time.RFC3339), nil
	case "observe":
		return h.observe(args(f[1:]))
	case "volstatus":
		// volstatus NODE NAME PHASE [message...]: an agent's report of a volume.
		if len(f) < 4 {
			return "", fmt.Errorf("usage: volstatus NODE NAME PHASE [message]")
		}
		m := h.volStatus[f[1]]
		if m == nil {
			m = map[string]api.VolumeStatus{}
			h.volStatus[f[1]] = m
		}
		m[f[2]] = api.VolumeStatus{Name: f[2], Phase: f[3], Message: strings.Join(f[4:], " ")}
		return "", nil
	case "delete-pod":
		// delete-pod NS/NAME: ctl delete pod, of the incarnation the
		// memory holds.
		rec, ok := h.memory.Pods[f[1]]
		if !ok {
			return "", fmt.Errorf("no pod %s", f[1])
		}
		if h.deletes == nil {
			h.deletes = map[string]string{}
		}
		h.deletes[f[1]] = rec.UID
		return "delete " + f[1] + " uid " + rec.UID, nil
	case "linger":
		h.linger = len(f) > 1 && f[1] == "on"
		return "", nil
	case "override":
		return h.override(cmd, f)
	case "restart":
		// The daemon persists Memory as JSON; a restarted core gets it back.
		b, err := json.Marshal(h.memory)
		if err != nil {
			return "", err
		}
		h.memory = Memory{}
		if err := json.Unmarshal(b, &h.memory); err != nil {
			return "", err
		}
		return fmt.Sprintf("memory round trip: %d pods, %d bytes", len(h.memory.Pods), len(b)), nil
	case "lose":
		// The inventory is lost (say, the raft data directory): the next
		// plan starts from empty memory and the agents' reports.
		h.memory = Memory{}
		h.adopt = true
		n := 0
		for name, node := range h.nodes {
			if node.Alive {
				n += len(h.agents[name])
			}
		}
		return fmt.Sprintf("memory lost; alive agents report %d pods", n), nil
	case "plan":
		a := args(f[1:])
		desired := h.desired
		if _, ok := a["unloaded"]; ok {
			desired = nil
		}
		in := h.input(desired)
		_, in.AbsentNodesLost = a["absent-lost"]
		base := h.uids
		out := Plan(in)
		if h.pc != nil {
			h.pc.check(h.pc.t, cmd, in, base, out)
		}
		wev := WorkloadEvents(h.last.Workloads, out.Workloads, in.Now)
		h.memory = out.Memory
		h.last = out
		h.adopt = false
		maps.Copy(h.agents, out.PodSets)
		if desired != nil {
			h.applied = copySet(desired)
			h.recordTemplates(desired)
		}
		h.stopDropped(out)
		return formatOutput(out, wev, in.Now, a), nil
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}

// override sets or drops the template override of a workload: its
// previous template instead of its current one (Input.Overrides).
func (h *harness) override(cmd string, f []string) (string, error) {
	if len(f) < 2 {
		return "", fmt.Errorf("usage: override KIND/ns/name [reason=R] | off")
	}
	key, err := parseKey(f[1])
	if err != nil {
		return "", err
	}
	if len(f) > 2 && f[2] == "off" {
		delete(h.overrides, key.String())
		return "override dropped", nil
	}
	w, ok := workloadOf(key, h.desired.Objects[key])
	ts := h.templates[key.String()]
	if !ok || len(ts) < 2 || spec.TemplateHash(&ts[len(ts)-1]) != w.hash {
		return "", fmt.Errorf("%s has no previous template", key)
	}
	prev := ts[len(ts)-2]
	_, reason, _ := strings.Cut(cmd, "reason=") // the rest of the line
	h.overrides = maps.Clone(h.overrides)
	h.overrides[key.String()] = TemplateOverride{GitHash: w.hash, Hash: spec.TemplateHash(&prev), Template: prev, Reason: reason}
	return fmt.Sprintf("override %s: %s instead of %s", key, spec.TemplateHash(&prev), w.hash), nil
}

// setDesired makes next the desired set and prints the diff from the last
// planned set, as `ctl diff` would show it before a sync.
func (h *harness) setDesired(next *spec.Set) string {
	h.desired = next
	var sb strings.Builder
	for _, c := range Diff(h.applied, next) {
		fmt.Fprintf(&sb, "%s %s\n", c.Action, c.Key)
		for _, f := range c.Fields {
			old, nu := f.Old, f.New
			if f.Op == FieldAdded {
				old = "(none)"
			}
			if f.Op == FieldRemoved {
				nu = "(none)"
			}
			sb.WriteString("  | " + f.Path + ": " + old + " → " + nu + "\n")
		}
		for _, p := range c.PodsStarted {
			sb.WriteString("  + " + p + "\n")
		}
		for _, p := range c.PodsStopped {
			sb.WriteString("  - " + p + "\n")
		}
	}
	if sb.Len() == 0 {
		return "no changes"
	}
	return sb.String()
}

func (h *harness) node(f []string) (string, error) {
	if len(f) < 2 {
		return "", fmt.Errorf("usage: node add|kill|revive|forget NAME")
	}
	name := f[1]
	a := args(f[2:])
	switch f[0] {
	case "add":
		// The agent labels its node with its name, as the kubelet does.
		info := api.NodeInfo{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name},
			Allocatable: api.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}}
		if v, ok := a["cpu"]; ok {
			q := resource.MustParse(v)
			info.Allocatable.MilliCPU = q.MilliValue()
		}
		if v, ok := a["mem"]; ok {
			q := resource.MustParse(v)
			info.Allocatable.Memory = q.Value()
		}
		if v, ok := a["pods"]; ok {
			n, _ := strconv.Atoi(v)
			info.Allocatable.Pods = int64(n)
		}
		setNodeLabels(&info, a)
		h.nodes[name] = &NodeState{Info: info, Alive: true}
	case "relabel":
		info := h.nodes[name].Info
		setNodeLabels(&info, a)
		h.nodes[name].Info = info
	case "grace":
		h.nodes[name].Alive, h.nodes[name].Grace = false, true
	case "kill":
		h.nodes[name].Alive = false
		// A dead node reports nothing.
		for uid, st := range h.observed {
			if st.Node == name {
				delete(h.observed, uid)
			}
		}
	case "revive":
		h.nodes[name].Alive = true
	case "forget":
		delete(h.nodes, name)
	case "mute":
		h.muted[name] = true
	case "unmute":
		delete(h.muted, name)
	default:
		return "", fmt.Errorf("unknown node command %q", f[0])
	}
	return "", nil
}

// observe makes agents report the pods of the last plan that match pod=GLOB
// (default all), node=NAME and rev=latest|old: phase=P (default Running), reason=R puts
// containers waiting with R, crash makes them CrashLoopBackOff in a Running
// pod, notready leaves them unready, gone drops the reports.
func (h *harness) observe(a map[string]string) (string, error) {
	glob := a["pod"]
	if glob == "" {
		glob = "*/*"
	}
	// rev=latest|old picks pods of their workload's current template or of
	// an older one, so that scripts need not spell template hashes.
	revisions := map[string]string{}
	for _, w := range h.last.Workloads {
		revisions[spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}.String()] = w.Revision
	}
	n := 0
	for _, pv := range h.last.Pods {
		if ok, err := path.Match(glob, pv.Namespace+"/"+pv.Name); err != nil {
			return "", err
		} else if n := h.nodes[pv.Node]; !ok || pv.Node == "" || n == nil || !n.Alive {
			continue
		}
		if node, ok := a["node"]; ok && node != pv.Node {
			continue
		}
		if rev, ok := a["rev"]; ok && (rev == "latest") != (h.memory.Pods[pv.Namespace+"/"+pv.Name].Hash == revisions[pv.Owner]) {
			continue
		}
		_, gone := a["gone"]
		if pv.Terminating() && !gone {
			continue // a stopping pod only goes
		}
		n++
		if gone {
			delete(h.observed, pv.UID)
			continue
		}
		phase := a["phase"]
		if phase == "" {
			phase = api.PodRunning
		}
		st := api.PodStatus{UID: pv.UID, Namespace: pv.Namespace, Name: pv.Name, Node: pv.Node, Phase: phase,
			Owner: pv.Owner, Hash: h.memory.Pods[pv.Namespace+"/"+pv.Name].Hash}
		if phase == api.PodRunning {
			st.PodIP = fmt.Sprintf("10.88.0.%d", n+1)
		}
		for _, c := range pv.Spec.Containers {
			cs := api.ContainerStatus{Name: c.Name, Image: c.Image}
			_, crash := a["crash"]
			_, notready := a["notready"]
			switch {
			case crash:
				cs.State.Waiting = &api.StateWaiting{Reason: api.ReasonCrashLoopBackOff, Message: "back-off 10s restarting failed container"}
				cs.RestartCount = 3
			case a["reason"] != "":
				cs.State.Waiting = &api.StateWaiting{Reason: a["reason"]}
			case phase == api.PodRunning:
				cs.State.Running = &api.StateRunning{StartedAt: h.now}
				cs.Ready = !notready
			}
			st.Containers = append(st.Containers, cs)
		}
		if _, ok := a["cond"]; ok {
			// An agent that reports conditions: Ready from now on (or
			// not ready).
			status := api.ConditionFalse
			if ready(&api.PodStatus{Phase: st.Phase, Containers: st.Containers}) {
				status = api.ConditionTrue
			}
			st.Conditions = []api.Condition{{Type: api.PodReady, Status: status, LastTransitionTime: h.now}}
			if old, ok := h.observed[pv.UID]; ok {
				if c := old.Condition(api.PodReady); c != nil && c.Status == status {
					st.Conditions[0].LastTransitionTime = c.LastTransitionTime
				}
			}
		}
		st.Reason = a["podreason"] // the pod's, as an agent's eviction sets it
		h.observed[pv.UID] = st
	}
	return fmt.Sprintf("observed %d pods", n), nil
}

func formatOutput(out Output, wev []Event, now time.Time, a map[string]string) string {
	var sb strings.Builder
	if len(out.Events) > 0 {
		sb.WriteString("events:\n")
		for _, e := range out.Events {
			fmt.Fprintf(&sb, "  %s %s: %s\n", e.Object, e.Reason, e.Message)
		}
	}
	if len(wev) > 0 {
		sb.WriteString("workload events:\n")
		for _, e := range wev {
			typ := e.Type
			if typ == "" {
				typ = api.EventNormal
			}
			fmt.Fprintf(&sb, "  %s %s %s: %s\n", typ, e.Object, e.Reason, e.Message)
		}
	}
	if _, ok := a["delta"]; ok {
		fmt.Fprintf(&sb, "changed: [%s]\ndeleted: [%s]\n", strings.Join(out.Changed, " "), strings.Join(out.Deleted, " "))
		if len(out.VolumesChanged)+len(out.VolumesDeleted) > 0 {
			fmt.Fprintf(&sb, "volumes changed: [%s]\nvolumes deleted: [%s]\n", strings.Join(out.VolumesChanged, " "), strings.Join(out.VolumesDeleted, " "))
		}
	}
	if !out.Wake.IsZero() {
		fmt.Fprintf(&sb, "wake: %s (in %s)\n", out.Wake.Format(time.RFC3339Nano), out.Wake.Sub(now))
	}
	if _, ok := a["events"]; ok {
		return sb.String()
	}
	if _, ok := a["brief"]; !ok {
		formatPods(&sb, out)
	}
	formatWorkloads(&sb, out, a)
	formatStorage(&sb, out)
	return sb.String()
}

func formatPods(sb *strings.Builder, out Output) {
	sb.WriteString("pods:\n")
	for _, p := range out.Pods {
		node := p.Node
		if node == "" {
			node = "-"
		}
		fmt.Fprintf(sb, "  %s/%s %s %s %s", p.Namespace, p.Name, p.UID, node, p.Phase)
		if p.Reason != "" {
			fmt.Fprintf(sb, " %s", p.Reason)
		}
		if p.Message != "" {
			fmt.Fprintf(sb, " (%s)", p.Message)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("podsets:\n")
	names := sortedKeys(out.PodSets)
	for _, n := range names {
		var pods []string
		for _, p := range out.PodSets[n] {
			pods = append(pods, p.Namespace+"/"+p.Name+"@"+p.UID)
		}
		fmt.Fprintf(sb, "  %s: [%s]\n", n, strings.Join(pods, " "))
	}
}

func formatWorkloads(sb *strings.Builder, out Output, a map[string]string) {
	if len(out.Workloads) > 0 {
		sb.WriteString("workloads:\n")
		for _, w := range out.Workloads {
			fmt.Fprintf(sb, "  %s/%s/%s rev=%s replicas=%d current=%d running=%d ready=%d up-to-date=%d available=%d\n",
				w.Kind, w.Namespace, w.Name, w.Revision, w.Replicas, w.Current, w.Running, w.Ready, w.UpToDate, w.Available)
			fmt.Fprintf(sb, "    %s", w.Progress)
			if w.Message != "" {
				fmt.Fprintf(sb, ": %s", w.Message)
			}
			sb.WriteString("\n")
			if _, ok := a["rollout"]; ok {
				fmt.Fprintf(sb, "    strategy=%s maxSurge=%d maxUnavailable=%d", w.Strategy, w.MaxSurge, w.MaxUnavailable)
				if w.Kind == spec.KindStatefulSet {
					fmt.Fprintf(sb, " serviceName=%s partition=%d", w.ServiceName, w.Partition)
				}
				for _, c := range w.Conditions {
					fmt.Fprintf(sb, " %s=%s/%s", c.Type, c.Status, c.Reason)
				}
				sb.WriteString("\n")
				if w.Override != "" {
					fmt.Fprintf(sb, "    override: %s\n", w.Override)
				}
			}
		}
	}
}
