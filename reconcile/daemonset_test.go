package reconcile

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// daemonSetObj is a DaemonSet as spec.Load returns it (defaulted).
func daemonSetObj(name, image string) *spec.DaemonSet {
	labels := map[string]string{"app": name}
	return &spec.DaemonSet{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindDaemonSet},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: "default"},
		Spec: spec.DaemonSetSpec{
			Selector: &spec.LabelSelector{MatchLabels: labels},
			Template: spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: labels}, Spec: podSpec(image, "10m")},
			UpdateStrategy: spec.DaemonSetUpdateStrategy{Type: spec.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &spec.RollingUpdateDaemonSet{MaxUnavailable: ptr(spec.FromInt(1)), MaxSurge: ptr(spec.FromInt(0))}},
		},
	}
}

// withDaemon is a copy of ds with f applied to the copy's spec (its
// template's containers copied, so an image change is a new object).
func withDaemon(ds *spec.DaemonSet, f func(*spec.DaemonSetSpec)) *spec.DaemonSet {
	c := *ds
	c.Spec.Template.Spec.Containers = slices.Clone(ds.Spec.Template.Spec.Containers)
	f(&c.Spec)
	return &c
}

// dsHarness is a harness with nodes named by the keys of labels, each
// labelled with its map.
func dsHarness(t *testing.T, labels map[string]map[string]string) *harness {
	t.Helper()
	h := newHarness()
	for _, name := range sortedKeys(labels) {
		if _, err := h.node([]string{"add", name}); err != nil {
			t.Fatal(err)
		}
		for k, v := range labels[name] {
			h.nodes[name].Info.Labels[k] = v
		}
	}
	return h
}

// plan runs the harness's plan command and returns its output.
func (h *harness) mustPlan(t *testing.T) Output {
	t.Helper()
	if _, err := h.run("plan", nil); err != nil {
		t.Fatal(err)
	}
	return h.last
}

func (h *harness) mustObserve(t *testing.T, a map[string]string) {
	t.Helper()
	if _, err := h.observe(a); err != nil {
		t.Fatal(err)
	}
}

// podsOn maps node → names of owner's pods placed there (records only).
func podsOn(out Output, owner string) map[string][]string {
	m := map[string][]string{}
	for _, v := range out.Pods {
		if v.Owner == owner && !v.Terminating() {
			m[v.Node] = append(m[v.Node], v.Name)
		}
	}
	return m
}

func dsView(t *testing.T, out Output, name string) WorkloadView {
	t.Helper()
	for _, w := range out.Workloads {
		if w.Kind == spec.KindDaemonSet && w.Name == name {
			return w
		}
	}
	t.Fatalf("no view of DaemonSet %s in %+v", name, out.Workloads)
	return WorkloadView{}
}

func eventsWith(out Output, reason string) []string {
	var s []string
	for _, e := range out.Events {
		if e.Reason == reason {
			s = append(s, e.Object+": "+e.Message)
		}
	}
	return s
}

func TestDaemonSetEligibility(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{
		"n1": {"zone": "a"},
		"n2": {"zone": "b"},                  // selector
		"n3": {"zone": "a"},                  // untolerated NoSchedule taint
		"n4": {"zone": "a"},                  // cordoned by its Node object
		"n5": {"zone": "a"},                  // unreachable: tolerated by every DaemonSet pod
		"n6": {},                             // zone from its Node object
		"n7": {"zone": "a", "arch": "arm64"}, // affinity
		"n8": {"zone": "a"},                  // tolerated by the template
	})
	h.nodes["n3"].Info.Taints = []spec.Taint{{Key: "dedicated", Value: "db", Effect: spec.TaintEffectNoSchedule}}
	h.nodes["n5"].Info.Taints = []spec.Taint{{Key: "node.kubernetes.io/unreachable", Effect: spec.TaintEffectNoExecute}}
	h.nodes["n8"].Info.Taints = []spec.Taint{{Key: "gpu", Effect: spec.TaintEffectNoExecute}}
	ds := withDaemon(daemonSetObj("agent", "img:1"), func(s *spec.DaemonSetSpec) {
		s.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
		s.Template.Spec.Tolerations = []spec.Toleration{{Key: "gpu", Operator: spec.TolerationOpExists}}
		s.Template.Spec.Affinity = &spec.Affinity{NodeAffinity: &spec.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &spec.NodeSelector{
			NodeSelectorTerms: []spec.NodeSelectorTerm{{MatchExpressions: []spec.NodeSelectorRequirement{{Key: "arch", Operator: "NotIn", Values: []string{"arm64"}}}}},
		}}}
	})
	n4 := &spec.Node{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindNode}, ObjectMeta: spec.ObjectMeta{Name: "n4"}, Spec: spec.NodeSpec{Unschedulable: true}}
	n6 := &spec.Node{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindNode}, ObjectMeta: spec.ObjectMeta{Name: "n6", Labels: map[string]string{"zone": "a"}}}
	h.desired = setOf(ds, n4, n6)
	out := h.mustPlan(t)
	on := podsOn(out, "DaemonSet/default/agent")
	if got, want := sortedKeys(on), []string{"n1", "n4", "n5", "n6", "n8"}; !slices.Equal(got, want) {
		t.Fatalf("pods on %v, want %v (%v)", got, want, on)
	}
	hash := spec.TemplateHash(&ds.Spec.Template)
	for node, names := range on {
		if len(names) != 1 || names[0] != "agent-"+hash+"-"+node {
			t.Errorf("node %s runs %v, want agent-%s-%s", node, names, hash, node)
		}
	}
	v := dsView(t, out, "agent")
	if v.Replicas != 5 || v.Current != 5 || v.UpToDate != 5 || v.NodeSelector["zone"] != "a" || v.Strategy != spec.RollingUpdateDaemonSetStrategyType || v.MaxUnavailable != 1 {
		t.Errorf("view = %+v", v)
	}
	rec := h.memory.Pods["default/agent-"+hash+"-n1"]
	if rec.Labels[ControllerRevisionHashLabel] != hash || rec.Labels["app"] != "agent" {
		t.Errorf("labels = %v", rec.Labels)
	}
	terms := rec.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 || len(terms[0].MatchFields) != 1 ||
		terms[0].MatchFields[0].Key != "metadata.name" || !slices.Equal(terms[0].MatchFields[0].Values, []string{"n1"}) {
		t.Errorf("pinning terms = %+v", terms)
	}
	for _, key := range []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/disk-pressure",
		"node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable", "gpu"} {
		if !slices.ContainsFunc(rec.Spec.Tolerations, func(t spec.Toleration) bool { return t.Key == key }) {
			t.Errorf("tolerations %+v lack %s", rec.Spec.Tolerations, key)
		}
	}
	// The template is not modified by pinning.
	if ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions == nil ||
		len(ds.Spec.Template.Spec.Tolerations) != 1 {
		t.Errorf("template modified: %+v", ds.Spec.Template.Spec)
	}

	// A label change follows: n6's Node object loses its zone, n2 gains one.
	n6b := *n6
	n6b.Labels = nil
	h.desired = setOf(ds, n4, &n6b)
	h.nodes["n2"].Info.Labels["zone"] = "a"
	out = h.mustPlan(t)
	if got, want := sortedKeys(podsOn(out, "DaemonSet/default/agent")), []string{"n1", "n2", "n4", "n5", "n8"}; !slices.Equal(got, want) {
		t.Fatalf("after relabelling, pods on %v, want %v", got, want)
	}
	if d := eventsWith(out, EventDeleted); len(d) != 1 || !strings.Contains(d[0], "node n6 is no longer eligible") {
		t.Errorf("deleted events = %q", d)
	}

	// A new NoSchedule taint keeps the pod there (Kubernetes'
	// shouldContinueRunning); a NoExecute one it does not tolerate drops it.
	h.nodes["n1"].Info.Taints = []spec.Taint{{Key: "maintenance", Effect: spec.TaintEffectNoSchedule}}
	h.nodes["n2"].Info.Taints = []spec.Taint{{Key: "maintenance", Effect: spec.TaintEffectNoExecute}}
	out = h.mustPlan(t)
	if got, want := sortedKeys(podsOn(out, "DaemonSet/default/agent")), []string{"n1", "n4", "n5", "n8"}; !slices.Equal(got, want) {
		t.Fatalf("after tainting, pods on %v, want %v", got, want)
	}
	if v := dsView(t, out, "agent"); v.Replicas != 4 {
		t.Errorf("replicas = %d, want 4", v.Replicas)
	}
}

func TestDaemonSetFollowsNodes(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil, "n2": nil, "n3": nil})
	ds := daemonSetObj("agent", "img:1")
	h.desired = setOf(ds)
	out := h.mustPlan(t)
	if got := sortedKeys(podsOn(out, "DaemonSet/default/agent")); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("pods on %v", got)
	}
	h.mustObserve(t, map[string]string{})
	h.mustPlan(t)

	// A node joins: it gets its pod at once.
	if _, err := h.node([]string{"add", "n4"}); err != nil {
		t.Fatal(err)
	}
	out = h.mustPlan(t)
	if got := sortedKeys(podsOn(out, "DaemonSet/default/agent")); !slices.Equal(got, []string{"n1", "n2", "n3", "n4"}) {
		t.Fatalf("after n4 joined, pods on %v", got)
	}
	if c := eventsWith(out, EventCreated); len(c) != 1 || !strings.Contains(c[0], "-n4") {
		t.Errorf("created = %q", c)
	}

	// A node in Grace keeps its pod (Unknown); a dead one loses it, and
	// nothing moves elsewhere.
	h.nodes["n2"].Alive, h.nodes["n2"].Grace = false, true
	if _, err := h.node([]string{"kill", "n3"}); err != nil {
		t.Fatal(err)
	}
	out = h.mustPlan(t)
	on := podsOn(out, "DaemonSet/default/agent")
	if got := sortedKeys(on); !slices.Equal(got, []string{"n1", "n2", "n4"}) {
		t.Fatalf("after n2 grace and n3 death, pods on %v", got)
	}
	if len(eventsWith(out, EventCreated)) != 0 {
		t.Errorf("created pods: %q", eventsWith(out, EventCreated))
	}
	if d := eventsWith(out, EventDeleted); len(d) != 1 || !strings.Contains(d[0], "node n3 is not alive") {
		t.Errorf("deleted = %q", d)
	}
	for _, v := range out.Pods {
		if v.Node == "n2" && v.Phase != api.PodUnknown {
			t.Errorf("pod on grace node n2 is %s", v.Phase)
		}
	}
	if v := dsView(t, out, "agent"); v.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", v.Replicas)
	}

	// The dead node comes back: its pod is created again.
	if _, err := h.node([]string{"revive", "n3"}); err != nil {
		t.Fatal(err)
	}
	out = h.mustPlan(t)
	if got := sortedKeys(podsOn(out, "DaemonSet/default/agent")); !slices.Equal(got, []string{"n1", "n2", "n3", "n4"}) {
		t.Fatalf("after n3 came back, pods on %v", got)
	}
}

func TestDaemonSetPending(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"big": nil, "small": nil})
	h.nodes["small"].Info.Allocatable.MilliCPU = 100
	ds := withDaemon(daemonSetObj("agent", "img:1"), func(s *spec.DaemonSetSpec) {
		s.Template.Spec.Containers[0].Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse("500m")}
	})
	h.desired = setOf(ds)
	out := h.mustPlan(t)
	for _, v := range out.Pods {
		switch {
		case strings.HasSuffix(v.Name, "-big") && v.Node != "big":
			t.Errorf("%s on %q", v.Name, v.Node)
		case strings.HasSuffix(v.Name, "-small") && (v.Node != "" || v.Reason != ReasonUnschedulable || !strings.Contains(v.Message, "Insufficient cpu")):
			t.Errorf("%s: node %q reason %s message %q", v.Name, v.Node, v.Reason, v.Message)
		}
	}
	if len(out.Pods) != 2 {
		t.Fatalf("pods = %+v", out.Pods)
	}
}

func TestDaemonPodName(t *testing.T) {
	if got := daemonPodName("agent", "0123456789", "n1"); got != "agent-0123456789-n1" {
		t.Errorf("short name = %q", got)
	}
	if got := daemonPodName("agent", "0123456789", "node1.example.com"); got != "agent-0123456789-"+shortHash("node1.example.com") {
		t.Errorf("name for a node with dots = %q", got)
	}
	for _, c := range []struct{ ds, node string }{
		{"agent", "node1.example.com"}, {"agent", "Node1"}, {"agent", strings.Repeat("n", 60)},
		{strings.Repeat("a", 50), "n1"}, {"log.shipper", "n1"}, {"...", "n1"}, {strings.Repeat("x.", 100), "node1.example.com"},
	} {
		got := daemonPodName(c.ds, "0123456789", c.node)
		if !isDNSLabel(got) || got == daemonPodName(c.ds, "0123456789", c.node+"x") || got == daemonPodName(c.ds+"x", "0123456789", c.node) {
			t.Errorf("name for %q on %q = %q: not a distinct DNS label", c.ds, c.node, got)
		}
		if got != daemonPodName(c.ds, "0123456789", c.node) {
			t.Errorf("name for %q on %q is not stable", c.ds, c.node)
		}
	}
}

// rollDaemon applies a new image and drives the rollout with agents that
// report every pod Running and ready (stopping pods linger until observed
// gone), checking after each plan that check holds; it returns the number
// of plans to completion.
func rollDaemon(t *testing.T, h *harness, ds *spec.DaemonSet, check func(out Output, v WorkloadView)) int {
	t.Helper()
	h.desired = setOf(ds)
	for i := 1; i <= 20; i++ {
		out := h.mustPlan(t)
		v := dsView(t, out, ds.Name)
		check(out, v)
		if v.Progress == ProgressComplete {
			return i
		}
		h.mustObserve(t, map[string]string{"pod": "*/*", "gone": ""})
		h.mustObserve(t, map[string]string{})
		for uid, st := range h.observed {
			if st.DeletionTimestamp != nil {
				delete(h.observed, uid) // stopped
			}
		}
	}
	t.Fatal("the rollout did not complete")
	return 0
}

func TestDaemonSetRollingUpdate(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil, "n2": nil, "n3": nil, "n4": nil})
	ds := withDaemon(daemonSetObj("agent", "img:1"), func(s *spec.DaemonSetSpec) {
		s.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(spec.FromString("30%")) // of 4 nodes: 2, rounded up
	})
	h.desired = setOf(ds)
	h.mustPlan(t)
	h.mustObserve(t, map[string]string{})
	h.mustPlan(t)
	h.linger = true

	v2 := withDaemon(ds, func(s *spec.DaemonSetSpec) { s.Template.Spec.Containers[0].Image = "img:2" })
	hash := spec.TemplateHash(&v2.Spec.Template)
	plans := rollDaemon(t, h, v2, func(out Output, v WorkloadView) {
		if v.MaxUnavailable != 2 || v.MaxSurge != 0 {
			t.Fatalf("bounds = %d/%d", v.MaxSurge, v.MaxUnavailable)
		}
		on := map[string]int{}
		for _, p := range out.Pods {
			if p.Owner == "DaemonSet/default/agent" {
				on[p.Node]++ // stopping pods included
			}
		}
		for node, n := range on {
			if n > 1 {
				t.Fatalf("node %s runs %d pods of the DaemonSet without surge", node, n)
			}
		}
		if v.Available < v.Replicas-v.MaxUnavailable && len(eventsWith(out, EventDeleted)) > 0 {
			t.Fatalf("dropped a pod leaving %d available of %d", v.Available, v.Replicas)
		}
		if d := eventsWith(out, EventDeleted); len(d) > 2 {
			t.Fatalf("dropped %d pods at once: %q", len(d), d)
		}
	})
	if plans < 3 {
		t.Errorf("rollout took %d plans, want at least 3 (2 nodes at a time, each waiting for its old pod)", plans)
	}
	for key, rec := range h.memory.Pods {
		if rec.Hash != hash {
			t.Errorf("%s left at %s", key, rec.Hash)
		}
	}
}

func TestDaemonSetSurge(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil, "n2": nil, "n3": nil})
	ds := withDaemon(daemonSetObj("agent", "img:1"), func(s *spec.DaemonSetSpec) {
		s.MinReadySeconds = 10
		s.UpdateStrategy.RollingUpdate = &spec.RollingUpdateDaemonSet{MaxSurge: ptr(spec.FromInt(1)), MaxUnavailable: ptr(spec.FromInt(0))}
	})
	h.desired = setOf(ds)
	h.mustPlan(t)
	h.mustObserve(t, map[string]string{})
	h.now = h.now.Add(60e9)
	h.mustPlan(t)

	v2 := withDaemon(ds, func(s *spec.DaemonSetSpec) { s.Template.Spec.Containers[0].Image = "img:2" })
	h.desired = setOf(v2)
	out := h.mustPlan(t)
	if c := eventsWith(out, EventCreated); len(c) != 1 || !strings.Contains(c[0], "-n1") || len(eventsWith(out, EventDeleted)) != 0 {
		t.Fatalf("first step: created %q deleted %q", c, eventsWith(out, EventDeleted))
	}
	// The new pod runs, but is not available for 10 s: the old one stays,
	// and the plan wakes exactly then.
	h.mustObserve(t, map[string]string{"rev": "latest"})
	out = h.mustPlan(t)
	if len(out.Events) != 0 {
		t.Fatalf("before minReadySeconds: %+v", out.Events)
	}
	if want := h.now.Add(10e9); !out.Wake.Equal(want) {
		t.Fatalf("wake = %v, want %v", out.Wake, want)
	}
	h.now = out.Wake
	out = h.mustPlan(t)
	if d, c := eventsWith(out, EventDeleted), eventsWith(out, EventCreated); len(d) != 1 || !strings.Contains(d[0], "-n1") ||
		len(c) != 1 || !strings.Contains(c[0], "-n2") {
		t.Fatalf("at minReadySeconds: deleted %q created %q", d, c)
	}
	if v := dsView(t, out, "agent"); v.MaxSurge != 1 || v.Current != 4 {
		t.Errorf("view = %+v", v)
	}
}

func TestDaemonSetOnDelete(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil, "n2": nil})
	ds := withDaemon(daemonSetObj("agent", "img:1"), func(s *spec.DaemonSetSpec) {
		s.UpdateStrategy = spec.DaemonSetUpdateStrategy{Type: spec.OnDeleteDaemonSetStrategyType}
	})
	h.desired = setOf(ds)
	h.mustPlan(t)
	h.mustObserve(t, map[string]string{})
	h.mustPlan(t)

	v2 := withDaemon(ds, func(s *spec.DaemonSetSpec) { s.Template.Spec.Containers[0].Image = "img:2" })
	h.desired = setOf(v2)
	out := h.mustPlan(t)
	if len(out.Events) != 0 {
		t.Fatalf("OnDelete replaced pods: %+v", out.Events)
	}
	v := dsView(t, out, "agent")
	if v.UpToDate != 0 || v.Current != 2 || v.Progress != ProgressComplete || v.Strategy != spec.OnDeleteDaemonSetStrategyType {
		t.Errorf("view = %+v", v)
	}
	// The pod on n1 goes for another reason (its node dies and comes back):
	// it comes back at the new revision; n2 keeps the old one.
	if _, err := h.node([]string{"kill", "n1"}); err != nil {
		t.Fatal(err)
	}
	h.mustPlan(t)
	if _, err := h.node([]string{"revive", "n1"}); err != nil {
		t.Fatal(err)
	}
	out = h.mustPlan(t)
	hash2, hash1 := spec.TemplateHash(&v2.Spec.Template), spec.TemplateHash(&ds.Spec.Template)
	if _, ok := h.memory.Pods["default/agent-"+hash2+"-n1"]; !ok {
		t.Errorf("n1 has no pod of the new revision: %v", sortedKeys(h.memory.Pods))
	}
	if _, ok := h.memory.Pods["default/agent-"+hash1+"-n2"]; !ok || len(h.memory.Pods) != 2 {
		t.Errorf("n2 lost its old pod: %v", sortedKeys(h.memory.Pods))
	}
}

// daemonSetLine is the scripts' short form of a DaemonSet (see addObject).
func daemonSetLine(name, ns string, labels map[string]string, a map[string]string, ps spec.PodSpec) (*spec.DaemonSet, error) {
	if len(labels) == 0 {
		labels["app"] = name
	}
	ds := daemonSetObj(name, a["image"])
	ds.Namespace = ns
	ds.Spec.Selector = &spec.LabelSelector{MatchLabels: labels}
	ds.Spec.Template = spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: labels}, Spec: ps}
	if v := a["nodeSelector"]; v != "" {
		ds.Spec.Template.Spec.NodeSelector = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, v, _ := strings.Cut(kv, "=")
			ds.Spec.Template.Spec.NodeSelector[k] = v
		}
	}
	if v := a["tolerate"]; v != "" {
		for _, k := range strings.Split(v, ",") {
			ds.Spec.Template.Spec.Tolerations = append(ds.Spec.Template.Spec.Tolerations, spec.Toleration{Key: k, Operator: spec.TolerationOpExists})
		}
	}
	if v := a["port"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, err
		}
		ds.Spec.Template.Spec.Containers[0].Ports = []spec.ContainerPort{{ContainerPort: int32(n), HostPort: int32(n)}}
	}
	if a["strategy"] == spec.OnDeleteDaemonSetStrategyType {
		ds.Spec.UpdateStrategy = spec.DaemonSetUpdateStrategy{Type: spec.OnDeleteDaemonSetStrategyType}
	}
	for _, k := range []string{"maxSurge", "maxUnavailable"} {
		v, ok := a[k]
		if !ok || ds.Spec.UpdateStrategy.RollingUpdate == nil {
			continue
		}
		x := spec.FromString(v)
		if n, err := strconv.Atoi(v); err == nil {
			x = spec.FromInt(int32(n))
		}
		if k == "maxSurge" {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = &x
		} else {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &x
		}
	}
	if v := a["minReady"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, err
		}
		ds.Spec.MinReadySeconds = int32(n)
	}
	return ds, nil
}

// setNodeLabels sets an agent's labels (label=k=v,..., beside
// kubernetes.io/hostname) and taints (taint=k[=v]:Effect,...) from a
// script's node command, as new map and slice.
func setNodeLabels(info *api.NodeInfo, a map[string]string) {
	labels := map[string]string{"kubernetes.io/hostname": info.Name}
	if v := a["label"]; v != "" {
		for _, kv := range strings.Split(v, ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
	}
	info.Labels = labels
	info.Taints = nil
	if v := a["taint"]; v != "" {
		for _, t := range strings.Split(v, ",") {
			kv, effect, _ := strings.Cut(t, ":")
			k, v, _ := strings.Cut(kv, "=")
			info.Taints = append(info.Taints, spec.Taint{Key: k, Value: v, Effect: effect})
		}
	}
}
