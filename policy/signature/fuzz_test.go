package signature

import (
	"testing"
	"time"
)

// FuzzParse feeds arbitrary trusted keys files to Parse: errors, never a
// panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("alice@example.com namespaces=\"git\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBy9KsLd6HzbrgwQ3Aw7ERsX2TCl6yZPbdsQnQh3Vt9y\n"))
	f.Add([]byte("\"a b\" valid-after=\"20240101Z\",valid-before=\"2025\" ssh-rsa AAAA\n"))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(map[string][]byte{"f": data})
		if err == nil && k == nil {
			t.Fatal("nil keys without an error")
		}
	})
}

// FuzzVerify feeds arbitrary signatures to Verify: a refusal, never a
// panic, and never an accepted signature with no trusted key.
func FuzzVerify(f *testing.F) {
	f.Add("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg\n-----END SSH SIGNATURE-----\n", []byte("tree x\n"))
	f.Add("-----BEGIN PGP SIGNATURE-----\n\niHUEABYKAB0WIQ\n-----END PGP SIGNATURE-----\n", []byte("payload"))
	f.Add("", []byte(""))
	keys := &Keys{}
	f.Fuzz(func(t *testing.T, sig string, payload []byte) {
		if s, err := keys.Verify(sig, payload, time.Unix(0, 0)); err == nil {
			t.Fatalf("accepted with no trusted key: %+v", s)
		}
	})
}
