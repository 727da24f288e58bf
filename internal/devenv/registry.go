package devenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// RegistryBinary is Debian's distribution registry (package docker-registry).
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is a private OCI registry on loopback, plain HTTP, storing blobs
// under its directory. Clients must treat Addr as an insecure registry.
type Registry struct {
	// Addr is host:port, always on 127.0.0.1.
	Addr string
	dir  string
	proc *process
}

// StartRegistry starts a registry on a free 127.0.0.1 port, storing under dir.
func StartRegistry(ctx context.Context, dir string) (*Registry, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return StartRegistryAt(ctx, dir, addr)
}

// StartRegistryAt starts a registry listening on addr (host:port), storing
// under dir, and returns once /v2/ answers.
func StartRegistryAt(ctx context.Context, dir, addr string) (*Registry, error) {
	if _, err := exec.LookPath(RegistryBinary); err != nil {
		return nil, fmt.Errorf("failed to find %s (install the Debian package docker-registry): %w", RegistryBinary, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return nil, fmt.Errorf("failed to create registry dir: %w", err)
	}
	// No auth and no health checks: the registry only ever serves this
	// machine's tests and dev cluster. Deletes are allowed so image GC can be
	// exercised.
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return nil, fmt.Errorf("failed to write registry config: %w", err)
	}
	proc, err := startProcess("registry", filepath.Join(dir, "registry.log"), nil, RegistryBinary, "serve", cfgPath)
	if err != nil {
		return nil, err
	}
	r := &Registry{Addr: addr, dir: dir, proc: proc}
	client := &http.Client{Timeout: time.Second}
	err = waitFor(ctx, 15*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		if proc.exited() {
			return fmt.Errorf("registry exited (see %s)", filepath.Join(dir, "registry.log"))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("failed to start registry on %s: %w", addr, err)
	}
	return r, nil
}

// Stop stops the registry. Its storage stays under dir (the caller owns
// dir). Safe to call twice.
func (r *Registry) Stop() {
	if r == nil || r.proc == nil {
		return
	}
	_ = r.proc.stop(5 * time.Second)
}
