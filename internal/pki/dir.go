package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files of a member's pki directory (<data-dir>/pki), each 0600.
const (
	FileCACert    = "ca.crt"
	FileCAKey     = "ca.key" // reconcilers only
	FileGossipKey = "gossip.key"
	FileCert      = "tls.crt" // this member's certificate
	FileKey       = "tls.key"
	FileTokenHash = "bootstrap-token.sha256" // reconcilers only
	// FileReconcilerTokenHash is the reconciler token's hash (reconcilers
	// only): the token that admits a reconciler, which receives the CA's
	// key, is not the one agents join with.
	FileReconcilerTokenHash = "reconciler-token.sha256"
)

// Material is what a member keeps: the CA (with its key on reconcilers),
// the gossip key, its own certificate, and on reconcilers the bootstrap
// token's hash.
type Material struct {
	CA        *CA
	GossipKey []byte
	Self      KeyPair
	TokenHash string
	// ReconcilerTokenHash is the hash of the token reconcilers join with.
	ReconcilerTokenHash string
}

// LoadDir reads dir's material; an error wrapping fs.ErrNotExist when
// dir holds none (a member that has not joined yet).
func LoadDir(dir string) (*Material, error) {
	read := func(name string, must bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && (must || !errors.Is(err, fs.ErrNotExist)) {
			return nil, fmt.Errorf("failed to read %s: %w", filepath.Join(dir, name), err)
		}
		return b, nil
	}
	caCert, err := read(FileCACert, true)
	if err != nil {
		return nil, err
	}
	caKey, err := read(FileCAKey, false)
	if err != nil {
		return nil, err
	}
	ca, err := LoadCA(caCert, nilIfEmpty(caKey))
	if err != nil {
		return nil, fmt.Errorf("failed to load %s: %w", dir, err)
	}
	m := &Material{CA: ca}
	gk, err := read(FileGossipKey, true)
	if err != nil {
		return nil, err
	}
	if m.GossipKey, err = DecodeGossipKey(string(gk)); err != nil {
		return nil, fmt.Errorf("failed to load %s: %w", filepath.Join(dir, FileGossipKey), err)
	}
	if m.Self.CertPEM, err = read(FileCert, true); err != nil {
		return nil, err
	}
	if m.Self.KeyPEM, err = read(FileKey, true); err != nil {
		return nil, err
	}
	if !SameKey(m.Self.CertPEM, m.Self.KeyPEM) {
		return nil, fmt.Errorf("failed to load %s: %s does not certify %s", dir, FileCert, FileKey)
	}
	th, err := read(FileTokenHash, false)
	if err != nil {
		return nil, err
	}
	m.TokenHash = strings.TrimSpace(string(th))
	rh, err := read(FileReconcilerTokenHash, false)
	if err != nil {
		return nil, err
	}
	m.ReconcilerTokenHash = strings.TrimSpace(string(rh))
	return m, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// SaveDir writes m into dir (created 0700; files 0600, each written to a
// temporary file and renamed). The CA certificate is written last, so a
// directory with one is complete.
func (m *Material) SaveDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to create %s: %w", dir, err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{FileGossipKey, []byte(EncodeGossipKey(m.GossipKey) + "\n")},
		{FileCert, m.Self.CertPEM},
		{FileKey, m.Self.KeyPEM},
	}
	if m.CA.KeyPEM != nil {
		files = append(files, struct {
			name string
			data []byte
		}{FileCAKey, m.CA.KeyPEM})
	}
	if m.TokenHash != "" {
		files = append(files, struct {
			name string
			data []byte
		}{FileTokenHash, []byte(m.TokenHash + "\n")})
	}
	if m.ReconcilerTokenHash != "" {
		files = append(files, struct {
			name string
			data []byte
		}{FileReconcilerTokenHash, []byte(m.ReconcilerTokenHash + "\n")})
	}
	files = append(files, struct {
		name string
		data []byte
	}{FileCACert, m.CA.CertPEM})
	for _, f := range files {
		if err := WriteFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes a secret file: mode 0600, through a temporary file
// renamed into place.
func WriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return nil
}
