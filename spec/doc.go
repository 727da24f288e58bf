// Package spec is Stevedore's API: a Kubernetes-compatible subset of
// object types (v1 Namespace, Pod, PodTemplate, ReplicationController,
// Service, Node, ConfigMap, Secret, ServiceAccount, ResourceQuota,
// LimitRange and the storage kinds;
// apps/v1 Deployment, ReplicaSet, StatefulSet and DaemonSet; batch/v1 Job
// and CronJob; the workload kinds also from extensions/v1beta1,
// apps/v1beta1 and apps/v1beta2, converted to apps/v1 with those versions'
// defaults, see convert.go), their strict decoding from multi-document
// YAML, defaulting and validation, object identity and template hashing,
// and the parsing of CronJob schedules (CronSchedule) that validation and
// the reconciler share.
//
// The package is pure: bytes in, objects or errors out. It does no I/O apart
// from LoadDir reading a directory, and imports no other package of the
// project, so the reconciler, ctl and pre-commit hooks all judge a revision
// the same way. Rendering (kustomize) happens beside it, in spec/render,
// which hands its output to LoadInputs marked as rendered.
//
// Field names and meanings follow Kubernetes so that existing manifests for
// these kinds load unchanged. Fields Kubernetes has but Stevedore does not
// implement are rejected, never silently dropped: a manifest that asks for
// a probe or a volume must not appear to work.
package spec
