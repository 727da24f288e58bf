package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// Jobs and CronJobs (reconcile.JobView, CronJobView).
const (
	PathJobs     = "/v1/jobs"                        // GET ?namespace= → JobList; ?watch=1 → WatchEvents of Jobs; POST CreateJobRequest → Job
	PathJob      = "/v1/jobs/{namespace}/{name}"     // GET → JobDescription
	PathCronJobs = "/v1/cronjobs"                    // GET ?namespace= → CronJobList; ?watch=1 → WatchEvents of CronJobs
	PathCronJob  = "/v1/cronjobs/{namespace}/{name}" // GET → CronJobDescription
)

// Job is one Job run: Git's, a CronJob's child, or one ctl created.
type Job struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// UID is the run's controller-uid (its pods' label).
	UID string `json:"uid"`
	// CronJob ("namespace/name") made it; CreatedBy is set when ctl did.
	CronJob   string `json:"cronJob,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	// Completions is the desired count, -1 for a work queue (unset
	// completions); Parallelism bounds the active pods; CompletionMode
	// is NonIndexed or Indexed.
	Completions    int32  `json:"completions"`
	Parallelism    int32  `json:"parallelism"`
	CompletionMode string `json:"completionMode"`
	Suspended      bool   `json:"suspended,omitempty"`
	Active         int32  `json:"active"`
	Succeeded      int32  `json:"succeeded"`
	Failed         int32  `json:"failed"`
	// CompletedIndexes and FailedIndexes of an Indexed Job ("0-3,5").
	CompletedIndexes string    `json:"completedIndexes,omitempty"`
	FailedIndexes    string    `json:"failedIndexes,omitempty"`
	Created          time.Time `json:"created,omitzero"`
	// StartTime is when the run started (or resumed); CompletionTime
	// when it completed or failed.
	StartTime      time.Time `json:"startTime,omitzero"`
	CompletionTime time.Time `json:"completionTime,omitzero"`
	// Conditions are Complete, Failed (reasons BackoffLimitExceeded,
	// DeadlineExceeded, PodFailurePolicy, FailedIndexes) or Suspended.
	Conditions []agentapi.Condition `json:"conditions,omitempty"`
	Selector   map[string]string    `json:"selector,omitempty"`
	Containers []string             `json:"containers,omitempty"`
	Images     []string             `json:"images,omitempty"`
}

// JobList is GET /v1/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
}

// JobDescription is GET /v1/jobs/{namespace}/{name}: the Job, its pods and
// the events about it and them.
type JobDescription struct {
	Job    Job     `json:"job"`
	Pods   []Pod   `json:"pods"`
	Events []Event `json:"events"`
}

// CronJob is one CronJob and its children.
type CronJob struct {
	Namespace         string `json:"namespace"`
	Name              string `json:"name"`
	Schedule          string `json:"schedule"`
	TimeZone          string `json:"timeZone,omitempty"`
	Suspend           bool   `json:"suspend"`
	ConcurrencyPolicy string `json:"concurrencyPolicy"`
	// Active names the children that have not finished.
	Active []string `json:"active,omitempty"`
	// LastScheduleTime is the slot of the last child made;
	// LastSuccessfulTime when the last successful child finished;
	// NextScheduleTime the next slot.
	LastScheduleTime   time.Time `json:"lastScheduleTime,omitzero"`
	LastSuccessfulTime time.Time `json:"lastSuccessfulTime,omitzero"`
	NextScheduleTime   time.Time `json:"nextScheduleTime,omitzero"`
	Created            time.Time `json:"created,omitzero"`
	// Problem says why it does not run (a schedule that does not parse).
	Problem string `json:"problem,omitempty"`
}

// CronJobList is GET /v1/cronjobs.
type CronJobList struct {
	CronJobs []CronJob `json:"cronJobs"`
}

// CronJobDescription is GET /v1/cronjobs/{namespace}/{name}: the
// CronJob, its children and the events about it.
type CronJobDescription struct {
	CronJob CronJob `json:"cronJob"`
	Jobs    []Job   `json:"jobs"`
	Events  []Event `json:"events"`
}

// CreateJobRequest is POST /v1/jobs: `ctl create job NAME
// --from=cronjob/CRON`, a Job made from a CronJob's jobTemplate.
type CreateJobRequest struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// From is "cronjob/NAME".
	From string `json:"from"`
}

// JobPath and CronJobPath build the paths of one Job and CronJob.
func JobPath(namespace, name string) string {
	return PathJobs + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// CronJobPath builds the path of one CronJob.
func CronJobPath(namespace, name string) string {
	return PathCronJobs + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// Jobs returns the Jobs of namespace ("" for all).
func (c *Client) Jobs(ctx context.Context, namespace string) ([]Job, error) {
	var l JobList
	err := c.do(ctx, http.MethodGet, PathJobs, nsQuery(namespace), &l)
	return l.Jobs, err
}

// CronJobs returns the CronJobs of namespace ("" for all).
func (c *Client) CronJobs(ctx context.Context, namespace string) ([]CronJob, error) {
	var l CronJobList
	err := c.do(ctx, http.MethodGet, PathCronJobs, nsQuery(namespace), &l)
	return l.CronJobs, err
}

// DescribeJob returns a Job with its pods and events.
func (c *Client) DescribeJob(ctx context.Context, namespace, name string) (*JobDescription, error) {
	var d JobDescription
	if err := c.do(ctx, http.MethodGet, JobPath(namespace, name), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// DescribeCronJob returns a CronJob with its children and events.
func (c *Client) DescribeCronJob(ctx context.Context, namespace, name string) (*CronJobDescription, error) {
	var d CronJobDescription
	if err := c.do(ctx, http.MethodGet, CronJobPath(namespace, name), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// CreateJob makes a Job from a CronJob's template (ctl create job).
func (c *Client) CreateJob(ctx context.Context, req CreateJobRequest) (*Job, error) {
	var j Job
	if err := c.doBody(ctx, http.MethodPost, PathJobs, nil, req, &j); err != nil {
		return nil, err
	}
	return &j, nil
}
