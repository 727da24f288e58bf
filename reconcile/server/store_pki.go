package server

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/internal/pki"
)

// The cluster's credentials in the raft store: the first leader proposes
// its own (founded or joined) so that every reconciler's store, log and
// snapshots hold the CA, its key, the gossip key and the bootstrap token's
// hash. The entry is written once; later leaders only compare it with
// their <data-dir>/pki.

// opPKI is an entry holding the cluster's credentials.
const opPKI = "pki"

// pkiRecord is the credentials an opPKI entry and a snapshot carry.
type pkiRecord struct {
	CACert    string `json:"caCert"`
	CAKey     string `json:"caKey"`
	GossipKey string `json:"gossipKey"`
	TokenHash string `json:"tokenHash"`
	// ReconcilerTokenHash: the reconcilers' join token's.
	ReconcilerTokenHash string `json:"reconcilerTokenHash,omitempty"`
}

func (s *store) applyPKILocked(c *command, index uint64) error {
	if c.PKI == nil || c.PKI.CACert == "" {
		return fmt.Errorf("raft entry %d: pki entry without a CA", index)
	}
	if s.st.PKI == nil {
		s.st.PKI = c.PKI
	}
	return nil
}

// pki returns the credentials the store holds, nil before the first entry.
func (s *store) pki() *pkiRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.PKI
}

// commitPKI proposes this reconciler's credentials if the store has none,
// and warns when it holds another CA's (a reconciler whose pki directory
// is not this cluster's: its peers refuse its raft and API connections).
func (c *controller) commitPKI() error {
	s := c.s
	if s.sec == nil {
		return nil
	}
	m := s.sec.m
	if cur := s.store.pki(); cur != nil {
		if cur.CACert != string(m.CA.CertPEM) {
			s.log.Error("the raft store holds another cluster CA than this reconciler's pki directory", "store_ca", caHashOf(cur.CACert), "local_ca", m.CA.Hash())
		}
		return nil
	}
	rec := &pkiRecord{CACert: string(m.CA.CertPEM), CAKey: string(m.CA.KeyPEM), GossipKey: pki.EncodeGossipKey(m.GossipKey), TokenHash: m.TokenHash, ReconcilerTokenHash: m.ReconcilerTokenHash}
	return s.el.apply(&command{Op: opPKI, PKI: rec}, s.cfg.Raft.ApplyTimeout)
}

func caHashOf(certPEM string) string {
	c, err := pki.ParseCert([]byte(certPEM))
	if err != nil {
		return "unparsable"
	}
	return pki.CertHash(c)
}
