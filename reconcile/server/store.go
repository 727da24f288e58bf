package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// savedRevision is the last good revision as the store keeps it.
type savedRevision struct {
	Commit api.Commit `json:"commit"`
	Path   string     `json:"path,omitempty"`
	// Repo (credentials stripped) and Branch are the source it came from;
	// empty in revisions of a single-repository reconciler.
	Repo   string            `json:"repo,omitempty"`
	Branch string            `json:"branch,omitempty"`
	Files  map[string][]byte `json:"files"`
}

// nodeOverride is what ctl cordon/drain set on a node, beside what Git
// declares in a Node object.
type nodeOverride struct {
	Cordoned bool `json:"cordoned,omitempty"`
	Drained  bool `json:"drained,omitempty"`
}

// Operations of a raft log entry.
const (
	opCluster  = "cluster"  // ClusterID: the first entry of a new cluster
	opRevision = "revision" // Revision: the bootstrap application's new last good revision
	// opAppRevision is another application's (App, Revision, Retained). It
	// is an operation of its own so that a reconciler from before
	// applications, in a cluster being upgraded, fails to apply it (and so
	// never leads) rather than take it for the bootstrap's revision.
	opAppRevision = "appRevision"
	opPods        = "pods"     // Upsert, Delete: a plan's delta of the inventory
	opTermBase    = "termBase" // TermBase: raise the fencing token's base
	opNode        = "node"     // Node, Override: ctl cordon/uncordon/drain
	// opPKI (PKI) is the cluster's credentials (store_pki.go).
)

// command is one raft log entry. Entries are deltas: a plan that changes
// nothing appends nothing, and a plan that moves one pod appends one record.
type command struct {
	Op        string         `json:"op"`
	ClusterID string         `json:"clusterID,omitempty"`
	Revision  *savedRevision `json:"revision,omitempty"`
	// App names the application of an opRevision entry; empty is the
	// bootstrap application (and what entries of a single-repository
	// reconciler decode to). Retained are the objects it keeps running
	// although removed from Git (it does not prune).
	App      string            `json:"app,omitempty"`
	Retained map[string][]byte `json:"retained,omitempty"`
	// Created is when the leader proposed the entry: an application's
	// first revision records it as the application's creation.
	Created  time.Time             `json:"created,omitempty"`
	Upsert   []reconcile.PodRecord `json:"upsert,omitempty"`
	Delete   []string              `json:"delete,omitempty"`
	TermBase uint64                `json:"termBase,omitempty"`
	Node     string                `json:"node,omitempty"`
	Override *nodeOverride         `json:"override,omitempty"`
	// Action is "cordon", "uncordon" or "drain" (opNode): the new mark is
	// computed from the current one when the entry applies, so two
	// concurrent actions on one node both count.
	Action string `json:"action,omitempty"`
	// Net is the address plan of an opNetConfig entry; PodCIDRs the nodes
	// of an opNodeCIDR entry, each with the override its agent advertises
	// ("" for an allocation) (store_net.go).
	Net      *NetworkConfig    `json:"net,omitempty"`
	PodCIDRs map[string]string `json:"podCIDRs,omitempty"`
	// Healthy names the revisions of an opRolloutHealthy entry; Owner
	// and Rollback the Deployment and template override of an
	// opRolloutOverride entry, nil to drop it (store_rollout.go).
	Healthy  []revisionRef               `json:"healthy,omitempty"`
	Owner    string                      `json:"owner,omitempty"`
	Rollback *reconcile.TemplateOverride `json:"rollback,omitempty"`
	// VolumeUpsert and VolumeDelete are the volume records of an
	// opVolumes entry (store_volumes.go).
	VolumeUpsert []reconcile.VolumeRecord `json:"volumeUpsert,omitempty"`
	VolumeDelete []string                 `json:"volumeDelete,omitempty"`
	// Pod and UID are the incarnation an opDeletePod entry deletes
	// (store_deletepod.go).
	Pod string `json:"pod,omitempty"`
	UID string `json:"uid,omitempty"`
	// Lease is the payload of an opLease entry (store_leases.go).
	Lease *leaseCommand `json:"lease,omitempty"`
	// Token is the payload of an opToken entry (tokens.go).
	Token *tokenCommand `json:"token,omitempty"`
	// JobUpsert, JobDelete, CronJobUpsert and CronJobDelete are the
	// records of an opJobs or opJobCreate entry (store_jobs.go).
	JobUpsert     []reconcile.JobRecord     `json:"jobUpsert,omitempty"`
	JobDelete     []string                  `json:"jobDelete,omitempty"`
	CronJobUpsert []reconcile.CronJobRecord `json:"cronJobUpsert,omitempty"`
	CronJobDelete []string                  `json:"cronJobDelete,omitempty"`
	// PKI is the payload of an opPKI entry (store_pki.go).
	PKI *pkiRecord `json:"pki,omitempty"`
	// Format and Release are the store format an opFormat entry moves
	// to, and the release of the leader that proposed it
	// (store_format.go).
	Format  int    `json:"format,omitempty"`
	Release string `json:"release,omitempty"`
}

// fsmState is the control plane's durable state: what a snapshot holds.
type fsmState struct {
	// ClusterID names the raft cluster, so that a reconciler joining the
	// wrong one is told so.
	ClusterID string `json:"clusterID"`
	// Revision is the bootstrap application's last good revision (nil
	// before the first): where a single-repository reconciler kept its
	// only one.
	Revision *savedRevision `json:"revision,omitempty"`
	// Apps are the other applications' states, by name (store_apps.go).
	Apps map[string]*savedApp `json:"apps,omitempty"`
	// BootstrapCreated is when the bootstrap application's first revision
	// was proposed (zero for a store from before applications).
	BootstrapCreated time.Time `json:"bootstrapCreated,omitempty"`
	// Pods is the inventory (reconcile.Memory.Pods).
	Pods map[string]reconcile.PodRecord `json:"pods"`
	// Volumes are the persistent volumes' records
	// (reconcile.Memory.Volumes); absent in an older snapshot: none.
	Volumes map[string]reconcile.VolumeRecord `json:"volumes,omitempty"`
	// Jobs and CronJobs are the Jobs' runs and the CronJobs' last slots
	// (reconcile.Memory.Jobs, CronJobs; store_jobs.go); absent in an
	// older snapshot: none.
	Jobs     map[string]reconcile.JobRecord     `json:"jobs,omitempty"`
	CronJobs map[string]reconcile.CronJobRecord `json:"cronJobs,omitempty"`
	// TermBase is added to the raft term to form the fencing token agents
	// check. It only grows: a leader raises it past a term an agent
	// reports having seen (say, from a cluster whose data was lost), so
	// that a rebuilt control plane is not refused for ever.
	TermBase uint64 `json:"termBase,omitempty"`
	// Overrides are ctl cordon/drain marks by node name.
	Overrides map[string]nodeOverride `json:"overrides,omitempty"`
	// Net is the address plan allocations come from; nil (a store from
	// before networking) means the defaults.
	Net *NetworkConfig `json:"net,omitempty"`
	// PodCIDRs are the nodes' pod CIDRs, ClusterIPs the Services' virtual
	// IPs (by namespace/name), NodePorts the NodePort Services' ports (by
	// nodePortKey): see store_net.go. Absent in an older snapshot: empty.
	PodCIDRs   map[string]string `json:"podCIDRs,omitempty"`
	ClusterIPs map[string]string `json:"clusterIPs,omitempty"`
	NodePorts  map[string]int32  `json:"nodePorts,omitempty"`
	// Histories are the Deployments' revisions by owner key
	// ("Deployment/ns/name"), oldest first, and Rollbacks the template
	// overrides of automatic rollbacks in force, by the same key (see
	// store_rollout.go). Absent in an older snapshot: empty, and Restore
	// records the current templates.
	Histories map[string][]rolloutRevision          `json:"histories,omitempty"`
	Rollbacks map[string]reconcile.TemplateOverride `json:"rollbacks,omitempty"`
	// DeletePods are the pods deleted through the API that the plan has
	// not re-created yet: pod key → UID (reconcile.Input.DeletePods).
	DeletePods map[string]string `json:"deletePods,omitempty"`
	// Leases are the pods' leases by "namespace/name" (store_leases.go);
	// absent in an older snapshot: none.
	Leases map[string]leaseRecord `json:"leases,omitempty"`
	// Tokens are the API tokens by ID, hashed (tokens.go); absent in an
	// older snapshot: none.
	Tokens map[string]tokenRecord `json:"tokens,omitempty"`
	// PKI is the cluster's credentials (store_pki.go); absent in an older
	// snapshot, or with security disabled: none.
	PKI *pkiRecord `json:"pki,omitempty"`
	// Format is the store's format and FormatRelease the release that
	// moved it there (store_format.go); absent (format 1) in a store
	// of v0.15.0 or earlier.
	Format        int    `json:"format,omitempty"`
	FormatRelease string `json:"formatRelease,omitempty"`
}

// store is the raft FSM. Apply runs on raft's goroutine; readers take a
// snapshot of what they need under mu. Maps are never written in place
// once handed out: Apply replaces Pods and Overrides copy-on-write only
// when a reader holds them (see shared).
type store struct {
	mu sync.RWMutex
	st fsmState
	// apps are the applications' loaded sets ("" the bootstrap's).
	apps map[string]*appState
	// union is the desired state: every application's objects, nil before
	// the bootstrap's first revision. owner names each object's
	// application.
	union *spec.Set
	owner map[spec.ObjectKey]string
	// published is union, for readers that take no lock (authz.go).
	published atomic.Pointer[spec.Set]
	// keys decrypt SOPS-encrypted manifests (secrets.go); nil: none.
	keys *sops.Keys
	// bootstrap is the bootstrap application's name, for messages.
	bootstrap string
	index     uint64 // last applied raft index
	// shared is set when Pods has been handed to a reader, so the next
	// Apply copies the map before writing to it.
	shared bool
	// onApply, when set, is called after every applied entry (outside mu)
	// with its operation: the controller uses it to plan again.
	onApply func(op string)
	// hashes caches the Deployments' template hashes by object
	// (store_rollout.go): a revision's unchanged objects keep their
	// pointers, so only changed ones are hashed again.
	hashes map[spec.ObjectKey]hashedTemplate
	// rolloutGen counts the changes of Histories and Rollbacks, so that
	// the leader redoes its rollout work only when they changed.
	rolloutGen uint64
	// jobsCreated counts the opJobCreate entries applied (store_jobs.go).
	jobsCreated uint64
	// broken is the first entry that failed to apply; log receives it.
	broken error
	log    *slog.Logger
	// refused is set when the store met a format it does not read
	// (store_format.go): it applies nothing more.
	refused error
	// maxFormat is the newest format this store reads (0:
	// maxStoreFormat; tests lower it to play an older reconciler).
	maxFormat int
	// dataDir names the store's data dir in messages.
	dataDir string
	// onFormat, when set, is called (outside mu) when the store's
	// format changes or is refused: the server records it in the data
	// dir.
	onFormat func(format int, release string)
}

var _ raft.FSM = (*store)(nil)

// defaultAppName is the bootstrap application's name when none is
// configured.
const defaultAppName = "default"

func newStore() *store {
	return &store{st: fsmState{Pods: map[string]reconcile.PodRecord{}}, apps: map[string]*appState{}, owner: map[spec.ObjectKey]string{}, bootstrap: defaultAppName}
}

// Apply applies one committed entry. An entry that cannot be decoded or
// applied is a bug or a corrupt log: it returns the error to the proposer
// and leaves the state unchanged.
func (s *store) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	s.mu.RLock()
	refused := s.refused
	s.mu.RUnlock()
	if refused != nil {
		// The log goes on in a format this store does not read.
		return refused
	}
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("failed to decode raft entry %d: %w", l.Index, err)
	}
	err := s.apply(&c, l.Index)
	var rejected *rejectedError
	if errors.As(err, &rejected) {
		// Every store refuses it alike: the proposer hears why.
		return err
	}
	if err != nil {
		// On a follower nobody else hears of it: this store now differs
		// from the cluster's, and this reconciler must not lead from it.
		s.mu.Lock()
		if s.broken == nil {
			s.broken = err
		}
		s.mu.Unlock()
		if s.log != nil {
			s.log.Error("failed to apply a raft entry: this reconciler will not lead until restarted", "index", l.Index, "err", err)
		}
		if fe := (*formatError)(nil); errors.As(err, &fe) && s.onFormat != nil {
			s.onFormat(fe.format, fe.release)
		}
		return err
	}
	if c.Op == opFormat && s.onFormat != nil {
		s.onFormat(s.format())
	}
	if s.onApply != nil {
		s.onApply(c.Op)
	}
	return nil
}

// failed returns the first entry that failed to apply, nil if none.
func (s *store) failed() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.broken
}

func (s *store) apply(c *command, index uint64) error {
	var set *spec.Set
	var cache *spec.Cache
	if c.Op == opRevision || c.Op == opAppRevision {
		if c.Revision == nil {
			return fmt.Errorf("raft entry %d: revision entry without a revision", index)
		}
		var err error
		// The documents the application's applied revision shares with
		// this one are reused, not decoded again: the objects keep their
		// pointers, which the incremental planner and reconcile.Diff take
		// as unchanged.
		if set, cache, err = s.loadAppCached(c.Revision.Files, c.Retained, s.docCache(c.App)); err != nil {
			// The leader loaded it before proposing it; failing here means
			// this binary's spec package disagrees with the leader's.
			return fmt.Errorf("raft entry %d: failed to load revision %s: %w", index, c.Revision.Commit.Hash, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Op {
	case opCluster:
		if s.st.ClusterID == "" {
			s.st.ClusterID = c.ClusterID
		}
	case opRevision, opAppRevision:
		if (c.Op == opAppRevision) != (c.App != "") {
			return fmt.Errorf("raft entry %d: %s entry with application %q", index, c.Op, c.App)
		}
		if err := s.applyRevisionLocked(c, set, index); err != nil {
			return err
		}
		if st := s.apps[c.App]; st != nil && st.set == set {
			st.cache = cache
		}
	case opJobCreate:
		if err := s.applyJobCreateLocked(c, index); err != nil {
			return err
		}
	case opPods, opVolumes, opJobs:
		if c.Op == opVolumes || len(c.VolumeUpsert)+len(c.VolumeDelete) > 0 {
			s.applyVolumesLocked(c)
		}
		if c.Op == opJobs {
			s.applyJobsLocked(c)
		}
		if s.shared {
			s.st.Pods = maps.Clone(s.st.Pods)
			s.shared = false
		}
		for _, k := range c.Delete {
			delete(s.st.Pods, k)
		}
		for _, r := range c.Upsert {
			s.st.Pods[r.Key()] = r
		}
		s.settleDeletesLocked()
	case opTermBase:
		s.st.TermBase = max(s.st.TermBase, c.TermBase)
	case opNode:
		o := maps.Clone(s.st.Overrides)
		if o == nil {
			o = map[string]nodeOverride{}
		}
		next := o[c.Node]
		switch {
		case c.Override != nil:
			next = *c.Override
		case c.Action == "cordon":
			next.Cordoned = true
		case c.Action == "drain":
			next = nodeOverride{Cordoned: true, Drained: true}
		case c.Action == "uncordon":
			next = nodeOverride{}
		default:
			return fmt.Errorf("raft entry %d: unknown node action %q", index, c.Action)
		}
		if next == (nodeOverride{}) {
			delete(o, c.Node)
		} else {
			o[c.Node] = next
		}
		s.st.Overrides = o
	case opDeletePod:
		s.applyDeletePodLocked(c)
	case opNetConfig, opNodeCIDR:
		if err := s.applyNetLocked(c, index); err != nil {
			return err
		}
	case opRolloutHealthy, opRolloutOverride:
		if err := s.applyRolloutLocked(c, index); err != nil {
			return err
		}
	case opLease:
		if err := s.applyLeaseLocked(c, index); err != nil {
			return err
		}
	case opToken:
		if err := s.applyTokenLocked(c, index); err != nil {
			return err
		}
	case opPKI:
		if err := s.applyPKILocked(c, index); err != nil {
			return err
		}
	case opFormat:
		if err := s.applyFormatLocked(c, index); err != nil {
			return err
		}
	default:
		return fmt.Errorf("raft entry %d: unknown operation %q", index, c.Op)
	}
	s.index = index
	return nil
}

// storeView is a consistent read of the store. Its maps must not be
// written to.
type storeView struct {
	ClusterID string
	Revision  *savedRevision // the bootstrap application's
	Apps      map[string]*savedApp
	Created   time.Time // the bootstrap application's creation
	Set       *spec.Set // the union of the applications' sets
	Pods      map[string]reconcile.PodRecord
	Volumes   map[string]reconcile.VolumeRecord
	Jobs      map[string]reconcile.JobRecord
	CronJobs  map[string]reconcile.CronJobRecord
	TermBase  uint64
	Overrides map[string]nodeOverride
	Index     uint64
	// The network's allocations (store_net.go).
	Net        *NetworkConfig
	PodCIDRs   map[string]string
	ClusterIPs map[string]string
	NodePorts  map[string]int32
	// The rollouts' histories and overrides (store_rollout.go).
	Histories map[string][]rolloutRevision
	Rollbacks map[string]reconcile.TemplateOverride
	// DeletePods: see fsmState.
	DeletePods map[string]string
	// The pods' leases (store_leases.go).
	Leases map[string]leaseRecord
	// The API tokens, hashed (tokens.go).
	Tokens map[string]tokenRecord
	// The cluster's credentials (store_pki.go).
	PKI *pkiRecord
}

// read returns the current state without copying it: later Applies copy
// before they write.
func (s *store) read() storeView {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared = true
	return storeView{
		ClusterID: s.st.ClusterID,
		Revision:  s.st.Revision,
		Apps:      s.st.Apps,
		Created:   s.st.BootstrapCreated,
		Set:       s.union,
		Pods:      s.st.Pods,
		Volumes:   s.st.Volumes,
		Jobs:      s.st.Jobs,
		CronJobs:  s.st.CronJobs,
		TermBase:  s.st.TermBase,
		Overrides: s.st.Overrides,
		Index:     s.index,

		Net:        s.st.Net,
		PodCIDRs:   s.st.PodCIDRs,
		ClusterIPs: s.st.ClusterIPs,
		NodePorts:  s.st.NodePorts,
		Histories:  s.st.Histories,
		Rollbacks:  s.st.Rollbacks,
		DeletePods: s.st.DeletePods,
		Leases:     s.st.Leases,
		Tokens:     s.st.Tokens,
		PKI:        s.st.PKI,
	}
}

// desired returns the union of the applications' objects, nil before the
// bootstrap application's first revision. It is the same *spec.Set until
// an application's revision changes (the incremental planner relies on it).
func (s *store) desired() *spec.Set {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.union
}

// appliedAt is when this reconciler applied the bootstrap application's
// current revision.
func (s *store) appliedAt() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if st := s.apps[""]; st != nil {
		return st.at
	}
	return time.Time{}
}

// revision returns the bootstrap application's revision and the desired
// state (every application's objects).
func (s *store) revision() (*savedRevision, *spec.Set) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Revision, s.union
}

// appRevision returns one application's revision and its own objects.
func (s *store) appRevision(app string) (*savedRevision, *spec.Set) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rev *savedRevision
	if app == "" {
		rev = s.st.Revision
	} else if sa := s.st.Apps[app]; sa != nil {
		rev = sa.Revision
	}
	var set *spec.Set
	if st := s.apps[app]; st != nil {
		set = st.set
	}
	return rev, set
}

// copyPods returns a copy of the inventory.
func (s *store) copyPods() map[string]reconcile.PodRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.st.Pods)
}

// peekState is the small part of the store status and tags show.
type peekState struct {
	clusterID string
	commit    string
	index     uint64
	termBase  uint64
	pods      int
	overrides map[string]nodeOverride
	// deletePods: see fsmState (never written in place).
	deletePods map[string]string
}

// peek reads the store's small fields without sharing its inventory.
func (s *store) peek() peekState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := peekState{clusterID: s.st.ClusterID, index: s.index, termBase: s.st.TermBase, pods: len(s.st.Pods), overrides: s.st.Overrides, deletePods: s.st.DeletePods}
	if s.st.Revision != nil {
		p.commit = s.st.Revision.Commit.Hash
	}
	return p
}

// Snapshot captures the state for raft; Persist writes it outside the FSM
// lock while Applies go on.
func (s *store) Snapshot() (raft.FSMSnapshot, error) {
	v := s.read()
	format, release := s.format()
	recorded := format
	if format == storeFormatJSON {
		recorded = 0 // as v0.15.0 wrote it: no field at all
	}
	return &fsmSnapshot{format: format, st: fsmState{
		Format:        recorded,
		FormatRelease: release,
		ClusterID:     v.ClusterID,
		Revision:      v.Revision,
		Apps:          v.Apps,
		Pods:          v.Pods,
		Volumes:       v.Volumes,
		Jobs:          v.Jobs,
		CronJobs:      v.CronJobs,
		// The bootstrap application's creation.
		BootstrapCreated: v.Created,
		TermBase:         v.TermBase,
		Overrides:        v.Overrides,
		Net:              v.Net,
		PodCIDRs:         v.PodCIDRs,
		ClusterIPs:       v.ClusterIPs,
		NodePorts:        v.NodePorts,
		Histories:        v.Histories,
		Rollbacks:        v.Rollbacks,
		DeletePods:       v.DeletePods,
		Leases:           v.Leases,
		Tokens:           v.Tokens,
		PKI:              v.PKI,
	}}, nil
}

// Restore replaces the state with a snapshot's. A snapshot that does not
// decode is an error raft reports at start, naming it: never an empty
// inventory.
func (s *store) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := readSnapshot(rc, s.reads())
	if fe := (*formatError)(nil); errors.As(err, &fe) {
		// Never an older state in its place: this store stops here.
		s.mu.Lock()
		err = s.refuseLocked(fe.format, fe.release)
		s.mu.Unlock()
		if s.log != nil {
			s.log.Error("refusing a snapshot: this reconciler will not lead until restarted", "err", err)
		}
		if s.onFormat != nil {
			s.onFormat(fe.format, fe.release)
		}
		return err
	}
	if err != nil {
		return err
	}
	if st.Pods == nil {
		st.Pods = map[string]reconcile.PodRecord{}
	}
	apps, err := s.restoreApps(&st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	oldFormat := max(s.st.Format, storeFormatJSON)
	s.st, s.apps, s.shared = st, apps, false
	s.rebuildUnionLocked()
	// A snapshot from before networking holds no allocations: its
	// Services get theirs now, the same on every reconciler.
	s.reallocServicesLocked()
	// A snapshot from before revision histories holds none: the current
	// templates become revision 1 (a no-op for a newer snapshot).
	s.hashes = nil
	s.rolloutGen++
	s.syncRolloutsLocked(s.appliedCommitLocked)
	s.mu.Unlock()
	if s.onFormat != nil {
		s.onFormat(st.Format, st.FormatRelease)
	}
	if st.Format != oldFormat && s.log != nil {
		s.log.Info("store format restored from a snapshot", "format", st.Format, "was", oldFormat)
	}
	if s.onApply != nil {
		s.onApply(opRevision)
	}
	return nil
}

type fsmSnapshot struct {
	st     fsmState
	format int
}

func (f *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, &f.st, f.format); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("failed to write snapshot: %w", err)
	}
	return sink.Close()
}

func (f *fsmSnapshot) Release() {}

// podDelta is the entry that turns old into new: records that differ and
// keys that are gone.
func podDelta(old, new map[string]reconcile.PodRecord) *command {
	c := &command{Op: opPods}
	for k, r := range new {
		o, ok := old[k]
		if !ok || !recordEqual(&o, &r) {
			c.Upsert = append(c.Upsert, r)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			c.Delete = append(c.Delete, k)
		}
	}
	if len(c.Upsert) == 0 && len(c.Delete) == 0 {
		return nil
	}
	return c
}

// recordEqual compares two records. Specs hold resource.Quantity values
// whose cached string form makes reflect.DeepEqual unreliable, so the spec
// is compared by its encoding, and only when the cheap fields agree.
func recordEqual(a, b *reconcile.PodRecord) bool {
	if a.UID != b.UID || a.Node != b.Node || a.Hash != b.Hash || a.Owner != b.Owner ||
		a.Unschedulable != b.Unschedulable || a.Finished != b.Finished || !a.Created.Equal(b.Created) ||
		!maps.Equal(a.Labels, b.Labels) || !maps.Equal(a.Annotations, b.Annotations) {
		return false
	}
	return encodeEqual(a.Spec, b.Spec)
}

func encodeCommand(c *command) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s entry: %w", c.Op, err)
	}
	return b, nil
}
