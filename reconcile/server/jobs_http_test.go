package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// The Job and CronJob reads serve the last plan's views: lists by
// namespace, a Job with its pods and events (its pods' too), a CronJob
// with its children.
func TestJobsHTTP(t *testing.T) {
	now := time.Unix(1800, 0).UTC()
	s := &Server{events: newEventRing(100)}
	s.view.Store(&view{leader: true,
		jobs: []reconcile.JobView{
			{Namespace: "shop", Name: "work", UID: "run-1", Completions: 2, Parallelism: 2, Mode: "Indexed", Succeeded: 1, Active: 1, Start: now},
			{Namespace: "ops", Name: "tick-30", UID: "run-2", CronJob: "ops/tick", Completions: 1, Parallelism: 1},
		},
		cronJobs: []reconcile.CronJobView{{Namespace: "ops", Name: "tick", Schedule: "* * * * *", ConcurrencyPolicy: "Forbid", Active: []string{"tick-30"}, LastSchedule: now}},
		views: []reconcile.PodView{
			{Namespace: "shop", Name: "work-0-0", UID: "p0", Owner: "Job/shop/work", Phase: "Succeeded"},
			{Namespace: "shop", Name: "web-0", UID: "w0", Owner: "Deployment/shop/web", Phase: "Running"},
		},
	})
	s.events.append([]reconcile.Event{
		{Time: now, Object: "Job/shop/work", Reason: "SuccessfulCreate", Message: "started run run-1"},
		{Time: now.Add(time.Second), Object: "Pod/shop/work-0-0", Reason: "Created", Message: "created pod"},
		{Time: now, Object: "Pod/shop/web-0", Reason: "Created", Message: "not the Job's"},
	})
	mux := http.NewServeMux()
	s.registerJobRoutes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	get := func(path string, out any) int {
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, path, nil))
		if rr.Code == http.StatusOK {
			if err := json.Unmarshal(rr.Body.Bytes(), out); err != nil {
				t.Fatal(err)
			}
		}
		return rr.Code
	}
	var jl api.JobList
	if get("/v1/jobs?namespace=shop", &jl); len(jl.Jobs) != 1 || jl.Jobs[0].Name != "work" || jl.Jobs[0].CompletionMode != "Indexed" || !jl.Jobs[0].StartTime.Equal(now) {
		t.Fatalf("jobs = %+v", jl)
	}
	var jd api.JobDescription
	if code := get(api.JobPath("shop", "work"), &jd); code != http.StatusOK || len(jd.Pods) != 1 || len(jd.Events) != 2 || jd.Events[1].Reason != "Created" {
		t.Fatalf("describe = %d %+v", code, jd)
	}
	if code := get(api.JobPath("shop", "nope"), &jd); code != http.StatusNotFound {
		t.Fatalf("missing job = %d", code)
	}
	var cd api.CronJobDescription
	if code := get(api.CronJobPath("ops", "tick"), &cd); code != http.StatusOK || len(cd.Jobs) != 1 || cd.CronJob.Active[0] != "tick-30" || !cd.CronJob.LastScheduleTime.Equal(now) {
		t.Fatalf("cronjob = %d %+v", code, cd)
	}
	var cl api.CronJobList
	if get("/v1/cronjobs", &cl); len(cl.CronJobs) != 1 {
		t.Fatalf("cronjobs = %+v", cl)
	}
}
