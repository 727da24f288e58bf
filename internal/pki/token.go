package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix starts every bootstrap token: "stv1.<CA hash>.<secret>",
// where the CA hash is the hex SHA-256 of the CA certificate (a joiner
// pins the server's CA with it before sending the secret) and the secret
// 32 random bytes in hex.
const TokenPrefix = "stv1"

// Token is a parsed bootstrap token.
type Token struct {
	// CAHash is the hex SHA-256 of the cluster CA's certificate.
	CAHash string
	// Secret is what the reconciler checks against its stored hash.
	Secret string
}

// ErrBadToken is a token that does not parse.
var ErrBadToken = errors.New(`malformed bootstrap token: want "stv1.<64 hex digits>.<64 hex digits>"`)

// NewToken returns a new bootstrap token for ca.
func NewToken(ca *CA) (Token, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Token{}, fmt.Errorf("failed to generate bootstrap token: %w", err)
	}
	return Token{CAHash: ca.Hash(), Secret: hex.EncodeToString(b[:])}, nil
}

// ParseToken parses "stv1.<CA hash>.<secret>" (surrounding space ignored).
// The error never repeats the token.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != TokenPrefix || !isHex(parts[1], 64) || !isHex(parts[2], 64) {
		return Token{}, ErrBadToken
	}
	return Token{CAHash: strings.ToLower(parts[1]), Secret: strings.ToLower(parts[2])}, nil
}

// String is the token as written to the bootstrap-token file.
func (t Token) String() string { return TokenPrefix + "." + t.CAHash + "." + t.Secret }

// Hash is what the reconcilers store instead of the token: the hex SHA-256
// of its secret.
func (t Token) Hash() string {
	h := sha256.Sum256([]byte(t.Secret))
	return hex.EncodeToString(h[:])
}

// Matches reports, in constant time, whether t's secret hashes to hash.
func (t Token) Matches(hash string) bool {
	return hash != "" && subtle.ConstantTimeCompare([]byte(t.Hash()), []byte(hash)) == 1
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// GossipKeySize is the AES-256 key memberlist encrypts gossip with.
const GossipKeySize = 32

// NewGossipKey returns a random gossip key.
func NewGossipKey() ([]byte, error) {
	k := make([]byte, GossipKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("failed to generate gossip key: %w", err)
	}
	return k, nil
}

// EncodeGossipKey and DecodeGossipKey are the key's file form (base64, as
// serf's keyring files).
func EncodeGossipKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// DecodeGossipKey parses a base64 gossip key.
func DecodeGossipKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != GossipKeySize {
		return nil, fmt.Errorf("malformed gossip key: want %d bytes in base64", GossipKeySize)
	}
	return k, nil
}
