package spec

// This file fills the defaults of the apps/v1 and batch/v1 workload kinds
// besides Deployment, as Kubernetes' SetDefaults_ReplicaSet,
// SetDefaults_StatefulSet, SetDefaults_DaemonSet, SetDefaults_Job and
// SetDefaults_CronJob do. Defaults never touch a pod template beyond what
// defaultPodSpec does for a Deployment's: the reconciler hashes templates,
// and a default written into one would give every pod a new name the day
// it was introduced.

// Defaults of the batch kinds, as Kubernetes'.
const (
	DefaultBackoffLimit               = 6
	DefaultSuccessfulJobsHistoryLimit = 3
	DefaultFailedJobsHistoryLimit     = 1
)

// DefaultDaemonSetMaxUnavailable is the maxUnavailable of a DaemonSet's
// rolling update when none is given: one node at a time.
const DefaultDaemonSetMaxUnavailable = 1

// PodConditionTrue is a pod condition's status when it holds: the status a
// podFailurePolicy's onPodConditions pattern matches by default.
const PodConditionTrue = "True"

// defaultWorkload fills the defaults of the kinds of this file; false when
// o is none of them.
func defaultWorkload(o Object) bool {
	switch o := o.(type) {
	case *ReplicaSet:
		defaultReplicas(&o.Spec.Replicas)
		defaultPodSpec(&o.Spec.Template.Spec)
	case *StatefulSet:
		defaultStatefulSet(&o.Spec)
	case *DaemonSet:
		defaultDaemonSet(&o.Spec)
	case *Job:
		defaultJobSpec(&o.Spec)
		// As Kubernetes: a Job without labels takes its template's.
		if len(o.Labels) == 0 && len(o.Spec.Template.Labels) > 0 {
			o.Labels = copyMap(o.Spec.Template.Labels)
		}
	case *CronJob:
		defaultCronJob(&o.Spec)
	default:
		return false
	}
	return true
}

func int32Ptr(v int32) *int32 { return &v }

func defaultRevisionHistory(r **int32) {
	if *r == nil {
		*r = int32Ptr(DefaultRevisionHistoryLimit)
	}
}

func defaultStatefulSet(s *StatefulSetSpec) {
	defaultReplicas(&s.Replicas)
	defaultPodSpec(&s.Template.Spec)
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = OrderedReadyPodManagement
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = RollingUpdateStatefulSetStrategyType
	}
	if s.UpdateStrategy.Type == RollingUpdateStatefulSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &RollingUpdateStatefulSetStrategy{}
		}
		// maxUnavailable stays unset: it means 1, and Kubernetes sets it
		// only behind a feature gate.
		if s.UpdateStrategy.RollingUpdate.Partition == nil {
			s.UpdateStrategy.RollingUpdate.Partition = int32Ptr(0)
		}
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := s.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = RetainPersistentVolumeClaimRetentionPolicyType
	}
	defaultRevisionHistory(&s.RevisionHistoryLimit)
	for i := range s.VolumeClaimTemplates {
		defaultPVC(&s.VolumeClaimTemplates[i])
	}
}

func defaultDaemonSet(s *DaemonSetSpec) {
	defaultPodSpec(&s.Template.Spec)
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = RollingUpdateDaemonSetStrategyType
	}
	if s.UpdateStrategy.Type == RollingUpdateDaemonSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &RollingUpdateDaemonSet{}
		}
		ru := s.UpdateStrategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			v := FromInt(DefaultDaemonSetMaxUnavailable)
			ru.MaxUnavailable = &v
		}
		if ru.MaxSurge == nil {
			v := FromInt(0)
			ru.MaxSurge = &v
		}
	}
	defaultRevisionHistory(&s.RevisionHistoryLimit)
}

// defaultJobSpec fills a Job's defaults; a CronJob's jobTemplate gets the
// same, so that the Jobs it makes need no more defaulting.
func defaultJobSpec(s *JobSpec) {
	defaultPodSpec(&s.Template.Spec)
	// Both unset is a single pod that must succeed once; parallelism
	// alone is a work queue, where completions stays unset.
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = int32Ptr(1)
	}
	if s.Parallelism == nil {
		s.Parallelism = int32Ptr(1)
	}
	if s.BackoffLimit == nil {
		s.BackoffLimit = int32Ptr(DefaultBackoffLimit)
	}
	if s.CompletionMode == nil {
		m := NonIndexedCompletion
		s.CompletionMode = &m
	}
	if s.Suspend == nil {
		f := false
		s.Suspend = &f
	}
	if s.ManualSelector == nil {
		f := false
		s.ManualSelector = &f
	}
	if pfp := s.PodFailurePolicy; pfp != nil {
		for i := range pfp.Rules {
			for j := range pfp.Rules[i].OnPodConditions {
				if c := &pfp.Rules[i].OnPodConditions[j]; c.Status == "" {
					c.Status = PodConditionTrue
				}
			}
		}
	}
}

func defaultCronJob(s *CronJobSpec) {
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = AllowConcurrent
	}
	if s.Suspend == nil {
		f := false
		s.Suspend = &f
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = int32Ptr(DefaultSuccessfulJobsHistoryLimit)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = int32Ptr(DefaultFailedJobsHistoryLimit)
	}
	defaultJobSpec(&s.JobTemplate.Spec)
}
