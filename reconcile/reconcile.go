// Package reconcile is Stevedore's control-plane core: a pure function from
// desired objects, observed pods and remembered placements to one desired
// pod set per node, with events. It does no I/O and reads no clock: the
// daemon around it (reconcile/server) supplies time, UIDs and state.
//
// The same Input always gives the same Output: maps are walked in sorted
// order, the scheduler is deterministic and time and UIDs are injected. See
// docs/reconcile.md for naming, UIDs, placement memory, node loss and
// rollouts (rollout.go, progress.go).
//
// The views (PodView, WorkloadView, Event, ObjectChange) carry no JSON
// tags: they are not a wire format. reconcile/api holds the /v1 wire types
// and reconcile/server converts the views into them. PodRecord and Memory
// are tagged because the raft store persists them as JSON.
package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// NodeState is one node as membership sees it.
type NodeState struct {
	Info api.NodeInfo
	// Alive is false once membership has declared the node failed or left.
	Alive bool
	// Grace marks a node that is not alive but may come back soon (an agent
	// that left gracefully, say for a restart): its pods keep their
	// placement and show Unknown, and nothing new is placed on it, as for a
	// node membership has not reported, whatever Input.AbsentNodesLost says.
	Grace bool
}

// PodRecord is what the core remembers of one pod it created, so that a
// restarted reconciler neither forgets nor duplicates pods. It holds the
// pod's whole content because an old revision's pods keep running during a
// template change after Git no longer describes them.
type PodRecord struct {
	UID       string `json:"uid"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Owner is the workload's key ("Deployment/ns/name"), empty for a bare Pod.
	Owner string `json:"owner,omitempty"`
	// Node is where the pod was placed; empty while Pending.
	Node    string    `json:"node,omitempty"`
	Created time.Time `json:"created"`
	// Hash is DesiredPod.Hash of this incarnation: the template hash of a
	// workload's pod, the spec hash of a bare Pod. A bare Pod whose spec
	// hash changes in Git gets a new incarnation (a new UID).
	Hash        string            `json:"hash,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Spec        spec.PodSpec      `json:"spec"`
	// Unschedulable is the scheduler's last message while the pod fits
	// nowhere; remembered so that FailedScheduling is an event only when the
	// reason changes, not on every plan.
	Unschedulable string `json:"unschedulable,omitempty"`
	// Finished is set on a Job's pod once its outcome is counted in its
	// JobRecord (api.PodSucceeded or api.PodFailed), in the same plan,
	// so that a restart or failover never counts it twice (job.go). A
	// finished pod holds no scheduler resources.
	Finished string `json:"finished,omitempty"`
}

// Key returns "namespace/name", the record's key in Memory.
func (r *PodRecord) Key() string { return r.Namespace + "/" + r.Name }

// Memory is the core's remembered state (the inventory): persisted by the
// daemon after every plan and handed back on the next.
type Memory struct {
	// Pods by "namespace/name".
	Pods map[string]PodRecord `json:"pods"`
	// Volumes are the PersistentVolumes bound to a claim or released from
	// one, provisioned or declared in Git, by name (volumes.go). A static
	// volume no claim ever bound has no record. A plan replaces the map
	// (never writes to it) when a record changes.
	Volumes map[string]VolumeRecord `json:"volumes,omitempty"`
	// Jobs are the Jobs' runs (Git's, a CronJob's children, ctl
	// create job's) by "namespace/name", CronJobs the CronJobs' last
	// slots (job.go, cronjob.go). A plan replaces either map (never
	// writes to it) when a record changes.
	Jobs     map[string]JobRecord     `json:"jobs,omitempty"`
	CronJobs map[string]CronJobRecord `json:"cronJobs,omitempty"`
}

// Input is everything a plan depends on.
type Input struct {
	// Desired is the last good revision's objects; nil means nothing applied
	// yet: the plan then creates, moves and deletes nothing and returns
	// Memory unchanged (or adopted, see Adopt), so a reconciler that has not
	// loaded its revision never tells agents to stop everything.
	Desired *spec.Set
	// Nodes as membership sees them. A node that is absent (rather than
	// present with Alive false) is not known yet, as after a reconciler
	// restart: pods placed on it keep their placement, unless
	// AbsentNodesLost is set.
	Nodes []NodeState
	// AbsentNodesLost treats a node absent from Nodes as dead. The daemon
	// sets it once membership has had time to hear from every live agent
	// (a grace period after it starts), so that pods on a node that died
	// while no reconciler was watching are re-created; zero keeps them.
	AbsentNodesLost bool
	// Observed pod statuses by node name.
	Observed map[string][]api.PodStatus
	// VolumeStatus is what each node's agent reports of the persistent
	// volumes of its set (api.PodStatusList.Volumes), by node name: a
	// Released volume's record is dropped once the node asked to delete
	// it reports it Deleted.
	VolumeStatus map[string][]api.VolumeStatus
	Memory       Memory
	// Scheduler configures the scheduler's profiles and plugins (the
	// daemon's config); nil means the built-in profiles.
	Scheduler *scheduler.Config
	// Adopt holds, by node name, the pod sets the agents report having
	// applied last (agent GET /v1/podset). It is read only when Memory has
	// no pod at all (the inventory was lost): the plan then rebuilds
	// Memory from them, keeping UIDs, nodes and creation times, instead of
	// creating every pod anew. See adopt.go.
	Adopt map[string][]api.Pod
	// Overrides are template overrides by owner key (an automatic
	// rollback); see TemplateOverride.
	Overrides map[string]TemplateOverride
	// DeletePods are the pods deleted through the API (ctl delete pod):
	// pod key → the UID deleted. A record of that key and UID gets a new
	// incarnation (its owner still asks for the pod: Git is the source of
	// truth, so deleting is restarting afresh, as a ReplicaSet re-creates
	// a deleted pod); an old revision's pod is dropped. Entries whose UID
	// is no longer remembered are ignored.
	DeletePods map[string]string
	Now        time.Time
	// NewUID returns a fresh pod UID; injected so tests are deterministic.
	// When nil, UIDs are derived from the pod's key, its previous UID and
	// Now, which is deterministic but only unique while Now advances.
	NewUID func() string
}

// PodView is one desired pod: the desired side merged with what its node
// reports (on the wire: reconcile/api.PodView).
type PodView struct {
	UID       string
	Namespace string
	Name      string
	Owner     string
	Labels    map[string]string
	Node      string
	// Phase is the node's report, or Pending (with Reason) while unscheduled
	// or not yet reported.
	Phase   string
	Reason  string
	Message string
	PodIP   string
	// Status is the node's full report, when there is one.
	Status *api.PodStatus
	Spec   spec.PodSpec
	// Created is when the pod's incarnation (UID) was created.
	Created time.Time
}

// WorkloadView is a Deployment, ReplicationController, ReplicaSet,
// StatefulSet or DaemonSet and how many of its pods are where, for `ctl get
// deployments|rc|rs|sts|ds` (on the wire: reconcile/api.Workload).
type WorkloadView struct {
	Kind      string
	Namespace string
	Name      string
	// Replicas is the desired count (a DaemonSet's: the nodes it runs on).
	Replicas int32
	// Current counts the pods the core keeps for it, old revisions included.
	Current int32
	// Running counts pods whose node reports them Running with every
	// container running.
	Running int32
	// Ready counts pods whose Ready condition is True (from an agent that
	// reports no conditions: Running with every container ready).
	Ready int32
	// UpToDate counts pods of the current template.
	UpToDate int32
	// Available counts pods ready for at least minReadySeconds (from the
	// Ready condition's last transition, or the containers' start).
	Available int32
	// Revision is the current template's hash (the pod-template-hash label).
	Revision   string
	Selector   map[string]string
	Containers []string
	Images     []string
	// Created is the oldest of its pods' creation times; zero with no pods.
	Created time.Time
	// Progress is ProgressComplete, ProgressProgressing or
	// ProgressDeadlineExceeded; Message says what is awaited or stuck.
	Progress string
	Message  string
	// Strategy is a Deployment's strategy type (RollingUpdate or
	// Recreate) or a DaemonSet's (RollingUpdate or OnDelete); MaxSurge and
	// MaxUnavailable its rolling update bounds resolved against Replicas
	// (both 0 for Recreate and OnDelete).
	Strategy       string
	MaxSurge       int32
	MaxUnavailable int32
	// Conditions are Available and Progressing, as Kubernetes reports
	// them for a Deployment (types and reasons below; LastTransitionTime
	// is left zero: the core keeps no history).
	Conditions []api.Condition
	// Override is set when the pods run a template other than Git's (an
	// automatic rollback, Input.Overrides): what and why.
	Override string
	// RevisionNumber and Commit are the current template's revision
	// number and the commit that introduced it: the core leaves them
	// zero, the daemon fills them from its revision history.
	RevisionNumber int64
	Commit         string
	// ServiceName is a StatefulSet's headless Service; Partition its
	// rolling update's partition (ordinals below it keep their template).
	ServiceName string
	Partition   int32
	// NodeSelector is a DaemonSet's template's node selector (Replicas
	// is then the number of eligible nodes).
	NodeSelector map[string]string
}

// Workload condition types and reasons, as Kubernetes names them.
// Available is True while at least replicas − maxUnavailable pods are
// available; Progressing is True while a rollout moves or has completed
// (reason NewReplicaSetAvailable), False with ProgressDeadlineExceeded
// when it is stuck.
const (
	WorkloadAvailable   = "Available"
	WorkloadProgressing = "Progressing"
	// Available reasons.
	ReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
	// Progressing reasons.
	ReasonNewReplicaSetAvailable = "NewReplicaSetAvailable"
	ReasonReplicaSetUpdated      = "ReplicaSetUpdated"
	ReasonDeploymentPaused       = "DeploymentPaused"
	ReasonRolledBack             = "RolledBack"
	// ReasonProgressDeadlineExceeded is Progressing False.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
)

// TemplateOverride makes a workload run a template other than the one Git
// declares: the daemon sets one for an automatic rollback
// (stevedore.dev/auto-rollback) and drops it when Git's template changes.
type TemplateOverride struct {
	// GitHash is the hash of Git's template this override stands in for;
	// once the workload's template in Git hashes otherwise, the override
	// is ignored (Git caught up or moved on).
	GitHash string `json:"gitHash"`
	// Hash and Template are what runs instead: a previous revision's.
	Hash     string               `json:"hash"`
	Template spec.PodTemplateSpec `json:"template"`
	// Reason is shown in the workload's view and events.
	Reason string `json:"reason"`
}

// Workload progress, so that `ctl sync --wait` can tell waiting from failing.
const (
	// ProgressComplete: every replica is of the current template and
	// available, and no old pod is left.
	ProgressComplete = "Complete"
	// ProgressProgressing: pods are being created, started or replaced.
	ProgressProgressing = "Progressing"
	// ProgressDeadlineExceeded: the rollout is not complete and made no
	// progress (no new pod created, none became available) for
	// progressDeadlineSeconds (600 s by default); Message names a new pod
	// that is not available and why. The last good revision keeps running
	// meanwhile. A paused Deployment never exceeds its deadline.
	ProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ProgressPaused: a paused Deployment whose template changed keeps
	// running (and scaling) the revision it ran.
	ProgressPaused = "Paused"
)

// Output is a plan.
type Output struct {
	// PodSets holds every alive node's full desired pod set (possibly
	// empty), each sorted by namespace and name.
	PodSets map[string][]api.Pod
	// Pods lists every desired pod, sorted by namespace and name, and
	// the pods being stopped (PodView.Terminating: reports from alive
	// nodes that no record has), each just before the current
	// incarnation of the same name, if any.
	Pods []PodView
	// Workloads lists every Deployment, ReplicationController, ReplicaSet,
	// StatefulSet and DaemonSet, sorted by kind, namespace and name.
	Workloads []WorkloadView
	// Claims lists every PersistentVolumeClaim, sorted by namespace and
	// name; Volumes every PersistentVolume, sorted by name.
	Claims  []ClaimView
	Volumes []VolumeView
	// NodeConfig, NodeVolumes and DeleteVolumes are what each alive
	// node's set carries beside its pods (api.PodSet.Config, Volumes and
	// DeleteVolumes), by node name; a node with none is absent from the
	// map (nil when no node has any). NodeConfig holds the ConfigMaps and
	// Secrets the node's pods refer to, sorted by Key (Secret data in
	// plaintext: never log it); NodeVolumes the PersistentVolumes bound
	// to the claims its pods mount (or that its stopping pods still
	// mount), sorted by name; DeleteVolumes the released volumes whose
	// reclaim policy is Delete that this node is to delete. A change of
	// any of them is a change of the node's set (Planner.ChangedNodes).
	NodeConfig    map[string][]api.ConfigObject
	NodeVolumes   map[string][]api.PersistentVolume
	DeleteVolumes map[string][]api.PersistentVolume
	// Memory is what to remember for the next plan. When MemoryChanged is
	// false it is Input.Memory itself (the same map, equal content), so a
	// daemon can skip persisting it; treat both as read-only.
	Memory Memory
	// MemoryChanged is true when Changed, Deleted, VolumesChanged or
	// VolumesDeleted is not empty, or when Input.Memory.Pods was nil
	// (Memory.Pods is then a new, empty map).
	MemoryChanged bool
	// Changed and Deleted are Memory as a delta from Input.Memory: the keys
	// of the records created or changed in any field, and of the records
	// removed, each sorted by namespace and name. Writing Memory.Pods[k] for
	// every k in Changed and deleting every k in Deleted turns Input.Memory
	// into Memory, so a daemon whose inventory is replicated (a raft FSM)
	// writes only those; both are empty when nothing changed.
	Changed []string
	Deleted []string
	// VolumesChanged and VolumesDeleted are the same delta for
	// Memory.Volumes: the names of the volume records created or changed,
	// and of those dropped, sorted. Writing Memory.Volumes[n] for every n
	// in VolumesChanged and deleting every n in VolumesDeleted turns
	// Input.Memory.Volumes into Memory.Volumes.
	VolumesChanged []string
	VolumesDeleted []string
	// JobsChanged, JobsDeleted, CronJobsChanged and CronJobsDeleted are
	// the same delta for Memory.Jobs and Memory.CronJobs. A plan that
	// counts a pod's outcome changes the pod's record (Finished) and its
	// Job's together: the daemon commits them in one entry.
	JobsChanged     []string
	JobsDeleted     []string
	CronJobsChanged []string
	CronJobsDeleted []string
	// Jobs and CronJobs are the views of every Job (Git's and the
	// CronJobs' children) and CronJob, sorted by namespace and name.
	Jobs     []JobView
	CronJobs []CronJobView
	Events   []Event
	// Wake is the earliest instant after Input.Now at which Plan, given the
	// same Input but that instant as Now, would decide something different
	// or show different views: a pod reaching its workload's
	// minReadySeconds of readiness, a rollout passing its
	// progressDeadlineSeconds without progress. Zero means that nothing pending changes
	// with time alone. The daemon plans on every change of its inputs and
	// otherwise sleeps until Wake. Wake is meant for the plan's fixed
	// point (Memory fed back unchanged), which plans the same Wake.
	Wake time.Time
}

// Plan computes the desired pod set of every node: it expands Desired into
// pods, gives new pods UIDs, keeps remembered placements on nodes that are
// not dead, re-creates the pods of dead nodes and of NoExecute-tainted nodes
// that they do not tolerate, rolls template changes out as the workload's
// strategy says (rollout.go), drops what Git no longer asks for and
// schedules the rest. It never writes to in (Memory included) and, for the same in
// (NewUID returning the same sequence), returns the same Output. Planning
// again from the returned Memory with nothing else changed decides nothing
// new: Plan is meant to run after every change, however small.
func Plan(in Input) Output {
	p := newPlanner(in)
	p.adopt()
	if in.Desired != nil {
		p.plan()
	} else {
		p.keys = sortedPodKeys(p.mem)
	}
	return p.output()
}

// planner holds one Plan's working state.
type planner struct {
	in       Input
	alive    map[string]bool // node name → alive; absent = unknown
	grace    map[string]bool // nodes in NodeState.Grace: unknown even past AbsentNodesLost
	observed map[string]*api.PodStatus
	mem      map[string]*PodRecord
	// keys are the sorted keys of mem after the plan's first pass; later
	// passes only delete, so they skip keys no longer in mem rather than
	// sorting again.
	keys   []string
	events []Event
	// changed holds the keys of records created or changed by this plan,
	// deleted those dropped (see delta.go).
	changed map[string]struct{}
	deleted []string
	// workloads of Desired by owner key.
	workloads map[string]workload
	// want holds the desired pods by key once plan has expanded them.
	want map[string]*DesiredPod
	// noExecute holds each alive node's NoExecute taints, the agent's and
	// those its Node object in Git declares.
	noExecute map[string][]spec.Taint
	// nodes are the alive nodes as the scheduler sees them.
	nodes []scheduler.Node
	// wake is the earliest instant after Now at which the plan's outcome
	// changes with time alone (see wake.go); zero for none.
	wake time.Time
	// wakes, when not nil, gets the same per owner (the workload whose
	// pods wakeOwner names): the incremental Planner keeps each owner's.
	wakes     map[string]time.Time
	wakeOwner string
	// dups is set when two objects claim one pod name.
	dups bool
	// rolls holds the rollout decisions by owner (see rollout.go);
	// scales the pod count changes by revision, for ScalingReplicaSet.
	rolls  map[string]*rollout
	scales map[revisionKey]int
	// strayOf, when set, returns an owner's reports that no record has
	// (the incremental Planner keeps them); otherwise straysOf indexes
	// them into strayIdx on first use.
	strayOf  func(owner string) []*api.PodStatus
	strayIdx map[string][]*api.PodStatus
	// refs indexes the records by the objects they refer to, cat is the
	// desired set's storage and configuration objects and vs the
	// volumes' working state (volumes.go); nil until the plan needs them.
	refs *refIndex
	cat  *catalog
	vs   *volumeState
	// stsReports indexes the reports of StatefulSets' pods by owner and
	// stsWaits says what each StatefulSet waits for (statefulset.go).
	stsReports map[string][]*api.PodStatus
	stsWaits   map[string]string
	// daemonRecs indexes the DaemonSets' records by owner (daemonset.go).
	daemonRecs map[string][]*PodRecord
	// bs is the Jobs' and CronJobs' working state and jobDrops the
	// reasons their pods are dropped, by key (job.go); nil without any.
	bs       *batchState
	jobDrops map[string]string
}

func newPlanner(in Input) *planner {
	p := &planner{
		in:        in,
		alive:     make(map[string]bool, len(in.Nodes)),
		observed:  make(map[string]*api.PodStatus, observedCount(in.Observed)),
		workloads: map[string]workload{},
	}
	if in.Desired != nil {
		p.workloads = workloadsOf(in.Desired)
	}
	// Room for every remembered or desired pod: growing a map of
	// 10,000 entries step by step costs more than the plan's own work.
	desired := 0
	if in.Desired != nil {
		desired = len(in.Desired.Objects)
		for _, w := range p.workloads {
			desired += w.replicas
		}
	}
	p.mem = make(map[string]*PodRecord, max(len(in.Memory.Pods), desired))
	// Copied so that Plan never writes to its input; one backing array
	// rather than an allocation per record.
	backing := make([]PodRecord, 0, len(in.Memory.Pods))
	for k, r := range in.Memory.Pods {
		backing = append(backing, r)
		p.mem[k] = &backing[len(backing)-1]
	}
	for _, n := range in.Nodes {
		if n.Grace && !n.Alive {
			if p.grace == nil {
				p.grace = map[string]bool{}
			}
			p.grace[n.Info.Name] = true
			continue
		}
		p.alive[n.Info.Name] = n.Alive
	}
	// In node order, so that even a UID two nodes report (which only a bug
	// elsewhere could cause) resolves the same way every time.
	for _, node := range sortedKeys(in.Observed) {
		sts := in.Observed[node]
		for i := range sts {
			p.observed[sts[i].UID] = &sts[i]
		}
	}
	p.nodes = SchedulerNodes(p.in.Nodes, p.in.Desired)
	for _, n := range p.nodes {
		for _, t := range n.Taints {
			if t.Effect == spec.TaintEffectNoExecute {
				if p.noExecute == nil {
					p.noExecute = map[string][]spec.Taint{}
				}
				p.noExecute[n.Name] = append(p.noExecute[n.Name], t)
			}
		}
	}
	return p
}

func (p *planner) event(podKey, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: "Pod/" + podKey, Reason: reason, Message: msg})
}

func (p *planner) newUID(key, prev string) string {
	if p.in.NewUID != nil {
		return p.in.NewUID()
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", key, prev, p.in.Now.UnixNano())))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func observedCount(obs map[string][]api.PodStatus) int {
	n := 0
	for _, sts := range obs {
		n += len(sts)
	}
	return n
}

// restKeys returns the keys of the records of mem that want does not
// hold, in order: the few remembered pods Git no longer asks for.
func restKeys(mem map[string]*PodRecord, want map[string]*DesiredPod) []string {
	var rest []string
	for k := range mem {
		if _, ok := want[k]; !ok {
			rest = append(rest, k)
		}
	}
	slices.SortFunc(rest, comparePodKeys)
	return rest
}

// mergeKeys returns the keys of the desired pods (sorted, all in mem)
// and of rest (restKeys) in order.
func mergeKeys(desired []DesiredPod, rest []string) []string {
	keys := make([]string, 0, len(desired)+len(rest))
	i := 0
	for _, d := range desired {
		k := d.Key()
		for i < len(rest) && comparePodKeys(rest[i], k) < 0 {
			keys = append(keys, rest[i])
			i++
		}
		if n := len(keys); n > 0 && keys[n-1] == k {
			continue // a duplicate name (see plan)
		}
		keys = append(keys, k)
	}
	return append(keys, rest[i:]...)
}

// sortedPodKeys returns the keys of m by namespace and name.
func sortedPodKeys(m map[string]*PodRecord) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePodKeys)
	return keys
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plan decides every pod's incarnation and placement.
func (p *planner) plan() {
	p.resolveDaemons()
	desired := p.retemplate(expand(p.in.Desired, p.workloads))
	// Jobs and CronJobs (job.go): their pods join the desired ones.
	desired = p.batch(desired)
	p.decide(desired)
	p.refs = buildRefs(p.mem)
	p.cat = newCatalog(p.in.Desired)
	p.cat.statefulClaims(p.in.Desired, p.in.Memory.Volumes)
	p.resolveClaims()
	p.schedule()
	p.settleVolumes()
}

// decide gives each desired pod (sorted, overrides and pauses applied,
// limited by the rollouts) its incarnation and drops what is no longer
// wanted; scheduling is left to the caller. The incremental Planner runs
// it on the pods of a few owners.
func (p *planner) decide(desired []DesiredPod) {
	desired = p.statefulSets(desired)
	want := make(map[string]*DesiredPod, len(desired))
	// The remembered pods first: their new incarnations (if any) are
	// what the rollouts see; then the pods to create, as far as the
	// rollouts want them.
	var missing []int
	for i := range desired {
		d := &desired[i]
		key := d.Key()
		if _, dup := want[key]; dup {
			// The first of two objects claiming one pod name wins, so the
			// pod does not flip between them on every plan.
			p.dups = true
			continue
		}
		want[key] = d
		if rec, ok := p.mem[key]; ok {
			p.incarnate(key, d, rec)
		} else {
			missing = append(missing, i)
		}
	}
	rest := restKeys(p.mem, want)
	p.rollouts(rest)
	if p.create(desired, missing, want) {
		kept := make([]DesiredPod, 0, len(want))
		for _, d := range desired {
			if want[d.Key()] != nil {
				kept = append(kept, d)
			}
		}
		desired = kept
	}
	p.want = want
	p.keys = mergeKeys(desired, rest)
	p.dropUnwanted(want)
	p.scalingEvents()
}

// incarnate brings the remembered record of a desired pod up to date: a
// new incarnation when it must be replaced or re-created elsewhere.
func (p *planner) incarnate(key string, d *DesiredPod, rec *PodRecord) {
	renewed := true
	if rec.Hash != d.Hash && p.statefulPod(d.Owner) {
		// A StatefulSet's ordinal changing revision for any reason.
		p.scaled(rec.Owner, rec.Hash, -1)
		p.scaled(d.Owner, d.Hash, 1)
	}
	switch p.renewal(rec, d.Owner, d.Hash, d.Spec) {
	case renewReplaced:
		old := rec.UID
		if !p.statefulPod(d.Owner) {
			p.scaled(rec.Owner, rec.Hash, -1)
			p.scaled(d.Owner, d.Hash, 1)
		}
		p.fresh(key, d, rec, old)
		p.event(key, EventReplaced, fmt.Sprintf("spec changed in Git: replaced uid %s with %s", old, rec.UID))
	case renewNodeLost:
		old, node := rec.UID, rec.Node
		p.fresh(key, d, rec, old)
		p.event(key, EventNodeLost, fmt.Sprintf("node %s is not alive: uid %s re-created as %s", node, old, rec.UID))
	case renewDeleted:
		old := rec.UID
		p.fresh(key, d, rec, old)
		p.event(key, EventRecreated, fmt.Sprintf("deleted through the API (ctl delete pod): uid %s re-created as %s", old, rec.UID))
	case renewEvicted:
		old, node, t := rec.UID, rec.Node, p.evicting(rec.Node, d.Spec)
		p.fresh(key, d, rec, old)
		p.event(key, EventEvicted, fmt.Sprintf("node %s has taint %s that the pod does not tolerate: uid %s re-created as %s", node, taintString(t), old, rec.UID))
	case renewAgentEvicted:
		old, node := rec.UID, rec.Node
		p.fresh(key, d, rec, old)
		p.event(key, EventEvicted, fmt.Sprintf("evicted by node %s under resource pressure: uid %s re-created as %s", node, old, rec.UID))
	default:
		renewed = false
	}
	if !renewed && d.Owner == "" && (!maps.Equal(rec.Labels, d.Labels) || !maps.Equal(rec.Annotations, d.Annotations)) {
		// The hash covers a workload pod's whole template but only a
		// bare Pod's spec: its labels and annotations change in place.
		p.touch(key)
		rec.Labels = d.Labels
		rec.Annotations = d.Annotations
	}
	// Otherwise the record already holds what d asks for: an equal hash
	// means equal canonical JSON. It is left as remembered (a quantity
	// written "0.25" in memory and "250m" in Git stays "0.25"), so that a
	// record changes only when the plan says so and Changed is exact.
}

// fresh makes rec a new incarnation of the desired pod d (prev is the
// UID it replaces, empty for a new pod).
func (p *planner) fresh(key string, d *DesiredPod, rec *PodRecord, prev string) {
	*rec = PodRecord{
		UID:         p.newUID(key, prev),
		Namespace:   d.Namespace,
		Name:        d.Name,
		Owner:       d.Owner,
		Hash:        d.Hash,
		Labels:      d.Labels,
		Annotations: d.Annotations,
		Spec:        *d.Spec,
		Created:     p.in.Now,
	}
	p.touch(key)
}

// create makes the records of the desired pods at the indexes missing
// that the rollouts want, and takes the others out of want; it reports
// whether it left any out.
func (p *planner) create(desired []DesiredPod, missing []int, want map[string]*DesiredPod) bool {
	// New records come from chunks, allocated only when a pod is new: in
	// the steady state there is none, and a backing array for every
	// desired pod would cost 60 MB at 150,000 pods. A full chunk is never
	// appended to (that would move the records p.mem points to).
	var chunk []PodRecord
	left := false
	for j, i := range missing {
		d := &desired[i]
		key := d.Key()
		if r := p.rolls[d.Owner]; r != nil && d.Owner != "" && (d.Index >= r.n || r.blocked[key]) {
			delete(want, key)
			left = true
			continue
		}
		if len(chunk) == cap(chunk) {
			chunk = make([]PodRecord, 0, min(len(missing)-j, 1024))
		}
		chunk = append(chunk, PodRecord{})
		rec := &chunk[len(chunk)-1]
		p.mem[key] = rec
		p.fresh(key, d, rec, "")
		p.scaled(d.Owner, d.Hash, 1)
		p.event(key, EventCreated, "created pod "+key+" (uid "+rec.UID+")")
	}
	return left
}

// succeeded reports whether rec's node reports the pod Succeeded: a pod
// that has run to completion is not evicted (a drain would run it again),
// as Kubernetes leaves succeeded pods alone.
func (p *planner) succeeded(rec *PodRecord) bool {
	st := p.observed[rec.UID]
	return st != nil && st.Phase == api.PodSucceeded
}

// evicting returns the first NoExecute taint of node that ps does not
// tolerate, or nil. TolerationSeconds is not honoured: eviction is at once.
func (p *planner) evicting(node string, ps *spec.PodSpec) *spec.Taint {
	taints := p.noExecute[node]
	for i := range taints {
		if !spec.Tolerates(ps.Tolerations, &taints[i]) {
			return &taints[i]
		}
	}
	return nil
}

func taintString(t *spec.Taint) string {
	if t.Value == "" {
		return "{" + t.Key + ":" + t.Effect + "}"
	}
	return "{" + t.Key + "=" + t.Value + ":" + t.Effect + "}"
}

// aliveOrUnknown is true unless membership says the node is dead (or it
// is absent and Input.AbsentNodesLost is set).
func (p *planner) aliveOrUnknown(node string) bool {
	alive, known := p.alive[node]
	return alive || !known && p.unknownStillPlaced(node)
}

// unknownStillPlaced says whether a node missing from p.alive keeps its pods.
func (p *planner) unknownStillPlaced(node string) bool {
	return !p.in.AbsentNodesLost || p.grace[node]
}
