package server

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/reconcile"
)

// An opJobs entry applies its pods (one marked Finished) with the Job's
// count and the CronJob's slot; snapshots carry them; an older snapshot
// without them restores with none; opJobCreate refuses a name in use.
func TestStoreJobs(t *testing.T) {
	s := newStore()
	slot := time.Unix(1800, 0).UTC()
	pod := rec("default", "work-0-0", "n1")
	pod.Owner, pod.Finished = "Job/default/work", "Succeeded"
	job := reconcile.JobRecord{Namespace: "default", Name: "work", UID: "run-1", Hash: "h", Succeeded: 1, Completed: "0"}
	cron := reconcile.CronJobRecord{Namespace: "default", Name: "tick", LastSchedule: slot}
	out := reconcile.Output{Changed: []string{"default/work-0-0"}, JobsChanged: []string{"default/work"}, CronJobsChanged: []string{"default/tick"},
		Memory: reconcile.Memory{Pods: map[string]reconcile.PodRecord{"default/work-0-0": pod},
			Jobs: map[string]reconcile.JobRecord{"default/work": job}, CronJobs: map[string]reconcile.CronJobRecord{"default/tick": cron}}}
	d := addJobDelta(addVolumeDelta(memoryDelta(&out), &out), &out)
	if d.Op != opJobs || len(d.Upsert) != 1 || len(d.JobUpsert) != 1 || len(d.CronJobUpsert) != 1 {
		t.Fatalf("entry: %+v", d)
	}
	applyCmd(t, s, 1, d)
	v := s.read()
	if v.Pods["default/work-0-0"].Finished != "Succeeded" || v.Jobs["default/work"].Succeeded != 1 || !v.CronJobs["default/tick"].LastSchedule.Equal(slot) {
		t.Fatalf("state: %+v %+v %+v", v.Pods, v.Jobs, v.CronJobs)
	}
	// A Finished mark alone is a change of the record.
	unmarked := pod
	unmarked.Finished = ""
	if recordEqual(&pod, &unmarked) {
		t.Fatal("recordEqual ignores Finished")
	}

	// ctl create job: once per name.
	manual := reconcile.JobRecord{Namespace: "default", Name: "now", UID: "run-2", CronJob: "default/tick", CreatedBy: "alice"}
	applyCmd(t, s, 2, &command{Op: opJobCreate, JobUpsert: []reconcile.JobRecord{manual}})
	err := s.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: mustEncode(t, &command{Op: opJobCreate, JobUpsert: []reconcile.JobRecord{manual}})})
	var rejected *rejectedError
	if e, _ := err.(error); !errors.As(e, &rejected) || !strings.Contains(e.Error(), "already exists") {
		t.Fatalf("a second create = %v", err)
	}
	if jobs, _, n := s.jobRecords(); n != 1 || jobs["default/now"].CreatedBy != "alice" {
		t.Fatalf("created %d: %v", n, jobs)
	}

	// A plan deletes the child; a snapshot round-trips the rest.
	applyCmd(t, s, 4, &command{Op: opJobs, JobDelete: []string{"default/now"}})
	snap, err2 := s.Snapshot()
	if err2 != nil {
		t.Fatal(err2)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	m := r.memory()
	if len(m.Jobs) != 1 || m.Jobs["default/work"].Completed != "0" || !m.CronJobs["default/tick"].LastSchedule.Equal(slot) || m.Pods["default/work-0-0"].Finished == "" {
		t.Fatalf("restored: %+v", m)
	}
	// A snapshot from before Jobs: none.
	old := newStore()
	if err := old.Restore(io.NopCloser(strings.NewReader(`{"clusterID":"c","pods":{}}`))); err != nil {
		t.Fatal(err)
	}
	if m := old.memory(); len(m.Jobs) != 0 || len(m.CronJobs) != 0 {
		t.Fatalf("old snapshot: %+v", m)
	}
	if d := addJobDelta(nil, &reconcile.Output{}); d != nil {
		t.Fatalf("a plan that changes nothing writes %+v", d)
	}
}

func mustEncode(t *testing.T, c *command) []byte {
	t.Helper()
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The entry that ends adoption carries every job record, changed or not.
func TestAddAllJobs(t *testing.T) {
	out := reconcile.Output{Memory: reconcile.Memory{
		Jobs:     map[string]reconcile.JobRecord{"a/x": {Namespace: "a", Name: "x"}, "a/y": {Namespace: "a", Name: "y"}},
		CronJobs: map[string]reconcile.CronJobRecord{"a/c": {Namespace: "a", Name: "c"}}}}
	d := addAllJobs(podDelta(nil, map[string]reconcile.PodRecord{"a/p": rec("a", "p", "n1")}), &out)
	if d.Op != opJobs || len(d.Upsert) != 1 || len(d.JobUpsert) != 2 || len(d.CronJobUpsert) != 1 {
		t.Fatalf("entry %+v", d)
	}
	if addAllJobs(nil, &reconcile.Output{}) != nil {
		t.Fatal("no records, no entry")
	}
}
