package spec

import "slices"

// Matches reports whether labels satisfy the selector: every matchLabels
// pair is present and every matchExpressions requirement holds. As in
// Kubernetes, a nil selector matches nothing and an empty one matches
// everything; a requirement with an unknown operator matches nothing
// (validation rejects such selectors before anyone asks).
func (s *LabelSelector) Matches(labels map[string]string) bool {
	if s == nil {
		return false
	}
	if !SelectorMatches(s.MatchLabels, labels) {
		return false
	}
	for _, r := range s.MatchExpressions {
		v, has := labels[r.Key]
		switch r.Operator {
		case LabelSelectorOpIn:
			if !has || !slices.Contains(r.Values, v) {
				return false
			}
		case LabelSelectorOpNotIn:
			if has && slices.Contains(r.Values, v) {
				return false
			}
		case LabelSelectorOpExists:
			if !has {
				return false
			}
		case LabelSelectorOpDoesNotExist:
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Empty reports whether the selector has no requirement at all (and so,
// when non-nil, selects everything).
func (s *LabelSelector) Empty() bool {
	return s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0)
}

// SelectorMatches reports whether labels contain every key/value pair of the
// equality-based selector sel (a ReplicationController's or a pod's
// nodeSelector). An empty sel matches everything, as in Kubernetes.
func SelectorMatches(sel map[string]string, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}
