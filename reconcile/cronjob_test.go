package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func cronJob(name, schedule, policy string) *spec.CronJob {
	return &spec.CronJob{TypeMeta: spec.TypeMeta{APIVersion: spec.BatchV1, Kind: spec.KindCronJob},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: "default"},
		Spec: spec.CronJobSpec{Schedule: schedule, ConcurrencyPolicy: policy,
			JobTemplate: spec.JobTemplateSpec{Spec: jobSpec(int32p(1), int32p(1), false, spec.RestartPolicyNever)}}}
}

// children returns the names of the CronJob's child records.
func childNames(m Memory) []string {
	var out []string
	for _, k := range sortedKeys(m.Jobs) {
		if m.Jobs[k].CronJob != "" {
			out = append(out, m.Jobs[k].Name)
		}
	}
	return out
}

func TestCronJobSlotsAllow(t *testing.T) {
	s := newSim(t, setOf(cronJob("tick", "*/5 * * * *", "")), 1)
	s.in.Now = t0.Add(30 * time.Second)
	s.step()
	if len(childNames(s.out.Memory)) != 0 || !s.out.Wake.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("children %v wake %v", childNames(s.out.Memory), s.out.Wake)
	}
	s.in.Now = s.out.Wake
	s.step()
	slot := t0.Add(5 * time.Minute)
	want := spec.CronJobJobName("tick", slot)
	if got := childNames(s.out.Memory); len(got) != 1 || got[0] != want || want != "tick-28928165" {
		t.Fatalf("children %v, want [%s]", got, want)
	}
	if !s.out.Memory.CronJobs["default/tick"].LastSchedule.Equal(slot) || !s.out.Wake.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("record %+v wake %v", s.out.Memory.CronJobs, s.out.Wake)
	}
	// The child runs like a Job.
	s.step()
	if len(s.jobPods()) != 1 || s.out.Jobs[0].CronJob != "default/tick" {
		t.Fatalf("pods %v jobs %+v", s.jobPods(), s.out.Jobs)
	}
	// Planning again at the same instant fires nothing.
	s.step()
	if n := len(childNames(s.out.Memory)); n != 1 {
		t.Fatalf("%d children", n)
	}
	cv := s.out.CronJobs[0]
	if cv.Schedule != "*/5 * * * *" || !cv.LastSchedule.Equal(slot) || !cv.LastSuccessful.Equal(s.out.Jobs[0].Finished) {
		t.Fatalf("view %+v", cv)
	}
	// Leaving Git drops the children and their pods.
	s.in.Desired = setOf()
	s.step()
	if len(s.out.Memory.Jobs) != 0 || len(s.out.Memory.CronJobs) != 0 || len(s.jobPods()) != 0 {
		t.Fatalf("left: %v %v", s.out.Memory, s.jobPods())
	}
}

func TestCronJobForbidAndReplace(t *testing.T) {
	for _, policy := range []string{spec.ForbidConcurrent, spec.ReplaceConcurrent, spec.AllowConcurrent} {
		t.Run(policy, func(t *testing.T) {
			s := newSim(t, setOf(cronJob("c", "* * * * *", policy)), 1)
			s.outcome = func(string) string { return "" } // children run for ever
			s.step()                                      // the CronJob is seen at t0: slots after it count
			s.in.Now = t0.Add(time.Minute)
			s.step()
			s.step()
			s.in.Now = t0.Add(2 * time.Minute)
			s.step()
			s.step()
			got := childNames(s.out.Memory)
			var active []string
			for _, j := range s.out.Jobs {
				if len(j.Conditions) == 0 {
					active = append(active, j.Name)
				}
			}
			switch policy {
			case spec.ForbidConcurrent:
				if len(got) != 1 || got[0] != spec.CronJobJobName("c", t0.Add(time.Minute)) {
					t.Fatalf("children %v", got)
				}
			case spec.ReplaceConcurrent:
				if len(got) != 1 || got[0] != spec.CronJobJobName("c", t0.Add(2*time.Minute)) || len(s.jobPods()) != 1 {
					t.Fatalf("children %v pods %v", got, s.jobPods())
				}
			default:
				if len(got) != 2 || len(active) != 2 || len(s.jobPods()) != 2 {
					t.Fatalf("children %v active %v", got, active)
				}
			}
			if policy == spec.ForbidConcurrent {
				// The running child finishes: the waiting slot runs (as in
				// Kubernetes), once.
				s.outcome = func(string) string { return api.PodSucceeded }
				s.in.Observed = map[string][]api.PodStatus{}
				for range 4 {
					s.step()
				}
				if got := childNames(s.out.Memory); len(got) != 2 {
					t.Fatalf("after finish: %v", got)
				}
			}
		})
	}
}

func TestCronJobStartingDeadlineAndMissed(t *testing.T) {
	cj := cronJob("late", "* * * * *", "")
	s := newSim(t, setOf(cj), 1)
	s.step() // record created at t0
	// A 3-hour outage: 180 missed slots; only the most recent runs, with
	// a warning.
	s.in.Now = t0.Add(3*time.Hour + 10*time.Second)
	s.step()
	got := childNames(s.out.Memory)
	if len(got) != 1 || got[0] != spec.CronJobJobName("late", t0.Add(3*time.Hour)) {
		t.Fatalf("children %v", got)
	}
	warned := false
	for _, ev := range s.out.Events {
		warned = warned || ev.Reason == EventCronMissed && ev.Type == "Warning"
	}
	if !warned {
		t.Fatalf("no warning: %v", s.out.Events)
	}
	// With startingDeadlineSeconds 5, a slot 10 s late is skipped.
	cj2 := cronJob("strict", "* * * * *", "")
	cj2.Spec.StartingDeadlineSeconds = ptr(int64(5))
	s2 := newSim(t, setOf(cj2), 1)
	s2.step()
	s2.in.Now = t0.Add(time.Minute + 10*time.Second)
	s2.step()
	if got := childNames(s2.out.Memory); len(got) != 0 {
		t.Fatalf("late slot ran: %v", got)
	}
	s2.in.Now = t0.Add(2*time.Minute + 3*time.Second)
	s2.step()
	if got := childNames(s2.out.Memory); len(got) != 1 {
		t.Fatalf("slot within the deadline did not run: %v", got)
	}
}

func TestCronJobHistoryLimitsAndSuspend(t *testing.T) {
	cj := cronJob("hist", "* * * * *", "")
	cj.Spec.SuccessfulJobsHistoryLimit = int32p(2)
	s := newSim(t, setOf(cj), 1)
	for i := 1; i <= 5; i++ {
		s.in.Now = t0.Add(time.Duration(i) * time.Minute)
		for range 3 {
			s.step()
		}
	}
	got := childNames(s.out.Memory)
	if len(got) != 2 || got[0] != spec.CronJobJobName("hist", t0.Add(4*time.Minute)) {
		t.Fatalf("children %v", got)
	}
	if len(s.jobPods()) != 2 {
		t.Fatalf("pods of dropped children kept: %v", s.jobPods())
	}
	cj.Spec.Suspend = ptr(true)
	s.in.Desired = setOf(cj)
	s.in.Now = t0.Add(10 * time.Minute)
	s.step()
	if got := childNames(s.out.Memory); got[1] != spec.CronJobJobName("hist", t0.Add(5*time.Minute)) || !s.out.Wake.IsZero() {
		t.Fatalf("suspended CronJob fired: %v wake %v", got, s.out.Wake)
	}
}

func TestCronJobTimeZone(t *testing.T) {
	cj := cronJob("tz", "0 9 * * *", "")
	tz := "Asia/Tokyo"
	cj.Spec.TimeZone = &tz
	s := newSim(t, setOf(cj), 1)
	s.step()
	// 09:00 in Tokyo is 00:00 UTC.
	if want := t0.Add(24 * time.Hour); !s.out.Wake.Equal(want) || !s.out.CronJobs[0].Next.Equal(want) {
		t.Fatalf("wake %v, want %v", s.out.Wake, want)
	}
	bad := cronJob("bad", "61 * * * *", "")
	s2 := newSim(t, setOf(bad), 1)
	s2.step()
	if s2.out.CronJobs[0].Problem == "" || len(s2.out.Memory.Jobs) != 0 {
		t.Fatalf("bad schedule: %+v", s2.out.CronJobs)
	}
}

func TestCronJobDaylightSaving(t *testing.T) {
	// As Kubernetes (the same parser), a local time that happens twice
	// (Europe/Paris falls back at 03:00 CEST on 2025-10-26: 02:30 is two
	// instants) fires at both instants, each once; one that does not
	// happen (02:30 on 2025-03-30) does not fire. In a zone without
	// daylight saving (UTC) a daily slot fires once a day, 24 h apart.
	count := func(tz string, from time.Time, hours int) []string {
		cj := cronJob("dst", "30 2 * * *", "")
		cj.Spec.TimeZone = &tz
		s := newSim(t, setOf(cj), 1)
		s.in.Now = from
		seen := map[string]bool{}
		for s.in.Now.Before(from.Add(time.Duration(hours) * time.Hour)) {
			s.step()
			for _, n := range childNames(s.out.Memory) {
				seen[n] = true
			}
			if s.out.Wake.IsZero() || s.out.MemoryChanged {
				s.in.Now = s.in.Now.Add(time.Minute)
			} else {
				s.in.Now = s.out.Wake
			}
		}
		return sortedKeys(seen)
	}
	fall := count("Europe/Paris", time.Date(2025, 10, 25, 22, 0, 0, 0, time.UTC), 20)
	if want := []string{spec.CronJobJobName("dst", time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC)), spec.CronJobJobName("dst", time.Date(2025, 10, 26, 1, 30, 0, 0, time.UTC))}; strings.Join(fall, ",") != strings.Join(want, ",") {
		t.Fatalf("fall back: %v, want %v", fall, want)
	}
	if spring := count("Europe/Paris", time.Date(2025, 3, 29, 22, 0, 0, 0, time.UTC), 20); len(spring) != 0 {
		t.Fatalf("spring forward: %v, want none", spring)
	}
	utc := count("UTC", time.Date(2025, 10, 25, 22, 0, 0, 0, time.UTC), 72)
	if len(utc) != 3 {
		t.Fatalf("UTC: %v, want 3 days", utc)
	}
}
