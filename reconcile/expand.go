package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// PodTemplateHashLabel is the label every workload pod carries with the hash
// of the template it was made from, as in Kubernetes. It lets a selector tell
// two revisions of one workload apart during a template change.
const PodTemplateHashLabel = "pod-template-hash"

// DesiredPod is one pod the desired objects ask for. The maps and the spec's
// slices are shared with the Set and with the other pods of the same
// workload: treat them as read-only.
type DesiredPod struct {
	Namespace string
	Name      string
	// Owner is the workload's key ("Deployment/ns/name"), empty for a bare Pod.
	Owner       string
	Labels      map[string]string
	Annotations map[string]string
	Spec        *spec.PodSpec
	// Hash identifies the pod's content: the template hash for a workload's
	// pod (it is also in the name), the spec hash for a bare Pod.
	Hash string
	// Index is the replica index of a workload's pod, 0 for a bare Pod.
	Index int
	// key caches Key: expansion builds it once, Plan needs it several times.
	key string
}

// Key returns "namespace/name", the key of the pod in Memory.
func (p *DesiredPod) Key() string {
	if p.key != "" {
		return p.key
	}
	return p.Namespace + "/" + p.Name
}

// workload is what expansion needs of a ReplicationController, Deployment,
// ReplicaSet or StatefulSet.
type workload struct {
	key      spec.ObjectKey
	replicas int
	template *spec.PodTemplateSpec
	recreate bool
	// strategy is a Deployment's strategy type, empty for a
	// ReplicationController; maxSurge and maxUnavailable its rolling
	// bounds resolved against replicas (see resolveStrategy).
	strategy       string
	maxSurge       int
	maxUnavailable int
	// paused is a Deployment's spec.paused: its template changes wait.
	paused bool
	// heldFrom is set on a paused workload whose pods are expanded from a
	// remembered revision instead of its template: the hash it would run
	// otherwise (its template's, or its override's).
	heldFrom string
	// override is set when Input.Overrides replaced the template (see
	// retemplate): template and hash are then the override's.
	override *TemplateOverride
	minReady int32
	// deadline is how long a new pod may stay unavailable before the
	// workload's progress is reported stuck.
	deadline  time.Duration
	selector  map[string]string
	namespace string
	// hash is the template's hash, empty without a template.
	hash string
	// sts holds a StatefulSet's own fields (statefulset.go); nil for
	// every other kind.
	sts *statefulSet
	// daemon is set for a DaemonSet (daemonset.go): its replicas are its
	// nodes once resolveDaemon has run.
	daemon *daemonSet
}

// isWorkloadKind reports whether objects of kind run pods through a
// template that expand turns into a workload's pods.
func isWorkloadKind(kind string) bool {
	switch kind {
	case spec.KindDeployment, spec.KindReplicationController, spec.KindReplicaSet, spec.KindStatefulSet, spec.KindDaemonSet:
		return true
	}
	return false
}

// workloadOf returns the workload view of o, or false when o runs no pods
// through a template.
func workloadOf(key spec.ObjectKey, o spec.Object) (workload, bool) {
	w, ok := workloadFields(key, o)
	if ok && w.template != nil {
		w.hash = spec.TemplateHash(w.template)
	}
	return w, ok
}

func workloadFields(key spec.ObjectKey, o spec.Object) (workload, bool) {
	ns := key.Namespace
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	switch w := o.(type) {
	case *spec.Deployment:
		var sel map[string]string
		if w.Spec.Selector != nil {
			sel = w.Spec.Selector.MatchLabels
		}
		wl := workload{
			key:       key,
			replicas:  replicas(w.Spec.Replicas),
			template:  &w.Spec.Template,
			recreate:  w.Spec.Strategy.Type == spec.RecreateDeploymentStrategyType,
			strategy:  w.Spec.Strategy.Type,
			paused:    w.Spec.Paused,
			minReady:  w.Spec.MinReadySeconds,
			deadline:  progressDeadline(w.Spec.ProgressDeadlineSeconds),
			selector:  sel,
			namespace: ns,
		}
		if wl.strategy == "" {
			wl.strategy = spec.RollingUpdateDeploymentStrategyType
		}
		if !wl.recreate {
			wl.maxSurge, wl.maxUnavailable = resolveStrategy(w.Spec.Strategy.RollingUpdate, wl.replicas)
		}
		return wl, true
	case *spec.DaemonSet:
		return daemonWorkload(key, w, ns), true
	case *spec.ReplicationController:
		sel := w.Spec.Selector
		if len(sel) == 0 && w.Spec.Template != nil {
			sel = w.Spec.Template.Labels
		}
		// A ReplicationController has no strategy: a template change
		// adds every new pod at once and keeps the old ones until the new
		// are available (maxSurge 100%, maxUnavailable 0).
		n := replicas(w.Spec.Replicas)
		return workload{
			key:       key,
			replicas:  n,
			template:  w.Spec.Template,
			maxSurge:  n,
			selector:  sel,
			namespace: ns,
			deadline:  progressDeadline(nil),
		}, true
	case *spec.ReplicaSet:
		return replicaSetWorkload(key, w, ns), true
	case *spec.StatefulSet:
		return statefulSetWorkload(key, w, ns), true
	}
	return workload{}, false
}

// DefaultProgressDeadline is Kubernetes' default progressDeadlineSeconds,
// also used for ReplicationControllers, which have no such field.
const DefaultProgressDeadline = 600 * time.Second

func progressDeadline(s *int32) time.Duration {
	if s == nil || *s <= 0 {
		return DefaultProgressDeadline
	}
	return time.Duration(*s) * time.Second
}

// replicas applies Kubernetes' default of 1 and treats a negative count
// (which validation rejects) as 0 rather than panicking.
func replicas(r *int32) int {
	if r == nil {
		return 1
	}
	if *r < 0 {
		return 0
	}
	return int(*r)
}

// workloadPodName is the stable name of replica i of a workload at a
// template hash: scaling adds or removes the highest indexes and a template
// change gives every replica a new name.
func workloadPodName(name, hash string, i int) string {
	return name + "-" + hash + "-" + strconv.Itoa(i)
}

// expandWorkload appends the pods of w to out.
func expandWorkload(out []DesiredPod, w workload) []DesiredPod {
	if w.daemon != nil {
		return expandDaemon(out, w)
	}
	if w.template == nil || w.replicas == 0 {
		return out
	}
	if w.sts != nil {
		return expandStatefulSet(out, &w)
	}
	hash := w.hash
	labels := make(map[string]string, len(w.template.Labels)+1)
	maps.Copy(labels, w.template.Labels)
	labels[PodTemplateHashLabel] = hash
	owner := w.key.String()
	for i := 0; i < w.replicas; i++ {
		// One string for key and name: the name is its suffix.
		key := w.namespace + "/" + w.key.Name + "-" + hash + "-" + strconv.Itoa(i)
		out = append(out, DesiredPod{
			Namespace:   w.namespace,
			Name:        key[len(w.namespace)+1:],
			key:         key,
			Owner:       owner,
			Labels:      labels,
			Annotations: w.template.Annotations,
			Spec:        &w.template.Spec,
			Hash:        hash,
			Index:       i,
		})
	}
	return out
}

// SpecHash returns a short, stable hash of a pod spec. A bare Pod whose spec
// hash changes is replaced by a new incarnation (a new UID); labels and
// annotations are not part of it, so relabelling a pod does not restart it.
func SpecHash(ps *spec.PodSpec) string {
	b, err := json.Marshal(ps)
	if err != nil {
		// A PodSpec always marshals; a failure is a programming error.
		panic("reconcile: failed to marshal pod spec: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:5])
}

// ExpandPods returns every pod set asks for, sorted by namespace and name:
// a bare Pod is one pod; a ReplicationController, ReplicaSet or Deployment
// with N replicas is N pods named "<name>-<template hash>-<i>", i =
// 0..N-1, labelled with the template's labels plus pod-template-hash; a
// StatefulSet is N pods "<name>-<ordinal>" at its template's revision
// (statefulset.go; a plan keeps some at their own revision). Namespaces,
// PodTemplates and Nodes run nothing, nor do DaemonSets here: their pods
// depend on the nodes, which only a plan knows. A nil set asks for
// nothing.
func ExpandPods(set *spec.Set) []DesiredPod {
	if set == nil {
		return nil
	}
	return expand(set, workloadsOf(set))
}

// workloadsOf returns the workloads of set by key string, their template
// hashes computed once.
func workloadsOf(set *spec.Set) map[string]workload {
	out := map[string]workload{}
	for k, o := range set.Objects {
		if w, ok := workloadOf(k, o); ok {
			out[k.String()] = w
		}
	}
	return out
}

// expand is ExpandPods with the workloads of set already known.
func expand(set *spec.Set, workloads map[string]workload) []DesiredPod {
	n := 0
	for _, w := range workloads {
		n += w.replicas
	}
	out := make([]DesiredPod, 0, n+len(set.Objects)-len(workloads))
	for k, o := range set.Objects {
		if p, ok := o.(*spec.Pod); ok {
			out = append(out, barePod(p))
		} else if isWorkloadKind(k.Kind) {
			out = expandWorkload(out, workloads[k.String()])
		}
	}
	sortPods(out)
	return out
}

// comparePodKeys orders "namespace/name" keys by namespace, then name. Plain
// string order differs: "-" and "." sort before "/", so "a-b/x" would come
// before "a/x".
func comparePodKeys(a, b string) int {
	na, ra, _ := strings.Cut(a, "/")
	nb, rb, _ := strings.Cut(b, "/")
	if c := strings.Compare(na, nb); c != 0 {
		return c
	}
	return strings.Compare(ra, rb)
}

// sortPods sorts pods by namespace and name.
func sortPods(out []DesiredPod) {
	slices.SortFunc(out, func(a, b DesiredPod) int {
		// comparePodKeys's order, without splitting the keys again.
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		// Two objects asking for one pod name is invalid input, but the
		// order must still not depend on map iteration.
		if c := strings.Compare(a.Owner, b.Owner); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
}

// barePod is the one pod a Pod object asks for.
func barePod(p *spec.Pod) DesiredPod {
	ns := p.Namespace
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	return DesiredPod{
		Namespace:   ns,
		Name:        p.Name,
		key:         ns + "/" + p.Name,
		Labels:      p.Labels,
		Annotations: p.Annotations,
		Spec:        &p.Spec,
		Hash:        SpecHash(&p.Spec),
	}
}

// expandObject appends the pods of one object to out.
func expandObject(out []DesiredPod, k spec.ObjectKey, o spec.Object) []DesiredPod {
	if p, ok := o.(*spec.Pod); ok {
		return append(out, barePod(p))
	}
	if w, ok := workloadOf(k, o); ok {
		return expandWorkload(out, w)
	}
	return out
}
