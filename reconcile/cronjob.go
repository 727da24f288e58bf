package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/stevedore-dev/stevedore/spec"
)

// A CronJob makes a child Job at every slot of its schedule, by the
// leader's clock (Input.Now), read in its timeZone. The slot of the last
// child is in its CronJobRecord, which the daemon commits in the same
// entry as the child's JobRecord: a failover never fires a slot twice.
// As Kubernetes does, only the most recent missed slot runs (a warning
// says when more than 100 were missed), and with startingDeadlineSeconds
// a slot later than that is skipped; with concurrencyPolicy Forbid a slot
// waits while a child runs (and runs when it finishes, if still within
// the deadline), Replace stops the running children.

// CronJobRecord is what the core remembers of a CronJob.
type CronJobRecord struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Created is when the core first saw it: no slot before counts.
	Created time.Time `json:"created"`
	// LastSchedule is the slot of the last child it made.
	LastSchedule time.Time `json:"lastSchedule,omitzero"`
}

// Key returns "namespace/name", the record's key in Memory.CronJobs.
func (r *CronJobRecord) Key() string { return r.Namespace + "/" + r.Name }

// CronJob events.
const (
	EventCronCreated      = "SuccessfulCreate"
	EventCronMissed       = "TooManyMissedTimes"
	EventCronJobActive    = "JobAlreadyActive"
	EventCronUnparseable  = "UnparseableSchedule"
	EventCronDeletedChild = "SuccessfulDelete"
)

// maxMissed is how many missed slots pass silently.
const maxMissed = 100

// NewChildJob is the record of a child Job made from a CronJob's
// template: at a slot, or (slot zero) by ctl create job, createdBy saying
// who asked.
func NewChildJob(cj *spec.CronJob, name string, slot, now time.Time, uid, createdBy string) JobRecord {
	tmpl := &cj.Spec.JobTemplate
	ns := cj.Namespace
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	r := JobRecord{Namespace: ns, Name: name, UID: uid,
		Hash: spec.TemplateHash(&tmpl.Spec.Template), CronJob: namespaced(cj.Namespace, cj.Name),
		Slot: slot, CreatedBy: createdBy, Template: tmpl, Created: now}
	if !suspended(&tmpl.Spec) {
		r.Start = now
	}
	return r
}

// cronInGit says whether the CronJob key ("namespace/name") is desired
// (cronJobs has dropped the records of the others).
func (p *planner) cronInGit(key string) bool {
	_, ok := p.bs.crons[key]
	return ok
}

// gitCronJobs returns the CronJobs of Desired by key, and the keys sorted.
func (p *planner) gitCronJobs() (map[string]*spec.CronJob, []string) {
	m := map[string]*spec.CronJob{}
	if p.in.Desired != nil {
		for k, o := range p.in.Desired.Objects {
			if cj, ok := o.(*spec.CronJob); ok && k.Kind == spec.KindCronJob {
				m[namespaced(k.Namespace, k.Name)] = cj
			}
		}
	}
	return m, sortedKeys(m)
}

// pruneCrons forgets the CronJobs Git no longer has (their children go
// with them, job.go) and remembers the new ones.
func (p *planner) pruneCrons() {
	bs := p.bs
	git, keys := p.gitCronJobs()
	for _, key := range sortedKeys(bs.crons) {
		if git[key] == nil {
			delete(bs.crons, key)
		}
	}
	for _, key := range keys {
		if bs.crons[key] == nil {
			ns, name, _ := strings.Cut(key, "/")
			bs.crons[key] = &CronJobRecord{Namespace: ns, Name: name, Created: p.in.Now}
		}
	}
}

// cronJobs fires the CronJobs' due slots and returns the keys of the
// children it made.
func (p *planner) cronJobs() []string {
	git, keys := p.gitCronJobs()
	var made []string
	for _, key := range keys {
		if child := p.fireCron(key, git[key], p.bs.crons[key]); child != "" {
			made = append(made, child)
		}
	}
	return made
}

// cronHistories applies the CronJobs' history limits once the children
// ran (a child that finished in this plan counts).
func (p *planner) cronHistories() {
	git, keys := p.gitCronJobs()
	for _, key := range keys {
		p.cronHistory(key, git[key])
	}
}

// children returns the records of a CronJob's children, oldest first.
func (p *planner) children(key string) []*JobRecord {
	var out []*JobRecord
	for _, k := range sortedKeys(p.bs.jobs) {
		if r := p.bs.jobs[k]; r.CronJob == key {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b *JobRecord) int { return a.Created.Compare(b.Created) })
	return out
}

// fireCron makes the child of the CronJob's due slot, if any, returning
// its key, and notes when the next slot is.
func (p *planner) fireCron(key string, cj *spec.CronJob, rec *CronJobRecord) string {
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return ""
	}
	sched, loc, err := spec.CronSchedule(&cj.Spec)
	if err != nil {
		return "" // validation refuses it; the view says why
	}
	earliest := rec.Created
	if rec.LastSchedule.After(earliest) {
		earliest = rec.LastSchedule
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if s := p.in.Now.Add(-time.Duration(*d) * time.Second); s.After(earliest) {
			earliest = s
		}
	}
	slot, missed := lastSlot(sched, earliest.In(loc), p.in.Now)
	p.wakeAt(sched.Next(p.in.Now.In(loc)))
	if slot.IsZero() {
		return ""
	}
	var active []*JobRecord
	for _, c := range p.children(key) {
		if c.Condition == "" {
			active = append(active, c)
		}
	}
	switch cj.Spec.ConcurrencyPolicy {
	case spec.ForbidConcurrent:
		if len(active) > 0 {
			return "" // the slot waits; a child finishing plans again
		}
	case spec.ReplaceConcurrent:
		for _, c := range active {
			p.dropJob(c.Key(), "replaced by the Job of slot "+slot.UTC().Format(time.RFC3339)+" (concurrencyPolicy Replace)")
		}
	}
	if missed > maxMissed {
		p.cronEvent(key, "Warning", EventCronMissed, fmt.Sprintf("too many missed start times (%d): running only the most recent, %s; set or decrease startingDeadlineSeconds or check clock skew", missed, slot.UTC().Format(time.RFC3339)))
	}
	rec.LastSchedule = slot
	name := spec.CronJobJobName(cj.Name, slot)
	ckey := rec.Namespace + "/" + name
	if _, ok := p.bs.jobs[ckey]; ok {
		return "" // already made (never twice for one slot)
	}
	child := NewChildJob(cj, name, slot, p.in.Now, p.newUID("Job/"+ckey, ""), "")
	p.bs.jobs[ckey] = &child
	p.cronEvent(key, "", EventCronCreated, "Created job "+name)
	return ckey
}

// lastSlot returns the most recent slot after from and not after now,
// zero if none, and how many there were (counted up to maxMissed+1).
func lastSlot(sched cron.Schedule, from, now time.Time) (time.Time, int) {
	var last time.Time
	missed := 0
	t := sched.Next(from)
	for !t.IsZero() && !t.After(now) && missed <= maxMissed {
		last, missed = t, missed+1
		t = sched.Next(t)
	}
	if missed <= maxMissed {
		return last, missed
	}
	// Many missed: look for the last one from a recent start instead of
	// walking every slot of a long outage.
	for _, d := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 32 * 24 * time.Hour, 366 * 24 * time.Hour} {
		start := now.Add(-d)
		if !start.After(last) {
			break
		}
		t := sched.Next(start.In(from.Location()))
		if t.IsZero() || t.After(now) {
			continue
		}
		for !t.IsZero() && !t.After(now) {
			last = t
			t = sched.Next(t)
		}
		return last, missed
	}
	for !t.IsZero() && !t.After(now) {
		last = t
		t = sched.Next(t)
	}
	return last, missed
}

// cronHistory drops the oldest finished children beyond the CronJob's
// history limits (3 successful, 1 failed by default).
func (p *planner) cronHistory(key string, cj *spec.CronJob) {
	okLimit, failLimit := 3, 1
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil {
		okLimit = max(int(*l), 0)
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil {
		failLimit = max(int(*l), 0)
	}
	var ok, failed []*JobRecord
	for _, c := range p.children(key) {
		switch c.Condition {
		case JobComplete:
			ok = append(ok, c)
		case JobFailed:
			failed = append(failed, c)
		}
	}
	byFinish := func(a, b *JobRecord) int { return a.Finished.Compare(b.Finished) }
	slices.SortStableFunc(ok, byFinish)
	slices.SortStableFunc(failed, byFinish)
	for _, c := range ok[:max(len(ok)-okLimit, 0)] {
		p.dropJob(c.Key(), "successfulJobsHistoryLimit of CronJob "+key)
	}
	for _, c := range failed[:max(len(failed)-failLimit, 0)] {
		p.dropJob(c.Key(), "failedJobsHistoryLimit of CronJob "+key)
	}
}

func (p *planner) cronEvent(key, typ, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: spec.KindCronJob + "/" + key, Reason: reason, Message: msg, Type: typ})
}

// cronViews lists the CronJobs once their children ran.
func (p *planner) cronViews() {
	git, keys := p.gitCronJobs()
	for _, key := range keys {
		cj, rec := git[key], p.bs.crons[key]
		v := CronJobView{Namespace: rec.Namespace, Name: rec.Name, Schedule: cj.Spec.Schedule,
			Suspend: cj.Spec.Suspend != nil && *cj.Spec.Suspend, ConcurrencyPolicy: cj.Spec.ConcurrencyPolicy,
			LastSchedule: rec.LastSchedule, Created: rec.Created}
		if v.ConcurrencyPolicy == "" {
			v.ConcurrencyPolicy = spec.AllowConcurrent
		}
		if cj.Spec.TimeZone != nil {
			v.TimeZone = *cj.Spec.TimeZone
		}
		for _, c := range p.children(key) {
			switch {
			case c.Condition == "":
				v.Active = append(v.Active, c.Name)
			case c.Condition == JobComplete && c.Finished.After(v.LastSuccessful):
				v.LastSuccessful = c.Finished
			}
		}
		if sched, loc, err := spec.CronSchedule(&cj.Spec); err != nil {
			v.Problem = err.Error()
		} else if !v.Suspend {
			v.Next = sched.Next(p.in.Now.In(loc))
		}
		p.bs.cronViews = append(p.bs.cronViews, v)
	}
}
