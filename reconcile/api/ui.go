package api

import "net/url"

// What the web UI (web/, docs/ui.md) reads beyond the lists ctl uses. Every
// one of these is an ordinary authenticated, authorized /v1 route: the UI
// has no API of its own, and ctl may use them too.

// PathUI is where the reconciler serves the web UI (web.Handler); every
// path under it that is not an asset answers the UI's index, so that a
// deep link such as /ui/pods/default/web-0 opens that page.
const PathUI = "/ui/"

// PathWhoAmI answers who the caller is (GET → WhoAmI), as Kubernetes'
// SelfSubjectReview does: the UI's sign-in checks its credentials with it.
const PathWhoAmI = "/v1/whoami"

// WhoAmI is the caller as the reconciler authenticated it.
type WhoAmI struct {
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
	// Method is how it was authenticated: "certificate" or "token".
	Method string `json:"method,omitempty"`
}

// PathAccessReview answers whether the caller may do each of a list of
// things (POST AccessReview → AccessReview with Allowed and Reason filled
// in), as Kubernetes' SelfSubjectAccessReview (kubectl auth can-i) does:
// the UI shows an action's button only when it is allowed.
const PathAccessReview = "/v1/accessreview"

// AccessReview is a batch of questions about the caller (at most
// MaxAccessChecks).
type AccessReview struct {
	Checks []AccessCheck `json:"checks"`
}

// MaxAccessChecks bounds one AccessReview.
const MaxAccessChecks = 100

// AccessCheck is one question, in Kubernetes' resource attributes (Verb,
// Group, Resource, Subresource, Namespace, Name) or, for a non-resource
// URL, Verb and Path. Allowed and Reason are the answer.
type AccessCheck struct {
	Verb        string `json:"verb"`
	Group       string `json:"group,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	Path        string `json:"path,omitempty"`

	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

// PathApplicationCommits lists the commits of an application's branch that
// are not applied (GET → CommitList): the fetched head back to the applied
// revision, newest first, each with its signature's verdict, and why the
// head was refused when it was.
const PathApplicationCommits = "/v1/applications/{name}/commits"

// ApplicationCommitsPath is the commits path of one application.
func ApplicationCommitsPath(name string) string {
	return PathApplications + "/" + url.PathEscape(name) + "/commits"
}

// MaxPendingCommits bounds CommitList.Commits; Truncated says there were
// more.
const MaxPendingCommits = 100

// CommitList is the answer to GET PathApplicationCommits.
type CommitList struct {
	Application string  `json:"application"`
	Applied     *Commit `json:"applied,omitempty"`
	Head        *Commit `json:"head,omitempty"`
	// Commits are applied..head, newest first; empty when the head is
	// applied.
	Commits   []PendingCommit `json:"commits"`
	Truncated bool            `json:"truncated,omitempty"`
	// Refusal is the last sync's error when it refused a commit of
	// Commits (the same as the application's LastError); its Commit names
	// which one.
	Refusal *SyncError `json:"refusal,omitempty"`
	// Error says why the commits could not be listed (the cache has not
	// fetched the branch yet, history was rewritten): Commits is then
	// empty.
	Error string `json:"error,omitempty"`
}

// PendingCommit is one commit waiting to be applied.
type PendingCommit struct {
	Commit
	// Parents are the commit's parents' hashes (two or more: a merge).
	Parents []string `json:"parents,omitempty"`
	// Signature is the verdict on its signature when the reconciler
	// verifies commits (--verify-commits); nil when it does not.
	Signature *SignatureVerdict `json:"signature,omitempty"`
	// Refused is true for the commit the last sync refused (Refusal's).
	Refused bool `json:"refused,omitempty"`
}

// SignatureVerdict is what commit verification found on one commit.
type SignatureVerdict struct {
	// Verified is true for a good signature by a trusted key.
	Verified bool `json:"verified"`
	// Signer names the trusted key's principal or user ID; Key its
	// fingerprint.
	Signer string `json:"signer,omitempty"`
	Key    string `json:"key,omitempty"`
	// Reason says why it is not verified (unsigned, unknown key, bad
	// signature…).
	Reason string `json:"reason,omitempty"`
}

// Filters a list or watch of pods, workloads, events or applications takes
// besides namespace; the server applies them, so that a page of 10,000
// pods sends only what it shows.
const (
	// QueryLabelSelector is Kubernetes' labelSelector (=, ==, !=, in,
	// notin, exists, !exists), on pods and workloads.
	QueryLabelSelector = "labelSelector"
	// QueryFieldSelector is Kubernetes' fieldSelector on pods:
	// metadata.name, metadata.namespace, spec.nodeName, status.phase, with
	// = , == or !=, comma-separated.
	QueryFieldSelector = "fieldSelector"
	// QueryFilter is a case-insensitive substring every listed object must
	// contain in its namespace/name (pods also: node, phase, reason;
	// events also: reason, message, object; applications: name, repo).
	QueryFilter = "q"
	// QueryEventType keeps the events of one type (Normal or Warning).
	QueryEventType = "type"
	// QueryView = ViewSummary lists pods without their spec and with only
	// their containers' states: what a table shows, about a third of the
	// bytes (556 against 1,852 for examples-repo's hello pod).
	QueryView   = "view"
	ViewSummary = "summary"
)
