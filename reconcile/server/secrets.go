package server

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// SOPSConfig names the private keys this reconciler decrypts SOPS-encrypted
// manifests with (spec/sops). They are its own: never read from a
// repository. Every reconciler of a cluster needs keys for every encrypted
// file: each one loads every revision (the raft state machine loads what
// the leader accepted, and a follower that becomes leader decrypts with
// its own keys).
type SOPSConfig struct {
	// AgeKeyFiles are age identity files (AGE-SECRET-KEY-1… lines, as
	// age-keygen writes them): --sops-age-key-file and SOPS_AGE_KEY_FILE.
	AgeKeyFiles []string
	// PGPKeyFiles are armored OpenPGP secret keys without a passphrase
	// (gpg --armor --export-secret-keys): --sops-pgp-key-file.
	PGPKeyFiles []string
}

// load reads the keys; a missing or unreadable file is an error, so that a
// reconciler does not start without the keys it was told to use. No file
// configured: nil (an encrypted document is refused, saying so).
func (c SOPSConfig) load() (*sops.Keys, error) {
	if len(c.AgeKeyFiles) == 0 && len(c.PGPKeyFiles) == 0 {
		return nil, nil
	}
	k, err := sops.LoadKeys(c.AgeKeyFiles, c.PGPKeyFiles)
	if err != nil {
		return nil, fmt.Errorf("failed to load the SOPS keys: %w", err)
	}
	return k, nil
}

// loader is revisionLoader with this reconciler's SOPS keys: what every
// load of a revision (sync, diff, raft entries, snapshots) goes through.
// The raft log keeps a revision's files as they are in Git, encrypted; the
// plaintext lives only in the loaded objects, in memory.
func (s *store) loader() render.Loader {
	l := revisionLoader
	if s.keys != nil {
		l.Decrypt = s.keys
	}
	return l
}

// loadApp is the package's loadApp with s's keys.
func (s *store) loadApp(files, retained map[string][]byte) (*spec.Set, error) {
	set, _, err := loadAppWith(s.loader(), files, retained, nil)
	return set, err
}

// loadAppCached is the package's loadAppCached with s's keys.
func (s *store) loadAppCached(files, retained map[string][]byte, prev *spec.Cache) (*spec.Set, *spec.Cache, error) {
	return loadAppWith(s.loader(), files, retained, prev)
}
