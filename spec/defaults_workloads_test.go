package spec

import (
	"fmt"
	"testing"
)

func TestStatefulSetDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: "nginx:1.27", volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`)
	s := set.Objects[ObjectKey{Kind: KindStatefulSet, Namespace: "default", Name: "web"}].(*StatefulSet).Spec
	if *s.Replicas != 1 || s.PodManagementPolicy != OrderedReadyPodManagement || *s.RevisionHistoryLimit != DefaultRevisionHistoryLimit {
		t.Errorf("replicas %d, podManagementPolicy %q, revisionHistoryLimit %d", *s.Replicas, s.PodManagementPolicy, *s.RevisionHistoryLimit)
	}
	u := s.UpdateStrategy
	if u.Type != RollingUpdateStatefulSetStrategyType || u.RollingUpdate == nil || u.RollingUpdate.Partition == nil || *u.RollingUpdate.Partition != 0 {
		t.Errorf("updateStrategy = %+v", u)
	} else if u.RollingUpdate.MaxUnavailable != nil {
		t.Errorf("maxUnavailable = %v, want unset (1)", u.RollingUpdate.MaxUnavailable)
	}
	if r := s.PersistentVolumeClaimRetentionPolicy; r == nil || r.WhenDeleted != "Retain" || r.WhenScaled != "Retain" {
		t.Errorf("retention policy = %+v", r)
	}
	if m := s.VolumeClaimTemplates[0].Spec.VolumeMode; m == nil || *m != VolumeModeFilesystem {
		t.Errorf("claim template volumeMode = %v", m)
	}
	if s.Template.Spec.RestartPolicy != RestartPolicyAlways || s.Template.Spec.SchedulerName != DefaultSchedulerName {
		t.Errorf("pod template not defaulted: %+v", s.Template.Spec)
	}
}

// TestStatefulSetOnDeleteDefaults: OnDelete gets no rollingUpdate (it
// would then be refused).
func TestStatefulSetOnDeleteDefaults(t *testing.T) {
	o := &StatefulSet{TypeMeta: TypeMeta{APIVersion: AppsV1, Kind: KindStatefulSet}}
	o.Spec.UpdateStrategy.Type = OnDeleteStatefulSetStrategyType
	o.Spec.PersistentVolumeClaimRetentionPolicy = &StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: "Delete"}
	SetDefaults(o)
	if o.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("rollingUpdate = %+v, want nil", o.Spec.UpdateStrategy.RollingUpdate)
	}
	if r := o.Spec.PersistentVolumeClaimRetentionPolicy; r.WhenScaled != "Delete" || r.WhenDeleted != "Retain" {
		t.Errorf("retention policy = %+v", r)
	}
}

func TestDaemonSetAndReplicaSetDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: c, image: "agent:1"}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: c, image: "rs:1"}]
`)
	ds := set.Objects[ObjectKey{Kind: KindDaemonSet, Namespace: "default", Name: "agent"}].(*DaemonSet).Spec
	u := ds.UpdateStrategy
	if u.Type != RollingUpdateDaemonSetStrategyType || u.RollingUpdate == nil {
		t.Fatalf("updateStrategy = %+v", u)
	}
	if mu, ms := u.RollingUpdate.MaxUnavailable, u.RollingUpdate.MaxSurge; mu == nil || *mu != FromInt(1) || ms == nil || *ms != FromInt(0) {
		t.Errorf("maxUnavailable %v, maxSurge %v; want 1 and 0", mu, ms)
	}
	if *ds.RevisionHistoryLimit != DefaultRevisionHistoryLimit {
		t.Errorf("revisionHistoryLimit = %d", *ds.RevisionHistoryLimit)
	}
	rs := set.Objects[ObjectKey{Kind: KindReplicaSet, Namespace: "default", Name: "rs"}].(*ReplicaSet).Spec
	if *rs.Replicas != 1 || rs.Template.Spec.RestartPolicy != RestartPolicyAlways {
		t.Errorf("replicas %d, restartPolicy %q", *rs.Replicas, rs.Template.Spec.RestartPolicy)
	}
}

const jobHead = `apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
`

const jobTemplate = `  template:
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: "perl:5.34"}]
`

func TestJobDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, spec                    string
		parallelism, completions, bkl int32 // -1: unset
	}{
		{"both unset", "", 1, 1, 6},
		{"work queue", "  parallelism: 3\n", 3, -1, 6},
		{"completions only", "  completions: 5\n  backoffLimit: 2\n", 1, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := mustLoad(t, jobHead+tc.spec+jobTemplate)
			j := set.Objects[ObjectKey{Kind: KindJob, Namespace: "default", Name: "pi"}].(*Job)
			s := j.Spec
			if *s.Parallelism != tc.parallelism {
				t.Errorf("parallelism = %d, want %d", *s.Parallelism, tc.parallelism)
			}
			switch {
			case tc.completions < 0 && s.Completions != nil:
				t.Errorf("completions = %d, want unset (a work queue)", *s.Completions)
			case tc.completions >= 0 && (s.Completions == nil || *s.Completions != tc.completions):
				t.Errorf("completions = %v, want %d", s.Completions, tc.completions)
			}
			if *s.BackoffLimit != tc.bkl || *s.CompletionMode != NonIndexedCompletion || *s.Suspend || *s.ManualSelector {
				t.Errorf("backoffLimit %d, completionMode %q, suspend %t, manualSelector %t", *s.BackoffLimit, *s.CompletionMode, *s.Suspend, *s.ManualSelector)
			}
		})
	}
}

func TestCronJobDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: hello, image: "busybox:1.28"}]
`)
	s := set.Objects[ObjectKey{Kind: KindCronJob, Namespace: "default", Name: "hello"}].(*CronJob).Spec
	if s.ConcurrencyPolicy != AllowConcurrent || *s.Suspend || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 1 {
		t.Errorf("concurrencyPolicy %q, suspend %t, history %d/%d", s.ConcurrencyPolicy, *s.Suspend, *s.SuccessfulJobsHistoryLimit, *s.FailedJobsHistoryLimit)
	}
	js := s.JobTemplate.Spec
	if *js.Parallelism != 1 || *js.Completions != 1 || *js.BackoffLimit != 6 {
		t.Errorf("jobTemplate not defaulted as a Job: %+v", js)
	}
}

// TestWorkloadDefaultsIdempotent: defaulting twice changes nothing, and a
// template's hash is the same whether or not a default is written out.
func TestWorkloadDefaultsIdempotent(t *testing.T) {
	src := `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: c, image: "agent:1"%s}]
`
	plain := mustLoad(t, fmt.Sprintf(src, "")).Objects[ObjectKey{Kind: KindDaemonSet, Namespace: "default", Name: "agent"}].(*DaemonSet)
	explicit := mustLoad(t, fmt.Sprintf(src, ", terminationMessagePath: /dev/termination-log, imagePullPolicy: IfNotPresent")).Objects[ObjectKey{Kind: KindDaemonSet, Namespace: "default", Name: "agent"}].(*DaemonSet)
	if a, b := TemplateHash(&plain.Spec.Template), TemplateHash(&explicit.Spec.Template); a != b {
		t.Errorf("template hash %s with defaults left out, %s with them written", a, b)
	}
	h := TemplateHash(&plain.Spec.Template)
	SetDefaults(plain)
	if TemplateHash(&plain.Spec.Template) != h {
		t.Error("defaulting twice changed the template")
	}
}
