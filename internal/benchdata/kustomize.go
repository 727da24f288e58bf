// Package benchdata generates the inputs the benchmarks share: the
// kustomize overlay measured by `make bench` (cmd/devcluster) and by
// spec/render's Go benchmark, so both measure the same thing.
package benchdata

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// CPUTime is the process's user + system time: on a loaded machine it says
// what a piece of work costs better than the wall clock.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const baseDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d-%d
spec:
  replicas: 1
  selector:
    matchLabels: {app: d-%d}
  template:
    metadata:
      labels: {app: d-%d}
    spec:
      containers:
        - name: main
          image: registry.local/app:1
`

// KustomizeOverlay makes an overlay (namespace, namePrefix, labels,
// commonAnnotations, images, a strategic-merge patch and a JSON 6902 patch
// on every Deployment) of a base of n-1 Deployments in files of
// objectsPerFile, plus its Namespace: n objects rendered.
const KustomizeOverlay = `namespace: bench
namePrefix: prod-
labels:
- pairs: {team: bench, env: prod}
commonAnnotations:
  owner: bench@example.com
resources:
- namespace.yaml
- base
images:
- name: registry.local/app
  newTag: "2"
patches:
- target: {kind: Deployment}
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: any}
    spec:
      template:
        spec:
          containers:
          - name: main
            env:
            - {name: MODE, value: production}
            resources:
              requests: {cpu: 10m, memory: 16Mi}
- target: {kind: Deployment}
  patch: |-
    - op: replace
      path: /spec/replicas
      value: 2
`

// floorDeployment is what the overlay renders for one Deployment,
// written out: the floor loads n of these as plain YAML.
const floorDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: prod-d-%d
  namespace: bench
  labels: {team: bench, env: prod}
  annotations: {owner: bench@example.com}
spec:
  replicas: 2
  selector:
    matchLabels: {app: d-%d}
  template:
    metadata:
      labels: {app: d-%d}
      annotations: {owner: bench@example.com}
    spec:
      containers:
        - name: main
          image: registry.local/app:2
          env:
            - {name: MODE, value: production}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`

// Kustomize returns the overlay's files and the same objects as plain
// YAML.
func Kustomize(n, objectsPerFile int) (overlay, plain map[string][]byte) {
	ns := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n")
	overlay = map[string][]byte{"kustomization.yaml": []byte(KustomizeOverlay), "namespace.yaml": ns}
	plain = map[string][]byte{"namespace.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n  labels: {team: bench, env: prod}\n  annotations: {owner: bench@example.com}\n")}
	var base, flat bytes.Buffer
	var resources []string
	flush := func(file int) {
		name := fmt.Sprintf("deployments-%03d.yaml", file)
		overlay["base/"+name] = bytes.Clone(base.Bytes())
		plain[name] = bytes.Clone(flat.Bytes())
		resources = append(resources, name)
		base.Reset()
		flat.Reset()
	}
	for i := 0; i < n-1; i++ {
		if base.Len() > 0 {
			base.WriteString("---\n")
			flat.WriteString("---\n")
		}
		fmt.Fprintf(&base, baseDeployment, i, i, i)
		fmt.Fprintf(&flat, floorDeployment, i, i, i)
		if (i+1)%objectsPerFile == 0 {
			flush(i / objectsPerFile)
		}
	}
	if base.Len() > 0 {
		flush((n - 2) / objectsPerFile)
	}
	overlay["base/kustomization.yaml"] = []byte("resources:\n- " + strings.Join(resources, "\n- ") + "\n")
	return overlay, plain
}
