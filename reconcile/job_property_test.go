package reconcile

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// randomBatch commits a random Job (j0, j1) or CronJob (c0), or deletes
// one, for the random histories (property_test.go).
func randomBatch(r *rand.Rand, next *spec.Set) {
	if r.IntN(2) == 0 {
		name := fmt.Sprintf("j%d", r.IntN(2))
		key := spec.ObjectKey{Kind: spec.KindJob, Namespace: "default", Name: name}
		if r.IntN(5) == 0 {
			delete(next.Objects, key)
			return
		}
		next.Objects[key] = job(name, randomJobSpec(r))
		return
	}
	key := spec.ObjectKey{Kind: spec.KindCronJob, Namespace: "default", Name: "c0"}
	if r.IntN(5) == 0 {
		delete(next.Objects, key)
		return
	}
	cj := cronJob("c0", []string{"* * * * *", "*/2 * * * *"}[r.IntN(2)],
		[]string{"", spec.ForbidConcurrent, spec.ReplaceConcurrent}[r.IntN(3)])
	cj.Spec.JobTemplate.Spec = randomJobSpec(r)
	cj.Spec.SuccessfulJobsHistoryLimit = int32p(int32(r.IntN(3)))
	cj.Spec.FailedJobsHistoryLimit = int32p(int32(r.IntN(2)))
	if r.IntN(3) == 0 {
		cj.Spec.StartingDeadlineSeconds = ptr(int64(10 + r.IntN(100)))
	}
	if r.IntN(6) == 0 {
		cj.Spec.Suspend = ptr(true)
	}
	next.Objects[key] = cj
}

func randomJobSpec(r *rand.Rand) spec.JobSpec {
	js := jobSpec(int32p(int32(1+r.IntN(4))), int32p(int32(1+r.IntN(3))), r.IntN(2) == 0, spec.RestartPolicyNever)
	if r.IntN(5) == 0 && js.CompletionMode == nil {
		js.Completions = nil // a work queue
	}
	c := &js.Template.Spec.Containers[0]
	c.Image = fmt.Sprintf("img:%d", r.IntN(2))
	c.Resources.Requests = nil
	js.BackoffLimit = int32p(int32(r.IntN(3)))
	if r.IntN(5) == 0 {
		js.Suspend = ptr(true)
	}
	if r.IntN(3) == 0 {
		js.TTLSecondsAfterFinished = int32p(int32(r.IntN(60)))
	}
	if r.IntN(3) == 0 {
		js.ActiveDeadlineSeconds = ptr(int64(30 + r.IntN(120)))
	}
	if r.IntN(4) == 0 {
		js.PodFailurePolicy = &spec.PodFailurePolicy{Rules: []spec.PodFailurePolicyRule{{Action: spec.PodFailurePolicyActionIgnore,
			OnPodConditions: []spec.PodFailurePolicyOnPodConditionsPattern{{Type: DisruptionTargetCondition}}}}}
	}
	return js
}

// checkJobs checks the Jobs' invariants: every Job pod belongs to the
// current run of a remembered Job, a run has at most parallelism pods
// not finished and none of an index already completed, and it counts no
// more successes than completions.
func checkJobs(t *testing.T, step int, in Input, out Output) {
	t.Helper()
	active := map[string]int{}
	for key, rec := range out.Memory.Pods {
		if len(rec.Owner) < 4 || rec.Owner[:4] != "Job/" {
			continue
		}
		jr, ok := out.Memory.Jobs[rec.Owner[4:]]
		if !ok || rec.Labels[ControllerUIDLabel] != jr.UID {
			t.Fatalf("step %d: pod %s of no current run (%s)", step, key, rec.Owner)
		}
		if rec.Finished != "" {
			continue
		}
		if jr.Condition != "" || jr.Cleaned {
			t.Fatalf("step %d: pod %s runs for the finished %s", step, key, rec.Owner)
		}
		active[rec.Owner[4:]]++
		if idx, ok := rec.Labels[spec.JobCompletionIndexLabel]; ok && parseIndexes(jr.Completed)[podIndex(&rec)] {
			t.Fatalf("step %d: pod %s runs completed index %s again", step, key, idx)
		}
	}
	for _, v := range out.Jobs {
		k := v.Namespace + "/" + v.Name
		if int(v.Parallelism) < active[k] {
			t.Fatalf("step %d: %s has %d active pods, parallelism %d", step, k, active[k], v.Parallelism)
		}
		if v.Completions >= 0 && v.Succeeded > v.Completions {
			t.Fatalf("step %d: %s counted %d successes of %d", step, k, v.Succeeded, v.Completions)
		}
	}
	// An outcome is counted once: a pod reported finished is marked so.
	for _, sts := range in.Observed {
		for _, st := range sts {
			rec, ok := out.Memory.Pods[st.Namespace+"/"+st.Name]
			if ok && rec.UID == st.UID && len(rec.Owner) > 4 && rec.Owner[:4] == "Job/" &&
				(st.Phase == api.PodSucceeded || st.Phase == api.PodFailed) && rec.Finished == "" {
				t.Fatalf("step %d: finished pod %s not counted", step, rec.Key())
			}
		}
	}
}

// checkRecordDelta checks a record map's delta like checkDelta does the
// pods', returning the keys changed and deleted.
func checkRecordDelta[R any](t *testing.T, step int, what string, in, out map[string]R, changedOut, deletedOut []string) ([]string, []string) {
	t.Helper()
	var changed, deleted []string
	for k, rec := range out {
		if old, ok := in[k]; !ok || !reflect.DeepEqual(old, rec) {
			changed = append(changed, k)
		}
	}
	for k := range in {
		if _, ok := out[k]; !ok {
			deleted = append(deleted, k)
		}
	}
	slices.Sort(changed)
	slices.Sort(deleted)
	if !slices.Equal(changed, changedOut) || !slices.Equal(deleted, deletedOut) {
		t.Fatalf("step %d: %s delta is changed %q deleted %q, want %q %q", step, what, changedOut, deletedOut, changed, deleted)
	}
	applied := maps.Clone(in)
	if applied == nil {
		applied = map[string]R{}
	}
	for _, k := range changedOut {
		applied[k] = out[k]
	}
	for _, k := range deletedOut {
		delete(applied, k)
	}
	if len(applied) != len(out) || len(out) > 0 && !reflect.DeepEqual(applied, out) {
		t.Fatalf("step %d: %s with the delta applied is not the output's", step, what)
	}
	return changed, deleted
}
