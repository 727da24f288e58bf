package reconcile

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// failureAction applies a Job's podFailurePolicy to a failed pod (its
// node's last report st, nil if none; disrupted when it was lost with its
// node or evicted, which Kubernetes marks with the DisruptionTarget
// condition): the first rule that matches decides; none, or no policy,
// is Count. why says what matched.
func failureAction(pol *spec.PodFailurePolicy, st *api.PodStatus, disrupted bool) (action, why string) {
	if pol == nil {
		return spec.PodFailurePolicyActionCount, ""
	}
	for _, r := range pol.Rules {
		if r.OnExitCodes != nil {
			if c, ok := exitCodeMatch(r.OnExitCodes, st); ok {
				return r.Action, c
			}
			continue
		}
		for _, pat := range r.OnPodConditions {
			status := pat.Status
			if status == "" {
				status = api.ConditionTrue
			}
			if conditionMatch(pat.Type, status, st, disrupted) {
				return r.Action, "condition " + pat.Type + "=" + status
			}
		}
	}
	return spec.PodFailurePolicyActionCount, ""
}

// exitCodeMatch reports whether a container of st (init containers too)
// exited with a non-zero code the requirement matches, and which.
func exitCodeMatch(req *spec.PodFailurePolicyOnExitCodesRequirement, st *api.PodStatus) (string, bool) {
	if st == nil {
		return "", false
	}
	for _, list := range [][]api.ContainerStatus{st.Containers, st.InitContainers} {
		for _, c := range list {
			if req.ContainerName != nil && *req.ContainerName != c.Name {
				continue
			}
			t := c.State.Terminated
			if t == nil || t.ExitCode == 0 {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if in == (req.Operator == spec.PodFailurePolicyOnExitCodesOpIn) {
				return c.Name + " exit code " + strconv.Itoa(int(t.ExitCode)), true
			}
		}
	}
	return "", false
}

// conditionMatch reports whether the pod has condition typ with status.
func conditionMatch(typ, status string, st *api.PodStatus, disrupted bool) bool {
	if typ == DisruptionTargetCondition && disrupted {
		return status == api.ConditionTrue
	}
	if st == nil {
		return false
	}
	c := st.Condition(typ)
	return c != nil && c.Status == status
}

// parseIndexes reads a set of indexes written by formatIndexes
// ("1,3-5,7"); malformed parts are skipped.
func parseIndexes(s string) map[int]bool {
	m := map[int]bool{}
	if s == "" {
		return m
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b; i++ {
			m[i] = true
		}
	}
	return m
}

// formatIndexes writes a set of indexes as Kubernetes' completedIndexes:
// sorted, runs of consecutive indexes as "a-b".
func formatIndexes(m map[int]bool) string {
	if len(m) == 0 {
		return ""
	}
	idx := make([]int, 0, len(m))
	for i, ok := range m {
		if ok {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(idx[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return b.String()
}
