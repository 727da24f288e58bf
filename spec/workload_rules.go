package spec

import (
	"sort"
	"strings"
)

// This file validates the apps/v1 kinds besides Deployment (ReplicaSet,
// StatefulSet, DaemonSet) and dispatches the batch/v1 ones, each object on
// its own, with Kubernetes' rules and wording (pkg/apis/apps/validation).
// What a StatefulSet needs from the rest of the revision (its headless
// Service, its claims' StorageClasses) is checked in workload_set_rules.go.

// MaxCronJobNameLength is the longest name a CronJob may have: the Jobs it
// makes are named <name>-<minutes since the epoch>, and Kubernetes keeps
// that a DNS label (63 characters, 11 for the suffix).
const MaxCronJobNameLength = dns1123LabelMaxLength - 11

// workloadObject validates the kinds of this file and batch_rules.go;
// false when o is none of them.
func (v *validator) workloadObject(o Object) bool {
	switch o := o.(type) {
	case *ReplicaSet:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.workloadName(o.Name)
		v.replicaSetSpec(&o.Spec, "spec")
	case *StatefulSet:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.statefulSetName(o)
		v.statefulSetSpec(&o.Spec, "spec")
	case *DaemonSet:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.workloadName(o.Name)
		v.daemonSetSpec(&o.Spec, "spec")
	case *Job:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.jobName(o)
		v.jobSpec(&o.Spec, "spec")
	case *CronJob:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		if len(o.Name) > MaxCronJobNameLength {
			v.add("metadata.name", "invalid value %q: must be no more than %d characters (the Jobs it makes are named <name>-<minutes since the epoch>)", o.Name, MaxCronJobNameLength)
		}
		v.cronJobSpec(&o.Spec, "spec")
	default:
		return false
	}
	return true
}

// selectedTemplate checks a workload's selector (required, not empty,
// matching the template's labels) and its pod template; p is the spec's
// path.
func (v *validator) selectedTemplate(kind string, sel *LabelSelector, t *PodTemplateSpec, p fieldPath) {
	if sel.Empty() {
		v.add(p.child("selector"), "required: a %s needs a non-empty selector matching its template's labels", kind)
	} else {
		n := len(v.errs)
		v.labelSelector(sel, p.child("selector"))
		if len(v.errs) == n && !sel.Matches(t.Labels) {
			v.add(p.child("template.metadata.labels"), "selector does not match template labels")
		}
	}
	v.templateMeta(&t.ObjectMeta, p.child("template.metadata"))
	v.podSpec(&t.Spec, p.child("template.spec"))
}

func (v *validator) replicas(r *int32, p fieldPath) {
	if r != nil {
		v.nonNegative(p, int64(*r))
	}
}

func (v *validator) replicaSetSpec(s *ReplicaSetSpec, p fieldPath) {
	v.replicas(s.Replicas, p.child("replicas"))
	v.nonNegative(p.child("minReadySeconds"), int64(s.MinReadySeconds))
	v.selectedTemplate(KindReplicaSet, s.Selector, &s.Template, p)
	v.restartAlways(&s.Template.Spec, p.child("template.spec.restartPolicy"))
}

// statefulSetName checks that the pods' names, <name>-<ordinal> up to the
// highest ordinal, are DNS labels: each is also the pod's hostname, and
// its DNS name under the headless Service.
func (v *validator) statefulSetName(o *StatefulSet) {
	if o.Name == "" || isDNS1123Subdomain(o.Name) != "" {
		return // reported by objectMeta
	}
	first, last := o.Spec.OrdinalRange()
	if last < first || first < 0 {
		last = max(first, 0) // replicas or start < 0: reported on its field
	}
	pod := StatefulSetPodName(o.Name, last)
	if msg := isDNS1123Label(pod); msg != "" {
		v.add("metadata.name", "invalid value %q: its pods' names (up to %q) are their hostnames and must be valid DNS labels: %s", o.Name, pod, msg)
	}
}

// Retention policy values, in the order messages list them.
var retentionPolicies = []string{RetainPersistentVolumeClaimRetentionPolicyType, DeletePersistentVolumeClaimRetentionPolicyType}

func (v *validator) statefulSetSpec(s *StatefulSetSpec, p fieldPath) {
	v.replicas(s.Replicas, p.child("replicas"))
	v.nonNegative(p.child("minReadySeconds"), int64(s.MinReadySeconds))
	if s.RevisionHistoryLimit != nil {
		v.nonNegative(p.child("revisionHistoryLimit"), int64(*s.RevisionHistoryLimit))
	}
	if s.ServiceName == "" {
		v.add(p.child("serviceName"), "required: the headless Service (clusterIP: None) that gives the pods their DNS names")
	} else {
		v.check(p.child("serviceName"), s.ServiceName, isDNS1035Label(s.ServiceName))
	}
	switch s.PodManagementPolicy {
	case OrderedReadyPodManagement, ParallelPodManagement:
	default:
		v.add(p.child("podManagementPolicy"), "invalid value %q: must be '%s' or '%s'", s.PodManagementPolicy, OrderedReadyPodManagement, ParallelPodManagement)
	}
	up := p.child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.child("rollingUpdate")
			if ru.Partition != nil {
				v.nonNegative(rp.child("partition"), int64(*ru.Partition))
			}
			if mu := ru.MaxUnavailable; mu != nil {
				n := len(v.errs)
				v.intOrPercent(mu, rp.child("maxUnavailable"), true)
				if len(v.errs) == n && isZero(mu) {
					v.add(rp.child("maxUnavailable"), "invalid value %s: cannot be 0", mu)
				}
			}
		}
	case OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			v.add(up.child("rollingUpdate"), "only allowed for updateStrategy '%s'", RollingUpdateStatefulSetStrategyType)
		}
	default:
		v.add(up.child("type"), "unsupported value %q: supported values: %q, %q", s.UpdateStrategy.Type, RollingUpdateStatefulSetStrategyType, OnDeleteStatefulSetStrategyType)
	}
	if rp := s.PersistentVolumeClaimRetentionPolicy; rp != nil {
		pp := p.child("persistentVolumeClaimRetentionPolicy")
		for _, f := range []struct{ name, val string }{{"whenDeleted", rp.WhenDeleted}, {"whenScaled", rp.WhenScaled}} {
			if !containsString(retentionPolicies, f.val) {
				v.add(pp.child(f.name), "unsupported value %q: supported values: %s", f.val, quoteAll(retentionPolicies))
			}
		}
	}
	if o := s.Ordinals; o != nil {
		v.nonNegative(p.child("ordinals.start"), int64(o.Start))
	}
	v.claimTemplates = v.volumeClaimTemplates(s, p.child("volumeClaimTemplates"))
	v.selectedTemplate(KindStatefulSet, s.Selector, &s.Template, p)
	v.claimTemplates = nil
	v.restartAlways(&s.Template.Spec, p.child("template.spec.restartPolicy"))
}

// volumeClaimTemplates checks a StatefulSet's claim templates as claims
// and returns their names.
func (v *validator) volumeClaimTemplates(s *StatefulSetSpec, p fieldPath) map[string]bool {
	names := map[string]bool{}
	vols := map[string]int{}
	for i, vol := range s.Template.Spec.Volumes {
		vols[vol.Name] = i
	}
	for i := range s.VolumeClaimTemplates {
		c := &s.VolumeClaimTemplates[i]
		ip := p.index(i)
		np := ip.child("metadata.name")
		switch {
		case c.Name == "":
			v.add(np, "required: the pods mount the claim through a volume of this name")
		case isDNS1123Label(c.Name) != "":
			v.check(np, c.Name, isDNS1123Label(c.Name))
		case names[c.Name]:
			v.add(np, "duplicate value %q: claim template names are unique", c.Name)
		default:
			// As in Kubernetes, the claim replaces a volume of the same
			// name. Old manifests declare it as a persistentVolumeClaim
			// volume too, which then means the same; any other volume
			// would be silently unused.
			if j, clash := vols[c.Name]; clash && s.Template.Spec.Volumes[j].PersistentVolumeClaim == nil {
				v.add(np, "invalid value %q: the template's volumes[%d] has the same name: the pods would mount the claim (as Kubernetes does) and never that volume; rename one", c.Name, j)
			}
			names[c.Name] = true
		}
		v.labels(c.Labels, ip.child("metadata.labels"))
		v.annotations(c.Annotations, ip.child("metadata.annotations"))
		v.claimSpec(&c.Spec, ip.child("spec"))
	}
	return names
}

// claimTemplatesHint adds, to a mount that names no volume, the claim
// templates it might have meant.
func (v *validator) claimTemplatesHint() string {
	if len(v.claimTemplates) == 0 {
		return ""
	}
	names := make([]string, 0, len(v.claimTemplates))
	for n := range v.claimTemplates {
		names = append(names, n)
	}
	sort.Strings(names)
	return " or spec.volumeClaimTemplates (" + strings.Join(names, ", ") + ")"
}

func (v *validator) daemonSetSpec(s *DaemonSetSpec, p fieldPath) {
	v.nonNegative(p.child("minReadySeconds"), int64(s.MinReadySeconds))
	if s.RevisionHistoryLimit != nil {
		v.nonNegative(p.child("revisionHistoryLimit"), int64(*s.RevisionHistoryLimit))
	}
	v.selectedTemplate(KindDaemonSet, s.Selector, &s.Template, p)
	v.restartAlways(&s.Template.Spec, p.child("template.spec.restartPolicy"))
	up := p.child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case RollingUpdateDaemonSetStrategyType:
		ru := s.UpdateStrategy.RollingUpdate
		if ru == nil {
			return
		}
		rp := up.child("rollingUpdate")
		n := len(v.errs)
		v.intOrPercent(ru.MaxUnavailable, rp.child("maxUnavailable"), true)
		v.intOrPercent(ru.MaxSurge, rp.child("maxSurge"), true)
		if len(v.errs) != n {
			return
		}
		// As Kubernetes: exactly one of them is not 0. A surge starts the
		// new pod beside the old one on the same node; unavailability
		// stops the old one first: a node does one or the other.
		switch hasUnavailable, hasSurge := !isZero(ru.MaxUnavailable), !isZero(ru.MaxSurge); {
		case hasUnavailable && hasSurge:
			v.add(rp.child("maxSurge"), "invalid value %s: may not be set when maxUnavailable is non-zero (set maxUnavailable: 0 to surge)", ru.MaxSurge)
		case !hasUnavailable && !hasSurge:
			v.add(rp.child("maxUnavailable"), "invalid value 0: cannot be 0 when maxSurge is 0")
		}
	case OnDeleteDaemonSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			v.add(up.child("rollingUpdate"), "only allowed for updateStrategy '%s'", RollingUpdateDaemonSetStrategyType)
		}
	default:
		v.add(up.child("type"), "unsupported value %q: supported values: %q, %q", s.UpdateStrategy.Type, RollingUpdateDaemonSetStrategyType, OnDeleteDaemonSetStrategyType)
	}
}
