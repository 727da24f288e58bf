package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Back-off before a failed Job creates pods again: 10 s, doubled per
// failure since the last success, at most 6 minutes (Kubernetes'
// DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff).
const (
	JobBackoffBase = 10 * time.Second
	JobBackoffMax  = 6 * time.Minute
)

// jobBackoff is the delay after the n-th failure since the last success.
func jobBackoff(n int32) time.Duration {
	if n <= 0 {
		return 0
	}
	d := JobBackoffBase
	for i := int32(1); i < n && d < JobBackoffMax; i++ {
		d *= 2
	}
	return min(d, JobBackoffMax)
}

// jobParams are a Job's numbers with Kubernetes' defaults applied (the
// spec package defaults them; a nil is still read safely).
type jobParams struct {
	parallelism int
	// completions is -1 for a work queue (unset, NonIndexed).
	completions  int
	backoffLimit int32
	indexed      bool
	onFailure    bool
}

func paramsOf(js *spec.JobSpec) jobParams {
	jp := jobParams{parallelism: 1, completions: -1, backoffLimit: 6}
	jp.indexed = js.CompletionMode != nil && *js.CompletionMode == spec.IndexedCompletion
	if js.Parallelism != nil {
		jp.parallelism = max(int(*js.Parallelism), 0)
	}
	switch {
	case js.Completions != nil:
		jp.completions = max(int(*js.Completions), 0)
	case js.Parallelism == nil || jp.indexed:
		jp.completions = 1
	}
	if js.BackoffLimit != nil {
		jp.backoffLimit = *js.BackoffLimit
	}
	jp.onFailure = js.Template.Spec.RestartPolicy == spec.RestartPolicyOnFailure
	return jp
}

// runJob counts the outcomes of a run's pods, decides whether the run
// finished, creates the pods it still needs and returns extra with the
// desired pods of the run (kept and new) appended. keys are the records
// of the Job's pods, sorted; those of another run are dropped.
func (p *planner) runJob(r jobRun, keys []string, extra []DesiredPod) []DesiredPod {
	rec, js := r.rec, r.spec
	jp := paramsOf(js)
	key := rec.Key()
	completed := parseIndexes(rec.Completed)
	failedIdx := parseIndexes(rec.FailedIndexes)
	var active, kept []string
	restarts, created := int32(0), 0
	activeIdx := map[int]bool{}
	for _, k := range keys {
		pod := p.mem[k]
		if pod.Labels[ControllerUIDLabel] != rec.UID {
			p.jobDrops[k] = "superseded by run " + rec.UID + " of Job " + key
			continue
		}
		lost := pod.Node != "" && (!p.aliveOrUnknown(pod.Node) || p.evicting(pod.Node, &pod.Spec) != nil)
		// ctl delete pod: the pod goes and, unfinished, counts as failed
		// (Kubernetes counts a deleted Job pod as failed; it is no
		// disruption), and is never re-created under its name.
		deleted := p.deleting(pod)
		if pod.Finished != "" {
			if lost || deleted {
				// Its outcome is counted; re-creating it would run it again.
				p.jobDrops[k] = "node " + pod.Node + " lost or evicting, or deleted; the outcome is kept"
			} else {
				kept = append(kept, k)
			}
			continue
		}
		st := p.observed[pod.UID]
		outcome, disrupted := "", ""
		switch {
		case st != nil && (st.Phase == api.PodSucceeded || st.Phase == api.PodFailed):
			outcome = st.Phase
		case lost:
			outcome, disrupted = api.PodFailed, "node "+pod.Node+" lost or evicting"
		case deleted:
			outcome = api.PodFailed
			p.jobDrops[k] = "deleted through the API (ctl delete pod)"
		}
		if outcome == "" {
			active = append(active, k)
			activeIdx[podIndex(pod)] = true
			if st != nil {
				restarts += podRestarts(st)
			}
			continue
		}
		pod.Finished = outcome
		p.touch(k)
		if disrupted != "" {
			p.jobDrops[k] = disrupted
		} else if !deleted {
			kept = append(kept, k)
		}
		if rec.Condition != "" {
			continue // finished before: not counted
		}
		p.countOutcome(rec, js, jp, pod, st, disrupted, completed, failedIdx)
	}
	rec.Completed, rec.FailedIndexes = formatIndexes(completed), formatIndexes(failedIdx)

	if rec.Condition == "" {
		if rec.Start.IsZero() && !suspended(js) {
			rec.Start = p.in.Now // resumed
		}
		stop := p.jobFinish(rec, js, jp, len(active), restarts, completed, failedIdx)
		switch {
		case stop != "":
			for _, k := range active {
				p.jobDrops[k] = stop
			}
			active = nil
		case suspended(js):
			for _, k := range active {
				p.jobDrops[k] = "Job " + key + " suspended"
			}
			active = nil
			rec.Start = time.Time{}
		default:
			if len(active) > jp.parallelism {
				for _, k := range active[jp.parallelism:] {
					p.jobDrops[k] = "parallelism of Job " + key + " lowered"
				}
				active = active[:jp.parallelism]
			}
			before := len(extra)
			extra = p.jobCreate(r, jp, len(active), activeIdx, completed, failedIdx, extra)
			created = len(extra) - before
		}
	}
	if rec.Condition != "" && js.TTLSecondsAfterFinished != nil && !rec.Cleaned {
		at := rec.Finished.Add(time.Duration(*js.TTLSecondsAfterFinished) * time.Second)
		if p.in.Now.Before(at) {
			p.jobWake(rec.Key(), at)
		} else {
			rec.Cleaned = true
			p.jobEvent(key, EventJobDeleted, "ttlSecondsAfterFinished passed: removed the pods of "+describeJob(rec))
		}
	}
	kept = p.trimFinished(key, kept)
	for _, k := range append(kept, active...) {
		if rec.Cleaned {
			p.jobDrops[k] = "ttlSecondsAfterFinished of Job " + key + " passed"
			continue
		}
		pod := p.mem[k]
		extra = append(extra, DesiredPod{Namespace: pod.Namespace, Name: pod.Name, key: k, Owner: pod.Owner,
			Labels: pod.Labels, Annotations: pod.Annotations, Spec: &pod.Spec, Hash: pod.Hash, Index: podIndex(pod)})
	}
	p.bs.jobViews = append(p.bs.jobViews, p.jobView(r, jp, len(active)+created))
	return extra
}

// countOutcome counts a finished pod in its run.
func (p *planner) countOutcome(rec *JobRecord, js *spec.JobSpec, jp jobParams, pod *PodRecord, st *api.PodStatus, disrupted string, completed, failedIdx map[int]bool) {
	i := podIndex(pod)
	if pod.Finished == api.PodSucceeded {
		if !jp.indexed || !completed[i] {
			rec.Succeeded++
		}
		if jp.indexed {
			completed[i] = true
		}
		rec.Failures = 0
		return
	}
	action, why := failureAction(js.PodFailurePolicy, st, disrupted != "")
	if jp.indexed {
		rec.setAttempt(int32(i), rec.Attempts[int32(i)]+1)
	}
	msg := "pod " + pod.Name + " failed"
	if disrupted != "" {
		msg += ": " + disrupted
	} else if c := exitSummary(st); c != "" {
		msg += ": " + c
	}
	switch action {
	case spec.PodFailurePolicyActionIgnore:
		p.jobEvent(rec.Key(), "PodFailureIgnored", msg+" (ignored by podFailurePolicy: "+why+")")
		return
	case spec.PodFailurePolicyActionFailJob:
		rec.Failed++
		p.finishJob(rec, JobFailed, ReasonPodFailurePolicy, "Container "+why+" matched a FailJob rule: "+msg)
		return
	case spec.PodFailurePolicyActionFailIndex:
		rec.Failed++
		if jp.indexed {
			failedIdx[i] = true
		}
		return
	}
	rec.Failed++
	rec.Failures++
	rec.LastFailure = p.in.Now
}

// jobFinish decides whether an unfinished run is now complete or failed;
// it returns why its active pods stop, empty while it runs on.
func (p *planner) jobFinish(rec *JobRecord, js *spec.JobSpec, jp jobParams, active int, restarts int32, completed, failedIdx map[int]bool) string {
	key := rec.Key()
	if js.ActiveDeadlineSeconds != nil && !rec.Start.IsZero() && !suspended(js) {
		end := rec.Start.Add(time.Duration(*js.ActiveDeadlineSeconds) * time.Second)
		if !p.in.Now.Before(end) {
			p.finishJob(rec, JobFailed, ReasonDeadlineExceeded, "Job was active longer than specified deadline")
			return "activeDeadlineSeconds of Job " + key + " passed"
		}
		// Noted only if the run goes on (below).
		defer func() {
			if rec.Condition == "" {
				p.jobWake(key, end)
			}
		}()
	}
	pastOnFailure := jp.onFailure && (jp.backoffLimit == 0 && restarts > 0 || jp.backoffLimit > 0 && restarts >= jp.backoffLimit)
	if rec.Failed > jp.backoffLimit || pastOnFailure {
		p.finishJob(rec, JobFailed, ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
		return "Job " + key + " failed"
	}
	switch {
	case jp.indexed:
		if len(completed)+len(failedIdx) >= jp.completions {
			if len(failedIdx) > 0 {
				p.finishJob(rec, JobFailed, ReasonFailedIndexes, "Job has failed indexes")
				return "Job " + key + " failed"
			}
			p.finishJob(rec, JobComplete, ReasonCompletionsReached, "Reached expected number of succeeded pods")
			return "Job " + key + " complete"
		}
	case jp.completions >= 0:
		if int(rec.Succeeded) >= jp.completions {
			p.finishJob(rec, JobComplete, ReasonCompletionsReached, "Reached expected number of succeeded pods")
			return "Job " + key + " complete"
		}
	default:
		// A work queue: done once a pod succeeded and the others stopped.
		if rec.Succeeded > 0 && active == 0 {
			p.finishJob(rec, JobComplete, ReasonCompletionsReached, "A pod succeeded and no pod is active")
			return "Job " + key + " complete"
		}
	}
	if rec.Condition != "" {
		return "Job " + key + " failed" // a FailJob rule
	}
	return ""
}

// finishJob sets a run's final condition, once.
func (p *planner) finishJob(rec *JobRecord, cond, reason, msg string) {
	if rec.Condition != "" {
		return
	}
	rec.Condition, rec.Reason, rec.Message, rec.Finished = cond, reason, msg, p.in.Now
	if cond == JobComplete {
		p.jobEvent(rec.Key(), EventJobCompleted, "Job completed")
	} else {
		p.jobWarning(rec.Key(), reason, msg)
	}
}

// jobCreate appends the pods a running Job lacks to extra: up to
// parallelism active, the lowest pending indexes first, after the
// back-off of its last failure.
func (p *planner) jobCreate(r jobRun, jp jobParams, active int, activeIdx, completed, failedIdx map[int]bool, extra []DesiredPod) []DesiredPod {
	rec := r.rec
	var indexes []int
	switch {
	case jp.indexed:
		for i := 0; i < jp.completions && active+len(indexes) < jp.parallelism; i++ {
			if !completed[i] && !failedIdx[i] && !activeIdx[i] {
				indexes = append(indexes, i)
			}
		}
	case jp.completions >= 0:
		n := min(jp.parallelism, jp.completions-int(rec.Succeeded)) - active
		for range max(n, 0) {
			indexes = append(indexes, -1)
		}
	case rec.Succeeded == 0:
		for range max(jp.parallelism-active, 0) {
			indexes = append(indexes, -1)
		}
	}
	if len(indexes) == 0 {
		return extra
	}
	if rec.Failures > 0 {
		if at := rec.LastFailure.Add(jobBackoff(rec.Failures)); p.in.Now.Before(at) {
			p.jobWake(rec.Key(), at)
			return extra
		}
	}
	for _, i := range indexes {
		extra = append(extra, p.jobPod(r, jp, i))
	}
	return extra
}

// jobPod is a new pod of a run: index i of an Indexed Job (-1 for a
// NonIndexed one, which is numbered by rec.Seq).
func (p *planner) jobPod(r jobRun, jp jobParams, i int) DesiredPod {
	rec, tmpl := r.rec, &r.spec.Template
	// A name still held by a pod of an earlier run (being dropped) is
	// skipped: the new pod is another pod, not that one's incarnation.
	var name string
	for {
		if jp.indexed {
			a := rec.Attempts[int32(i)]
			name = rec.Name + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(int(a))
			if p.mem[rec.Namespace+"/"+name] == nil {
				break
			}
			rec.setAttempt(int32(i), a+1)
		} else {
			name = rec.Name + "-" + strconv.Itoa(int(rec.Seq))
			rec.Seq++
			if p.mem[rec.Namespace+"/"+name] == nil {
				break
			}
		}
	}
	labels := make(map[string]string, len(tmpl.Labels)+5)
	maps.Copy(labels, tmpl.Labels)
	labels[spec.JobNameLabel] = rec.Name
	labels[spec.LegacyJobNameLabel] = rec.Name
	labels[ControllerUIDLabel] = rec.UID
	labels[BatchControllerUIDLabel] = rec.UID
	annotations := tmpl.Annotations
	ps := tmpl.Spec
	if jp.indexed {
		idx := strconv.Itoa(i)
		labels[spec.JobCompletionIndexLabel] = idx
		annotations = make(map[string]string, len(tmpl.Annotations)+1)
		maps.Copy(annotations, tmpl.Annotations)
		annotations[JobCompletionIndexAnnot] = idx
		ps.InitContainers = withIndexEnv(ps.InitContainers, idx)
		ps.Containers = withIndexEnv(ps.Containers, idx)
		if ps.Hostname == "" {
			ps.Hostname = rec.Name + "-" + idx
		}
	}
	ns := rec.Namespace
	return DesiredPod{Namespace: ns, Name: name, key: ns + "/" + name, Owner: rec.Owner(), Labels: labels,
		Annotations: annotations, Spec: &ps, Hash: rec.Hash, Index: max(i, 0)}
}

// withIndexEnv returns copies of cs with JOB_COMPLETION_INDEX set first
// (so that $(JOB_COMPLETION_INDEX) in later variables expands).
func withIndexEnv(cs []spec.Container, idx string) []spec.Container {
	if len(cs) == 0 {
		return cs
	}
	out := slices.Clone(cs)
	for i := range out {
		env := make([]spec.EnvVar, 0, len(out[i].Env)+1)
		env = append(env, spec.EnvVar{Name: spec.JobCompletionIndexEnv, Value: idx})
		for _, e := range out[i].Env {
			if e.Name != spec.JobCompletionIndexEnv {
				env = append(env, e)
			}
		}
		out[i].Env = env
	}
	return out
}

// podIndex is an Indexed Job pod's completion index (0 otherwise).
func podIndex(pod *PodRecord) int {
	i, err := strconv.Atoi(pod.Labels[spec.JobCompletionIndexLabel])
	if err != nil {
		return 0
	}
	return i
}

// podRestarts sums a pod's containers' restarts (init containers too).
func podRestarts(st *api.PodStatus) int32 {
	n := int32(0)
	for _, c := range st.Containers {
		n += c.RestartCount
	}
	for _, c := range st.InitContainers {
		n += c.RestartCount
	}
	return n
}

// exitSummary names the containers that exited non-zero.
func exitSummary(st *api.PodStatus) string {
	if st == nil {
		return ""
	}
	s := ""
	for _, c := range append(slices.Clone(st.InitContainers), st.Containers...) {
		if t := c.State.Terminated; t != nil && t.ExitCode != 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("container %s exited with code %d", c.Name, t.ExitCode)
		}
	}
	return s
}

// MaxFinishedJobPods is how many finished pods of one Job run stay in
// their nodes' sets (so that `ctl logs` and `ctl get pods` show them): the
// most recent ones. Older ones are removed once their outcome is counted,
// as Kubernetes' terminated-pod garbage collection and the kubelet's
// container GC do: each finished pod still holds its node's resources for
// a pod (an address of the node's pod CIDR, a sandbox), and a Job of
// thousands of completions would exhaust them.
const MaxFinishedJobPods = 20

// trimFinished keeps the MaxFinishedJobPods most recently created of a
// run's finished pods (keys) and drops the others.
func (p *planner) trimFinished(job string, keys []string) []string {
	if len(keys) <= MaxFinishedJobPods {
		return keys
	}
	sorted := slices.Clone(keys)
	slices.SortStableFunc(sorted, func(a, b string) int {
		if c := p.mem[b].Created.Compare(p.mem[a].Created); c != 0 {
			return c // newest first
		}
		return comparePodKeys(b, a)
	})
	for _, k := range sorted[MaxFinishedJobPods:] {
		p.jobDrops[k] = fmt.Sprintf("finished: its outcome is counted, and Job %s keeps its %d most recent finished pods", job, MaxFinishedJobPods)
	}
	keep := map[string]bool{}
	for _, k := range sorted[:MaxFinishedJobPods] {
		keep[k] = true
	}
	out := keys[:0:0]
	for _, k := range keys {
		if keep[k] {
			out = append(out, k)
		}
	}
	return out
}
