package api

import (
	"go/build"
	"strings"
	"testing"
)

// TestLeafImports keeps reconcile/api a leaf: of this module it may import
// only spec, agent/api, internal/errs, and internal/pki with the policy
// identities it names (clientconfig.go's TLS), so that a client (ctl, a test, a
// tool) never pulls in the control plane's core or server.
func TestLeafImports(t *testing.T) {
	const module = "github.com/stevedore-dev/stevedore"
	allowed := map[string]bool{
		module + "/spec":          true,
		module + "/agent/api":     true,
		module + "/internal/errs": true,
		module + "/internal/pki":  true,
		module + "/policy":        true,
	}
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imports := range [][]string{pkg.Imports, pkg.TestImports} {
		for _, imp := range imports {
			if (imp == module || strings.HasPrefix(imp, module+"/")) && !allowed[imp] {
				t.Errorf("reconcile/api imports %s; of this module it may import only spec, agent/api, internal/errs, internal/pki and policy", imp)
			}
		}
	}
}
