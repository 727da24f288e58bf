package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
)

// tenantManifest is one application's path of the tenants repository: a
// namespace and a Deployment of one replica.
const tenantManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: t-%04d
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: t-%04d
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: web
          image: registry.invalid/scale/web:v1
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`

// applicationManifest declares application t-NNNN, tracking its own path of
// the tenants repository.
const applicationManifest = `---
apiVersion: stevedore.dev/v1alpha1
kind: Application
metadata:
  name: t-%04d
spec:
  source:
    repoURL: %s
    targetRevision: main
    path: t-%04d
`

// applications times n applications converging from one commit: a second
// repository holds n paths (a namespace and a one-replica Deployment each),
// and one commit to the bootstrap repository declares n Applications, one
// per path. The clock stops when every application has applied the
// tenants repository's commit and every pod runs.
func (run *scaleRun) applications(ctx context.Context, c *devenv.Cluster, m *scaleMeter, n int, out io.Writer) error {
	tenants, err := devenv.NewGitRepo(ctx, filepath.Join(c.Dir, "tenants"))
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	var decl strings.Builder
	for i := range n {
		files[fmt.Sprintf("t-%04d/app.yaml", i)] = fmt.Appendf(nil, tenantManifest, i, i)
		fmt.Fprintf(&decl, applicationManifest, i, tenants.Bare, i)
	}
	want, err := tenants.Commit(ctx, fmt.Sprintf("%d tenants", n), files)
	if err != nil {
		return err
	}
	total := run.total + n
	prof := run.opts.profile("apps", 30*time.Second)
	defer prof()
	start := time.Now()
	if _, err := c.Repo.Commit(ctx, fmt.Sprintf("%d applications", n), map[string][]byte{"applications/apps.yaml": []byte(decl.String())}); err != nil {
		return err
	}
	applied := 0
	err = m.waitFor(ctx, 10*time.Minute, func(s metricsSample) bool {
		apps, err := m.c.Client.Applications(ctx)
		if err != nil {
			return false
		}
		applied = 0
		for _, a := range apps {
			if strings.HasPrefix(a.Name, "t-") && a.Applied != nil && a.Applied.Hash == want {
				applied++
			}
		}
		return applied == n && s.running >= total
	}, func(s metricsSample) string {
		return fmt.Sprintf("%d of %d applications applied, %d of %d pods Running", applied, n, s.running, total)
	}, out)
	if err != nil {
		return err
	}
	run.apps, run.appsConverged = n, time.Since(start)
	fmt.Fprintf(out, "scale: %d applications converged in %s\n", n, secs(run.appsConverged))
	return nil
}
