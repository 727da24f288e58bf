package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func jobSpec(completions, parallelism *int32, indexed bool, policy string) spec.JobSpec {
	ps := podSpec("worker:1", "100m")
	ps.RestartPolicy = policy
	js := spec.JobSpec{Completions: completions, Parallelism: parallelism, BackoffLimit: int32p(6),
		Template: spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: map[string]string{"app": "w"}}, Spec: ps}}
	if indexed {
		m := spec.IndexedCompletion
		js.CompletionMode = &m
	}
	return js
}

func job(name string, js spec.JobSpec) *spec.Job {
	return &spec.Job{TypeMeta: spec.TypeMeta{APIVersion: spec.BatchV1, Kind: spec.KindJob},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: "default"}, Spec: js}
}

// sim runs plans the way the daemon does: each Output's Memory is the
// next Input's, and agents report the pods of their sets as the test's
// outcome function says.
type sim struct {
	t   *testing.T
	in  Input
	out Output
	// outcome says what a pod (by name) does once it runs: "" keeps it
	// Running, else api.PodSucceeded or api.PodFailed (exit code 1).
	outcome func(name string) string
	// created counts every pod name ever created.
	created map[string]int
	events  []Event
}

func newSim(t *testing.T, set *spec.Set, n int) *sim {
	s := &sim{t: t, in: Input{Desired: set, Nodes: nodes(n), Now: t0, NewUID: counter(), Memory: Memory{Pods: map[string]PodRecord{}}},
		outcome: func(string) string { return api.PodSucceeded }, created: map[string]int{}}
	return s
}

// step plans once, then lets every pod of the sets report.
func (s *sim) step() Output {
	s.t.Helper()
	s.out = Plan(s.in)
	s.events = append(s.events, s.out.Events...)
	for _, ev := range s.out.Events {
		if ev.Reason == EventCreated {
			s.created[strings.TrimPrefix(ev.Object, "Pod/default/")]++
		}
	}
	s.in.Memory = s.out.Memory
	obs := map[string][]api.PodStatus{}
	for node, pods := range s.out.PodSets {
		for _, p := range pods {
			obs[node] = append(obs[node], s.status(node, p))
		}
	}
	s.in.Observed = obs
	return s.out
}

func (s *sim) status(node string, p api.Pod) api.PodStatus {
	// A pod keeps the phase it reported (agents never restart a
	// finished pod of restartPolicy Never).
	for _, st := range s.in.Observed[node] {
		if st.UID == p.UID && (st.Phase == api.PodSucceeded || st.Phase == api.PodFailed) {
			return st
		}
	}
	st := api.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: node, Phase: api.PodRunning,
		Containers: []api.ContainerStatus{{Name: "main", State: api.ContainerState{Running: &api.StateRunning{StartedAt: s.in.Now}}}}}
	switch s.outcome(p.Name) {
	case api.PodSucceeded:
		st.Phase = api.PodSucceeded
		st.Containers[0].State = api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 0, Reason: "Completed"}}
	case api.PodFailed:
		st.Phase = api.PodFailed
		st.Containers[0].State = api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 1, Reason: "Error"}}
	}
	return st
}

// run steps until the Job's view has a condition (or n steps), moving
// the clock to the plan's Wake when nothing else would change.
func (s *sim) run(n int) JobView {
	s.t.Helper()
	for range n {
		out := s.step()
		if len(out.Jobs) > 0 && (len(out.Jobs[0].Conditions) > 0 && out.Jobs[0].Conditions[0].Type != JobSuspended) {
			return out.Jobs[0]
		}
		if !out.Wake.IsZero() && !out.MemoryChanged {
			s.in.Now = out.Wake
		} else {
			s.in.Now = s.in.Now.Add(time.Second)
		}
	}
	s.t.Fatalf("no condition after %d steps: %+v", n, s.out.Jobs)
	return JobView{}
}

func (s *sim) jobPods() []PodView {
	var out []PodView
	for _, v := range s.out.Pods {
		if strings.HasPrefix(v.Owner, "Job/") && !v.Terminating() {
			out = append(out, v)
		}
	}
	return out
}

func TestJobIndexedParallelismExactlyOnce(t *testing.T) {
	s := newSim(t, setOf(job("work", jobSpec(int32p(6), int32p(3), true, spec.RestartPolicyNever))), 3)
	maxActive := 0
	s.outcome = func(string) string { return "" }
	for range 3 {
		s.step()
		active := 0
		for _, v := range s.jobPods() {
			if v.Phase == api.PodRunning || v.Phase == api.PodPending {
				active++
			}
		}
		maxActive = max(maxActive, active)
	}
	if maxActive != 3 {
		t.Fatalf("active pods = %d, want parallelism 3", maxActive)
	}
	s.outcome = func(string) string { return api.PodSucceeded }
	v := s.run(20)
	if v.Conditions[0].Type != JobComplete || v.Succeeded != 6 || v.CompletedIndexes != "0-5" {
		t.Fatalf("view = %+v", v)
	}
	for i := range 6 {
		if n := s.created[fmt.Sprintf("work-%d-0", i)]; n != 1 {
			t.Errorf("index %d created %d times", i, n)
		}
	}
	if len(s.created) != 6 {
		t.Errorf("created %v, want 6 pods", s.created)
	}
	// Indexed pods carry the index in env, label, annotation and hostname.
	for _, p := range s.jobPods() {
		idx := p.Labels[spec.JobCompletionIndexLabel]
		if p.Spec.Hostname != "work-"+idx || p.Spec.Containers[0].Env[0] != (spec.EnvVar{Name: spec.JobCompletionIndexEnv, Value: idx}) ||
			p.Labels[spec.JobNameLabel] != "work" || p.Labels[ControllerUIDLabel] == "" {
			t.Errorf("pod %s: hostname %q env %v labels %v", p.Name, p.Spec.Hostname, p.Spec.Containers[0].Env, p.Labels)
		}
		if p.Phase != api.PodSucceeded {
			t.Errorf("finished pod %s shows %s", p.Name, p.Phase)
		}
	}
	// The fixed point: nothing more happens.
	out := s.step()
	if out.MemoryChanged || len(out.Events) > 0 {
		t.Fatalf("a finished Job still changes: %v %v", out.Changed, out.Events)
	}
}

func TestJobRestartKeepsCounts(t *testing.T) {
	// A pod's outcome is counted once: planning again from a Memory that
	// already counted it (a new leader) counts nothing more.
	s := newSim(t, setOf(job("once", jobSpec(int32p(2), int32p(2), false, spec.RestartPolicyNever))), 1)
	s.outcome = func(n string) string { return api.PodSucceeded }
	s.step() // creates
	s.step() // counts both
	if v := s.out.Jobs[0]; v.Succeeded != 2 || len(v.Conditions) == 0 {
		t.Fatalf("view %+v", v)
	}
	again := Plan(s.in)
	if again.MemoryChanged || again.Jobs[0].Succeeded != 2 {
		t.Fatalf("re-plan changed memory: jobs %v pods %v", again.JobsChanged, again.Changed)
	}
}

func TestJobBackoffAndLimit(t *testing.T) {
	js := jobSpec(int32p(1), int32p(1), false, spec.RestartPolicyNever)
	js.BackoffLimit = int32p(2)
	s := newSim(t, setOf(job("flaky", js)), 1)
	s.outcome = func(string) string { return api.PodFailed }
	s.step() // flaky-0 created
	s.step() // flaky-0 failed: back-off 10 s
	if w := s.out.Wake; !w.Equal(s.in.Now.Add(10 * time.Second)) {
		t.Fatalf("wake %v, want now+10s", w)
	}
	if len(s.jobPods()) != 1 {
		t.Fatalf("a pod was created during back-off: %v", s.jobPods())
	}
	s.in.Now = s.out.Wake
	s.step() // flaky-1 created
	s.step() // flaky-1 failed: back-off 20 s
	if w := s.out.Wake; !w.Equal(s.in.Now.Add(20 * time.Second)) {
		t.Fatalf("second wake %v, want now+20s", w)
	}
	v := s.run(20)
	if v.Conditions[0].Type != JobFailed || v.Conditions[0].Reason != ReasonBackoffLimitExceeded || v.Failed != 3 {
		t.Fatalf("view %+v", v)
	}
	if len(s.created) != 3 {
		t.Fatalf("created %v, want 3 pods (backoffLimit 2)", s.created)
	}
	if jobBackoff(10) != JobBackoffMax || jobBackoff(3) != 40*time.Second {
		t.Fatalf("backoff %v %v", jobBackoff(10), jobBackoff(3))
	}
}

func TestJobIndexedRetryGetsNewName(t *testing.T) {
	s := newSim(t, setOf(job("idx", jobSpec(int32p(2), int32p(2), true, spec.RestartPolicyNever))), 1)
	s.outcome = func(n string) string {
		if n == "idx-1-0" {
			return api.PodFailed
		}
		return api.PodSucceeded
	}
	v := s.run(20)
	if v.Conditions[0].Type != JobComplete || s.created["idx-1-1"] != 1 || s.created["idx-0-0"] != 1 || len(s.created) != 3 {
		t.Fatalf("view %+v created %v", v, s.created)
	}
}

func TestJobOnFailureRestartsCount(t *testing.T) {
	js := jobSpec(int32p(1), int32p(1), false, spec.RestartPolicyOnFailure)
	js.BackoffLimit = int32p(3)
	s := newSim(t, setOf(job("crash", js)), 1)
	s.outcome = func(string) string { return "" }
	s.step()
	s.step()
	for node, sts := range s.in.Observed {
		sts[0].Containers[0].RestartCount = 3
		s.in.Observed[node] = sts
	}
	s.step()
	v := s.out.Jobs[0]
	if len(v.Conditions) == 0 || v.Conditions[0].Reason != ReasonBackoffLimitExceeded || len(s.jobPods()) != 0 {
		t.Fatalf("view %+v pods %v", v, s.jobPods())
	}
}

func TestJobActiveDeadline(t *testing.T) {
	js := jobSpec(int32p(1), int32p(1), false, spec.RestartPolicyNever)
	js.ActiveDeadlineSeconds = ptr(int64(30))
	s := newSim(t, setOf(job("slow", js)), 1)
	s.outcome = func(string) string { return "" }
	s.step()
	if !s.out.Wake.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("wake %v, want the deadline", s.out.Wake)
	}
	s.in.Now = s.out.Wake
	s.step()
	v := s.out.Jobs[0]
	if v.Conditions[0].Reason != ReasonDeadlineExceeded || len(s.jobPods()) != 0 {
		t.Fatalf("view %+v pods %v", v, s.jobPods())
	}
}

func TestJobPodFailurePolicy(t *testing.T) {
	js := jobSpec(int32p(3), int32p(3), true, spec.RestartPolicyNever)
	js.PodFailurePolicy = &spec.PodFailurePolicy{Rules: []spec.PodFailurePolicyRule{
		{Action: spec.PodFailurePolicyActionIgnore, OnPodConditions: []spec.PodFailurePolicyOnPodConditionsPattern{{Type: DisruptionTargetCondition}}},
		{Action: spec.PodFailurePolicyActionFailJob, OnExitCodes: &spec.PodFailurePolicyOnExitCodesRequirement{Operator: spec.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
	}}
	s := newSim(t, setOf(job("pfp", js)), 2)
	s.outcome = func(string) string { return "" }
	s.step()
	s.step()
	// node-000 dies: its pods failed with DisruptionTarget, ignored.
	lost := s.out.Pods[0].Node
	for i := range s.in.Nodes {
		if s.in.Nodes[i].Info.Name == lost {
			s.in.Nodes[i].Alive = false
		}
	}
	s.step()
	v := s.out.Jobs[0]
	if v.Failed != 0 || len(v.Conditions) != 0 {
		t.Fatalf("a disruption counted: %+v", v)
	}
	for _, p := range s.jobPods() {
		if p.Node == lost {
			t.Fatalf("pod %s kept on the lost node", p.Name)
		}
	}
	// Exit code 42 fails the Job at once.
	obs := s.in.Observed
	for node, sts := range obs {
		for i := range sts {
			sts[i].Phase = api.PodFailed
			sts[i].Containers[0].State = api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 42}}
		}
		obs[node] = sts
	}
	s.step()
	v = s.out.Jobs[0]
	if len(v.Conditions) == 0 || v.Conditions[0].Reason != ReasonPodFailurePolicy {
		t.Fatalf("view %+v", v)
	}
}

func TestJobSuspendAndTTL(t *testing.T) {
	js := jobSpec(int32p(1), int32p(1), false, spec.RestartPolicyNever)
	js.Suspend = ptr(true)
	js.TTLSecondsAfterFinished = int32p(60)
	s := newSim(t, setOf(job("later", js)), 1)
	s.step()
	if len(s.jobPods()) != 0 || !s.out.Jobs[0].Suspended {
		t.Fatalf("suspended Job ran: %v", s.out.Jobs)
	}
	js.Suspend = ptr(false)
	s.in.Desired = setOf(job("later", js))
	v := s.run(10)
	if v.Conditions[0].Type != JobComplete || len(s.jobPods()) != 1 {
		t.Fatalf("view %+v pods %v", v, s.jobPods())
	}
	if want := v.Finished.Add(60 * time.Second); !s.out.Wake.Equal(want) {
		t.Fatalf("wake %v, want %v", s.out.Wake, want)
	}
	s.in.Now = s.out.Wake
	s.step()
	if len(s.jobPods()) != 0 || s.out.Jobs[0].Succeeded != 1 {
		t.Fatalf("after ttl: pods %v view %+v", s.jobPods(), s.out.Jobs)
	}
	s.step()
	if s.out.MemoryChanged || len(s.created) != 1 {
		t.Fatalf("a cleaned Job ran again: created %v", s.created)
	}
}

func TestJobTemplateChangeStartsNewRun(t *testing.T) {
	js := jobSpec(int32p(1), int32p(1), false, spec.RestartPolicyNever)
	s := newSim(t, setOf(job("mig", js)), 1)
	v := s.run(10)
	uid := v.UID
	js.Template.Spec.Containers[0].Image = "worker:2"
	s.in.Desired = setOf(job("mig", js))
	s.step()
	v2 := s.out.Jobs[0]
	if v2.UID == uid || len(v2.Conditions) != 0 || v2.Succeeded != 0 {
		t.Fatalf("no new run: %+v", v2)
	}
	v2 = s.run(10)
	if v2.Conditions[0].Type != JobComplete {
		t.Fatalf("%+v", v2)
	}
	// Parallelism changes apply to the run: no new run.
	js.Parallelism = int32p(2)
	s.in.Desired = setOf(job("mig", js))
	s.step()
	if s.out.Jobs[0].UID != v2.UID {
		t.Fatal("a parallelism change started a new run")
	}
	// Leaving Git drops the record and the pods.
	s.in.Desired = setOf()
	s.step()
	if len(s.out.Memory.Jobs) != 0 || len(s.jobPods()) != 0 {
		t.Fatalf("left: %v %v", s.out.Memory.Jobs, s.jobPods())
	}
}

func TestJobWorkQueue(t *testing.T) {
	s := newSim(t, setOf(job("q", jobSpec(nil, int32p(3), false, spec.RestartPolicyNever))), 1)
	s.outcome = func(n string) string {
		if n == "q-0" {
			return api.PodSucceeded
		}
		return ""
	}
	s.step()
	s.step()
	if v := s.out.Jobs[0]; v.Succeeded != 1 || len(v.Conditions) != 0 || v.Active != 2 {
		t.Fatalf("view %+v", v)
	}
	s.outcome = func(string) string { return api.PodSucceeded }
	s.in.Observed = map[string][]api.PodStatus{}
	v := s.run(10)
	if v.Conditions[0].Type != JobComplete || len(s.created) != 3 {
		t.Fatalf("view %+v created %v", v, s.created)
	}
}

func TestFinishedPodsHoldNoResources(t *testing.T) {
	// 40 completions at parallelism 4 on a node that fits 4 pods.
	s := newSim(t, setOf(job("many", jobSpec(int32p(40), int32p(4), false, spec.RestartPolicyNever))), 1)
	s.in.Nodes[0].Info.Allocatable.MilliCPU = 400
	v := s.run(200)
	if v.Conditions[0].Type != JobComplete || v.Succeeded != 40 {
		t.Fatalf("view %+v", v)
	}
}

func TestIndexes(t *testing.T) {
	m := parseIndexes("0-2,5,7-8")
	if formatIndexes(m) != "0-2,5,7-8" || len(m) != 6 {
		t.Fatalf("%v", m)
	}
	if formatIndexes(nil) != "" || len(parseIndexes("")) != 0 {
		t.Fatal("empty")
	}
}

func TestJobThousandCompletionsRunThrough(t *testing.T) {
	// 1,000 completions at parallelism 30 on 3 nodes that fit 12 pods
	// each: it completes only because finished pods hold nothing.
	s := newSim(t, setOf(job("big", jobSpec(int32p(1000), int32p(30), true, spec.RestartPolicyNever))), 3)
	for i := range s.in.Nodes {
		s.in.Nodes[i].Info.Allocatable.MilliCPU = 1200
	}
	v := s.run(400)
	if v.Conditions[0].Type != JobComplete || v.Succeeded != 1000 || v.CompletedIndexes != "0-999" || len(s.created) != 1000 {
		t.Fatalf("view %+v created %d", v, len(s.created))
	}
	// Only the most recent finished pods stay on the nodes: each would
	// hold an address of its node's pod CIDR (a /24 holds 254).
	if n := len(s.out.Memory.Pods); n != MaxFinishedJobPods {
		t.Fatalf("%d pod records left, want the %d most recent finished", n, MaxFinishedJobPods)
	}
	for _, r := range s.out.Memory.Pods {
		if i := podIndex(&r); i < 1000-MaxFinishedJobPods-jobTestSlack {
			t.Errorf("kept %s (index %d): not among the most recent", r.Name, i)
		}
	}
}

// jobTestSlack is how far out of creation order the last indexes may
// finish in the simulation.
const jobTestSlack = 30
