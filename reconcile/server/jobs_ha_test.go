package server

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

const indexedJobYAML = `apiVersion: batch/v1
kind: Job
metadata:
  name: work
  namespace: shop
spec:
  completions: 6
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.local/hello:1
`

const forbidCronJobYAML = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
  namespace: shop
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: registry.local/hello:1
`

// finish makes the agent report the running pods match picks Succeeded
// (exit code 0), as a finished container of restartPolicy Never stays.
func (a *fakeAgent) finish(match func(agentapi.PodStatus) bool) int {
	a.mu.Lock()
	st := append([]agentapi.PodStatus(nil), a.status...)
	n := 0
	for i := range st {
		if st[i].Phase != agentapi.PodRunning || !match(st[i]) {
			continue
		}
		st[i].Phase = agentapi.PodSucceeded
		cs := append([]agentapi.ContainerStatus(nil), st[i].Containers...)
		for j := range cs {
			cs[j].Ready = false
			cs[j].State = agentapi.ContainerState{Terminated: &agentapi.StateTerminated{ExitCode: 0, Reason: agentapi.ReasonCompleted}}
		}
		st[i].Containers = cs
		n++
	}
	a.status = st
	a.mu.Unlock()
	a.poke()
	return n
}

// everApplied returns, by pod name, the UIDs of every set the agents ever
// applied.
func everApplied(agents ...*fakeAgent) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, a := range agents {
		a.mu.Lock()
		for _, set := range a.sets {
			for _, p := range set.Pods {
				if out[p.Name] == nil {
					out[p.Name] = map[string]bool{}
				}
				out[p.Name][p.UID] = true
			}
		}
		a.mu.Unlock()
	}
	return out
}

func jobOf(t *testing.T, cl *api.Client, name string) (api.Job, bool) {
	t.Helper()
	jobs, err := cl.Jobs(context.Background(), "shop")
	if err != nil {
		return api.Job{}, false
	}
	for _, j := range jobs {
		if j.Name == name {
			return j, true
		}
	}
	return api.Job{}, false
}

// TestJobsAcrossFailover runs an Indexed Job (6 completions, parallelism
// 3) and a CronJob (every minute, Forbid) on three reconcilers, kills the
// leader half-way through and checks that no index runs twice, that the
// counts survive, and that the CronJob's slot fires once, before and after
// the failover. The leaders' clock is the test's (planClock).
func TestJobsAcrossFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	files := map[string][]byte{"ns.yaml": []byte(nsYAML), "work.yaml": []byte(indexedJobYAML), "tick.yaml": []byte(forbidCronJobYAML)}
	if _, err := spec.Load(files); err != nil {
		// Until spec validates and defaults Jobs (issue 10's spec part).
		t.Skipf("spec refuses the Job and CronJob: %v", err)
	}
	// An hour ahead of the real clock (the plan loop sleeps until the
	// real time of a wake), 10 s into a minute.
	var clock atomic.Int64
	clock.Store(time.Now().Add(time.Hour).Truncate(time.Minute).Add(10 * time.Second).UnixNano())
	planClock = func() time.Time { return time.Unix(0, clock.Load()) }
	t.Cleanup(func() { planClock = time.Now })
	advance := func(d time.Duration) { clock.Add(int64(d)) }

	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("work and tick", map[string]string{"ns.yaml": nsYAML, "jobs/work.yaml": indexedJobYAML, "jobs/tick.yaml": forbidCronJobYAML})
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	r1 := startPeer(t, "r1", repo.dir, dirs[0], 3, nil, log)
	r2 := startPeer(t, "r2", repo.dir, dirs[1], 3, []string{r1.GossipAddr()}, log)
	r3 := startPeer(t, "r3", repo.dir, dirs[2], 3, []string{r2.GossipAddr()}, log)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })
	a, b := newFakeAgent(t, "node-a"), newFakeAgent(t, "node-b")
	a.join(r1.GossipAddr(), r2.GossipAddr(), r3.GossipAddr())
	b.join(r1.GossipAddr(), r2.GossipAddr(), r3.GossipAddr())
	urls := []string{r1.APIURL(), r2.APIURL(), r3.APIURL()}
	cl, _ := api.NewClient(strings.Join(urls, ","), nil)
	kick := func() {
		if l := leaderOf(servers...); l != nil {
			if c := l.ctrl.Load(); c != nil {
				c.requestPlan()
			}
		}
	}
	workPods := func(st agentapi.PodStatus) bool { return strings.HasPrefix(st.Name, "work-") }
	running := func(prefix string) int {
		n := 0
		for _, ag := range []*fakeAgent{a, b} {
			for _, p := range ag.last().Pods {
				if strings.HasPrefix(p.Name, prefix) {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, 20*time.Second, "3 pods of the Job (parallelism 3)", func() bool { return running("work-") == 3 })

	// Two of them succeed: counted, and their indexes replaced.
	done := 0
	for _, ag := range []*fakeAgent{a, b} {
		done += ag.finish(func(st agentapi.PodStatus) bool {
			return workPods(st) && done < 2 && (st.Name == "work-0-0" || st.Name == "work-1-0")
		})
	}
	waitFor(t, 20*time.Second, "2 indexes counted and 2 more pods", func() bool {
		j, ok := jobOf(t, cl, "work")
		return ok && j.Succeeded == 2 && running("work-") == 5
	})

	// The CronJob's slot comes: one child.
	advance(time.Minute)
	kick()
	slot := time.Unix(0, clock.Load()).Truncate(time.Minute)
	child := spec.CronJobJobName("tick", slot)
	waitFor(t, 20*time.Second, "the CronJob's child and its pod", func() bool {
		_, ok := jobOf(t, cl, child)
		return ok && running(child+"-") == 1
	})

	// The leader dies.
	lead := leaderOf(servers...)
	if err := lead.el.shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := lead.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, s := range servers {
		if s == lead {
			servers[i] = nil
		}
	}
	waitFor(t, 15*time.Second, "a new leader", func() bool { return leaderOf(servers...) != nil })
	nl := leaderOf(servers...)
	waitFor(t, 15*time.Second, "the agents to get the new leader's sets", func() bool {
		return a.last().Term == nl.Term() && b.last().Term == nl.Term()
	})
	// Same minute, new leader, plans again: the slot does not fire twice
	// (the child is still running; Forbid would hide a second firing, so
	// the child is left running only until the count is checked).
	kick()
	time.Sleep(200 * time.Millisecond)
	if j, ok := jobOf(t, cl, "work"); !ok || j.Succeeded != 2 {
		t.Fatalf("after failover work = %+v", j)
	}

	// Every pod finishes, the child too.
	waitFor(t, 30*time.Second, "the Job complete, 6/6", func() bool {
		for _, ag := range []*fakeAgent{a, b} {
			ag.finish(func(st agentapi.PodStatus) bool { return true })
		}
		kick()
		j, _ := jobOf(t, cl, "work")
		return j.Succeeded == 6 && len(j.Conditions) > 0 && j.Conditions[0].Type == reconcile.JobComplete
	})
	kick()
	time.Sleep(200 * time.Millisecond)
	jobs, err := cl.Jobs(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	children := 0
	for _, j := range jobs {
		if j.CronJob == "shop/tick" {
			children++
			if j.Name != child {
				t.Errorf("child %s besides %s in the same minute", j.Name, child)
			}
		}
	}
	if children != 1 {
		t.Errorf("%d children for one slot", children)
	}
	// No index ran twice: each index has one pod name with one UID.
	perIndex := map[string]int{}
	for name, uids := range everApplied(a, b) {
		if !strings.HasPrefix(name, "work-") {
			continue
		}
		if len(uids) != 1 {
			t.Errorf("pod %s ran as %d incarnations", name, len(uids))
		}
		idx := strings.Split(name, "-")[1]
		perIndex[idx]++
	}
	if len(perIndex) != 6 {
		t.Errorf("indexes run: %v, want 6", perIndex)
	}
	for idx, n := range perIndex {
		if n != 1 {
			t.Errorf("index %s ran as %d pods", idx, n)
		}
	}

	// The next slot, on the new leader: one more child.
	advance(time.Minute)
	kick()
	next := spec.CronJobJobName("tick", slot.Add(time.Minute))
	waitFor(t, 20*time.Second, "the next slot's child", func() bool {
		_, ok := jobOf(t, cl, next)
		return ok
	})
	// ctl create job --from=cronjob/tick, through a follower: committed,
	// run, and recorded as an event; once per name; refused for a
	// CronJob Git does not have.
	ctx := context.Background()
	var follower *Server
	for _, s := range servers {
		if s != nil && s != leaderOf(servers...) {
			follower = s
		}
	}
	fcl, _ := api.NewClient(follower.APIURL(), nil)
	if _, err := fcl.CreateJob(ctx, api.CreateJobRequest{Namespace: "shop", Name: "now", From: "cronjob/tick"}); err != nil {
		t.Fatalf("create job: %v", err)
	}
	waitFor(t, 20*time.Second, "the created Job's pod", func() bool {
		kick()
		j, ok := jobOf(t, cl, "now")
		return ok && j.CronJob == "shop/tick" && j.CreatedBy != "" && running("now-") == 1
	})
	if _, err := fcl.CreateJob(ctx, api.CreateJobRequest{Namespace: "shop", Name: "now", From: "cronjob/tick"}); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("a second create job now = %v, want a conflict", err)
	}
	if _, err := fcl.CreateJob(ctx, api.CreateJobRequest{Namespace: "shop", Name: "x", From: "cronjob/nope"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("create job from a missing CronJob = %v, want not found", err)
	}
	evs, _ := cl.EventsIn(ctx, "shop", "")
	found := false
	for _, e := range evs {
		found = found || e.Object == "Job/shop/now" && strings.Contains(e.Message, "created from CronJob shop/tick by")
	}
	if !found {
		t.Errorf("no event about ctl create job: %v", evs)
	}

	// The commit is the cluster's: every store holds the records.
	for _, s := range servers {
		if s == nil {
			continue
		}
		waitFor(t, 10*time.Second, "the stores to hold the Job records", func() bool {
			jobs, crons, _ := s.store.jobRecords()
			w := jobs["shop/work"]
			return w.Condition == reconcile.JobComplete && w.Completed == "0-5" && crons["shop/tick"].LastSchedule.Equal(slot.Add(time.Minute))
		})
	}
}
