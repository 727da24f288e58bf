package spec

// BatchV1 is the API group and version of Job and CronJob.
const BatchV1 = "batch/v1"

// batch/v1 kinds.
const (
	KindJob     = "Job"
	KindCronJob = "CronJob"
)

// Job completion modes.
const (
	NonIndexedCompletion = "NonIndexed"
	IndexedCompletion    = "Indexed"
)

// Pod failure policy actions and exit-code operators.
const (
	PodFailurePolicyActionFailJob      = "FailJob"
	PodFailurePolicyActionFailIndex    = "FailIndex"
	PodFailurePolicyActionIgnore       = "Ignore"
	PodFailurePolicyActionCount        = "Count"
	PodFailurePolicyOnExitCodesOpIn    = "In"
	PodFailurePolicyOnExitCodesOpNotIn = "NotIn"
)

// CronJob concurrency policies.
const (
	AllowConcurrent   = "Allow"
	ForbidConcurrent  = "Forbid"
	ReplaceConcurrent = "Replace"
)

// Labels and annotation Kubernetes puts on a Job's pods; Stevedore sets the
// same.
const (
	JobNameLabel            = "batch.kubernetes.io/job-name"
	LegacyJobNameLabel      = "job-name"
	JobCompletionIndexLabel = "batch.kubernetes.io/job-completion-index"
	// JobCompletionIndexEnv is the variable an Indexed Job's containers get
	// their index in.
	JobCompletionIndexEnv = "JOB_COMPLETION_INDEX"
)

// Job is a batch/v1 Job: pods that run to completion, retried on failure,
// until a number of them have succeeded. Its progress is kept in the
// reconciler's raft store: a restart or failover does not run it again.
// A change to its template in Git starts a new run.
type Job struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the Job.
	Spec JobSpec `json:"spec"`
}

// JobSpec is the desired behaviour of a Job.
type JobSpec struct {
	// Parallelism is the most pods that run at once. Defaults to 1; 0
	// runs none (like suspend).
	Parallelism *int32 `json:"parallelism,omitempty"`
	// Completions is how many pods must succeed. Unset (NonIndexed only)
	// means a work queue: the Job succeeds once any pod has succeeded and
	// the others have stopped. Defaults to 1 when parallelism is unset too.
	Completions *int32 `json:"completions,omitempty"`
	// ActiveDeadlineSeconds is how long the Job may run, from its start,
	// before its pods are stopped and it fails with reason
	// DeadlineExceeded. More than 0 when set.
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// PodFailurePolicy decides, from a failed pod's exit codes or
	// conditions, whether the failure fails the Job, fails only the index,
	// is ignored or counts towards backoffLimit.
	PodFailurePolicy *PodFailurePolicy `json:"podFailurePolicy,omitempty"`
	// BackoffLimit is how many pod failures (and, with restartPolicy
	// OnFailure, container restarts) the Job tolerates before it fails
	// with reason BackoffLimitExceeded. Defaults to 6.
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// Selector is accepted only with ManualSelector true; otherwise the
	// pods are selected by the batch.kubernetes.io/job-name label the
	// reconciler puts on them.
	Selector *LabelSelector `json:"selector,omitempty"`
	// ManualSelector, when true, uses Selector as given. Defaults to
	// false.
	ManualSelector *bool `json:"manualSelector,omitempty"`
	// Template is the pod template; its restartPolicy must be Never or
	// OnFailure.
	Template PodTemplateSpec `json:"template"`
	// TTLSecondsAfterFinished, when set, is how long after the Job
	// completes or fails its pods are removed. The Job's outcome is kept
	// (it is not run again while Git keeps it).
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// CompletionMode is NonIndexed (any completions pods succeeding is
	// enough) or Indexed (each index 0 … completions-1 must succeed once;
	// the pod gets it in JOB_COMPLETION_INDEX, the
	// batch.kubernetes.io/job-completion-index label and annotation, and
	// the hostname <job>-<index>). Defaults to NonIndexed.
	CompletionMode *string `json:"completionMode,omitempty"`
	// Suspend, when true, creates no pods and stops the running ones;
	// the Job resumes when it turns false.
	Suspend *bool `json:"suspend,omitempty"`
}

// PodFailurePolicy is a list of rules applied, in order, to a failed pod;
// the first that matches decides.
type PodFailurePolicy struct {
	// Rules are tried in order; at most 20.
	Rules []PodFailurePolicyRule `json:"rules"`
}

// PodFailurePolicyRule matches a failed pod by its containers' exit codes
// or its conditions; exactly one of OnExitCodes and OnPodConditions is set.
type PodFailurePolicyRule struct {
	// Action is FailJob (the Job fails at once, reason PodFailurePolicy),
	// FailIndex (the index fails and is not retried; Indexed only), Ignore
	// (the failure does not count towards backoffLimit and the pod is
	// replaced) or Count (counted as usual).
	Action string `json:"action"`
	// OnExitCodes matches on the exit codes of the pod's containers.
	OnExitCodes *PodFailurePolicyOnExitCodesRequirement `json:"onExitCodes,omitempty"`
	// OnPodConditions matches on the pod's conditions (DisruptionTarget:
	// the pod was stopped because its node was lost or drained).
	OnPodConditions []PodFailurePolicyOnPodConditionsPattern `json:"onPodConditions,omitempty"`
}

// PodFailurePolicyOnExitCodesRequirement matches the exit codes of a failed
// pod's containers.
type PodFailurePolicyOnExitCodesRequirement struct {
	// ContainerName restricts the rule to one container; unset matches
	// any container's exit code.
	ContainerName *string `json:"containerName,omitempty"`
	// Operator is In (a container exited with one of Values) or NotIn (a
	// container exited non-zero with none of Values).
	Operator string `json:"operator"`
	// Values are exit codes: at most 255, sorted, without duplicates; 0 is
	// not allowed with In.
	Values []int32 `json:"values"`
}

// PodFailurePolicyOnPodConditionsPattern matches a pod condition.
type PodFailurePolicyOnPodConditionsPattern struct {
	// Type is the condition type, e.g. DisruptionTarget.
	Type string `json:"type"`
	// Status is True, False or Unknown. Defaults to True.
	Status string `json:"status,omitempty"`
}

// CronJob is a batch/v1 CronJob: it makes a Job from its template at every
// slot of a cron schedule, by the leading reconciler's clock, and never
// twice for one slot (across a failover too).
type CronJob struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the CronJob.
	Spec CronJobSpec `json:"spec"`
}

// CronJobSpec is the desired behaviour of a CronJob.
type CronJobSpec struct {
	// Schedule is a cron schedule: five fields (minute hour day-of-month
	// month day-of-week) or a macro (@hourly, @daily…, @every 5m).
	// +required
	Schedule string `json:"schedule"`
	// TimeZone is the IANA time zone the schedule is read in (e.g.
	// Europe/Paris). Defaults to the reconciler's local zone (UTC on
	// the usual host). CronSchedule reads schedule and zone as
	// validation does.
	TimeZone *string `json:"timeZone,omitempty"`
	// StartingDeadlineSeconds is how late a slot may still start a Job
	// (after a reconciler outage, say); a slot missed by more is skipped.
	// Unset means no deadline.
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// ConcurrencyPolicy is what to do at a slot while a Job of an earlier
	// one still runs: Allow (start another), Forbid (skip the slot) or
	// Replace (stop the running Job and start a new one). Defaults to
	// Allow.
	ConcurrencyPolicy string `json:"concurrencyPolicy,omitempty"`
	// Suspend, when true, starts no new Jobs; running ones go on.
	Suspend *bool `json:"suspend,omitempty"`
	// JobTemplate is the Job made at every slot, named
	// <cronjob>-<slot time in minutes since the epoch>.
	JobTemplate JobTemplateSpec `json:"jobTemplate"`
	// SuccessfulJobsHistoryLimit is how many completed Jobs are kept.
	// Defaults to 3.
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`
	// FailedJobsHistoryLimit is how many failed Jobs are kept. Defaults
	// to 1.
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
}

// JobTemplateSpec is the metadata and spec of the Jobs a CronJob makes.
type JobTemplateSpec struct {
	// ObjectMeta is the metadata of the Jobs: labels and annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the Jobs' spec.
	Spec JobSpec `json:"spec"`
}
