package signature

import (
	"encoding/base64"
	"strings"

	"golang.org/x/crypto/ssh"
)

// armorSSHSig encodes s back into the armored SSHSIG format.
func armorSSHSig(s *sshsig) string {
	blob := append([]byte(sshsigMagic), ssh.Marshal(struct {
		Version   uint32
		PublicKey []byte
		Namespace string
		Reserved  []byte
		HashAlg   string
		Signature []byte
	}{1, s.PublicKey, s.Namespace, s.Reserved, s.HashAlg, s.Signature})...)
	b64 := base64.StdEncoding.EncodeToString(blob)
	var lines []string
	for len(b64) > 70 {
		lines = append(lines, b64[:70])
		b64 = b64[70:]
	}
	lines = append(lines, b64)
	return "-----BEGIN SSH SIGNATURE-----\n" + strings.Join(lines, "\n") + "\n-----END SSH SIGNATURE-----\n"
}
