package devenv

import (
	_ "embed"
	"os"
	"path/filepath"
)

// DevAgeKey is the development-only age identity every cluster's
// reconcilers decrypt SOPS-encrypted Secrets with: the examples
// repository's Secrets are encrypted for it (examples-repo/.sops.yaml). It
// is public, in the repository; a real cluster's key never is.
//
//go:embed dev-only.agekey
var DevAgeKey []byte

// DevAgePublicKey is DevAgeKey's recipient, what `sops --encrypt --age`
// takes.
const DevAgePublicKey = "age1trjxjlz3hszlamry6artc4zd7vh3js23jm3qejq3as7m2u4ud9nshk7ux3"

// writeDevAgeKey writes DevAgeKey into the cluster's directory (0600, as
// sops wants key files) and returns its path.
func writeDevAgeKey(dir string) (string, error) {
	p := filepath.Join(dir, "dev-only.agekey")
	return p, os.WriteFile(p, DevAgeKey, 0o600)
}
