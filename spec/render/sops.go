package render

import (
	"github.com/stevedore-dev/stevedore/spec"
)

// verifyEncrypted checks the SOPS-encrypted manifests a kustomization reads,
// as they are in the repository: decrypted whole, MAC included, with errors
// at their own file and line. kustomize then passes each encrypted resource
// through with its sops mapping, rewritten (sorted keys, its labels and
// namespace), and spec decrypts the rendered resources one by one without
// the MAC, which no longer holds (as Flux does). The plaintext of this check
// is dropped.
func (ld Loader) verifyEncrypted(l *layout, files map[string][]byte) spec.ErrorList {
	var errs spec.ErrorList
	plain := make(map[string]bool, len(l.plain))
	for _, name := range l.plain {
		plain[name] = true
	}
	for _, name := range l.visible(files) {
		if plain[name] || !spec.IsManifestPath(name) {
			continue
		}
		errs = append(errs, spec.VerifyEncrypted(name, files[name], ld.Decrypt)...)
	}
	return errs
}
