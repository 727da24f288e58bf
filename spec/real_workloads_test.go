package spec

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// realWorkloadFixes are, for each directory of testdata/real with
// StatefulSets, DaemonSets, Jobs or CronJobs, the edits that take away what
// Stevedore refuses on purpose (see the directory's golden file for the
// errors as committed upstream): the policy annotations a Namespace must
// carry, fields Stevedore does not implement, kinds it does not load.
var realWorkloadFixes = map[string]struct {
	extra map[string]string // files added
	edits map[string]edit   // per file, a replacement
}{
	"kubernetes-website-workloads": {
		// fluentd's hostPath volumes, in kube-system.
		extra: map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n  annotations: {stevedore.dev/allow-host-paths: \"true\"}\n"},
	},
	"kubernetes-examples-cassandra": {
		// IPC_LOCK is beyond the baseline capabilities.
		extra: map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  annotations: {stevedore.dev/allow-privileged: \"true\"}\n"},
	},
	"kubernetes-examples-cockroachdb": {
		// policy/v1beta1 PodDisruptionBudget is no kind Stevedore loads.
		edits: map[string]edit{"cockroachdb-statefulset.yaml": {regexp.MustCompile(`(?s)apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\n.*?---\n`), ""}},
	},
	"kube-prometheus-node-exporter": {
		// The host's network and PID namespace, mount propagation, a
		// service account token and priority classes are not supported;
		// the host directories and SYS_TIME need the namespace's consent.
		edits: map[string]edit{
			"nodeExporter-daemonset.yaml": {regexp.MustCompile(`(?m)^ *(automountServiceAccountToken|mountPropagation|hostNetwork|hostPID|priorityClassName): .*\n`), ""},
			"namespace.yaml":              {regexp.MustCompile(`(?m)^metadata:\n`), "metadata:\n  annotations: {stevedore.dev/allow-host-paths: \"true\", stevedore.dev/allow-privileged: \"true\"}\n"},
		},
	},
}

// edit replaces what re matches with repl.
type edit struct {
	re   *regexp.Regexp
	repl string
}

// TestRealWorkloads loads the real StatefulSets, DaemonSets, Jobs,
// CronJobs and ReplicaSets of testdata/real with only what Stevedore
// refuses on purpose taken out, and checks them as Kubernetes reads them.
func TestRealWorkloads(t *testing.T) {
	sets := map[string]*Set{}
	total := 0
	for dir, fix := range realWorkloadFixes {
		files, err := ReadDir("testdata/real/" + dir)
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range fix.edits {
			if !e.re.Match(files[name]) {
				t.Fatalf("%s/%s: nothing matches %s", dir, name, e.re)
			}
			files[name] = e.re.ReplaceAll(files[name], []byte(e.repl))
		}
		for name, text := range fix.extra {
			files[name] = []byte(text)
		}
		set, err := Load(files)
		if err != nil {
			t.Errorf("%s does not load:\n%v", dir, err)
			continue
		}
		sets[dir] = set
		total += len(set.Objects)
		// A loaded object is valid on its own, and defaulting it again
		// changes nothing.
		for k, o := range set.Objects {
			if errs := Validate(o); errs != nil {
				t.Errorf("%s: %v fails Validate: %v", dir, k, errs)
			}
			before, _ := json.Marshal(o)
			SetDefaults(o)
			if after, _ := json.Marshal(o); !bytes.Equal(before, after) {
				t.Errorf("%s: defaulting %v again changed it:\n%s\n%s", dir, k, before, after)
			}
		}
	}
	t.Logf("%d objects loaded from %d repositories' workload manifests", total, len(sets))

	if set := sets["kubernetes-website-workloads"]; set != nil {
		web := set.Objects[ObjectKey{Kind: KindStatefulSet, Namespace: "default", Name: "web"}].(*StatefulSet)
		if *web.Spec.Replicas != 2 || web.Spec.ServiceName != "nginx" || web.Spec.VolumeClaimTemplates[0].Name != "www" || web.Spec.PodManagementPolicy != OrderedReadyPodManagement {
			t.Errorf("web = %+v", web.Spec)
		}
		mysql := set.Objects[ObjectKey{Kind: KindStatefulSet, Namespace: "default", Name: "mysql"}].(*StatefulSet)
		size := mysql.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[ResourceStorage]
		if len(mysql.Spec.Template.Spec.InitContainers) != 2 || len(mysql.Spec.Template.Spec.Containers) != 2 || size.Cmp(resource.MustParse("10Gi")) != 0 {
			t.Errorf("mysql = %+v", mysql.Spec)
		}
		ij := set.Objects[ObjectKey{Kind: KindJob, Namespace: "default", Name: "indexed-job"}].(*Job)
		if *ij.Spec.CompletionMode != IndexedCompletion || *ij.Spec.Completions != 5 || *ij.Spec.Parallelism != 3 || *ij.Spec.BackoffLimit != DefaultBackoffLimit {
			t.Errorf("indexed-job = %+v", ij.Spec)
		}
		pfp := set.Objects[ObjectKey{Kind: KindJob, Namespace: "default", Name: "job-pod-failure-policy-example"}].(*Job).Spec.PodFailurePolicy
		if pfp == nil || len(pfp.Rules) != 2 || pfp.Rules[0].OnExitCodes.Values[0] != 42 || pfp.Rules[1].OnPodConditions[0].Type != "DisruptionTarget" {
			t.Errorf("podFailurePolicy = %+v", pfp)
		}
		cj := set.Objects[ObjectKey{Kind: KindCronJob, Namespace: "default", Name: "hello"}].(*CronJob)
		if _, _, err := CronSchedule(&cj.Spec); err != nil || cj.Spec.ConcurrencyPolicy != AllowConcurrent {
			t.Errorf("hello: %v, %+v", err, cj.Spec)
		}
		ds := set.Objects[ObjectKey{Kind: KindDaemonSet, Namespace: "kube-system", Name: "fluentd-elasticsearch"}].(*DaemonSet)
		if ds.Spec.UpdateStrategy.Type != RollingUpdateDaemonSetStrategyType || len(ds.Spec.Template.Spec.Tolerations) != 1 {
			t.Errorf("fluentd = %+v", ds.Spec)
		}
		if rs := set.Objects[ObjectKey{Kind: KindReplicaSet, Namespace: "default", Name: "frontend"}].(*ReplicaSet); *rs.Spec.Replicas != 3 {
			t.Errorf("frontend replicas = %d", *rs.Spec.Replicas)
		}
	}
	if set := sets["kubernetes-examples-cockroachdb"]; set != nil {
		// The volume named like the claim template is the claim.
		sts := set.Objects[ObjectKey{Kind: KindStatefulSet, Namespace: "default", Name: "cockroachdb"}].(*StatefulSet)
		if sts.Spec.Template.Spec.Volumes[0].Name != "datadir" || sts.Spec.VolumeClaimTemplates[0].Name != "datadir" {
			t.Errorf("cockroachdb = %+v", sts.Spec)
		}
	}
	if set := sets["kube-prometheus-node-exporter"]; set != nil {
		ds := set.Objects[ObjectKey{Kind: KindDaemonSet, Namespace: "monitoring", Name: "node-exporter"}].(*DaemonSet)
		if mu := ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable; *mu != FromString("10%") {
			t.Errorf("node-exporter maxUnavailable = %v", mu)
		}
	}
}
