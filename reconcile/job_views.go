package reconcile

import (
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// JobView is one Job run and how far it got, for `ctl get jobs` (on the
// wire: reconcile/api.Job).
type JobView struct {
	Namespace string
	Name      string
	UID       string
	// CronJob is the CronJob ("namespace/name") a child was made from;
	// CreatedBy is set for a Job of ctl create job.
	CronJob   string
	CreatedBy string
	// Completions is the desired count, -1 for a work queue;
	// Parallelism the bound on active pods; Mode NonIndexed or Indexed.
	Completions int32
	Parallelism int32
	Mode        string
	Suspended   bool
	// Active, Succeeded and Failed count the run's pods.
	Active    int32
	Succeeded int32
	Failed    int32
	// CompletedIndexes and FailedIndexes, for an Indexed Job ("0-3,5").
	CompletedIndexes string
	FailedIndexes    string
	Created          time.Time
	Start            time.Time
	// Finished is when the run completed or failed (zero while it runs).
	Finished time.Time
	// Conditions are Complete, Failed or Suspended, as Kubernetes
	// reports them.
	Conditions []api.Condition
	Selector   map[string]string
	Containers []string
	Images     []string
}

// CronJobView is one CronJob, for `ctl get cronjobs` (on the wire:
// reconcile/api.CronJob).
type CronJobView struct {
	Namespace         string
	Name              string
	Schedule          string
	TimeZone          string
	Suspend           bool
	ConcurrencyPolicy string
	// Active names its children that have not finished.
	Active []string
	// LastSchedule is the slot of the last child made; LastSuccessful
	// when the last successful child finished; Next the next slot (zero
	// while suspended or when the schedule does not parse).
	LastSchedule   time.Time
	LastSuccessful time.Time
	Next           time.Time
	Created        time.Time
	// Problem says why the CronJob does not run (a schedule that does
	// not parse).
	Problem string
}

// jobView is the view of a run with active pods.
func (p *planner) jobView(r jobRun, jp jobParams, active int) JobView {
	rec := r.rec
	v := JobView{
		Namespace: rec.Namespace, Name: rec.Name, UID: rec.UID, CronJob: rec.CronJob, CreatedBy: rec.CreatedBy,
		Completions: int32(jp.completions), Parallelism: int32(jp.parallelism), Mode: spec.NonIndexedCompletion,
		Suspended: suspended(r.spec) && rec.Condition == "", Active: int32(active), Succeeded: rec.Succeeded, Failed: rec.Failed,
		CompletedIndexes: rec.Completed, FailedIndexes: rec.FailedIndexes,
		Created: rec.Created, Start: rec.Start, Finished: rec.Finished,
		Selector: map[string]string{ControllerUIDLabel: rec.UID},
	}
	if jp.indexed {
		v.Mode = spec.IndexedCompletion
	}
	for _, c := range r.spec.Template.Spec.Containers {
		v.Containers = append(v.Containers, c.Name)
		v.Images = append(v.Images, c.Image)
	}
	if v.Suspended {
		v.Conditions = append(v.Conditions, api.Condition{Type: JobSuspended, Status: api.ConditionTrue, Reason: ReasonJobSuspended, Message: "Job suspended"})
	}
	if rec.Condition != "" {
		v.Conditions = append(v.Conditions, api.Condition{Type: rec.Condition, Status: api.ConditionTrue,
			Reason: rec.Reason, Message: rec.Message, LastTransitionTime: rec.Finished})
	}
	return v
}
