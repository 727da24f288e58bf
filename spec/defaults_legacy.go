package spec

import "math"

// This file fills the defaults of the older workload apiVersions where they
// differ from apps/v1's, as Kubernetes 1.15's SetDefaults functions of
// pkg/apis/extensions/v1beta1, pkg/apis/apps/v1beta1 and
// pkg/apis/apps/v1beta2 did. They run on the converted object before
// SetDefaults, which then fills what the versions share.
//
//   - extensions/v1beta1 and apps/v1beta1 default spec.selector, and the
//     object's labels when it has none, to the template's labels (apps/v1
//     requires a selector);
//   - extensions/v1beta1 Deployment: maxUnavailable 1 and maxSurge 1 (not
//     25%), and revisionHistoryLimit and progressDeadlineSeconds unset
//     meaning "keep every revision" and "no deadline" (MaxInt32, as the
//     API server wrote them);
//   - apps/v1beta1 Deployment: revisionHistoryLimit 2;
//   - extensions/v1beta1 DaemonSet and apps/v1beta1 StatefulSet:
//     updateStrategy OnDelete (a template change replaces a pod only when
//     the pod goes); a DaemonSet's rollingUpdate written without a type is
//     dropped, as Kubernetes' validation ignored it beside OnDelete;
//   - apps/v1beta2 defaults as apps/v1 does.

// Defaults of the older versions that differ from apps/v1's.
const (
	// ExtensionsV1beta1MaxUnavailable and ExtensionsV1beta1MaxSurge bound
	// an extensions/v1beta1 Deployment's rolling update by default.
	ExtensionsV1beta1MaxUnavailable = 1
	ExtensionsV1beta1MaxSurge       = 1
	// AppsV1beta1RevisionHistoryLimit is an apps/v1beta1 Deployment's.
	AppsV1beta1RevisionHistoryLimit = 2
	// Unlimited is what extensions/v1beta1 leaves unset for "keep every
	// revision" (revisionHistoryLimit) and "no deadline"
	// (progressDeadlineSeconds), as Kubernetes wrote it.
	Unlimited = math.MaxInt32
)

// defaultLegacy fills o's defaults that differ in apiVersion.
func defaultLegacy(apiVersion string, o Object) {
	if apiVersion == ExtensionsV1beta1 || apiVersion == AppsV1beta1 {
		selectorFromTemplate(o)
	}
	switch o := o.(type) {
	case *Deployment:
		s := &o.Spec
		switch apiVersion {
		case ExtensionsV1beta1:
			if s.Strategy.Type == "" {
				s.Strategy.Type = RollingUpdateDeploymentStrategyType
			}
			// extensions/v1beta1 filled rollingUpdate whenever it was
			// written, even beside Recreate (which validation refuses).
			if s.Strategy.Type == RollingUpdateDeploymentStrategyType || s.Strategy.RollingUpdate != nil {
				if s.Strategy.RollingUpdate == nil {
					s.Strategy.RollingUpdate = &RollingUpdateDeployment{}
				}
				ru := s.Strategy.RollingUpdate
				if ru.MaxUnavailable == nil {
					v := FromInt(ExtensionsV1beta1MaxUnavailable)
					ru.MaxUnavailable = &v
				}
				if ru.MaxSurge == nil {
					v := FromInt(ExtensionsV1beta1MaxSurge)
					ru.MaxSurge = &v
				}
			}
			if s.RevisionHistoryLimit == nil {
				s.RevisionHistoryLimit = int32Ptr(Unlimited)
			}
			if s.ProgressDeadlineSeconds == nil {
				s.ProgressDeadlineSeconds = int32Ptr(Unlimited)
			}
		case AppsV1beta1:
			if s.RevisionHistoryLimit == nil {
				s.RevisionHistoryLimit = int32Ptr(AppsV1beta1RevisionHistoryLimit)
			}
		}
	case *DaemonSet:
		if apiVersion == ExtensionsV1beta1 && o.Spec.UpdateStrategy.Type == "" {
			o.Spec.UpdateStrategy.Type = OnDeleteDaemonSetStrategyType
			// Kubernetes kept a rollingUpdate written without a type
			// beside the defaulted OnDelete, and its validation ignored
			// it there: the manifest loaded and the DaemonSet was
			// OnDelete. It has no effect, so it goes rather than fail
			// apps/v1's rule that only RollingUpdate takes one.
			o.Spec.UpdateStrategy.RollingUpdate = nil
		}
	case *StatefulSet:
		if apiVersion == AppsV1beta1 && o.Spec.UpdateStrategy.Type == "" {
			o.Spec.UpdateStrategy.Type = OnDeleteStatefulSetStrategyType
		}
	}
}

// selectorFromTemplate gives a workload without a selector one matching
// its template's labels, and the object its template's labels when it has
// none, as extensions/v1beta1 and apps/v1beta1 did.
func selectorFromTemplate(o Object) {
	var sel **LabelSelector
	var tmpl *PodTemplateSpec
	switch o := o.(type) {
	case *Deployment:
		sel, tmpl = &o.Spec.Selector, &o.Spec.Template
	case *DaemonSet:
		sel, tmpl = &o.Spec.Selector, &o.Spec.Template
	case *ReplicaSet:
		sel, tmpl = &o.Spec.Selector, &o.Spec.Template
	case *StatefulSet:
		sel, tmpl = &o.Spec.Selector, &o.Spec.Template
	default:
		return
	}
	// Kubernetes tested labels != nil: an empty map written as {} gives an
	// empty selector, which validation then refuses.
	if tmpl.Labels == nil {
		return
	}
	if *sel == nil {
		*sel = &LabelSelector{MatchLabels: copyMap(tmpl.Labels)}
	}
	if m := o.GetObjectMeta(); len(m.Labels) == 0 {
		m.Labels = copyMap(tmpl.Labels)
	}
}
