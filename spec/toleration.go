package spec

// Tolerates reports whether one of tols tolerates taint, as Kubernetes'
// Toleration.ToleratesTaint does: the effects match (an empty effect matches
// all), the keys match (an empty key with Exists matches every taint), and
// the operator is Exists, or Equal (the default) with the same value.
func Tolerates(tols []Toleration, taint *Taint) bool {
	for i := range tols {
		tol := &tols[i]
		if tol.Effect != "" && tol.Effect != taint.Effect {
			continue
		}
		if tol.Key != "" && tol.Key != taint.Key {
			continue
		}
		switch tol.Operator {
		case TolerationOpExists:
			return true
		case "", TolerationOpEqual:
			if tol.Key != "" && tol.Value == taint.Value {
				return true
			}
		}
	}
	return false
}
