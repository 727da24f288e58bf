package spec

import "testing"

// vol is a pod with one container c mounting nothing, plus the volumes
// given (a "volumes:" list body, indented by 2).
func vol(volumes string) string {
	return podHead + "  containers: [{name: c, image: busybox}]\n  volumes:\n" + volumes
}

// mnt is a pod whose container c has the mounts given (a volumeMounts
// list body, indented by 4) and an emptyDir volume named data.
func mnt(mounts string) string {
	return podHead + `  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: c
    image: busybox
    volumeMounts:
` + mounts
}

// allowAll declares the default namespace with every policy annotation,
// for rules tests that are not about policy.
const allowAll = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  annotations: {stevedore.dev/allow-host-paths: "true", stevedore.dev/allow-privileged: "true"}
---
`

func TestVolumeRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"volume name", vol("  - {name: Data, emptyDir: {}} #!\n"), "spec.volumes[0].name", "RFC 1123 label"},
		{"volume name required", vol("  - emptyDir: {} #!\n"), "spec.volumes[0].name", "required"},
		{"duplicate volume", vol("  - {name: a, emptyDir: {}}\n  - {name: a, emptyDir: {}} #!\n"), "spec.volumes[1].name", `duplicate value "a"`},
		{"no source", vol("  - name: a #!\n"), "spec.volumes[0]", "must specify a volume type"},
		{"two sources", vol("  - name: a\n    emptyDir: {}\n    configMap: {name: x} #!\n"), "spec.volumes[0].configMap", "may not specify more than 1 volume type (emptyDir is set)"},
		{"emptyDir medium", vol("  - name: a\n    emptyDir: {medium: HugePages} #!\n"), "spec.volumes[0].emptyDir.medium", `unsupported value "HugePages"`},
		{"emptyDir sizeLimit", vol("  - name: a\n    emptyDir: {sizeLimit: 0} #!\n"), "spec.volumes[0].emptyDir.sizeLimit", "must be greater than zero"},
		{"hostPath relative", allowAll + vol("  - name: a\n    hostPath: {path: var/log} #!\n"), "spec.volumes[0].hostPath.path", "must be an absolute path"},
		{"hostPath type", allowAll + vol("  - name: a\n    hostPath: {path: /var/log, type: Dir} #!\n"), "spec.volumes[0].hostPath.type", `unsupported value "Dir"`},
		{"configMap name required", vol("  - name: a\n    configMap: {optional: true} #!\n"), "spec.volumes[0].configMap.name", "required"},
		{"secret name required", vol("  - name: a\n    secret: {defaultMode: 0400} #!\n"), "spec.volumes[0].secret.secretName", "required"},
		{"defaultMode too big", vol("  - name: a\n    secret: {secretName: s, defaultMode: 01000} #!\n"), "spec.volumes[0].secret.defaultMode", "between 0 and 0777"},
		{"item mode negative", vol("  - name: a\n    configMap:\n      name: x\n      items: [{key: k, path: p, mode: -1}] #!\n"), "spec.volumes[0].configMap.items[0].mode", "between 0 and 0777"},
		{"item path absolute", vol("  - name: a\n    configMap:\n      name: x\n      items: [{key: k, path: /etc/p}] #!\n"), "spec.volumes[0].configMap.items[0].path", "must be a relative path"},
		{"item path backstep", vol("  - name: a\n    configMap:\n      name: x\n      items: [{key: k, path: a/../../p}] #!\n"), "spec.volumes[0].configMap.items[0].path", "must not contain '..'"},
		{"item path starts with ..", vol("  - name: a\n    configMap:\n      name: x\n      items: [{key: k, path: ..data}] #!\n"), "spec.volumes[0].configMap.items[0].path", "must not start with '..'"},
		{"item key", vol("  - name: a\n    secret:\n      secretName: x\n      items: [{key: 'a b', path: p}] #!\n"), "spec.volumes[0].secret.items[0].key", "valid config key"},
		{"item path required", vol("  - name: a\n    secret:\n      secretName: x\n      items: [{key: k}] #!\n"), "spec.volumes[0].secret.items[0].path", "required"},
		{"pvc claimName", vol("  - name: a\n    persistentVolumeClaim: {readOnly: true} #!\n"), "spec.volumes[0].persistentVolumeClaim.claimName", "required"},
		{"downwardAPI field", vol("  - name: a\n    downwardAPI:\n      items: [{path: ip, fieldRef: {fieldPath: status.podIP}}] #!\n"), "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath", `unsupported value "status.podIP"`},
		{"downwardAPI label subscript", vol("  - name: a\n    downwardAPI:\n      items: [{path: app, fieldRef: {fieldPath: \"metadata.labels['app']\"}}] #!\n"), "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath", "unsupported value"},
		{"downwardAPI resource needs container", vol("  - name: a\n    downwardAPI:\n      items: [{path: cpu, resourceFieldRef: {resource: limits.cpu}}] #!\n"), "spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName", "required"},
		{"downwardAPI resource container unknown", vol("  - name: a\n    downwardAPI:\n      items: [{path: cpu, resourceFieldRef: {containerName: x, resource: limits.cpu}}] #!\n"), "spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName", `no container named "x"`},
		{"downwardAPI both", vol("  - name: a\n    downwardAPI:\n      items:\n      - {path: p, fieldRef: {fieldPath: metadata.name}, resourceFieldRef: {containerName: c, resource: limits.cpu}} #!\n"), "spec.volumes[0].downwardAPI.items[0]", "can not be specified simultaneously"},
		{"downwardAPI neither", vol("  - name: a\n    downwardAPI:\n      items:\n      - {path: p} #!\n"), "spec.volumes[0].downwardAPI.items[0]", "must specify one of"},
		{"projected two sources in one", vol("  - name: a\n    projected:\n      sources:\n      - secret: {name: y}\n        configMap: {name: x} #!\n"), "spec.volumes[0].projected.sources[0].configMap", "more than 1 volume type per source"},
		{"projected duplicate path", vol("  - name: a\n    projected:\n      sources:\n      - configMap: {name: x, items: [{key: a, path: conf}]}\n      - secret: {name: y, items: [{key: b, path: conf}]} #!\n"), "spec.volumes[0].projected.sources[1].secret.items[0].path", "conflicting duplicate paths"},
		{"projected secret name", vol("  - name: a\n    projected:\n      sources:\n      - secret: {optional: true} #!\n"), "spec.volumes[0].projected.sources[0].secret.name", "required"},
		{"mount names no volume", mnt("    - {name: x, mountPath: /x} #!\n"), "spec.containers[0].volumeMounts[0].name", `no volume named "x" in spec.volumes`},
		{"two mounts at one path", mnt("    - {name: data, mountPath: /data}\n    - {name: data, mountPath: /data/, subPath: a} #!\n"), "spec.containers[0].volumeMounts[1].mountPath", "must be unique"},
		{"mountPath relative", mnt("    - {name: data, mountPath: data} #!\n"), "spec.containers[0].volumeMounts[0].mountPath", "must be an absolute path"},
		{"mountPath required", mnt("    - {name: data} #!\n"), "spec.containers[0].volumeMounts[0].mountPath", "required"},
		{"subPath escapes", mnt("    - {name: data, mountPath: /d, subPath: ../etc} #!\n"), "spec.containers[0].volumeMounts[0].subPath", "must not contain '..'"},
		{"subPath absolute", mnt("    - {name: data, mountPath: /d, subPath: /etc} #!\n"), "spec.containers[0].volumeMounts[0].subPath", "must be a relative path"},
		{"subPathExpr escapes", mnt("    - {name: data, mountPath: /d, subPathExpr: $(POD)/..} #!\n"), "spec.containers[0].volumeMounts[0].subPathExpr", "must not contain '..'"},
		{"subPath and subPathExpr", mnt("    - {name: data, mountPath: /d, subPath: a, subPathExpr: $(POD)} #!\n"), "spec.containers[0].volumeMounts[0].subPathExpr", "mutually exclusive"},
		{"init container mount", podHead + `  volumes: [{name: data, emptyDir: {}}]
  containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /d}]}]
  initContainers:
  - name: init
    image: busybox
    volumeMounts: [{name: other, mountPath: /d}] #!
`, "spec.initContainers[0].volumeMounts[0].name", `no volume named "other"`},
	})
}

func TestInitContainerRules(t *testing.T) {
	init := func(extra string) string {
		return podHead + "  containers: [{name: c, image: busybox}]\n  initContainers:\n" + extra
	}
	runRuleCases(t, []ruleCase{
		{"name shared with an app container", init("  - {name: c, image: busybox} #!\n"), "spec.initContainers[0].name", `duplicate value "c": containers[0] has the same name`},
		{"duplicate init name", init("  - {name: i, image: busybox}\n  - {name: i, image: busybox} #!\n"), "spec.initContainers[1].name", `duplicate value "i": initContainers[0]`},
		{"image required", init("  - {name: i} #!\n"), "spec.initContainers[0].image", "required"},
		{"env name", init("  - name: i\n    image: busybox\n    env: [{name: 1X}] #!\n"), "spec.initContainers[0].env[0].name", "valid environment variable name"},
		{"liveness probe", init("  - name: i\n    image: busybox\n    livenessProbe: {exec: {command: [\"true\"]}} #!\n"), "spec.initContainers[0].livenessProbe", "may not be set for init containers"},
		{"readiness probe", init("  - name: i\n    image: busybox\n    readinessProbe: {exec: {command: [\"true\"]}} #!\n"), "spec.initContainers[0].readinessProbe", "may not be set for init containers"},
		{"lifecycle", init("  - name: i\n    image: busybox\n    lifecycle: {preStop: {sleep: {seconds: 1}}} #!\n"), "spec.initContainers[0].lifecycle", "may not be set for init containers"},
		{"sidecar", init("  - name: i\n    image: busybox\n    restartPolicy: Always #!\n"), "spec.initContainers[0].restartPolicy", "not supported by Stevedore"},
		{"termination message path", init("  - name: i\n    image: busybox\n    terminationMessagePath: rel #!\n"), "spec.initContainers[0].terminationMessagePath", "absolute"},
	})
}

func TestEnvSourceRules(t *testing.T) {
	env := func(body string) string { return ctr("    env:\n" + body) }
	runRuleCases(t, []ruleCase{
		{"value and valueFrom", env("    - name: A\n      value: x\n      valueFrom: {fieldRef: {fieldPath: metadata.name}} #!\n"), "spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty"},
		{"no source", env("    - name: A\n      valueFrom: {} #!\n"), "spec.containers[0].env[0].valueFrom", "must specify one of"},
		{"two sources", env("    - name: A\n      valueFrom:\n        fieldRef: {fieldPath: metadata.name}\n        configMapKeyRef: {name: x, key: k} #!\n"), "spec.containers[0].env[0].valueFrom.configMapKeyRef", "more than one field"},
		{"fieldPath unknown", env("    - name: A\n      valueFrom: {fieldRef: {fieldPath: spec.hostname}} #!\n"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", `unsupported value "spec.hostname"`},
		{"whole labels in env", env("    - name: A\n      valueFrom: {fieldRef: {fieldPath: metadata.labels}} #!\n"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", `unsupported value "metadata.labels"`},
		{"label key", env("    - name: A\n      valueFrom: {fieldRef: {fieldPath: \"metadata.labels['a b']\"}} #!\n"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", `invalid key "a b"`},
		{"fieldRef apiVersion", env("    - name: A\n      valueFrom: {fieldRef: {apiVersion: v2, fieldPath: metadata.name}} #!\n"), "spec.containers[0].env[0].valueFrom.fieldRef.apiVersion", `unsupported value "v2"`},
		{"resource unknown", env("    - name: A\n      valueFrom: {resourceFieldRef: {resource: limits.gpu}} #!\n"), "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource", `unsupported value "limits.gpu"`},
		{"resource divisor", env("    - name: A\n      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1Mi}} #!\n"), "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor", `unsupported value "1Mi"`},
		{"resource container unknown", env("    - name: A\n      valueFrom: {resourceFieldRef: {containerName: x, resource: limits.cpu}} #!\n"), "spec.containers[0].env[0].valueFrom.resourceFieldRef.containerName", "not found"},
		{"configMapKeyRef key", env("    - name: A\n      valueFrom: {configMapKeyRef: {name: x, key: '..'}} #!\n"), "spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "must not be '..'"},
		{"secretKeyRef name", env("    - name: A\n      valueFrom: {secretKeyRef: {key: k}} #!\n"), "spec.containers[0].env[0].valueFrom.secretKeyRef.name", "required"},
		{"envFrom both", ctr("    envFrom:\n    - configMapRef: {name: a}\n      secretRef: {name: b} #!\n"), "spec.containers[0].envFrom[0].secretRef", "more than one field"},
		{"envFrom neither", ctr("    envFrom:\n    - prefix: A_ #!\n"), "spec.containers[0].envFrom[0]", "must specify one of"},
		{"envFrom prefix", ctr("    envFrom:\n    - prefix: 1A #!\n      configMapRef: {name: a}\n"), "spec.containers[0].envFrom[0].prefix", "valid environment variable name"},
	})
}

func TestSecurityContextRules(t *testing.T) {
	sc := func(body string) string { return ctr("    securityContext:\n" + body) }
	psc := func(body string) string {
		return podHead + "  containers: [{name: c, image: busybox}]\n  securityContext:\n" + body
	}
	runRuleCases(t, []ruleCase{
		{"runAsUser negative", sc("      runAsUser: -1 #!\n"), "spec.containers[0].securityContext.runAsUser", "between 0 and 2147483647"},
		{"runAsGroup too big", sc("      runAsGroup: 2147483648 #!\n"), "spec.containers[0].securityContext.runAsGroup", "between 0 and 2147483647"},
		{"unknown capability", sc("      capabilities: {add: [NET_ADMN]} #!\n"), "spec.containers[0].securityContext.capabilities.add[0]", "not a Linux capability"},
		{"privileged without escalation", allowAll + sc("      privileged: true\n      allowPrivilegeEscalation: false\n"), "spec.containers[0].securityContext", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"},
		{"SYS_ADMIN without escalation", allowAll + sc("      allowPrivilegeEscalation: false\n      capabilities: {add: [SYS_ADMIN]} #!\n"), "spec.containers[0].securityContext.capabilities.add[0]", "CAP_SYS_ADMIN"},
		{"seccomp Localhost", sc("      seccompProfile: {type: Localhost, localhostProfile: p.json} #!\n"), "spec.containers[0].securityContext.seccompProfile.type", "not supported by Stevedore"},
		{"seccomp type", sc("      seccompProfile: {type: Strict} #!\n"), "spec.containers[0].securityContext.seccompProfile.type", `unsupported value "Strict"`},
		{"localhostProfile without Localhost", sc("      seccompProfile: {type: RuntimeDefault, localhostProfile: p.json} #!\n"), "spec.containers[0].securityContext.seccompProfile.localhostProfile", "only be set for seccomp profile type Localhost"},
		{"procMount Unmasked", sc("      procMount: Unmasked #!\n"), "spec.containers[0].securityContext.procMount", "only Kubernetes' default, Default, is accepted"},
		{"pod fsGroup", psc("    fsGroup: -5 #!\n"), "spec.securityContext.fsGroup", "between 0 and 2147483647"},
		{"pod supplementalGroups", psc("    supplementalGroups: [1, -2] #!\n"), "spec.securityContext.supplementalGroups[1]", "between 0 and 2147483647"},
		{"fsGroupChangePolicy", psc("    fsGroupChangePolicy: Never #!\n"), "spec.securityContext.fsGroupChangePolicy", `unsupported value "Never"`},
		{"sysctl of the node", psc("    sysctls: [{name: vm.swappiness, value: '10'}] #!\n"), "spec.securityContext.sysctls[0].name", "not a namespaced sysctl"},
		{"sysctl name", psc("    sysctls: [{name: 'net..x', value: '1'}] #!\n"), "spec.securityContext.sysctls[0].name", "must have at most 253 characters and match"},
		{"sysctl twice", psc("    sysctls:\n    - {name: net.core.somaxconn, value: '1'}\n    - {name: net/core/somaxconn, value: '2'} #!\n"), "spec.securityContext.sysctls[1].name", "duplicate value"},
		{"serviceAccountName", podHead + "  containers: [{name: c, image: busybox}]\n  serviceAccountName: Robot #!\n", "spec.serviceAccountName", "RFC 1123 subdomain"},
	})
}
