package server

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// This file serves the Jobs and CronJobs from the view, and POST /v1/jobs:
// `ctl create job NAME --from=cronjob/CRON`, the one imperative write. It
// commits a child Job record from the CronJob's jobTemplate through raft
// (opJobCreate, store_jobs.go) and records an event naming who asked; the
// next plan runs it like any child of the CronJob.

// registerJobRoutes adds the Job and CronJob routes, served by the leader.
func (s *Server) registerJobRoutes(lead func(string, http.HandlerFunc)) {
	lead("GET "+api.PathJobs, s.handleJobs)
	lead("POST "+api.PathJobs, s.handleCreateJob)
	lead("GET "+api.PathJob, s.handleJob)
	lead("GET "+api.PathCronJobs, s.handleCronJobs)
	lead("GET "+api.PathCronJob, s.handleCronJob)
}

func wireJob(v reconcile.JobView) api.Job {
	return api.Job{Namespace: v.Namespace, Name: v.Name, UID: v.UID, CronJob: v.CronJob, CreatedBy: v.CreatedBy,
		Completions: v.Completions, Parallelism: v.Parallelism, CompletionMode: v.Mode, Suspended: v.Suspended,
		Active: v.Active, Succeeded: v.Succeeded, Failed: v.Failed,
		CompletedIndexes: v.CompletedIndexes, FailedIndexes: v.FailedIndexes,
		Created: v.Created, StartTime: v.Start, CompletionTime: v.Finished,
		Conditions: v.Conditions, Selector: v.Selector, Containers: v.Containers, Images: v.Images}
}

func wireCronJob(v reconcile.CronJobView) api.CronJob {
	return api.CronJob{Namespace: v.Namespace, Name: v.Name, Schedule: v.Schedule, TimeZone: v.TimeZone,
		Suspend: v.Suspend, ConcurrencyPolicy: v.ConcurrencyPolicy, Active: v.Active,
		LastScheduleTime: v.LastSchedule, LastSuccessfulTime: v.LastSuccessful, NextScheduleTime: v.Next,
		Created: v.Created, Problem: v.Problem}
}

// jobList returns the wire Jobs of namespace ("" for all).
func (v *view) jobList(ns string) []api.Job {
	out := []api.Job{}
	for _, j := range v.jobs {
		if ns == "" || j.Namespace == ns {
			out = append(out, wireJob(j))
		}
	}
	return out
}

func (v *view) cronJobList(ns string) []api.CronJob {
	out := []api.CronJob{}
	for _, c := range v.cronJobs {
		if ns == "" || c.Namespace == ns {
			out = append(out, wireCronJob(c))
		}
	}
	return out
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	if isWatch(r) {
		s.serveWatch(w, r, func(v *view) []keyed {
			var out []keyed
			for _, j := range v.jobList(ns) {
				out = append(out, keyed{key: j.Namespace + "/" + j.Name, obj: j})
			}
			return out
		})
		return
	}
	writeJSON(w, http.StatusOK, api.JobList{Jobs: s.view.Load().jobList(ns)})
}

func (s *Server) handleCronJobs(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	if isWatch(r) {
		s.serveWatch(w, r, func(v *view) []keyed {
			var out []keyed
			for _, c := range v.cronJobList(ns) {
				out = append(out, keyed{key: c.Namespace + "/" + c.Name, obj: c})
			}
			return out
		})
		return
	}
	writeJSON(w, http.StatusOK, api.CronJobList{CronJobs: s.view.Load().cronJobList(ns)})
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	v := s.view.Load()
	for _, j := range v.jobs {
		if j.Namespace != ns || j.Name != name {
			continue
		}
		d := api.JobDescription{Job: wireJob(j), Pods: []api.Pod{}}
		owner := spec.KindJob + "/" + ns + "/" + name
		for i := range v.views {
			if pv := v.views[i]; pv.Owner == owner && !pv.Terminating() {
				d.Pods = append(d.Pods, wirePod(pv))
			}
		}
		// The Job's events and its pods' (the reconciler's and their
		// agents').
		d.Events = s.events.matching(ns, owner)
		for _, p := range d.Pods {
			d.Events = append(d.Events, s.events.podEvents(ns, p.Name, p.UID)...)
		}
		sortEvents(d.Events)
		writeJSON(w, http.StatusOK, d)
		return
	}
	errs.WriteHTTP(w, errNotFound("job "+ns+"/"+name+" not found"))
}

func (s *Server) handleCronJob(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	v := s.view.Load()
	for _, c := range v.cronJobs {
		if c.Namespace != ns || c.Name != name {
			continue
		}
		d := api.CronJobDescription{CronJob: wireCronJob(c), Jobs: []api.Job{}}
		for _, j := range v.jobs {
			if j.CronJob == ns+"/"+name {
				d.Jobs = append(d.Jobs, wireJob(j))
			}
		}
		d.Events = s.events.matching(ns, spec.KindCronJob+"/"+ns+"/"+name)
		writeJSON(w, http.StatusOK, d)
		return
	}
	errs.WriteHTTP(w, errNotFound("cronjob "+ns+"/"+name+" not found"))
}

func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	var req api.CreateJobRequest
	if !decodeBody(w, r, maxJobBody, "the request", &req, false) {
		return
	}
	j, err := s.CreateJob(req, requester(r))
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, j)
}

// requester names who sent a request, for the event: the authenticated
// user (a forwarded request carries its caller's, authn.go), else its
// address; and the follower that forwarded it.
func requester(r *http.Request) string {
	who := r.RemoteAddr
	if u, ok := userFrom(r.Context()); ok && u.Name != insecureUser.Name {
		who = u.Name
	}
	if by := r.Header.Get(headerForwarded); by != "" {
		who += " via " + by
	}
	if ua := r.UserAgent(); ua != "" {
		who += " (" + ua + ")"
	}
	return who
}

// jobName is a DNS-1123 label: a Job's name is its pods' prefix.
var jobName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// CreateJob commits a Job made from a CronJob's jobTemplate, as ctl create
// job --from=cronjob/NAME asks; createdBy says who asked. A CronJob Git
// does not have, or a name a Job already has, is refused.
func (s *Server) CreateJob(req api.CreateJobRequest, createdBy string) (*api.Job, error) {
	c := s.ctrl.Load()
	if c == nil {
		return nil, errUnavailable("lost leadership: retry")
	}
	kind, from, ok := strings.Cut(req.From, "/")
	if !ok || !strings.EqualFold(kind, "cronjob") && !strings.EqualFold(kind, "cronjobs") && !strings.EqualFold(kind, "cj") {
		return nil, errInvalid(fmt.Sprintf("--from=%q: only cronjob/NAME is supported", req.From))
	}
	ns := req.Namespace
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	if !jobName.MatchString(req.Name) || len(req.Name) > 63 {
		return nil, errInvalid(fmt.Sprintf("job name %q: must be a DNS-1123 label of at most 63 characters", req.Name))
	}
	var cj *spec.CronJob
	if set := s.store.desired(); set != nil {
		for _, k := range []spec.ObjectKey{{Kind: spec.KindCronJob, Namespace: ns, Name: from}, {Kind: spec.KindCronJob, Name: from}} {
			if o, ok := set.Objects[k].(*spec.CronJob); ok && (k.Namespace != "" || ns == spec.DefaultNamespace) {
				cj = o
				break
			}
		}
	}
	if cj == nil {
		return nil, errNotFound(fmt.Sprintf("cronjob %s/%s not found in the applied revision: ctl create job makes Jobs from CronJobs Git has", ns, from))
	}
	now := planClock()
	rec := reconcile.NewChildJob(cj, req.Name, time.Time{}, now, newUID(), createdBy)
	err := s.el.apply(&command{Op: opJobCreate, JobUpsert: []reconcile.JobRecord{rec}}, s.cfg.Raft.ApplyTimeout)
	var rejected *rejectedError
	switch {
	case errors.As(err, &rejected):
		return nil, errs.Mark(err, errs.ErrConflict)
	case err != nil:
		return nil, errs.Mark(err, errs.ErrUnavailable)
	}
	s.events.append([]reconcile.Event{{Time: now, Object: spec.KindJob + "/" + rec.Key(), Reason: "Created",
		Message: fmt.Sprintf("created from CronJob %s by %s (ctl create job: not in Git)", rec.CronJob, createdBy)}})
	c.requestPlan()
	j := api.Job{Namespace: rec.Namespace, Name: rec.Name, UID: rec.UID, CronJob: rec.CronJob, CreatedBy: createdBy, Created: now}
	return &j, nil
}
