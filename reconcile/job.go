package reconcile

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// Jobs and CronJobs follow Kubernetes' job and cronjob controllers
// (docs/workloads.md). Unlike a Deployment's, a Job's pods depend on
// history: which indexes succeeded, how many pods failed, when the last
// one did. That history is a JobRecord in Memory.Jobs, replicated with
// the pods: the plan that sees a pod's outcome marks the pod's record
// Finished and counts it in the JobRecord, and the daemon commits both in
// one entry, so a restarted or new leader neither counts a pod twice nor
// runs a completed index again.
//
// A Job in Git runs once per template: its record keeps the template's
// hash, and a different template starts a new run (a new controller-uid,
// counts from zero), as does a change of completions or completionMode
// (fields Kubernetes does not let change: jobRunHash). Other changes
// (parallelism, suspend, deadlines, backoffLimit,
// ttlSecondsAfterFinished) apply to the run under way. A
// CronJob's children and the Jobs of `ctl create job --from=cronjob/…`
// are not in Git: their record keeps the Job template they were made
// from.

// JobRecord is what the core remembers of one run of a Job.
type JobRecord struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// UID is the run's controller-uid, on every pod of the run.
	UID string `json:"uid"`
	// Hash is the pod template's hash: a Git Job whose template hashes
	// otherwise starts a new run.
	Hash string `json:"hash"`
	// CronJob is the CronJob ("namespace/name") a child was made from;
	// empty for a Job of Git. Slot is the schedule time it was made for
	// (zero for ctl create job, whose CreatedBy says who asked).
	CronJob   string    `json:"cronJob,omitempty"`
	Slot      time.Time `json:"slot,omitzero"`
	CreatedBy string    `json:"createdBy,omitempty"`
	// Template is a child's Job, as its CronJob's jobTemplate was when it
	// was made (Git does not hold it); nil for a Job of Git.
	Template *spec.JobTemplateSpec `json:"template,omitempty"`
	Created  time.Time             `json:"created"`
	// Start is when the run started, or resumed after a suspension (zero
	// while suspended): activeDeadlineSeconds counts from it.
	Start time.Time `json:"start,omitzero"`
	// Succeeded and Failed count the pods whose outcome was counted
	// (Failed leaves out those a podFailurePolicy Ignore rule matched).
	Succeeded int32 `json:"succeeded,omitempty"`
	Failed    int32 `json:"failed,omitempty"`
	// Completed and FailedIndexes are an Indexed Job's succeeded indexes
	// and those failed by a FailIndex rule, as Kubernetes writes them
	// ("1,3-5,7").
	Completed     string `json:"completedIndexes,omitempty"`
	FailedIndexes string `json:"failedIndexes,omitempty"`
	// Attempts is, by index of an Indexed Job, how many of its pods
	// finished without completing it (the next pod's attempt number);
	// Seq counts a NonIndexed Job's pods, which are named by it.
	Attempts map[int32]int32 `json:"attempts,omitempty"`
	Seq      int32           `json:"seq,omitempty"`
	// Failures counts the failed pods since the last success and
	// LastFailure when the last one was counted: new pods wait 10 s
	// doubled per failure (at most 6 minutes) after it.
	Failures    int32     `json:"failures,omitempty"`
	LastFailure time.Time `json:"lastFailure,omitzero"`
	// Condition is JobComplete or JobFailed once the run finished, with
	// its reason, message and time (Finished).
	Condition string    `json:"condition,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message,omitempty"`
	Finished  time.Time `json:"finished,omitzero"`
	// Cleaned is set once ttlSecondsAfterFinished passed and the run's
	// pods were removed; the record stays while Git keeps the Job, so it
	// does not run again.
	Cleaned bool `json:"cleaned,omitempty"`
}

// Key returns "namespace/name", the record's key in Memory.Jobs.
func (r *JobRecord) Key() string { return r.Namespace + "/" + r.Name }

// Owner returns the owner key its pods carry ("Job/namespace/name").
func (r *JobRecord) Owner() string { return spec.KindJob + "/" + r.Key() }

// Job conditions and their reasons, as Kubernetes names them.
const (
	JobComplete  = "Complete"
	JobFailed    = "Failed"
	JobSuspended = "Suspended"

	ReasonCompletionsReached   = "CompletionsReached"
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonPodFailurePolicy     = "PodFailurePolicy"
	ReasonFailedIndexes        = "FailedIndexes"
	ReasonJobSuspended         = "JobSuspended"
)

// Job events.
const (
	// EventJobStarted: a run of a Job started (a new Job, or a new
	// template).
	EventJobStarted = "SuccessfulCreate"
	// EventJobCompleted and EventJobFailed: a run finished.
	EventJobCompleted = "Completed"
	EventJobFailed    = "BackoffLimitExceeded"
	// EventJobDeleted: a child Job was dropped (history limit, its
	// CronJob left Git, Replace) or a Job left Git.
	EventJobDeleted = "SuccessfulDelete"
)

// Label and annotation keys the core sets on a Job's pods beside
// spec.JobNameLabel and friends.
const (
	ControllerUIDLabel      = "controller-uid"
	BatchControllerUIDLabel = "batch.kubernetes.io/controller-uid"
	// JobCompletionIndexAnnot is the annotation an Indexed Job's pod
	// carries its index in (the label's name).
	JobCompletionIndexAnnot = spec.JobCompletionIndexLabel
	// DisruptionTargetCondition is the condition a pod lost with its
	// node or evicted by a NoExecute taint fails with (podFailurePolicy).
	DisruptionTargetCondition = "DisruptionTarget"
)

// batchState is one plan's working copy of Memory.Jobs and
// Memory.CronJobs.
type batchState struct {
	jobs      map[string]*JobRecord
	crons     map[string]*CronJobRecord
	jobViews  []JobView
	cronViews []CronJobView
	// wakes are the Jobs' wake times by key, noted once the plan knows
	// which Jobs are left.
	wakes map[string]time.Time
}

// jobWake notes that the Job key's outcome changes at t.
func (p *planner) jobWake(key string, t time.Time) {
	if !t.After(p.in.Now) {
		return
	}
	if w, ok := p.bs.wakes[key]; !ok || t.Before(w) {
		if p.bs.wakes == nil {
			p.bs.wakes = map[string]time.Time{}
		}
		p.bs.wakes[key] = t
	}
}

// hasBatch says whether the plan has any Job or CronJob to care for.
func (p *planner) hasBatch() bool {
	if len(p.in.Memory.Jobs) > 0 || len(p.in.Memory.CronJobs) > 0 {
		return true
	}
	return setHasBatch(p.in.Desired)
}

func setHasBatch(set *spec.Set) bool {
	if set == nil {
		return false
	}
	for k := range set.Objects {
		if k.Kind == spec.KindJob || k.Kind == spec.KindCronJob {
			return true
		}
	}
	return false
}

// batchPlanned says whether in must be planned in full because of Jobs
// or CronJobs; the answer for a Set is cached.
func (p *Planner) batchPlanned(in Input) bool {
	if len(in.Memory.Jobs) > 0 || len(in.Memory.CronJobs) > 0 {
		return true
	}
	if in.Desired != p.batchSet {
		p.batchSet, p.batchHas = in.Desired, setHasBatch(in.Desired)
	}
	return p.batchHas
}

// batch runs the CronJobs and Jobs (cronjob.go, job_pods.go) and returns
// desired with the Jobs' pods added, sorted.
func (p *planner) batch(desired []DesiredPod) []DesiredPod {
	if !p.hasBatch() {
		return desired
	}
	bs := &batchState{jobs: map[string]*JobRecord{}, crons: map[string]*CronJobRecord{}}
	for k, r := range p.in.Memory.Jobs {
		r := r
		bs.jobs[k] = &r
	}
	for k, r := range p.in.Memory.CronJobs {
		r := r
		bs.crons[k] = &r
	}
	p.bs = bs
	p.jobDrops = map[string]string{}
	p.pruneCrons()
	runs := p.jobRuns()
	// The records of Jobs' pods, by owner.
	byOwner := map[string][]string{}
	for _, k := range sortedPodKeys(p.mem) {
		if o := p.mem[k].Owner; strings.HasPrefix(o, spec.KindJob+"/") {
			byOwner[o] = append(byOwner[o], k)
		}
	}
	var extra []DesiredPod
	for _, r := range runs {
		extra = p.runJob(r, byOwner[r.rec.Owner()], extra)
		delete(byOwner, r.rec.Owner())
	}
	// The CronJobs fire once their children have run (Forbid sees a
	// child that finished in this plan), and their new children run at
	// once: the plan is its own fixed point.
	for _, key := range p.cronJobs() {
		r := p.bs.jobs[key]
		extra = p.runJob(jobRun{rec: r, spec: &r.Template.Spec, meta: &r.Template.ObjectMeta}, byOwner[r.Owner()], extra)
		delete(byOwner, r.Owner())
	}
	for owner, keys := range byOwner {
		for _, k := range keys {
			p.jobDrops[k] = owner + " is gone"
		}
	}
	p.cronHistories()
	extra = p.dropGone(extra)
	p.cronViews()
	// Time matters only to the Jobs that are left.
	for _, k := range sortedKeys(bs.wakes) {
		if bs.jobs[k] != nil {
			p.wakeAt(bs.wakes[k])
		}
	}
	if len(extra) == 0 {
		return desired
	}
	desired = append(desired, extra...)
	sortPods(desired)
	return desired
}

// dropGone takes the pods and views of the Jobs the history limits
// dropped out of extra and the views.
func (p *planner) dropGone(extra []DesiredPod) []DesiredPod {
	kept := extra[:0]
	for _, d := range extra {
		if p.bs.jobs[strings.TrimPrefix(d.Owner, spec.KindJob+"/")] != nil {
			kept = append(kept, d)
		} else if p.mem[d.Key()] != nil {
			p.jobDrops[d.Key()] = d.Owner + " is gone"
		}
	}
	views := p.bs.jobViews[:0]
	for _, v := range p.bs.jobViews {
		if p.bs.jobs[v.Namespace+"/"+v.Name] != nil {
			views = append(views, v)
		}
	}
	p.bs.jobViews = views
	return kept
}

// jobRun is one Job the plan runs: its record (a working copy) and spec.
type jobRun struct {
	rec  *JobRecord
	spec *spec.JobSpec
	// meta is the Job's metadata (Git's object, or a child's template).
	meta *spec.ObjectMeta
}

// jobRuns brings the records in line with Git's Jobs and the CronJobs'
// children and returns every run, sorted by key: a Git Job without a
// record, or whose template changed, starts a new run; a record whose Job
// left Git (or whose CronJob did) is dropped.
func (p *planner) jobRuns() []jobRun {
	bs := p.bs
	git := map[string]*spec.Job{}
	if p.in.Desired != nil {
		for k, o := range p.in.Desired.Objects {
			if j, ok := o.(*spec.Job); ok && k.Kind == spec.KindJob {
				git[namespaced(k.Namespace, k.Name)] = j
			}
		}
	}
	for _, key := range sortedKeys(git) {
		j := git[key]
		hash := jobRunHash(&j.Spec)
		old := bs.jobs[key]
		if old != nil && old.CronJob == "" && old.Hash == hash {
			continue
		}
		ns, name, _ := strings.Cut(key, "/")
		rec := &JobRecord{Namespace: ns, Name: name, Hash: hash, Created: p.in.Now}
		prev := ""
		if old != nil {
			prev = old.UID
		}
		rec.UID = p.newUID("Job/"+key, prev)
		if !suspended(&j.Spec) {
			rec.Start = p.in.Now
		}
		bs.jobs[key] = rec
		msg := "started run " + rec.UID
		if old != nil {
			msg += " (the template, completions or completionMode changed: a new run)"
		}
		p.jobEvent(key, EventJobStarted, msg)
	}
	var runs []jobRun
	for _, key := range sortedKeys(bs.jobs) {
		rec := bs.jobs[key]
		if j := git[key]; j != nil {
			runs = append(runs, jobRun{rec: rec, spec: &j.Spec, meta: &j.ObjectMeta})
			continue
		}
		if rec.CronJob != "" && rec.Template != nil && p.cronInGit(rec.CronJob) {
			runs = append(runs, jobRun{rec: rec, spec: &rec.Template.Spec, meta: &rec.Template.ObjectMeta})
			continue
		}
		why := "deleted from Git"
		if rec.CronJob != "" {
			why = "CronJob " + rec.CronJob + " deleted from Git"
		}
		p.dropJob(key, why)
	}
	return runs
}

// dropJob forgets a Job's record; its pods are dropped with it (batch).
func (p *planner) dropJob(key, why string) {
	delete(p.bs.jobs, key)
	p.jobEvent(key, EventJobDeleted, "deleted Job "+key+": "+why)
}

func (p *planner) jobEvent(key, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: spec.KindJob + "/" + key, Reason: reason, Message: msg})
}

func (p *planner) jobWarning(key, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: spec.KindJob + "/" + key, Reason: reason, Message: msg, Type: "Warning"})
}

func namespaced(ns, name string) string {
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	return ns + "/" + name
}

func suspended(js *spec.JobSpec) bool { return js.Suspend != nil && *js.Suspend }

// batchOutput fills the plan's job and cronjob memory, delta and views.
func (p *planner) batchOutput(out *Output) {
	if p.bs == nil {
		return
	}
	out.Memory.Jobs, out.JobsChanged, out.JobsDeleted = recordDelta(p.in.Memory.Jobs, p.bs.jobs)
	out.Memory.CronJobs, out.CronJobsChanged, out.CronJobsDeleted = recordDelta(p.in.Memory.CronJobs, p.bs.crons)
	if len(out.JobsChanged)+len(out.JobsDeleted)+len(out.CronJobsChanged)+len(out.CronJobsDeleted) > 0 {
		out.MemoryChanged = true
	}
	out.Jobs = p.bs.jobViews
	out.CronJobs = p.bs.cronViews
}

// recordDelta returns the new map (old itself when nothing changed) and
// the sorted keys of the records changed and deleted.
func recordDelta[R any](old map[string]R, now map[string]*R) (map[string]R, []string, []string) {
	var changed, deleted []string
	for _, k := range sortedKeys(now) {
		if o, ok := old[k]; !ok || !reflect.DeepEqual(&o, now[k]) {
			changed = append(changed, k)
		}
	}
	for _, k := range sortedKeys(old) {
		if _, ok := now[k]; !ok {
			deleted = append(deleted, k)
		}
	}
	if len(changed) == 0 && len(deleted) == 0 {
		return old, nil, nil
	}
	if len(now) == 0 {
		return nil, changed, deleted
	}
	m := make(map[string]R, len(now))
	for k, r := range now {
		m[k] = *r
	}
	return m, changed, deleted
}

// setAttempt sets the attempt count of index i, copying Attempts first
// (the input's map is shared).
func (r *JobRecord) setAttempt(i, n int32) {
	a := maps.Clone(r.Attempts)
	if a == nil {
		a = map[int32]int32{}
	}
	a[i] = n
	r.Attempts = a
}

// describeJob names a Job in messages.
func describeJob(r *JobRecord) string {
	return fmt.Sprintf("Job %s (run %s)", r.Key(), r.UID)
}

// jobRunHash identifies a run of a Git Job: its template's hash, with its
// completions and completion mode when set (Kubernetes makes them
// immutable; here changing them in Git starts a new run).
func jobRunHash(js *spec.JobSpec) string {
	h := spec.TemplateHash(&js.Template)
	if js.Completions != nil {
		h += "-c" + strconv.Itoa(int(*js.Completions))
	}
	if js.CompletionMode != nil && *js.CompletionMode == spec.IndexedCompletion {
		h += "-i"
	}
	return h
}
