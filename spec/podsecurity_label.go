package spec

// PodSecurityEnforceLabel on a Namespace is Kubernetes' pod security
// level for its pods (privileged, baseline or restricted; checked at sync
// by package policy/podsecurity). Once set, it decides instead of the
// namespace's AllowPrivilegedAnnotation and AllowHostPathsAnnotation:
// "privileged" allows what both allow, "baseline" and "restricted" refuse
// what their level forbids even where an annotation would allow it.
const PodSecurityEnforceLabel = "pod-security.kubernetes.io/enforce"

// podSecurityDecides reports whether m's pod security label, not
// Stevedore's annotations, decides what its pods may do.
func podSecurityDecides(m *ObjectMeta) bool {
	if m == nil {
		return false
	}
	switch m.Labels[PodSecurityEnforceLabel] {
	case "privileged", "baseline", "restricted":
		return true
	}
	return false
}
