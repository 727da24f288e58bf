package spec

import "testing"

// TestStrategyRules completes TestValidationRules' strategy cases with
// Kubernetes' ValidateRollingUpdateDeployment and ValidateDeploymentStrategy:
// zero surge and zero unavailability however written, percentages over
// 100% and rollingUpdate beside type Recreate.
func TestStrategyRules(t *testing.T) {
	const (
		head = deployHead + "      containers: [{name: c, image: busybox}]\n  strategy:\n"
		ru   = "spec.strategy.rollingUpdate"
	)
	runRuleCases(t, []ruleCase{
		{"both zero percent", head + `    rollingUpdate:
      maxSurge: 0%
      maxUnavailable: 0% #!
`, ru + ".maxUnavailable", "may not be 0 when maxSurge is 0"},
		{"both zero mixed", head + `    rollingUpdate:
      maxSurge: "0%"
      maxUnavailable: 0 #!
`, ru + ".maxUnavailable", "may not be 0 when maxSurge is 0"},
		{"maxUnavailable 101%", head + `    rollingUpdate:
      maxUnavailable: 101% #!
`, ru + ".maxUnavailable", `invalid value "101%": must not be greater than 100%`},
		{"negative maxSurge", head + `    rollingUpdate:
      maxSurge: -1 #!
`, ru + ".maxSurge", "invalid value -1: must be greater than or equal to 0"},
		{"negative percent", head + `    rollingUpdate:
      maxUnavailable: -10% #!
`, ru + ".maxUnavailable", "must be a non-negative integer or a percentage"},
		{"fractional percent", head + `    rollingUpdate:
      maxSurge: 12.5% #!
`, ru + ".maxSurge", "must be a non-negative integer or a percentage"},
		{"recreate with maxUnavailable", head + `    type: Recreate
    rollingUpdate: #!
      maxUnavailable: 1
`, ru, "may not be specified when strategy `type` is 'Recreate'"},
		{"recreate with empty rollingUpdate", head + `    type: Recreate
    rollingUpdate: {} #!
`, ru, "may not be specified when strategy `type` is 'Recreate'"},
	})

	// What Kubernetes accepts: a surge above 100% (only unavailability is
	// capped), a zero on one side only, Recreate with rollingUpdate null.
	for _, ok := range []string{
		"    rollingUpdate: {maxSurge: 200%, maxUnavailable: 100%}\n",
		"    rollingUpdate: {maxSurge: 0, maxUnavailable: 1}\n",
		"    rollingUpdate: {maxSurge: 1, maxUnavailable: 0%}\n",
		"    type: Recreate\n    rollingUpdate: null\n",
	} {
		set := mustLoad(t, head+ok)
		if d := set.OfKind(KindDeployment)[0].(*Deployment); d.Spec.Strategy.Type == RecreateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate != nil {
			t.Errorf("Recreate got a rollingUpdate: %+v", d.Spec.Strategy.RollingUpdate)
		}
	}
}
