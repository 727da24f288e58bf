package spec

// ServiceLinksEnabled reports whether the pod's containers get the
// environment variables of the Services in its namespace: unless
// enableServiceLinks is false, as in Kubernetes.
func (s *PodSpec) ServiceLinksEnabled() bool {
	return s.EnableServiceLinks == nil || *s.EnableServiceLinks
}

// normalizeServiceLinks stores Kubernetes' default, enableServiceLinks
// true, as unset. A pod template's hash (which names its pods) is taken
// over the stored spec, and before enableServiceLinks was a field
// `enableServiceLinks: true` loaded as nothing (accepted and dropped as
// Kubernetes' default): storing it would change the hash of every such
// template and restart every pod on upgrade.
func normalizeServiceLinks(s *PodSpec) {
	if s.EnableServiceLinks != nil && *s.EnableServiceLinks {
		s.EnableServiceLinks = nil
	}
}
