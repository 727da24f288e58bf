package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// jobsReconciler serves the Job and CronJob endpoints ctl reads and the
// POST ctl create job sends.
func jobsReconciler(t *testing.T, jobs []api.Job, crons []api.CronJob, created *api.CreateJobRequest) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathJobs, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(api.JobList{Jobs: jobs})
	})
	mux.HandleFunc("GET "+api.PathCronJobs, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(api.CronJobList{CronJobs: crons})
	})
	mux.HandleFunc("GET "+api.PathJob, func(w http.ResponseWriter, r *http.Request) {
		for _, j := range jobs {
			if j.Name == r.PathValue("name") {
				json.NewEncoder(w).Encode(api.JobDescription{Job: j, Pods: []api.Pod{{PodView: api.PodView{Name: j.Name + "-0-0", Node: "node-a", Phase: agentapi.PodSucceeded}}},
					Events: []api.Event{{Time: time.Now(), Object: "Job/default/" + j.Name, Reason: "Completed", Message: "Job completed"}}})
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(api.Error{Error: "not found", Code: api.CodeNotFound})
	})
	mux.HandleFunc("POST "+api.PathJobs, func(w http.ResponseWriter, r *http.Request) {
		if err := json.NewDecoder(r.Body).Decode(created); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(api.Job{Namespace: created.Namespace, Name: created.Name, CronJob: "default/backup"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGetJobsTable(t *testing.T) {
	t0 := now()
	jobs := []api.Job{
		{Namespace: "default", Name: "work", Completions: 6, Parallelism: 3, Succeeded: 6, Created: t0.Add(-2 * time.Minute),
			StartTime: t0.Add(-2 * time.Minute), CompletionTime: t0.Add(-2*time.Minute + 41*time.Second),
			Conditions: []agentapi.Condition{{Type: "Complete", Status: "True"}}},
		{Namespace: "default", Name: "queue", Completions: -1, Parallelism: 2, Active: 2, Created: t0.Add(-time.Minute), StartTime: t0.Add(-30 * time.Second)},
		{Namespace: "default", Name: "broken", Completions: 1, Parallelism: 1, Failed: 7, Created: t0.Add(-time.Hour),
			Conditions: []agentapi.Condition{{Type: "Failed", Status: "True", Reason: "BackoffLimitExceeded"}}},
	}
	crons := []api.CronJob{{Namespace: "default", Name: "backup", Schedule: "*/5 * * * *", TimeZone: "Europe/Paris",
		ConcurrencyPolicy: "Forbid", Active: []string{"backup-29017445"}, LastScheduleTime: t0.Add(-3 * time.Minute), Created: t0.Add(-48 * time.Hour)}}
	var created api.CreateJobRequest
	url := jobsReconciler(t, jobs, crons, &created)

	code, out, errOut := ctl(t, url, "get", "jobs")
	want := []string{
		"NAME     STATUS     COMPLETIONS   DURATION   AGE",
		"work     Complete   6/6           41s        2m0s",
		"queue    Running    0/1 of 2      30s        60s",
		"broken   Failed     0/1                      60m",
	}
	if code != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Fatalf("get jobs = %d %q\n%s\nwant\n%s", code, errOut, out, strings.Join(want, "\n"))
	}
	code, out, _ = ctl(t, url, "get", "cj")
	want = []string{
		"NAME     SCHEDULE      TIMEZONE       SUSPEND   ACTIVE   LAST SCHEDULE   AGE",
		"backup   */5 * * * *   Europe/Paris   false     1        3m0s            2d",
	}
	if code != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Fatalf("get cronjobs = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "job", "work", "-o", "yaml")
	for _, s := range []string{"apiVersion: batch/v1", "kind: Job", "completions: 6", "succeeded: 6", "type: Complete"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Fatalf("-o yaml lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = ctl(t, url, "describe", "job", "work")
	for _, s := range []string{"Pods Statuses:", "0 Active / 6 Succeeded / 0 Failed", "work-0-0", "Completed", "Job completed"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Fatalf("describe lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = ctl(t, url, "create", "job", "now", "--from=cronjob/backup", "-n", "ops")
	if code != 0 || out != "job.batch/now created\n" || created != (api.CreateJobRequest{Namespace: "ops", Name: "now", From: "cronjob/backup"}) {
		t.Fatalf("create = %d %q %+v", code, out, created)
	}
	if code, _, errOut := ctl(t, url, "create", "job", "x"); code == 0 || !strings.Contains(errOut, "--from") {
		t.Fatalf("create without --from = %d %q", code, errOut)
	}
}
