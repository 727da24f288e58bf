package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/fields"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Jobs and CronJobs: kubectl's tables (get jobs: NAME STATUS COMPLETIONS
// DURATION AGE; get cronjobs: NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST
// SCHEDULE AGE), their Kubernetes shapes for -o json|yaml, describe, and
// `ctl create job NAME --from=cronjob/CRON`.

// Resource types of this file (see resources in getcmd.go).
const (
	resJobs     = "jobs"
	resCronJobs = "cronjobs"
)

// jobKinds are the kinds of these resource types' tables.
var jobKinds = map[string]string{resJobs: spec.KindJob, resCronJobs: spec.KindCronJob}

// jobResource maps kubectl's names of these kinds to a resource type, or "".
func jobResource(s string) string {
	switch s {
	case "job", "jobs", "job.batch", "jobs.batch":
		return resJobs
	case "cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch":
		return resCronJobs
	}
	return ""
}

// fetchJobs lists one of this file's resource types.
func (fe *fetcher) fetchJobs(ctx context.Context, res string) ([]*item, error) {
	var items []*item
	if res == resJobs {
		jobs, err := fe.cl.Jobs(ctx, fe.ns)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			items = append(items, &item{kind: spec.KindJob, namespace: j.Namespace, name: j.Name, labels: j.Selector, wire: j,
				kube: kubeJob(j), fields: fields.Set{"metadata.name": j.Name, "metadata.namespace": j.Namespace, "status.successful": strconv.Itoa(int(j.Succeeded))}})
		}
		return items, nil
	}
	crons, err := fe.cl.CronJobs(ctx, fe.ns)
	if err != nil {
		return nil, err
	}
	for _, c := range crons {
		items = append(items, &item{kind: spec.KindCronJob, namespace: c.Namespace, name: c.Name, wire: c,
			kube: kubeCronJob(c), fields: fields.Set{"metadata.name": c.Name, "metadata.namespace": c.Namespace}})
	}
	return items, nil
}

// jobHeader is the table header of these kinds (nil for another).
func jobHeader(kind string, wide bool) []string {
	switch kind {
	case spec.KindJob:
		h := []string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"}
		if wide {
			h = append(h, "CONTAINERS", "IMAGES", "SELECTOR")
		}
		return h
	case spec.KindCronJob:
		h := []string{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"}
		if wide {
			h = append(h, "CONCURRENCY", "NEXT SCHEDULE")
		}
		return h
	}
	return nil
}

// jobRow is the table row of a Job or CronJob; ok is false for another.
func jobRow(name string, wire any, wide bool, now time.Time) (vals []string, ok bool) {
	switch w := wire.(type) {
	case api.Job:
		vals = []string{name, jobStatus(w), jobCompletions(w), jobDuration(w, now), age(w.Created)}
		if wide {
			vals = append(vals, strings.Join(w.Containers, ","), strings.Join(w.Images, ","), orNone(labelString(w.Selector)))
		}
		return vals, true
	case api.CronJob:
		last := "<none>"
		if !w.LastScheduleTime.IsZero() {
			last = age(w.LastScheduleTime)
		}
		vals = []string{name, w.Schedule, orNone(w.TimeZone), strconv.FormatBool(w.Suspend), strconv.Itoa(len(w.Active)), last, age(w.Created)}
		if wide {
			next := "<none>"
			if !w.NextScheduleTime.IsZero() {
				next = w.NextScheduleTime.UTC().Format(time.RFC3339)
			}
			vals = append(vals, w.ConcurrencyPolicy, next)
		}
		return vals, true
	}
	return nil, false
}

// jobStatus is kubectl's STATUS of a Job: Complete, Failed, Suspended or
// Running.
func jobStatus(j api.Job) string {
	for _, c := range j.Conditions {
		if c.Status == agentapi.ConditionTrue && (c.Type == "Complete" || c.Type == "Failed" || c.Type == "Suspended") {
			return c.Type
		}
	}
	return "Running"
}

// jobCompletions is kubectl's COMPLETIONS: succeeded/completions, or for a
// work queue (no completions) "succeeded/1 of parallelism".
func jobCompletions(j api.Job) string {
	if j.Completions < 0 {
		return fmt.Sprintf("%d/1 of %d", j.Succeeded, j.Parallelism)
	}
	return fmt.Sprintf("%d/%d", j.Succeeded, j.Completions)
}

// jobDuration is kubectl's DURATION: from start to completion, or to now
// while it runs; empty before it starts.
func jobDuration(j api.Job, now time.Time) string {
	if j.StartTime.IsZero() {
		return ""
	}
	end := j.CompletionTime
	if end.IsZero() {
		end = now
	}
	return humanDuration(end.Sub(j.StartTime))
}

// k8sJob is a batch/v1 Job as kubectl prints it.
type k8sJob struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Completions    *int32            `json:"completions,omitempty"`
		Parallelism    int32             `json:"parallelism"`
		CompletionMode string            `json:"completionMode"`
		Suspend        bool              `json:"suspend"`
		Selector       map[string]string `json:"selector,omitempty"`
	} `json:"spec"`
	Status struct {
		Active           int32                `json:"active,omitempty"`
		Succeeded        int32                `json:"succeeded,omitempty"`
		Failed           int32                `json:"failed,omitempty"`
		CompletedIndexes string               `json:"completedIndexes,omitempty"`
		FailedIndexes    string               `json:"failedIndexes,omitempty"`
		StartTime        *time.Time           `json:"startTime,omitempty"`
		CompletionTime   *time.Time           `json:"completionTime,omitempty"`
		Conditions       []agentapi.Condition `json:"conditions,omitempty"`
	} `json:"status"`
}

func kubeJob(j api.Job) k8sJob {
	o := k8sJob{APIVersion: spec.BatchV1, Kind: spec.KindJob,
		Metadata: objectMeta{Name: j.Name, Namespace: j.Namespace, UID: j.UID, CreationTimestamp: timePtr(j.Created)}}
	if j.CronJob != "" {
		_, cron, _ := strings.Cut(j.CronJob, "/")
		o.Metadata.OwnerReferences = []ownerReference{{APIVersion: spec.BatchV1, Kind: spec.KindCronJob, Name: cron, Controller: true}}
	}
	if j.Completions >= 0 {
		c := j.Completions
		o.Spec.Completions = &c
	}
	o.Spec.Parallelism, o.Spec.CompletionMode, o.Spec.Suspend, o.Spec.Selector = j.Parallelism, j.CompletionMode, j.Suspended, j.Selector
	s := &o.Status
	s.Active, s.Succeeded, s.Failed = j.Active, j.Succeeded, j.Failed
	s.CompletedIndexes, s.FailedIndexes = j.CompletedIndexes, j.FailedIndexes
	s.StartTime, s.CompletionTime, s.Conditions = timePtr(j.StartTime), timePtr(j.CompletionTime), j.Conditions
	return o
}

// k8sCronJob is a batch/v1 CronJob as kubectl prints it.
type k8sCronJob struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Schedule          string  `json:"schedule"`
		TimeZone          *string `json:"timeZone,omitempty"`
		Suspend           bool    `json:"suspend"`
		ConcurrencyPolicy string  `json:"concurrencyPolicy"`
	} `json:"spec"`
	Status struct {
		Active             []objectReference `json:"active,omitempty"`
		LastScheduleTime   *time.Time        `json:"lastScheduleTime,omitempty"`
		LastSuccessfulTime *time.Time        `json:"lastSuccessfulTime,omitempty"`
	} `json:"status"`
}

// objectReference is corev1.ObjectReference, as a CronJob's status.active
// lists its running Jobs.
type objectReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

func kubeCronJob(c api.CronJob) k8sCronJob {
	o := k8sCronJob{APIVersion: spec.BatchV1, Kind: spec.KindCronJob,
		Metadata: objectMeta{Name: c.Name, Namespace: c.Namespace, CreationTimestamp: timePtr(c.Created)}}
	o.Spec.Schedule, o.Spec.Suspend, o.Spec.ConcurrencyPolicy = c.Schedule, c.Suspend, c.ConcurrencyPolicy
	if c.TimeZone != "" {
		tz := c.TimeZone
		o.Spec.TimeZone = &tz
	}
	for _, a := range c.Active {
		o.Status.Active = append(o.Status.Active, objectReference{APIVersion: spec.BatchV1, Kind: spec.KindJob, Namespace: c.Namespace, Name: a})
	}
	o.Status.LastScheduleTime, o.Status.LastSuccessfulTime = timePtr(c.LastScheduleTime), timePtr(c.LastSuccessfulTime)
	return o
}

// describeJob prints a Job as kubectl describe job does, with its pods and
// events.
func (c *cli) describeJob(ctx context.Context, cl *api.Client, ns, name, output string) error {
	d, err := cl.DescribeJob(ctx, ns, name)
	if errors.Is(err, api.ErrNotFound) {
		return &exitErr{code: exitChanges, err: fmt.Errorf("job %s/%s not found", ns, name)}
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	return c.emit(output, d, func(w io.Writer) { printJobDescription(w, d, now()) })
}

func printJobDescription(w io.Writer, desc *api.JobDescription, now time.Time) {
	d := describer{w}
	j := desc.Job
	d.line(0, "Name", j.Name)
	d.line(0, "Namespace", j.Namespace)
	d.line(0, "Selector", orNone(labelString(j.Selector)))
	switch {
	case j.CronJob != "" && j.CreatedBy != "":
		d.line(0, "Controlled By", "CronJob/"+j.CronJob+" (created by "+j.CreatedBy+")")
	case j.CronJob != "":
		d.line(0, "Controlled By", "CronJob/"+j.CronJob)
	}
	d.line(0, "Parallelism", strconv.Itoa(int(j.Parallelism)))
	if j.Completions >= 0 {
		d.line(0, "Completions", strconv.Itoa(int(j.Completions)))
	} else {
		d.line(0, "Completions", "<unset>")
	}
	d.line(0, "Completion Mode", j.CompletionMode)
	d.line(0, "Suspend", strconv.FormatBool(j.Suspended))
	if !j.StartTime.IsZero() {
		d.line(0, "Start Time", stamp(j.StartTime))
	}
	if !j.CompletionTime.IsZero() {
		d.line(0, "Completed At", stamp(j.CompletionTime))
	}
	if s := jobDuration(j, now); s != "" {
		d.line(0, "Duration", s)
	}
	d.line(0, "Pods Statuses", fmt.Sprintf("%d Active / %d Succeeded / %d Failed", j.Active, j.Succeeded, j.Failed))
	if j.CompletionMode == spec.IndexedCompletion {
		d.line(0, "Completed Indexes", orNone(j.CompletedIndexes))
		if j.FailedIndexes != "" {
			d.line(0, "Failed Indexes", j.FailedIndexes)
		}
	}
	if len(j.Conditions) > 0 {
		d.head(0, "Conditions")
		for _, c := range j.Conditions {
			d.line(1, c.Type, strings.TrimSpace(c.Status+" "+c.Reason+" "+c.Message))
		}
	}
	d.head(0, "Pods")
	for _, p := range desc.Pods {
		fmt.Fprintf(w, "  %s  %s  %s\n", p.Name, podStatus(p), orNone(p.Node))
	}
	if len(desc.Events) == 0 {
		d.line(0, "Events", "<none>")
		return
	}
	printEvents(d, w, desc.Events)
}

// describeCronJob prints a CronJob with its children and events.
func (c *cli) describeCronJob(ctx context.Context, cl *api.Client, ns, name, output string) error {
	d, err := cl.DescribeCronJob(ctx, ns, name)
	if errors.Is(err, api.ErrNotFound) {
		return &exitErr{code: exitChanges, err: fmt.Errorf("cronjob %s/%s not found", ns, name)}
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	return c.emit(output, d, func(w io.Writer) { printCronJobDescription(w, d, now()) })
}

func printCronJobDescription(w io.Writer, desc *api.CronJobDescription, now time.Time) {
	d := describer{w}
	cj := desc.CronJob
	d.line(0, "Name", cj.Name)
	d.line(0, "Namespace", cj.Namespace)
	d.line(0, "Schedule", cj.Schedule)
	d.line(0, "Time Zone", orNone(cj.TimeZone))
	d.line(0, "Concurrency Policy", cj.ConcurrencyPolicy)
	d.line(0, "Suspend", strconv.FormatBool(cj.Suspend))
	if cj.LastScheduleTime.IsZero() {
		d.line(0, "Last Schedule Time", "<unset>")
	} else {
		d.line(0, "Last Schedule Time", stamp(cj.LastScheduleTime))
	}
	if !cj.NextScheduleTime.IsZero() {
		d.line(0, "Next Schedule Time", stamp(cj.NextScheduleTime))
	}
	d.line(0, "Active Jobs", orNone(strings.Join(cj.Active, ", ")))
	if cj.Problem != "" {
		d.line(0, "Problem", cj.Problem)
	}
	d.head(0, "Jobs")
	for _, j := range desc.Jobs {
		fmt.Fprintf(w, "  %s  %s  %s  %s\n", j.Name, jobStatus(j), jobCompletions(j), age(j.Created))
	}
	if len(desc.Events) == 0 {
		d.line(0, "Events", "<none>")
		return
	}
	printEvents(d, w, desc.Events)
}

// createCmd is `ctl create job NAME --from=cronjob/CRON`, the one
// imperative write: everything else comes from Git.
func (c *cli) createCmd() *cobra.Command {
	var namespace, from, output string
	var tok tokenOptions
	cmd := &cobra.Command{
		Use:   "create job NAME --from=cronjob/CRON | create token USER [--group G]... [--ttl D]",
		Short: "Run a CronJob's job template now as a Job (recorded as an event), or create an API token",
		Long: `Make a Job from a CronJob's jobTemplate, as kubectl create job --from=cronjob/NAME does: the
reconciler commits it through its raft log and runs it like the CronJob's children (it counts
in the CronJob's history, not against a slot). The CronJob must be in the applied revision.
An event on the Job names who asked. It is the one imperative write: Git describes the rest.

create token USER makes an API bearer token for USER and the --group groups (RBAC subjects of
kind User and Group match them), valid for --ttl (default: until revoked). Only a user RBAC allows
to create tokens (create tokens in stevedore.dev: cluster-admin) may. The secret is printed once;
the reconcilers keep only its SHA-256. ctl get tokens lists them, ctl delete token ID revokes one.`,
		Example: `  ctl create job backup-now --from=cronjob/backup -n ops
  ctl create token ci@example.com --group deployers --ttl 720h`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 2 && args[0] == "token" {
				if strings.TrimSpace(args[1]) == "" {
					return usageErr("create token takes a user name")
				}
				return nil
			}
			if len(args) != 2 || args[0] != "job" {
				return usageErr("create takes: create job NAME --from=cronjob/CRON, or create token USER")
			}
			if from == "" {
				return usageErr("create job needs --from=cronjob/CRON: Jobs otherwise come from Git")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if args[0] == "token" {
				return c.createToken(cmd.Context(), args[1], tok, output)
			}
			if namespace == "" {
				namespace = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			j, err := cl.CreateJob(ctx, api.CreateJobRequest{Namespace: namespace, Name: args[1], From: from})
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			return c.emit(output, kubeJob(*j), func(w io.Writer) { fmt.Fprintf(w, "job.batch/%s created\n", j.Name) })
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().StringVar(&from, "from", "", "the CronJob whose template to run: cronjob/NAME")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	cmd.Flags().StringArrayVar(&tok.groups, "group", nil, "create token: a group of the token's user (repeat for several)")
	cmd.Flags().DurationVar(&tok.ttl, "ttl", 0, "create token: how long the token is valid (e.g. 24h; default: until revoked)")
	return cmd
}
