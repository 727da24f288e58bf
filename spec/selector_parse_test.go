package spec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLabelSelector(t *testing.T) {
	t.Parallel()
	req := func(k, op string, v ...string) LabelSelectorRequirement {
		return LabelSelectorRequirement{Key: k, Operator: op, Values: v}
	}
	for _, tc := range []struct {
		in   string
		want []LabelSelectorRequirement
	}{
		{"", nil},
		{"   ", nil},
		{"app=web", []LabelSelectorRequirement{req("app", LabelSelectorOpIn, "web")}},
		{"app==web", []LabelSelectorRequirement{req("app", LabelSelectorOpIn, "web")}},
		{"app!=web", []LabelSelectorRequirement{req("app", LabelSelectorOpNotIn, "web")}},
		{"app", []LabelSelectorRequirement{req("app", LabelSelectorOpExists)}},
		{"!app", []LabelSelectorRequirement{req("app", LabelSelectorOpDoesNotExist)}},
		{"app=", []LabelSelectorRequirement{req("app", LabelSelectorOpIn, "")}},
		{" app = web , tier in ( a , b ) ,!canary, env notin (dev)", []LabelSelectorRequirement{
			req("app", LabelSelectorOpIn, "web"), req("tier", LabelSelectorOpIn, "a", "b"),
			req("canary", LabelSelectorOpDoesNotExist), req("env", LabelSelectorOpNotIn, "dev")}},
		{"app.kubernetes.io/name=web,x", []LabelSelectorRequirement{
			req("app.kubernetes.io/name", LabelSelectorOpIn, "web"), req("x", LabelSelectorOpExists)}},
		// "in" is a key when no operator is expected.
		{"in=notin", []LabelSelectorRequirement{req("in", LabelSelectorOpIn, "notin")}},
	} {
		sel, err := ParseLabelSelector(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, sel.MatchExpressions); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tc.in, diff)
		}
	}
}

func TestParseLabelSelectorErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, msg string }{
		{"app=web,", "found the end, want a label key"},
		{",app", `found ",", want a label key`},
		{"app=(x)", `found "(", want a value`},
		{"app web", `found "web", want an operator`},
		{"app in web", `found "web", want '('`},
		{"app in (a", "found the end, want ',' or ')'"},
		{"app in ()", "the set of values is empty"},
		{"app>1", `the operator ">" is not supported`},
		{"-bad-=x", `key "-bad-"`},
		{"a/b/c=x", `key "a/b/c"`},
		{"app=-x-", `value "-x-" of app`},
		{"app=a=b", `found "=", want ',' or the end`},
		{"!app=x", `found "=", want ',' or the end`},
		{"app in (a b)", `found "b", want ',' or ')'`},
	} {
		_, err := ParseLabelSelector(tc.in)
		if err == nil {
			t.Errorf("%q: no error, want one containing %q", tc.in, tc.msg)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "invalid label selector") {
			t.Errorf("%q: error %q, want it to contain %q", tc.in, err, tc.msg)
		}
	}
}

// TestParsedSelectorMatches: the parsed selector means what Kubernetes
// means: != and notin select objects without the key too.
func TestParsedSelectorMatches(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"app": "web", "tier": "front"}
	for _, tc := range []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"app=web", true},
		{"app=db", false},
		{"app!=db", true},
		{"env!=prod", true},
		{"env notin (prod)", true},
		{"tier in (back,front)", true},
		{"tier notin (back,front)", false},
		{"app,tier", true},
		{"!app", false},
		{"!env", true},
		{"app=web,tier=back", false},
		{"env=", false},
	} {
		sel, err := ParseLabelSelector(tc.sel)
		if err != nil {
			t.Fatalf("%q: %v", tc.sel, err)
		}
		if got := sel.Matches(labels); got != tc.want {
			t.Errorf("%q matches %v: %v, want %v", tc.sel, labels, got, tc.want)
		}
	}
}
