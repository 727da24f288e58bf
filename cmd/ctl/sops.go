package main

import (
	"os"
	"slices"

	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// validateKeys is the decryptor of ctl validate: the keys given (and
// SOPS_AGE_KEY_FILE's), which check encrypted manifests as the reconciler
// does; none, sops.WithoutKeys, which loads them with empty values and
// checks everything but the values.
func validateKeys(age, pgp []string) (spec.Decryptor, error) {
	if env := os.Getenv("SOPS_AGE_KEY_FILE"); env != "" && !slices.Contains(age, env) {
		age = append(age, env)
	}
	if len(age) == 0 && len(pgp) == 0 {
		return sops.WithoutKeys{}, nil
	}
	return sops.LoadKeys(age, pgp)
}
