package api

import (
	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"time"
)

// Workload is a Deployment, ReplicationController or DaemonSet and how
// many of its pods are where, as the core computes it
// (reconcile.WorkloadView).
type Workload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Replicas is the desired count.
	Replicas int32 `json:"replicas"`
	// Current counts the pods the reconciler keeps for it, old revisions
	// included.
	Current int32 `json:"current"`
	// Running counts pods whose node reports them Running with every
	// container running.
	Running int32 `json:"running"`
	// Ready counts running pods whose every container is ready.
	Ready int32 `json:"ready"`
	// UpToDate counts pods of the current template.
	UpToDate int32 `json:"upToDate"`
	// Available counts running pods whose containers have run for at least
	// minReadySeconds.
	Available int32 `json:"available"`
	// Revision is the current template's hash (the pod-template-hash label).
	Revision   string            `json:"revision"`
	Selector   map[string]string `json:"selector,omitempty"`
	Containers []string          `json:"containers,omitempty"`
	Images     []string          `json:"images,omitempty"`
	// Created is the oldest of its pods' creation times; zero with no pods.
	Created time.Time `json:"created,omitempty"`
	// Progress is one of the Progress constants; Message says what is
	// awaited or stuck.
	Progress string `json:"progress"`
	Message  string `json:"message,omitempty"`
	// Strategy is RollingUpdate or Recreate (a Deployment's), or
	// RollingUpdate or OnDelete (a DaemonSet's); MaxSurge and
	// MaxUnavailable its bounds resolved against Replicas.
	Strategy       string `json:"strategy,omitempty"`
	MaxSurge       int32  `json:"maxSurge,omitempty"`
	MaxUnavailable int32  `json:"maxUnavailable,omitempty"`
	// Conditions are Available and Progressing, as Kubernetes reports
	// them.
	Conditions []agentapi.Condition `json:"conditions,omitempty"`
	// Override is set while the pods run a template other than Git's (an
	// automatic rollback): what and why.
	Override string `json:"override,omitempty"`
	// RevisionNumber is the current template's revision number (1, 2…,
	// as `ctl rollout history` lists them); Commit the Git commit that
	// introduced it.
	RevisionNumber int64  `json:"revisionNumber,omitempty"`
	Commit         string `json:"commit,omitempty"`
	// ServiceName is a StatefulSet's headless Service; Partition its
	// rolling update's partition (ordinals below it keep their template).
	ServiceName string `json:"serviceName,omitempty"`
	Partition   int32  `json:"partition,omitempty"`
	// NodeSelector is a DaemonSet's template's node selector (Replicas
	// is then the number of eligible nodes).
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}
