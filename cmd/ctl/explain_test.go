package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec/schema"
)

// Explain needs no server: these run with an address nothing listens on.
const noServer = "http://127.0.0.1:1"

func TestExplainField(t *testing.T) {
	code, out, errOut := ctl(t, noServer, "explain", "deployment.spec.strategy")
	if code != 0 {
		t.Fatalf("explain = %d %q", code, errOut)
	}
	strategy := schema.TypeOf("DeploymentStrategy")
	for _, want := range []string{
		"GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: strategy <DeploymentStrategy>\n\nDESCRIPTION:\n    strategy is ",
		"\nFIELDS:\n  rollingUpdate\t<RollingUpdateDeployment>\n    rollingUpdate bounds a rolling update",
		"\n  type\t<string>\n    type is \"Recreate\"",
		// The type's own documentation follows the field's.
		"\n\n    " + strings.Fields(strategy.Doc)[0] + " ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain deployment.spec.strategy lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-required-") {
		t.Errorf("no field of a strategy is required:\n%s", out)
	}

	code, out, _ = ctl(t, noServer, "explain", "pod.spec.containers.resources")
	for _, want := range []string{
		"KIND:       Pod\nVERSION:    v1\n\nFIELD: resources <Resources>\n",
		"  limits\t<map[string]Quantity>\n",
		"  requests\t<map[string]Quantity>\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("explain pod.spec.containers.resources = %d, lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "GROUP:") {
		t.Errorf("core kinds have no GROUP line:\n%s", out)
	}

	// A list of objects: its element's fields, the required ones marked,
	// and the Kubernetes fields Stevedore refuses named as such.
	code, out, _ = ctl(t, noServer, "explain", "po.spec.containers")
	for _, want := range []string{
		"FIELD: containers <[]Container> -required-\n",
		"  image\t<string> -required-\n",
		"  name\t<string> -required-\n",
		"  workingDir\t<string>\n",
		"NOT SUPPORTED (Kubernetes fields a manifest may not set here):\n  resizePolicy, restartPolicy,",
		"  livenessProbe\t<Probe>\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("explain po.spec.containers = %d, lacks %q:\n%s", code, want, out)
		}
	}

	// A scalar: description, no FIELDS.
	code, out, _ = ctl(t, noServer, "explain", "deploy.spec.replicas")
	if code != 0 || !strings.Contains(out, "FIELD: replicas <integer>\n\nDESCRIPTION:\n    replicas is the number of pods") || strings.Contains(out, "FIELDS:") {
		t.Errorf("explain deploy.spec.replicas = %d:\n%s", code, out)
	}
}

func TestExplainKind(t *testing.T) {
	for _, k := range schema.Kinds() {
		for _, name := range k.Resources() {
			code, out, errOut := ctl(t, noServer, "explain", name)
			if code != 0 || !strings.Contains(out, "KIND:       "+k.Kind+"\n") || !strings.Contains(out, "\nDESCRIPTION:\n    "+k.Kind+" ") {
				t.Errorf("explain %s = %d %q:\n%s", name, code, errOut, out)
			}
			for _, f := range schema.TypeOf(k.Type).Fields {
				if !strings.Contains(out, "\n  "+f.Name+"\t<"+f.Type+">") {
					t.Errorf("explain %s does not list %s", name, f.Name)
				}
			}
			for _, l := range strings.Split(out, "\n") {
				if len(l) > explainWidth {
					t.Errorf("explain %s: line over %d columns: %q", name, explainWidth, l)
				}
			}
		}
	}
}

// TestExplainWorkloads: the apps/v1 and batch/v1 workload kinds by their
// kubectl short names, down to their own fields.
func TestExplainWorkloads(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"sts.spec.updateStrategy.rollingUpdate", "KIND:       StatefulSet\n"},
		{"statefulsets.spec.updateStrategy.rollingUpdate", "  partition\t<integer>\n"},
		{"ds.spec.updateStrategy.rollingUpdate", "  maxSurge\t<IntOrString>\n"},
		{"cj.spec.schedule", "FIELD: schedule <string> -required-\n"},
		{"cronjobs.batch.spec.jobTemplate.spec", "  completionMode\t<string>\n"},
		{"job.spec.podFailurePolicy.rules", "  onExitCodes\t<PodFailurePolicyOnExitCodesRequirement>\n"},
		{"rs.spec", "GROUP:      apps\nKIND:       ReplicaSet\n"},
		{"job.spec", "NOT SUPPORTED (Kubernetes fields a manifest may not set here):\n  backoffLimitPerIndex,"},
	} {
		code, out, errOut := ctl(t, noServer, "explain", tc.path)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("explain %s = %d %q, lacks %q:\n%s", tc.path, code, errOut, tc.want, out)
		}
	}
}

func TestExplainAPIVersion(t *testing.T) {
	code, out, errOut := ctl(t, noServer, "explain", "deployments", "--api-version", "apps/v1")
	if code != 0 || !strings.Contains(out, "KIND:       Deployment\n") {
		t.Errorf("explain --api-version apps/v1 = %d %q\n%s", code, errOut, out)
	}
}

func TestExplainRecursive(t *testing.T) {
	code, out, _ := ctl(t, noServer, "explain", "deployment.spec", "--recursive")
	for _, want := range []string{
		"FIELD: spec <DeploymentSpec> -required-\n",
		"\nFIELDS:\n  minReadySeconds\t<integer>\n  paused\t<boolean>\n",
		"  selector\t<LabelSelector> -required-\n    matchExpressions\t<[]LabelSelectorRequirement>\n      key\t<string> -required-\n      operator\t<string> -required-\n      values\t<[]string>\n    matchLabels\t<map[string]string>\n",
		"  template\t<PodTemplateSpec> -required-\n    metadata\t<ObjectMeta>\n",
		"\n      containers\t<[]Container> -required-\n        args\t<[]string>\n",
		// Every level of a deep path is there.
		"\n            preference\t<NodeSelectorTerm> -required-\n              matchExpressions\t<[]NodeSelectorRequirement>\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("explain --recursive = %d, lacks %q:\n%s", code, want, out)
		}
	}
	// No descriptions in the tree.
	if strings.Contains(out, "minReadySeconds is") {
		t.Errorf("--recursive printed descriptions:\n%s", out)
	}
}

func TestExplainErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"explain"}, "explain takes one KIND[.FIELD...]"},
		{[]string{"explain", "ingresses"}, `doesn't have a resource type "ingresses"`},
		{[]string{"explain", "pod.spec.volumes.nfs"}, "Stevedore does not support"},
		{[]string{"explain", "pod.spec.contaners"}, `field "contaners" does not exist in Pod.spec`},
		{[]string{"explain", "deployments", "--api-version", "extensions/v1beta2"}, "Deployment is apps/v1 in Stevedore, not extensions/v1beta2"},
		{[]string{"explain", "daemonsets", "--api-version", "apps/v1beta1"}, "DaemonSet is apps/v1 in Stevedore, not apps/v1beta1"},
	} {
		code, out, errOut := ctl(t, noServer, tc.args...)
		if code != exitError || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("ctl %v = %d %q %q, want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestExplainOlderVersion: an older apiVersion that loads by conversion is
// explained by the apps/v1 fields it becomes, with a deprecation note.
func TestExplainOlderVersion(t *testing.T) {
	code, out, errOut := ctl(t, noServer, "explain", "deployment.spec", "--api-version", "extensions/v1beta1")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"NOTE:       extensions/v1beta1 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment.",
		"takes extensions/v1beta1's defaults",
		"KIND:       Deployment", "VERSION:    v1", "strategy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestExplainDocExample: the example in docs/ctl.md is what explain prints
// today, so a changed doc comment in spec shows up as a stale example.
func TestExplainDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ctl.md")
	if err != nil {
		t.Fatal(err)
	}
	const prompt = "$ ctl explain deployment.spec.strategy\n"
	_, example, ok := strings.Cut(string(doc), prompt)
	if !ok {
		t.Fatalf("docs/ctl.md has no %q example", prompt)
	}
	example, _, _ = strings.Cut(example, "\n$ ")
	_, out, _ := ctl(t, noServer, "explain", "deployment.spec.strategy")
	if example+"\n" != out {
		t.Errorf("docs/ctl.md's example is stale; ctl explain deployment.spec.strategy prints:\n%s", out)
	}
}
