package spec

import "testing"

func TestTolerates(t *testing.T) {
	taint := &Taint{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoSchedule}
	for _, tc := range []struct {
		name string
		tols []Toleration
		want bool
	}{
		{"none", nil, false},
		{"equal same value", []Toleration{{Key: "dedicated", Value: "gpu"}}, true},
		{"explicit Equal, other value", []Toleration{{Key: "dedicated", Operator: TolerationOpEqual, Value: "db"}}, false},
		{"exists on key", []Toleration{{Key: "dedicated", Operator: TolerationOpExists}}, true},
		{"exists on everything", []Toleration{{Operator: TolerationOpExists}}, true},
		{"other effect", []Toleration{{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoExecute}}, false},
		{"same effect", []Toleration{{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoSchedule}}, true},
		{"other key", []Toleration{{Key: "zone", Operator: TolerationOpExists}}, false},
		{"second of two", []Toleration{{Key: "zone", Operator: TolerationOpExists}, {Key: "dedicated", Value: "gpu"}}, true},
	} {
		if got := Tolerates(tc.tols, taint); got != tc.want {
			t.Errorf("%s: Tolerates = %v, want %v", tc.name, got, tc.want)
		}
	}
}
