package render

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system time: on a loaded machine it says
// what a render costs better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchOverlayKustomization is the overlay of cmd/devcluster's "Kustomize
// rendering" benchmark: namespace, namePrefix, labels, commonAnnotations,
// images and two patches targeting every Deployment.
const benchOverlayKustomization = `namespace: bench
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

const benchBaseDeployment = `apiVersion: apps/v1
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

// benchOverlay returns the files of an overlay rendering n objects: a
// Namespace and a base of n-1 Deployments in files of perFile.
func benchOverlay(n, perFile int) map[string][]byte {
	files := map[string][]byte{
		"kustomization.yaml": []byte(benchOverlayKustomization),
		"namespace.yaml":     []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n"),
	}
	var resources []string
	var b bytes.Buffer
	for i := 0; i < n-1; i++ {
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, benchBaseDeployment, i, i, i)
		if (i+1)%perFile == 0 || i == n-2 {
			name := fmt.Sprintf("deployments-%03d.yaml", i/perFile)
			files["base/"+name] = bytes.Clone(b.Bytes())
			resources = append(resources, name)
			b.Reset()
		}
	}
	files["base/kustomization.yaml"] = []byte("resources:\n- " + strings.Join(resources, "\n- ") + "\n")
	return files
}

// BenchmarkLoadOverlay measures Load of the benchmark's overlay, a new
// revision each time (render's cache does not answer), built in chunks (as
// Load does; base files of 100 objects as in cmd/devcluster's benchmark, or
// a single file) and whole (as before chunked builds). cpu-ns/op is the
// process's CPU time per render: on a loaded machine it says more than the
// wall clock.
func BenchmarkLoadOverlay(b *testing.B) {
	for _, mode := range []string{"chunked", "chunked-one-file", "whole"} {
		for _, n := range []int{100, 300, 1000, 3000} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				if mode == "whole" {
					old := chunkObjects
					chunkObjects = n
					b.Cleanup(func() { chunkObjects = old })
				}
				perFile := 100
				if mode == "chunked-one-file" {
					perFile = n
				}
				files := benchOverlay(n, perFile)
				cpu := cpuTime()
				for i := 0; b.Loop(); i++ {
					files["kustomization.yaml"] = fmt.Appendf(nil, "# %s run %d\n%s", mode, i, benchOverlayKustomization)
					set, err := Load(files)
					if err != nil {
						b.Fatal(err)
					}
					if len(set.Objects) != n {
						b.Fatalf("rendered %d objects, want %d", len(set.Objects), n)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
