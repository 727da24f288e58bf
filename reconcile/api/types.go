// Package api holds the reconciler's versioned HTTP/JSON wire types and the
// Client that ctl and the end-to-end tests use to talk to it. Paths are under
// /v1; changing a field's meaning needs a /v2.
package api

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/spec"
)

// Paths served by the reconciler.
const (
	PathStatus      = "/v1/status"                  // GET → Status
	PathPods        = "/v1/pods"                    // GET ?namespace=[&limit=&continue=] → PodList; ?watch=1 → a stream of WatchEvents of Pods
	PathPod         = "/v1/pods/{namespace}/{name}" // GET → PodDescription (a ServeMux pattern; PodPath builds the path)
	PathDeployments = "/v1/deployments"             // GET ?namespace= → WorkloadList; ?watch=1 → WatchEvents of Workloads
	PathNodes       = "/v1/nodes"                   // GET → NodeList; ?watch=1 → WatchEvents of Nodes
	PathNamespaces  = "/v1/namespaces"              // GET → NamespaceList
	PathRevision    = "/v1/revision"                // GET → Revision (the applied one)
	PathDiff        = "/v1/diff"                    // GET → DiffResult (branch head against the applied revision); POST DiffRequest → DiffResult (those files)
	PathSync        = "/v1/sync"                    // POST [?wait=1] → SyncResult
	PathWebhook     = "/v1/webhook"                 // POST: a Git host's push notification
	PathLogs        = "/v1/logs"                    // GET ?namespace=&pod=&container=&tail= → text, proxied to the pod's agent
	PathEvents      = "/v1/events"                  // GET ?namespace=&object= → EventList; ?watch=1 → WatchEvents of Events
	// PathNodeCordon, PathNodeUncordon and PathNodeDrain are writes (forwarded
	// to the leader): POST → Node. Drain cordons the node and evicts its pods
	// (they are placed again elsewhere); uncordon ends both. Each is recorded
	// as an event; the durable way stays a Node object in Git.
	PathNodeCordon   = "/v1/nodes/{name}/cordon"
	PathNodeUncordon = "/v1/nodes/{name}/uncordon"
	PathNodeDrain    = "/v1/nodes/{name}/drain"
)

// NodePath builds the path of a node action (PathNodeCordon, PathNodeUncordon
// or PathNodeDrain) for node name.
func NodePath(pattern, name string) string {
	return strings.Replace(pattern, "{name}", url.PathEscape(name), 1)
}

// Commit describes one commit of the tracked branch.
type Commit struct {
	Hash        string    `json:"hash"`
	Author      string    `json:"author,omitempty"`
	AuthorEmail string    `json:"authorEmail,omitempty"`
	Message     string    `json:"message,omitempty"`
	Time        time.Time `json:"time,omitempty"`
}

// ErrorEntry is one problem found in a revision: where (file, 1-based line,
// object, field path) and what.
type ErrorEntry struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Object  string `json:"object,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String renders the entry as "file:line: object: field: message", leaving
// out what is unknown.
func (e ErrorEntry) String() string {
	s := ""
	if e.File != "" {
		s = e.File
		if e.Line > 0 {
			s += ":" + strconv.Itoa(e.Line)
		}
		s += ": "
	}
	if e.Object != "" {
		s += e.Object + ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// Error stages: where a sync failed.
const (
	StageFetch = "fetch" // the remote could not be fetched
	StageLoad  = "load"  // the revision failed to decode or validate
	StageApply = "apply" // the reconciler could not adopt a good revision (e.g. persist it)
	// StageConflict: the revision declares an object another application
	// owns; the entries name each object, its file and both applications.
	StageConflict = "claim"
	// StageVerify: a commit between the applied revision and the new one
	// is unsigned, badly signed, signed by an untrusted key, or lacks an
	// approval its changed paths need (policy/, docs/security.md).
	StageVerify = "verify"
	// StagePolicy: the revision is well-formed but policy refuses it: an
	// RBAC denial for its approvers, a quota overflow, a pod a namespace's
	// pod security level forbids.
	StagePolicy = "policy"
)

// SyncError is why a sync did not apply a commit. The last good revision
// keeps running.
type SyncError struct {
	// Commit is the commit that failed; nil when the fetch itself failed.
	Commit  *Commit      `json:"commit,omitempty"`
	Stage   string       `json:"stage"`
	Message string       `json:"message"`
	Entries []ErrorEntry `json:"entries,omitempty"`
	Time    time.Time    `json:"time"`
}

// Status is the reconciler's sync state.
type Status struct {
	// Repo is the tracked remote with any credentials stripped.
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Path   string `json:"path,omitempty"`
	// Applied is the last good revision's commit, nil before the first.
	Applied *Commit `json:"applied,omitempty"`
	// AppliedAt is when Applied became the desired state.
	AppliedAt time.Time `json:"appliedAt,omitempty"`
	// Fetched is the branch head at the last fetch.
	Fetched *Commit `json:"fetched,omitempty"`
	// LastError is the last sync's failure; nil when it succeeded.
	LastError *SyncError `json:"lastError,omitempty"`
	// Term is the fencing token the agents check.
	Term uint64 `json:"term"`
	// LastSync is when the last sync (successful or not) finished.
	LastSync time.Time `json:"lastSync,omitempty"`
	// Name is the reconciler that answered; Leader the current raft
	// leader's name ("" while there is none). Peers lists every reconciler
	// of the raft configuration, sorted by name.
	Name   string `json:"name"`
	Leader string `json:"leader"`
	Peers  []Peer `json:"peers"`
	// NodeErrors lists the nodes whose last pod set was not applied (for
	// example refused as stale), sorted by node: the same text as
	// Node.Error.
	NodeErrors []NodeError `json:"nodeErrors,omitempty"`
	// ClusterError says why this reconciler cannot form or join its raft
	// cluster (mismatched --bootstrap-expect, a member of another
	// cluster); empty when nothing is wrong.
	ClusterError string `json:"clusterError,omitempty"`
}

// Raft states of a Peer.
const (
	RaftLeader    = "Leader"
	RaftFollower  = "Follower"
	RaftCandidate = "Candidate"
	RaftShutdown  = "Shutdown"
	// RaftUnknown: a peer of the configuration this reconciler has no news
	// of (not in membership, or failed).
	RaftUnknown = "Unknown"
)

// Peer is one reconciler of the raft configuration.
type Peer struct {
	Name string `json:"name"`
	// API is the peer's reconciler API base URL; RaftAddr its raft address.
	API      string `json:"api,omitempty"`
	RaftAddr string `json:"raftAddr"`
	// State is RaftLeader, RaftFollower, RaftCandidate, RaftShutdown or
	// RaftUnknown, as the peer announces it through membership.
	State string `json:"state"`
	// Voter is false for a non-voting member.
	Voter bool `json:"voter"`
	// LastContact is, in the entry of a follower that answers, when it last
	// heard from the leader; zero otherwise (raft does not tell a leader
	// when each follower last answered).
	LastContact time.Time `json:"lastContact,omitempty"`
	// AppliedIndex is the raft index the peer's state machine has applied,
	// as it announces it; CommitIndex likewise.
	AppliedIndex uint64 `json:"appliedIndex,omitempty"`
	// Applied is the commit the peer's state machine has applied.
	Applied string `json:"applied,omitempty"`
}

// NodeError is a node whose desired pod set did not reach it.
type NodeError struct {
	Node    string    `json:"node"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// Pod is one desired pod and what its node reports of it.
type Pod struct {
	PodView
}

// PodView is a pod's desired side merged with what its node reports (the
// core's reconcile.PodView, field for field).
type PodView struct {
	UID       string            `json:"uid"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Owner     string            `json:"owner,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Node      string            `json:"node,omitempty"`
	// Phase is the node's report, or Pending (with Reason) while unscheduled
	// or not yet reported.
	Phase   string `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	PodIP   string `json:"podIP,omitempty"`
	// Status is the node's full report, when there is one.
	Status *agentapi.PodStatus `json:"status,omitempty"`
	Spec   spec.PodSpec        `json:"spec"`
	// Created is when the reconciler first created this pod (this UID).
	Created time.Time `json:"created,omitempty"`
}

// Pod reasons the reconciler sets itself (agents report the others, see
// agent/api).
const (
	// ReasonUnschedulable: Pending because the pod fits on no node.
	ReasonUnschedulable = "Unschedulable"
	// ReasonNodeUnknown: placed on a node membership does not know (yet).
	ReasonNodeUnknown = "NodeUnknown"
	// ReasonNodeLost: placed on a dead node.
	ReasonNodeLost = "NodeLost"
	// ReasonTerminating: a pod its agent is stopping (no longer desired,
	// or an older incarnation of a pod of the same name); listed until its
	// containers are gone, as kubectl lists a pod with a deletionTimestamp.
	ReasonTerminating = "Terminating"
)

// Terminating reports whether the pod is one its agent is stopping.
func (p *PodView) Terminating() bool { return p.Reason == ReasonTerminating }

// CurrentPods returns the pods of ps that are not terminating (in a new
// slice, same order): the desired pods, what a caller counting replicas
// wants.
func CurrentPods(ps []Pod) []Pod {
	out := make([]Pod, 0, len(ps))
	for _, p := range ps {
		if !p.Terminating() {
			out = append(out, p)
		}
	}
	return out
}

// PodList is the answer to GET /v1/pods, sorted by namespace and name
// (a terminating incarnation before the current one of the same name,
// then by UID: every pod has its own place, which paging relies on).
type PodList struct {
	Pods []Pod `json:"pods"`
	// The paging of a paged answer (QueryLimit, QueryContinue; pages.go):
	// ResourceVersion names the view's pods it was read from (two pages
	// with the same one are of one instant); Continue, the opaque token
	// of the next page, is set when more pods match; RemainingItemCount,
	// the pods after this page, when no filter but the namespace applies.
	ResourceVersion    string `json:"resourceVersion,omitempty"`
	Continue           string `json:"continue,omitempty"`
	RemainingItemCount *int64 `json:"remainingItemCount,omitempty"`
}

// PathRolloutHistory is GET → RevisionList: a Deployment's revisions.
const PathRolloutHistory = "/v1/deployments/{namespace}/{name}/history"

// RolloutHistoryPath builds the path of a Deployment's history.
func RolloutHistoryPath(namespace, name string) string {
	return "/v1/deployments/" + url.PathEscape(namespace) + "/" + url.PathEscape(name) + "/history"
}

// DeploymentRevision is one template a Deployment has run, as the reconciler
// recorded it when a commit introduced it (kept in raft, the last
// revisionHistoryLimit of them plus the current one).
type DeploymentRevision struct {
	// Number counts the Deployment's templates from 1, in the order
	// commits introduced them; a template that comes back (a revert)
	// gets a new number, as in Kubernetes.
	Number int64 `json:"number"`
	// Hash is the template's hash (the pod-template-hash label).
	Hash string `json:"hash"`
	// Commit is the Git commit whose application introduced it; Author,
	// Subject and Time are that commit's.
	Commit  string    `json:"commit"`
	Author  string    `json:"author,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	// Images are the template's containers' images.
	Images []string `json:"images,omitempty"`
	// Healthy is true once the revision completed a rollout (every
	// replica available): what an automatic rollback returns to.
	Healthy bool `json:"healthy,omitempty"`
	// Current is true for the revision the Deployment's template in the
	// applied commit has.
	Current bool `json:"current,omitempty"`
	// Template is the pod template.
	Template spec.PodTemplateSpec `json:"template"`
}

// RevisionList is the answer to GET PathRolloutHistory, oldest first.
type RevisionList struct {
	Revisions []DeploymentRevision `json:"revisions"`
}

// Workload progress, so that `ctl sync --wait` can tell waiting from failing.
const (
	// ProgressComplete: every replica is of the current template and
	// available, and no old pod is left.
	ProgressComplete = "Complete"
	// ProgressProgressing: pods are being created, started or replaced.
	ProgressProgressing = "Progressing"
	// ProgressDeadlineExceeded: a pod of the current template has not
	// become available within progressDeadlineSeconds of its creation;
	// Message names it and why.
	ProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ProgressPaused: a paused Deployment whose template changed keeps
	// running (and scaling) the revision it ran.
	ProgressPaused = "Paused"
)

// WorkloadList is the answer to GET /v1/deployments, sorted by kind,
// namespace and name.
type WorkloadList struct {
	Workloads []Workload `json:"workloads"`
}

// Node states in membership.
const (
	NodeAlive  = "Alive"
	NodeFailed = "Failed"
	NodeLeft   = "Left"
)

// Node is one agent as membership and the reconciler see it.
type Node struct {
	Name string `json:"name"`
	// State is NodeAlive, NodeFailed or NodeLeft.
	State string `json:"state"`
	// Addr is the gossip address; APIAddr the agent API's base URL.
	Addr        string             `json:"addr"`
	APIAddr     string             `json:"apiAddr"`
	Allocatable agentapi.Resources `json:"allocatable"`
	Labels      map[string]string  `json:"labels,omitempty"`
	PodCIDR     string             `json:"podCIDR,omitempty"`
	Pods        int                `json:"pods"`
	Generation  uint64             `json:"generation"`
	Since       time.Time          `json:"since,omitempty"`
	Taints      []spec.Taint       `json:"taints,omitempty"`
	// Status is NodeReady, NodeNotReady or, for a cordoned or drained node
	// that is ready, NodeSchedulingDisabled (kubectl's STATUS column);
	// StatusSince is when it last changed.
	Status      string    `json:"status"`
	StatusSince time.Time `json:"statusSince,omitempty"`
	// Requested sums the resource requests of the pods placed on the node.
	Requested agentapi.Resources `json:"requested"`
	// Cordoned and Drained are set by ctl cordon / drain (not by Git).
	Cordoned bool `json:"cordoned,omitempty"`
	Drained  bool `json:"drained,omitempty"`
	// Error says why the node's last pod set was not applied (empty when
	// it was): refused as stale by the agent's fence, or VersionRefused.
	Error string `json:"error,omitempty"`
	// Version and Protocol are the agent's release and protocol range as
	// it advertises them (before v0.16: none, and 1..1); NegotiatedProtocol
	// the one spoken to it, zero when VersionRefused says why none is
	// (NotReady, nothing sent or scheduled, docs/versions.md).
	Version            string                 `json:"version,omitempty"`
	Protocol           agentapi.ProtocolRange `json:"protocol,omitzero"`
	NegotiatedProtocol int                    `json:"negotiatedProtocol,omitempty"`
	VersionRefused     string                 `json:"versionRefused,omitempty"`
}

// Node statuses, as kubectl shows them.
const (
	NodeReady              = "Ready"
	NodeNotReady           = "NotReady"
	NodeSchedulingDisabled = "Ready,SchedulingDisabled"
)

// NodeList is the answer to GET /v1/nodes, sorted by name.
type NodeList struct {
	Nodes []Node `json:"nodes"`
}

// Namespace is one namespace of the applied revision.
type Namespace struct {
	Name string `json:"name"`
	// Status is "Active".
	Status string `json:"status"`
	Pods   int    `json:"pods"`
	// Labels and Annotations are its Namespace object's (none for a
	// namespace the repository does not declare, such as "default").
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Quotas are its ResourceQuotas with what the desired state uses of
	// each (package policy/quota), sorted by name.
	Quotas []NamespaceQuota `json:"quotas,omitempty"`
	// LimitRanges are its LimitRanges, sorted by name.
	LimitRanges []NamespaceLimitRange `json:"limitRanges,omitempty"`
}

// NamespaceQuota is one ResourceQuota: its hard limits and what the
// namespace's desired state uses of each (every application's objects:
// pods by replicas, their requests and limits, claims, objects).
type NamespaceQuota struct {
	Name string            `json:"name"`
	Hard spec.ResourceList `json:"hard"`
	Used spec.ResourceList `json:"used"`
}

// NamespaceLimitRange is one LimitRange, its defaults filled in.
type NamespaceLimitRange struct {
	Name   string                `json:"name"`
	Limits []spec.LimitRangeItem `json:"limits"`
}

// NamespaceList is the answer to GET /v1/namespaces, sorted by name.
type NamespaceList struct {
	Namespaces []Namespace `json:"namespaces"`
}

// Revision is the applied revision: what `ctl diff --local` compares a work
// tree against.
type Revision struct {
	Commit *Commit `json:"commit,omitempty"`
	// Path is the tracked sub-directory the file names are relative to.
	Path  string            `json:"path,omitempty"`
	Files map[string][]byte `json:"files"`
}

// DiffResult is what syncing the branch head (or the posted files) would
// change.
type DiffResult struct {
	// Applied is the commit compared against; Head the fetched branch head
	// (nil for POST /v1/diff: the files have no commit).
	Applied *Commit        `json:"applied,omitempty"`
	Head    *Commit        `json:"head,omitempty"`
	Changes []ObjectChange `json:"changes"`
	// Placements says where each pod in Changes' PodsStarted would land, in
	// that order: the outcome of a dry-run plan of the new revision on the
	// reconciler's current state (its inventory, nodes and observed pods;
	// nothing is persisted or pushed). A pod the dry run did not create
	// (which only a change outside the revision, such as a paused
	// Deployment's template, can cause) has no entry.
	Placements []PodPlacement `json:"placements,omitempty"`
	// Error is set when the head fails to load; Changes is then empty.
	Error *SyncError `json:"error,omitempty"`
	// Warnings are what the head loads with but should change: objects
	// written in a deprecated apiVersion (spec.Set.Warnings), each
	// "file:line: Kind namespace/name: message".
	Warnings []string `json:"warnings,omitempty"`
}

// ObjectChange is what syncing would do to one object
// (reconcile.ObjectChange).
type ObjectChange struct {
	Key    spec.ObjectKey `json:"key"`
	Action string         `json:"action"`
	// Diff is a unified diff of the object's YAML: "-" lines are the
	// applied revision, "+" lines the next. A changed object's has its
	// changed hunks under "--- a/Kind/namespace/name" and "+++
	// b/Kind/namespace/name" headers; a created object's old side and a
	// deleted one's new side are /dev/null, so they show whole. A Secret's
	// data and stringData values are replaced by RedactedValue markers.
	// (Reconcilers before field paths sent go-cmp's report here.)
	Diff string `json:"diff,omitempty"`
	// Fields are a changed object's changed fields, in field order.
	Fields []FieldChange `json:"fields,omitempty"`
	// PodsStarted and PodsStopped name ("namespace/name") the pods a workload
	// change would start and stop.
	PodsStarted []string `json:"podsStarted,omitempty"`
	PodsStopped []string `json:"podsStopped,omitempty"`
}

// FieldChange is one changed field of an object (reconcile.FieldChange).
type FieldChange struct {
	// Path names the field as the manifest does: "spec.replicas",
	// "spec.template.spec.containers[name=web].image",
	// `metadata.labels["app.kubernetes.io/name"]`; list elements by name
	// (or containerPort), else by index.
	Path string `json:"path"`
	// Op is FieldChanged, FieldAdded or FieldRemoved.
	Op string `json:"op"`
	// Old and New are the values, short: a scalar as written in YAML, a
	// list or mapping as compact JSON cut at 80 bytes with "…". The side
	// Op says is missing is empty.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Redacted is true for a Secret's data and stringData: the values are
	// never sent, only that they changed.
	Redacted bool `json:"redacted,omitempty"`
}

// Operations of a FieldChange.
const (
	FieldChanged = "changed"
	FieldAdded   = "added"
	FieldRemoved = "removed"
)

// RedactedValue is what a Secret's values read as in ObjectChange.Diff;
// RedactedChangedValue marks, on the new side, a value that changed.
const (
	RedactedValue        = "(redacted)"
	RedactedChangedValue = "(redacted, value changed)"
)

// Change actions of an ObjectChange.
const (
	ActionCreated = "created"
	ActionChanged = "changed"
	ActionDeleted = "deleted"
)

// PodPlacement is where a pod that a sync would start would land.
type PodPlacement struct {
	// Pod is "namespace/name", as in ObjectChange.PodsStarted.
	Pod string `json:"pod"`
	// Node is the node the dry run placed the pod on; empty when it stays
	// Pending.
	Node string `json:"node,omitempty"`
	// Reason and Message say why a pod stays Pending: Reason is
	// ReasonUnschedulable (or another pod reason) and Message the
	// scheduler's, e.g. "0/3 nodes are available: 3 Insufficient memory.".
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// DiffRequest is the body of POST /v1/diff: a revision's files (path
// relative to the tracked path → contents), as spec.Load takes them. `ctl
// diff --local` sends a work tree's manifests this way so that the
// reconciler computes the diff and the placements as it does for the
// branch head.
type DiffRequest struct {
	Files map[string][]byte `json:"files"`
}

// PodDescription is the answer to GET /v1/pods/{namespace}/{name}: the pod,
// the events about it and, while it waits for a node, how the scheduler
// sees it.
type PodDescription struct {
	Pod Pod `json:"pod"`
	// Events are the events about this pod, the reconciler's and its
	// node's agent's (of this incarnation: the agent's carry the pod's
	// UID), by last occurrence, oldest first (the event list keeps the
	// last 1000 of all objects).
	Events []Event `json:"events"`
	// Scheduling is set for a pod that has no node and does not name one
	// (spec.nodeName).
	Scheduling *Scheduling `json:"scheduling,omitempty"`
}

// Scheduling explains, for one pod without a node, the scheduler's view of
// the current cluster: computed when asked, with the nodes and placed pods
// the reconciler knows at that moment.
type Scheduling struct {
	// Node is where the scheduler would place the pod now; empty when it
	// fits nowhere. A pod that fits now is placed by the next plan.
	Node string `json:"node,omitempty"`
	// Reason is why it fits nowhere, in Kubernetes' form: "0/5 nodes are
	// available: 2 node(s) didn't match Pod's node affinity/selector, 3
	// Insufficient memory."
	Reason string `json:"reason,omitempty"`
	// Nodes is every live node's verdict: those the pod fits first, best
	// score first, then the refused ones by name.
	Nodes []NodeVerdict `json:"nodes"`
	// Error is set when the pod cannot be explained (an unknown scheduler
	// profile in spec.schedulerName); Nodes is then empty.
	Error string `json:"error,omitempty"`
}

// NodeVerdict is one node's outcome for a pod (scheduler.NodeVerdict).
type NodeVerdict struct {
	Node string `json:"node"`
	// Filter names the first filter plugin that refused the node (e.g.
	// "NodeResourcesFit") and Reasons say why; both empty when the pod
	// fits.
	Filter  string   `json:"filter,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Scores are each score plugin's unweighted score (0-100) on a node the
	// pod fits; Total is their weighted sum, what nodes are ranked by.
	Scores map[string]int64 `json:"scores,omitempty"`
	Total  int64            `json:"total"`
}

// SyncResult is the outcome of one sync.
type SyncResult struct {
	// Triggered is true when the request only queued a sync (no wait).
	Triggered bool `json:"triggered,omitempty"`
	// Commit is the fetched head; Applied is true when it is now the
	// desired state (it may already have been).
	Commit  *Commit    `json:"commit,omitempty"`
	Applied bool       `json:"applied"`
	Error   *SyncError `json:"error,omitempty"`
	// App is the application this result is of (POST /v1/sync?app=NAME,
	// or each of Applications).
	App string `json:"app,omitempty"`
	// Applications are the results of the other applications when every
	// application was synced (no app given): this result is the bootstrap
	// application's.
	Applications []SyncResult `json:"applications,omitempty"`
}

// EventList is the answer to GET /v1/events: the events by last
// occurrence (Time), oldest first.
type EventList struct {
	Events []Event `json:"events"`
}

// Event is something the reconciler decided or saw (reconcile.Event).
// Object is "Kind/namespace/name" for a pod ("Pod/shop/web-0"), or
// "node/NAME", "commit/HASH", "repo", "reconciler/NAME".
type Event struct {
	Time    time.Time `json:"time"`
	Object  string    `json:"object"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	// Type is "Normal" or "Warning" (empty from an older reconciler:
	// Normal).
	Type string `json:"type,omitempty"`
	// Source is the node whose agent recorded the event; empty for the
	// reconciler's own.
	Source string `json:"source,omitempty"`
	// Count is how many times it happened (repeats are folded into one
	// event); FirstTime when first, Time when last.
	Count     int32     `json:"count,omitempty"`
	FirstTime time.Time `json:"firstTime,omitzero"`
	// UID is the incarnation of the pod the event is about and Container
	// the container's name, when the recorder knows them (an agent's
	// events).
	UID       string `json:"uid,omitempty"`
	Container string `json:"container,omitempty"`
}

// Event reasons about pods (the reconciler records others, such as
// "Synced", "LoadFailed" or "NodeCordoned", about other objects).
const (
	// EventCreated: a pod got its first incarnation.
	EventCreated = "Created"
	// EventReplaced: a bare Pod's spec changed in Git; it got a new UID.
	EventReplaced = "Replaced"
	// EventDeleted: a pod was dropped (deleted from Git, scaled down, or an
	// old revision superseded).
	EventDeleted = "Deleted"
	// EventScheduled: a pod was placed on a node.
	EventScheduled = "Scheduled"
	// EventFailedScheduling: a pod fits on no node (its reason changed).
	EventFailedScheduling = "FailedScheduling"
	// EventNodeLost: a pod's node died; the pod got a new UID to be placed
	// again.
	EventNodeLost = "NodeLost"
	// EventEvicted: a pod's node has a NoExecute taint the pod does not
	// tolerate (a drain); the pod got a new UID to be placed again.
	EventEvicted = "Evicted"
)

// Error is the body of every non-2xx response, as internal/errs writes
// and reads it.
type Error struct {
	Error string `json:"error"`
	// Code is a machine-readable category: "invalid", "not_found",
	// "unavailable", "internal".
	Code string `json:"code"`
}

// Error codes the reconciler answers with: internal/errs' codes of the
// categories invalid argument, not found, unavailable and internal.
const (
	CodeInvalid     = errs.CodeInvalid
	CodeNotFound    = errs.CodeNotFound
	CodeUnavailable = errs.CodeUnavailable
	CodeInternal    = errs.CodeInternal
)

// EntriesFromError turns a spec.Load error into entries: one per problem,
// with its file, line, object and field, when it is a spec.ErrorList; else a
// single entry holding the message.
func EntriesFromError(err error) []ErrorEntry {
	var list spec.ErrorList
	if !errors.As(err, &list) {
		return []ErrorEntry{{Message: err.Error()}}
	}
	out := make([]ErrorEntry, 0, len(list))
	for _, e := range list {
		out = append(out, ErrorEntry{File: e.File, Line: e.Line, Object: e.Object, Field: e.Field, Message: e.Message})
	}
	return out
}

// QueryWatch is the query parameter (watch=1) that turns GET PathPods,
// PathDeployments, PathNodes, PathServices, PathEndpoints or PathEvents
// into a watch stream.
const QueryWatch = "watch"

// WatchEvent is one line of a watch stream: newline-delimited JSON, as
// Kubernetes' watch. The stream opens with an ADDED event for every object
// of the list, then a BOOKMARK; after that, every view the leader
// publishes (after each plan) yields ADDED, MODIFIED and DELETED events
// for the objects that changed. A slow reader gets the changes coalesced
// to the latest state, never a backlog. The stream ends when the
// reconciler that serves it stops leading or shuts down: watch again
// (through any reconciler) and compare with what you have.
type WatchEvent struct {
	// Type is WatchAdded, WatchModified, WatchDeleted or WatchBookmark.
	Type string `json:"type"`
	// Object is the list's element (a Pod, Workload, Node, Service,
	// Endpoints or Event), for DELETED its last state; empty for a
	// BOOKMARK. An event watch also follows the event list, which changes
	// between plans (an agent's events).
	Object json.RawMessage `json:"object,omitempty"`
}

// Watch event types.
const (
	WatchAdded    = "ADDED"
	WatchModified = "MODIFIED"
	WatchDeleted  = "DELETED"
	// WatchBookmark marks the end of the initial ADDED events.
	WatchBookmark = "BOOKMARK"
)
