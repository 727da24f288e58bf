package server

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// Leases (coordination.k8s.io-style, for pods' leader election) are kept
// in the raft store so that a failover keeps every holder. An opLease entry
// is a compare-and-swap: it carries the version (raft index) of the lease
// the leader decided from, and applies only if the lease is still at that
// version. Two campaigns the leader decides at once therefore cannot both
// win: the second entry is refused alike on every store (rejectedError)
// and the leader decides it again from the first one's result. Times are
// the leader's clock, stamped into the entry, so every store applies the
// same values. A reconciler from before leases fails to apply the
// operation (and so never leads from a store that has them).

// opLease sets or deletes one lease: Lease.
const opLease = "lease"

// leaseRecord is a lease as the store keeps it.
type leaseRecord struct {
	Holder      string    `json:"holder,omitempty"`
	Duration    int32     `json:"duration"`
	Acquire     time.Time `json:"acquire,omitzero"`
	Renew       time.Time `json:"renew,omitzero"`
	Transitions int32     `json:"transitions,omitempty"`
	// Version is the raft index of the entry that last wrote it.
	Version uint64 `json:"version"`
}

// leaseCommand is the payload of an opLease entry.
type leaseCommand struct {
	Key string `json:"key"` // namespace/name
	// Expect is the version the leader decided from; 0: the lease did not
	// exist.
	Expect uint64 `json:"expect"`
	// Record is the new lease (its Version is set when it applies); nil
	// deletes it.
	Record *leaseRecord `json:"record,omitempty"`
}

// leaseConflict is the rejectedError text of a lost compare-and-swap.
const leaseConflict = "lease changed since it was read"

// applyLeaseLocked applies an opLease entry.
func (s *store) applyLeaseLocked(c *command, index uint64) error {
	lc := c.Lease
	if lc == nil || lc.Key == "" {
		return fmt.Errorf("raft entry %d: lease entry without a lease", index)
	}
	var have uint64
	if cur, ok := s.st.Leases[lc.Key]; ok {
		have = cur.Version
	}
	if have != lc.Expect {
		return &rejectedError{fmt.Sprintf("raft entry %d: %s %s (version %d, expected %d)", index, leaseConflict, lc.Key, have, lc.Expect)}
	}
	// Copy-on-write: readers hold the old map.
	m := maps.Clone(s.st.Leases)
	if m == nil {
		m = map[string]leaseRecord{}
	}
	if lc.Record == nil {
		delete(m, lc.Key)
	} else {
		r := *lc.Record
		r.Version = index
		m[lc.Key] = r
	}
	s.st.Leases = m
	return nil
}

// lease returns one lease's record.
func (s *store) lease(key string) (leaseRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.st.Leases[key]
	return r, ok
}

// leases returns every lease (the map is replaced, never written to).
func (s *store) leases() map[string]leaseRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Leases
}

// expires is when r lapses unless renewed.
func (r leaseRecord) expires() time.Time {
	return r.Renew.Add(time.Duration(r.Duration) * time.Second)
}

// held reports whether r has a holder whose lease has not lapsed at now.
func (r leaseRecord) held(now time.Time) bool {
	return r.Holder != "" && now.Before(r.expires())
}

// errLeaseHeld is decideLease's answer to a campaign for a lease another
// holds.
type errLeaseHeld struct{ holder string }

func (e errLeaseHeld) Error() string { return "lease is held by " + e.holder }

// errLeaseVersion is a failed ResourceVersion precondition.
type errLeaseVersion struct{ have, want string }

func (e errLeaseVersion) Error() string {
	return "lease is at resourceVersion " + e.have + ", the request expects " + e.want
}

// errLeaseNotHolder is a release by someone who does not hold the lease.
type errLeaseNotHolder struct{ holder, by string }

func (e errLeaseNotHolder) Error() string {
	if e.holder == "" {
		return e.by + " cannot release a lease nobody holds"
	}
	return e.by + " cannot release a lease held by " + e.holder
}

// decideLease is the leader's decision on req for the lease cur (exists
// false: none yet) at now, the rules of client-go's leader election made
// server-side: a free or lapsed lease goes to the requester (a new holder
// counts a transition and sets acquireTime); its holder renews it; anyone
// else is refused with errLeaseHeld. A release by the holder empties
// HolderIdentity. It returns the record to propose.
func decideLease(cur leaseRecord, exists bool, req agentapi.LeaseRequest, now time.Time) (leaseRecord, error) {
	if req.ResourceVersion != "" {
		have := "0"
		if exists {
			have = strconv.FormatUint(cur.Version, 10)
		}
		if have != req.ResourceVersion {
			return leaseRecord{}, errLeaseVersion{have: have, want: req.ResourceVersion}
		}
	}
	dur := req.LeaseDurationSeconds
	if dur == 0 {
		dur = agentapi.DefaultLeaseDurationSeconds
	}
	if req.Release {
		if !exists || cur.Holder != req.HolderIdentity || !cur.held(now) {
			h := cur.Holder
			if !cur.held(now) {
				h = ""
			}
			return leaseRecord{}, errLeaseNotHolder{holder: h, by: req.HolderIdentity}
		}
		next := cur
		next.Holder = ""
		next.Renew = now
		return next, nil
	}
	next := cur
	next.Duration, next.Renew = dur, now
	switch {
	case exists && cur.Holder == req.HolderIdentity && cur.held(now):
		// A renewal keeps acquireTime and the count.
	case !exists || !cur.held(now):
		if exists && cur.Holder != req.HolderIdentity {
			next.Transitions++
		}
		next.Holder, next.Acquire = req.HolderIdentity, now
	default:
		return leaseRecord{}, errLeaseHeld{holder: cur.Holder}
	}
	return next, nil
}

// wireLease renders a record for the API, as of now.
func wireLease(key string, r leaseRecord, now time.Time) agentapi.Lease {
	ns, name, _ := strings.Cut(key, "/")
	l := agentapi.Lease{
		APIVersion: agentapi.LeaseAPIVersion,
		Kind:       agentapi.KindLease,
		Metadata:   agentapi.LeaseMetadata{Namespace: ns, Name: name, ResourceVersion: strconv.FormatUint(r.Version, 10)},
		Spec: agentapi.LeaseSpec{
			HolderIdentity:       r.Holder,
			LeaseDurationSeconds: r.Duration,
			LeaseTransitions:     r.Transitions,
		},
		Status: agentapi.LeaseStatus{Held: r.held(now), ObservedTime: now},
	}
	if !r.Acquire.IsZero() {
		t := r.Acquire
		l.Spec.AcquireTime = &t
	}
	if !r.Renew.IsZero() {
		t := r.Renew
		l.Spec.RenewTime = &t
	}
	if r.Holder != "" {
		t := r.expires()
		l.Status.ExpireTime = &t
	}
	return l
}
