package server

import (
	"fmt"
	"maps"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile"
)

// The Jobs' runs and the CronJobs' last slots (reconcile.Memory.Jobs and
// CronJobs) are replicated like the pods and volumes: a plan whose job or
// cronjob records changed commits one opJobs entry carrying its whole
// delta (pods, volumes, jobs, cronjobs), so that a pod's record marked
// Finished and the count of its outcome, or a CronJob's last slot and the
// child made for it, apply together or not at all. A reconciler from
// before Jobs fails to apply the operation (and so never leads from a
// store that lacks them) rather than drop them.
//
// opJobCreate is `ctl create job --from=cronjob/NAME`: one child record,
// refused (by every store alike) when a Job of that name exists.

// planClock is the leader's clock as plans read it (Input.Now): CronJob
// slots, Job deadlines and back-offs follow it. Tests move it to cross a
// slot without waiting for one.
var planClock = time.Now

const (
	// opJobs is a plan's delta with job or cronjob records.
	opJobs = "jobs"
	// opJobCreate adds one Job record (JobUpsert[0]) made by ctl.
	opJobCreate = "jobCreate"
)

// applyJobsLocked applies the job and cronjob half of an opJobs entry.
func (s *store) applyJobsLocked(c *command) {
	if len(c.JobUpsert) > 0 || len(c.JobDelete) > 0 {
		s.st.Jobs = applyRecords(s.st.Jobs, c.JobUpsert, c.JobDelete, (*reconcile.JobRecord).Key)
	}
	if len(c.CronJobUpsert) > 0 || len(c.CronJobDelete) > 0 {
		s.st.CronJobs = applyRecords(s.st.CronJobs, c.CronJobUpsert, c.CronJobDelete, (*reconcile.CronJobRecord).Key)
	}
}

// applyRecords returns a copy of m with the records upserted and the
// keys deleted (maps handed out are never written to).
func applyRecords[R any](m map[string]R, upsert []R, del []string, key func(*R) string) map[string]R {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]R{}
	}
	for _, k := range del {
		delete(out, k)
	}
	for i := range upsert {
		out[key(&upsert[i])] = upsert[i]
	}
	return out
}

// applyJobCreateLocked applies an opJobCreate entry.
func (s *store) applyJobCreateLocked(c *command, index uint64) error {
	if len(c.JobUpsert) != 1 {
		return fmt.Errorf("raft entry %d: jobCreate entry with %d records", index, len(c.JobUpsert))
	}
	r := c.JobUpsert[0]
	if _, ok := s.st.Jobs[r.Key()]; ok {
		return &rejectedError{fmt.Sprintf("job %s already exists", r.Key())}
	}
	s.st.Jobs = applyRecords(s.st.Jobs, c.JobUpsert, nil, (*reconcile.JobRecord).Key)
	s.jobsCreated++
	return nil
}

// jobRecords returns the job and cronjob records (the maps are replaced,
// never written to, so sharing them is safe) and how many Jobs ctl
// created so far.
func (s *store) jobRecords() (map[string]reconcile.JobRecord, map[string]reconcile.CronJobRecord, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Jobs, s.st.CronJobs, s.jobsCreated
}

// addJobDelta makes a plan's entry carry its job and cronjob delta too.
func addJobDelta(c *command, out *reconcile.Output) *command {
	if len(out.JobsChanged)+len(out.JobsDeleted)+len(out.CronJobsChanged)+len(out.CronJobsDeleted) == 0 {
		return c
	}
	if c == nil {
		c = &command{}
	}
	c.Op = opJobs
	c.JobDelete = out.JobsDeleted
	c.CronJobDelete = out.CronJobsDeleted
	for _, k := range out.JobsChanged {
		c.JobUpsert = append(c.JobUpsert, out.Memory.Jobs[k])
	}
	for _, k := range out.CronJobsChanged {
		c.CronJobUpsert = append(c.CronJobUpsert, out.Memory.CronJobs[k])
	}
	return c
}

// addAllJobs makes the entry that ends adoption carry every job and
// cronjob record: its input (a preview's memory) was never committed.
func addAllJobs(c *command, out *reconcile.Output) *command {
	if len(out.Memory.Jobs) == 0 && len(out.Memory.CronJobs) == 0 {
		return c
	}
	if c == nil {
		c = &command{}
	}
	c.Op = opJobs
	c.JobUpsert, c.CronJobUpsert = nil, nil
	for _, k := range sortedKeys(out.Memory.Jobs) {
		c.JobUpsert = append(c.JobUpsert, out.Memory.Jobs[k])
	}
	for _, k := range sortedKeys(out.Memory.CronJobs) {
		c.CronJobUpsert = append(c.CronJobUpsert, out.Memory.CronJobs[k])
	}
	return c
}

// mergeCreatedJobs adds to mem the Jobs ctl committed since the planner's
// memory was read (the store has them, the planner not yet): the next
// plan runs them and commits their progress.
func (c *controller) mergeCreatedJobsLocked() {
	jobs, _, n := c.s.store.jobRecords()
	if n == c.jobsCreated {
		return
	}
	c.jobsCreated = n
	var m map[string]reconcile.JobRecord
	for k, r := range jobs {
		if _, ok := c.mem.Jobs[k]; ok || r.CreatedBy == "" {
			continue
		}
		if m == nil {
			m = maps.Clone(c.mem.Jobs)
			if m == nil {
				m = map[string]reconcile.JobRecord{}
			}
		}
		m[k] = r
	}
	if m != nil {
		c.mem.Jobs = m
	}
}

// memory returns a copy of the inventory with the other records the core
// remembers (the planner writes its pod map in place).
func (s *store) memory() reconcile.Memory {
	jobs, crons, _ := s.jobRecords()
	return reconcile.Memory{Pods: s.copyPods(), Volumes: s.copyVolumes(), Jobs: jobs, CronJobs: crons}
}

// memory is the committed memory, for dry runs.
func (v *view) memory() reconcile.Memory {
	if v.store == nil {
		return reconcile.Memory{Pods: map[string]reconcile.PodRecord{}}
	}
	return v.store.memory()
}
