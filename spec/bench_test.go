package spec

import (
	"fmt"
	"strings"
	"testing"
)

// manyDeployments returns n Deployments spread over files of 100 each.
func manyDeployments(n int) map[string][]byte {
	files := map[string][]byte{"ns.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")}
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%d
  namespace: shop
  labels: {app: web-%d, tier: front}
spec:
  replicas: 3
  selector: {matchLabels: {app: web-%d}}
  template:
    metadata: {labels: {app: web-%d, tier: front}}
    spec:
      containers:
      - name: web
        image: registry.local:5000/web:1.%d
        ports: [{name: http, containerPort: 8080}]
        env: [{name: MODE, value: prod}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 500m, memory: 128Mi}
`, i, i, i, i, i)
		if i%100 == 99 || i == n-1 {
			files[fmt.Sprintf("apps/f%03d.yaml", i/100)] = []byte(b.String())
			b.Reset()
		}
	}
	return files
}

// BenchmarkLoad10k measures Load over 10,000 Deployments (the size of the
// `ctl diff` benchmark). Run with -benchtime=1x; it is not a unit test.
func BenchmarkLoad10k(b *testing.B) {
	files := manyDeployments(10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		set, err := Load(files)
		if err != nil || len(set.Objects) != 10001 {
			b.Fatalf("Load: %d objects, %v", len(set.Objects), err)
		}
	}
}
