package spec

import (
	"strings"
	"testing"
)

// A Namespace's pod-security.kubernetes.io/enforce label decides instead of
// Stevedore's annotations: privileged allows privileged containers and
// host paths without them; baseline and restricted leave the refusal to
// the pod security check at sync, in Kubernetes' words.
func TestPodSecurityLabelDecidesInsteadOfAnnotations(t *testing.T) {
	pod := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ops}
spec:
  volumes: [{name: root, hostPath: {path: /}}]
  containers:
  - {name: app, image: nginx, securityContext: {privileged: true, capabilities: {add: [NET_ADMIN]}}}
`
	ns := func(labels string) string {
		return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ops\n  labels: {" + labels + "}\n"
	}
	for _, level := range []string{"privileged", "baseline", "restricted"} {
		if _, err := Load(map[string][]byte{"ns.yaml": []byte(ns(PodSecurityEnforceLabel + ": " + level)), "pod.yaml": []byte(pod)}); err != nil {
			t.Errorf("enforce=%s: %v", level, err)
		}
	}
	_, err := Load(map[string][]byte{"ns.yaml": []byte(ns("team: ops")), "pod.yaml": []byte(pod)})
	for _, want := range []string{AllowPrivilegedAnnotation, AllowHostPathsAnnotation} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without a level, want a refusal naming %s: %v", want, err)
		}
	}
}
