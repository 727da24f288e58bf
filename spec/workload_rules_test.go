package spec

import (
	"strings"
	"testing"
)

// headlessWeb is the headless Service a StatefulSet named by stsHead needs.
const headlessWeb = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
`

// stsHead is a StatefulSet up to its spec's other fields; stsTemplate
// finishes it.
const stsHead = headlessWeb + `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  selector: {matchLabels: {app: web}}
`

const stsTemplate = `  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: "nginx:1.27"}]
`

const dsHead = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: c, image: "agent:1"}]
`

const claimTemplate = `  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`

func TestWorkloadsLoad(t *testing.T) {
	for name, src := range map[string]string{
		"statefulset": stsHead + claimTemplate + `  podManagementPolicy: Parallel
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2, maxUnavailable: 50%}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  ordinals: {start: 1}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: "nginx:1.27"
        volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]
`,
		"statefulset ondelete": stsHead + "  updateStrategy: {type: OnDelete}\n" + stsTemplate,
		"daemonset surge":      dsHead + "  updateStrategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 10%}}\n",
		"daemonset ondelete":   dsHead + "  updateStrategy: {type: OnDelete}\n",
		"replicaset": `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 0
  selector: {matchExpressions: [{key: app, operator: In, values: [rs]}]}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: c, image: "rs:1"}]
`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadOne(src); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReplicaSetRules(t *testing.T) {
	rsHead := "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n"
	tmpl := "  template:\n    metadata: {labels: {app: rs}}\n    spec:\n      containers: [{name: c, image: \"rs:1\"}]\n"
	runRuleCases(t, []ruleCase{
		{"selector required", rsHead + tmpl, "spec.selector", "a ReplicaSet needs a non-empty selector"},
		{"selector mismatch", rsHead + "  selector: {matchLabels: {app: other}}\n" + tmpl, "spec.template.metadata.labels", "selector does not match template labels"},
		{"replicas", rsHead + "  replicas: -1 #!\n  selector: {matchLabels: {app: rs}}\n" + tmpl, "spec.replicas", "must be greater than or equal to 0"},
		{"restart policy", rsHead + "  selector: {matchLabels: {app: rs}}\n  template:\n    metadata: {labels: {app: rs}}\n    spec:\n      restartPolicy: Never #!\n      containers: [{name: c, image: \"rs:1\"}]\n",
			"spec.template.spec.restartPolicy", `unsupported value "Never": supported values: "Always"`},
		{"name", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: " + strings.Repeat("r", 240) + "} #!\nspec:\n  selector: {matchLabels: {app: rs}}\n" + tmpl, "metadata.name", "must be no more than"},
	})
}

func TestStatefulSetRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"selector required", headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  serviceName: web\n" + stsTemplate,
			"spec.selector", "a StatefulSet needs a non-empty selector"},
		{"empty selector", headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  serviceName: web\n  selector: {} #!\n" + stsTemplate,
			"spec.selector", "non-empty selector"},
		{"selector mismatch", headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  serviceName: web\n  selector: {matchLabels: {app: db}}\n" + stsTemplate,
			"spec.template.metadata.labels", "selector does not match template labels"},
		{"service name required", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n" + stsTemplate,
			"spec.serviceName", "required: the headless Service"},
		{"replicas", stsHead + "  replicas: -2 #!\n" + stsTemplate, "spec.replicas", "invalid value -2: must be greater than or equal to 0"},
		{"pod management", stsHead + "  podManagementPolicy: Sequential #!\n" + stsTemplate, "spec.podManagementPolicy", "must be 'OrderedReady' or 'Parallel'"},
		{"update strategy", stsHead + "  updateStrategy: {type: Recreate} #!\n" + stsTemplate, "spec.updateStrategy.type", `unsupported value "Recreate": supported values: "RollingUpdate", "OnDelete"`},
		{"rolling update with ondelete", stsHead + "  updateStrategy:\n    type: OnDelete\n    rollingUpdate: {partition: 1} #!\n" + stsTemplate,
			"spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'"},
		{"partition", stsHead + "  updateStrategy:\n    rollingUpdate: {partition: -1} #!\n" + stsTemplate,
			"spec.updateStrategy.rollingUpdate.partition", "must be greater than or equal to 0"},
		{"max unavailable 0", stsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 0} #!\n" + stsTemplate,
			"spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0"},
		{"max unavailable 0%", stsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 0%} #!\n" + stsTemplate,
			"spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0"},
		{"max unavailable junk", stsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: lots} #!\n" + stsTemplate,
			"spec.updateStrategy.rollingUpdate.maxUnavailable", "a non-negative integer or a percentage"},
		{"max unavailable > 100%", stsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 150%} #!\n" + stsTemplate,
			"spec.updateStrategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"},
		{"retention", stsHead + "  persistentVolumeClaimRetentionPolicy:\n    whenScaled: Keep #!\n" + stsTemplate,
			"spec.persistentVolumeClaimRetentionPolicy.whenScaled", `unsupported value "Keep": supported values: "Retain", "Delete"`},
		{"ordinals", stsHead + "  ordinals:\n    start: -1 #!\n" + stsTemplate, "spec.ordinals.start", "must be greater than or equal to 0"},
		{"restart policy", stsHead + "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      restartPolicy: OnFailure #!\n      containers: [{name: c, image: \"nginx:1.27\"}]\n",
			"spec.template.spec.restartPolicy", `supported values: "Always"`},
		{"pod names too long", headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: " + strings.Repeat("w", 61) + "} #!\nspec:\n  replicas: 100\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n" + stsTemplate,
			"metadata.name", `its pods' names (up to "` + strings.Repeat("w", 61) + `-99") are their hostnames and must be valid DNS labels`},
		{"pod names with a dot", headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web.v2} #!\nspec:\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n" + stsTemplate,
			"metadata.name", "must be valid DNS labels"},
		{"mount names neither volume nor claim", stsHead + claimTemplate + "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.27\n        volumeMounts:\n        - name: data #!\n          mountPath: /data\n",
			"spec.template.spec.containers[0].volumeMounts[0].name", `no volume named "data" in spec.volumes or spec.volumeClaimTemplates (www)`},
		{"claim template name required", stsHead + "  volumeClaimTemplates:\n  - metadata: {labels: {a: b}} #!\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n" + stsTemplate,
			"spec.volumeClaimTemplates[0].metadata.name", "required"},
		{"claim template names unique", stsHead + claimTemplate + "  - metadata: {name: www} #!\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n" + stsTemplate,
			"spec.volumeClaimTemplates[1].metadata.name", `duplicate value "www"`},
		{"claim template as a claim", stsHead + "  volumeClaimTemplates:\n  - metadata: {name: www}\n    spec:\n      accessModes: [ReadWriteSometimes] #!\n      resources: {requests: {storage: 1Gi}}\n" + stsTemplate,
			"spec.volumeClaimTemplates[0].spec.accessModes[0]", `unsupported value "ReadWriteSometimes"`},
		{"claim template size", stsHead + "  volumeClaimTemplates:\n  - metadata: {name: www}\n    spec: #!\n      accessModes: [ReadWriteOnce]\n" + stsTemplate,
			"spec.volumeClaimTemplates[0].spec.resources.requests[storage]", "required: the size the claim asks for"},
		{"claim template shadows a volume", stsHead + claimTemplate + "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      volumes: [{name: www, emptyDir: {}}]\n      containers: [{name: c, image: \"nginx:1.27\"}]\n",
			"spec.volumeClaimTemplates[0].metadata.name", "the template's volumes[0] has the same name"},
	})
}

func TestStatefulSetSetRules(t *testing.T) {
	sts := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec:\n  serviceName: db #!\n  selector: {matchLabels: {app: db}}\n" +
		"  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: c, image: \"redis:7\"}]\n"
	ns := "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
	svc := func(namespace, clusterIP string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: " + namespace + "}\nspec:\n  clusterIP: " + clusterIP + "\n  selector: {app: db}\n  ports: [{port: 6379}]\n---\n"
	}
	scFast := "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: stevedore.dev/local-dir\nparameters: {stevedore.dev/max-size: 5Gi}\n---\n"
	claims := func(class, size string) string {
		return "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec:\n      accessModes: [ReadWriteOnce]\n      storageClassName: " + class + "\n      resources:\n        requests:\n          storage: " + size + " #!\n"
	}
	stsNoMark := strings.Replace(sts, " #!", "", 1)
	runRuleCases(t, []ruleCase{
		{"no service", ns + sts, "spec.serviceName", `Service "db" is not declared in namespace "shop": a StatefulSet's pods get their DNS names (db-0.db.shop.svc)`},
		{"service in another namespace", ns + svc("default", "None") + sts, "spec.serviceName", `Service "db" is not declared in namespace "shop"`},
		{"service not headless", ns + svc("shop", "\"\"") + sts, "spec.serviceName", `Service "db" in namespace "shop" is not headless: set its clusterIP: None`},
		{"claim template class", ns + svc("shop", "None") + stsNoMark + strings.Replace(claims("slow", "1Gi"), " #!", "", 1),
			"spec.volumeClaimTemplates[0].spec.storageClassName", `StorageClass "slow" is not declared in the repository`},
		{"claim template max size", ns + svc("shop", "None") + scFast + stsNoMark + claims("fast", "10Gi"),
			"spec.volumeClaimTemplates[0].spec.resources.requests[storage]", `invalid value "10Gi": more than StorageClass "fast" allows`},
	})
	if _, err := loadOne(ns + svc("shop", "None") + scFast + stsNoMark + claims("fast", "5Gi")); err != nil {
		t.Errorf("a StatefulSet with its headless Service and a claim of a declared class: %v", err)
	}
}

func TestStatefulSetStoragePolicy(t *testing.T) {
	src := stsHead + "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      volumes: [{name: host, hostPath: {path: /var/log}}] #!\n      containers: [{name: c, image: \"nginx:1.27\"}]\n"
	runRuleCases(t, []ruleCase{
		{"host path", src, "spec.template.spec.volumes[0].hostPath", "hostPath volumes are not allowed in namespace \"default\""},
	})
}

func TestDaemonSetRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"replicas refused", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  replicas: 3 #!\n" + strings.TrimPrefix(dsHead, "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n"),
			"spec.replicas", "field not supported by a DaemonSet: it runs one pod on every eligible node"},
		{"strategy", strings.Replace(dsHead, "spec:\n", "spec:\n  strategy: {type: RollingUpdate} #!\n", 1), "spec.strategy", "a DaemonSet's is updateStrategy"},
		{"selector required", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: c, image: \"agent:1\"}]\n",
			"spec.selector", "a DaemonSet needs a non-empty selector"},
		{"selector mismatch", strings.Replace(dsHead, "{matchLabels: {app: agent}}", "{matchLabels: {app: other}}", 1), "spec.template.metadata.labels", "selector does not match template labels"},
		{"type", dsHead + "  updateStrategy: {type: Recreate} #!\n", "spec.updateStrategy.type", `unsupported value "Recreate": supported values: "RollingUpdate", "OnDelete"`},
		{"both zero", dsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 0} #!\n", "spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0"},
		{"both zero percent", dsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 0%, maxSurge: 0} #!\n", "spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0"},
		{"both non-zero", dsHead + "  updateStrategy:\n    rollingUpdate: {maxSurge: 1} #!\n", "spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is non-zero"},
		{"negative", dsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: -1} #!\n", "spec.updateStrategy.rollingUpdate.maxUnavailable", "must be greater than or equal to 0"},
		{"surge > 100%", dsHead + "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 0, maxSurge: 101%} #!\n", "spec.updateStrategy.rollingUpdate.maxSurge", "must not be greater than 100%"},
		{"rolling update with ondelete", dsHead + "  updateStrategy:\n    type: OnDelete\n    rollingUpdate: {maxUnavailable: 2} #!\n", "spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'"},
		{"restart policy", strings.Replace(dsHead, "    spec:\n", "    spec:\n      restartPolicy: Never #!\n", 1), "spec.template.spec.restartPolicy", `supported values: "Always"`},
	})
}

// TestDeploymentUpdateStrategyHint: the StatefulSet/DaemonSet spelling on a
// Deployment says what the Deployment's field is.
func TestDeploymentUpdateStrategyHint(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"updateStrategy", strings.Replace(deployHead, "spec:\n  selector", "spec:\n  updateStrategy: {type: RollingUpdate} #!\n  selector", 1) + "      containers: [{name: c, image: \"web:1\"}]\n",
			"spec.updateStrategy", "a Deployment's is strategy"},
	})
}

// TestWorkloadPodPolicy: every new kind's pod template is held to the
// namespace's policy, as a Deployment's is.
func TestWorkloadPodPolicy(t *testing.T) {
	privileged := "      containers:\n      - name: c\n        image: \"x:1\"\n        securityContext: {privileged: true} #!\n"
	runRuleCases(t, []ruleCase{
		{"daemonset", strings.Replace(dsHead, "      containers: [{name: c, image: \"agent:1\"}]\n", privileged, 1),
			"spec.template.spec.containers[0].securityContext.privileged", "privileged containers are not allowed"},
		{"job", jobHead + "  template:\n    spec:\n      restartPolicy: Never\n" + privileged,
			"spec.template.spec.containers[0].securityContext.privileged", "privileged containers are not allowed"},
		{"cronjob", cronHead + "  schedule: \"@daily\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n" + strings.ReplaceAll(privileged, "\n      ", "\n          ")[0:0] +
			"          containers:\n          - name: c\n            image: \"x:1\"\n            securityContext: {privileged: true} #!\n",
			"spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged", "privileged containers are not allowed"},
		{"replicaset claim", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  selector: {matchLabels: {app: rs}}\n  template:\n    metadata: {labels: {app: rs}}\n    spec:\n      volumes: [{name: d, persistentVolumeClaim: {claimName: nope}}] #!\n      containers: [{name: c, image: \"rs:1\"}]\n",
			"spec.template.spec.volumes[0].persistentVolumeClaim.claimName", `persistentVolumeClaim "nope" is not declared`},
	})
}

func TestPodSpecOfWorkloads(t *testing.T) {
	rs, sts, ds, job, cj := &ReplicaSet{}, &StatefulSet{}, &DaemonSet{}, &Job{}, &CronJob{}
	for _, tc := range []struct {
		o    Object
		want *PodSpec
		path string
	}{
		{rs, &rs.Spec.Template.Spec, "spec.template.spec"},
		{sts, &sts.Spec.Template.Spec, "spec.template.spec"},
		{ds, &ds.Spec.Template.Spec, "spec.template.spec"},
		{job, &job.Spec.Template.Spec, "spec.template.spec"},
		{cj, &cj.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec"},
	} {
		if ps, p := PodSpecOf(tc.o); ps != tc.want || p != tc.path {
			t.Errorf("PodSpecOf(%T) = %p %q, want %p %q", tc.o, ps, p, tc.want, tc.path)
		}
	}
}
