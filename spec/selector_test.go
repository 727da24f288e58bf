package spec

import "testing"

func TestLabelSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for _, tc := range []struct {
		name string
		sel  *LabelSelector
		want bool
	}{
		{"nil matches nothing", nil, false},
		{"empty matches everything", &LabelSelector{}, true},
		{"matchLabels", &LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true},
		{"matchLabels wrong value", &LabelSelector{MatchLabels: map[string]string{"app": "api"}}, false},
		{"matchLabels missing key", &LabelSelector{MatchLabels: map[string]string{"env": "prod"}}, false},
		{"In", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"back", "front"}}}}, true},
		{"In missing", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "env", Operator: "In", Values: []string{"x"}}}}, false},
		{"NotIn", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"back"}}}}, true},
		{"NotIn hit", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"front"}}}}, false},
		{"NotIn absent key", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "env", Operator: "NotIn", Values: []string{"prod"}}}}, true},
		{"Exists", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}}, true},
		{"Exists absent", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "env", Operator: "Exists"}}}, false},
		{"DoesNotExist", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "env", Operator: "DoesNotExist"}}}, true},
		{"DoesNotExist present", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "app", Operator: "DoesNotExist"}}}, false},
		{"unknown operator", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "app", Operator: "Like"}}}, false},
		{"labels and expressions both", &LabelSelector{
			MatchLabels:      map[string]string{"app": "web"},
			MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"back"}}},
		}, false},
	} {
		if got := tc.sel.Matches(labels); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for _, tc := range []struct {
		sel  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{}, true},
		{map[string]string{"app": "web"}, true},
		{map[string]string{"app": "web", "tier": "front"}, true},
		{map[string]string{"app": "web", "tier": "back"}, false},
		{map[string]string{"env": ""}, false},
	} {
		if got := SelectorMatches(tc.sel, labels); got != tc.want {
			t.Errorf("SelectorMatches(%v) = %v, want %v", tc.sel, got, tc.want)
		}
	}
	if SelectorMatches(map[string]string{"app": "web"}, nil) {
		t.Error("a non-empty selector matched nil labels")
	}
}
