package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// ctlEnv runs ctl with env as its environment.
func ctlEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// TestSecuredReconciler runs ctl against a real reconciler with security
// on: without credentials every command is refused with a clear message
// (401), with the admin.conf the reconciler wrote (--config or
// $STEVEDORE_CONFIG) it works, and a credentials file of another cluster
// is refused.
func TestSecuredReconciler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "shop: web with 2 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1)})
	var dataDir string
	_, url := startReconciler(t, repo, func(c *server.Config) { c.Security.Disabled = false; dataDir = c.DataDir })
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("API at %s", url)
	}
	conf := filepath.Join(dataDir, "admin.conf")

	// No credentials: refused, whichever way the server is named.
	for _, env := range []map[string]string{{EnvServer: url}, {}} {
		args := []string{"get", "pods", "-A"}
		if len(env) == 0 {
			args = append([]string{"--server", url}, args...)
		}
		code, out, errOut := ctlEnv(t, env, args...)
		if code != exitError || out != "" || !strings.Contains(errOut, "--config") {
			t.Errorf("unauthenticated ctl: %d %q %q", code, out, errOut)
		}
	}
	code, _, errOut := ctlEnv(t, map[string]string{EnvServer: url}, "sync")
	if code != exitError || !strings.Contains(errOut, "authentication required") && !strings.Contains(errOut, "certificate") {
		t.Errorf("unauthenticated sync: %d %q", code, errOut)
	}

	// The admin config, by flag and by environment.
	code, out, errOut := ctlEnv(t, nil, "--config", conf, "sync")
	if code != 0 || !strings.Contains(out, "shop: web with 2 replicas") {
		t.Fatalf("sync with --config: %d %q %q", code, out, errOut)
	}
	code, out, errOut = ctlEnv(t, map[string]string{EnvConfig: conf}, "get", "deployments", "-A")
	if code != 0 || !strings.Contains(out, "web") {
		t.Errorf("get deployments with $STEVEDORE_CONFIG: %d %q %q", code, out, errOut)
	}
	// --server overrides the file's server (the same reconciler here).
	code, _, errOut = ctlEnv(t, map[string]string{EnvConfig: conf}, "--server", url, "status")
	if code != 0 {
		t.Errorf("status with --config and --server: %d %q", code, errOut)
	}

	// Another cluster's admin: the server's certificate is not of its CA.
	other, err := pki.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, _ := other.Issue(pki.Request{User: pki.AdminUser()})
	otherConf := filepath.Join(t.TempDir(), "other.conf")
	if err := api.WriteClientConfig(otherConf, api.NewClientConfig("other", url, other.CertPEM, "admin",
		api.UserConfig{ClientCertificateData: cert, ClientKeyData: key})); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = ctlEnv(t, nil, "--config", otherConf, "status")
	if code != exitError || !strings.Contains(errOut, "not the cluster's") {
		t.Errorf("another cluster's config: %d %q", code, errOut)
	}
	// A config naming a token the reconciler does not know: 401, and the
	// token is not printed.
	tokConf := filepath.Join(t.TempDir(), "token.conf")
	b, _ := os.ReadFile(conf)
	c, _ := api.LoadClientConfig(conf)
	c.Users[0].User = api.UserConfig{Token: "not-a-real-token-123"}
	if err := api.WriteClientConfig(tokConf, c); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = ctlEnv(t, nil, "--config", tokConf, "status")
	if code != exitError || !strings.Contains(errOut, "invalid bearer token") || strings.Contains(out+errOut, "not-a-real-token-123") {
		t.Errorf("unknown token: %d %q %q", code, out, errOut)
	}
	// A config that does not parse names the file, not its content.
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, append(b, []byte("\nbogus: [")...), 0o600)
	code, _, errOut = ctlEnv(t, nil, "--config", bad, "status")
	if code != exitError || !strings.Contains(errOut, bad) || strings.Contains(errOut, "BEGIN") {
		t.Errorf("malformed config: %d %q", code, errOut)
	}
}
